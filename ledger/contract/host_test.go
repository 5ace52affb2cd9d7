package contract_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"testing"

	"github.com/hypha-iot/hypha/errs"
	"github.com/hypha-iot/hypha/keys"
	"github.com/hypha-iot/hypha/ledger"
	"github.com/hypha-iot/hypha/ledger/contract"
	lt "github.com/hypha-iot/hypha/ledger/ledgertest"
	"github.com/hypha-iot/hypha/ledger/message"
	"github.com/hypha-iot/hypha/txn"
)

// probeChain starts a chain with the probe contract instantiated by alice.
func probeChain(t *testing.T) (*lt.Chain, keys.Address) {
	t.Helper()
	c := newChain(t, mustRuntime(t, false))
	alice := lt.Key("alice")
	return c, instantiate(t, c, alice, upload(t, c, alice, mustContract(t, "probe")), nil, 0)
}

func probeTx(c *lt.Chain, signer keys.PrivateKey, addr keys.Address, method string, args ...any) []byte {
	return tx(c, signer, callGas, &txn.ContractCall{Contract: addr, Args: encode(method, args...)})
}

// keysOf decodes the probe's "keys" answer.
func keysOf(t *testing.T, r ledger.Result) []string {
	t.Helper()
	d := returned(t, r)
	n := d.Uint()
	var out []string
	for range n {
		k, v := d.Bytes(), d.Bytes()
		out = append(out, string(k)+"="+string(v))
	}
	if err := d.Done(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestStorageIteration: storage_next merges committed state with the
// writes of earlier txs of the same block and of the call itself, skips
// deleted keys and the writes of failed txs, and stays in the prefix.
func TestStorageIteration(t *testing.T) {
	c, addr := probeChain(t)
	bob := lt.Key("bob")
	set := func(k, v string) []byte { return probeTx(c, bob, addr, "set", []byte(k), []byte(v)) }
	for i, r := range c.Block(set("k/a", "1"), set("k/b", "2"), set("k/c", "3"), set("l/x", "9"), set("k/e", "")) {
		mustOK(t, r, "set %d", i)
	}
	r := c.Block(
		set("k/d", "4"),
		probeTx(c, bob, addr, "del", []byte("k/b")),
		tx(c, bob, 3_000_000, &txn.ContractCall{Contract: addr, Args: encode("burn", []byte("k/bb"))}), // fails: reverted
		set("k/a", "1'"),
		probeTx(c, bob, addr, "keys", []byte("k/")),
		probeTx(c, bob, addr, "keys", []byte("")),
	)
	mustFail(t, r[2], errs.ErrOutOfGas, "burn")
	want := []string{"k/a=1'", "k/c=3", "k/d=4", "k/e="}
	if got := keysOf(t, r[4]); !equal(got, want) {
		t.Errorf("keys k/ in the block: %q, want %q", got, want)
	}
	if got := keysOf(t, r[5]); !equal(got, append(append([]string(nil), want...), "l/x=9", "version=\x01")) {
		t.Errorf("all keys in the block: %q", got)
	}
	// The same from committed state in the next block, and in CheckTx.
	if got := keysOf(t, c.Block(probeTx(c, bob, addr, "keys", []byte("k/")))[0]); !equal(got, want) {
		t.Errorf("keys k/ after commit: %q, want %q", got, want)
	}
	ck := c.L.CheckTx(probeTx(c, bob, addr, "set", []byte("k/0"), []byte("0")))
	mustOK(t, ck, "CheckTx set")
	ck = c.L.CheckTx(probeTx(c, bob, addr, "keys", []byte("k/")))
	if got := keysOf(t, ck); !equal(got, append([]string{"k/0=0"}, want...)) {
		t.Errorf("keys k/ in CheckTx's pending view: %q", got)
	}
	// Another contract's storage is out of reach.
	other := instantiate(t, c, lt.Key("alice"), sha256.Sum256(mustContract(t, "probe")), nil, 0)
	if got := keysOf(t, c.Block(probeTx(c, bob, other, "keys", []byte("k/")))[0]); len(got) != 0 {
		t.Errorf("another contract sees %q", got)
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestDevicesAndCommands: a contract reads a device and its latest
// reading, and commands it only with a grant from its owner; the command
// lands in the device's inbox in plaintext.
func TestDevicesAndCommands(t *testing.T) {
	c, addr := probeChain(t)
	alice, bob, dev := lt.Key("alice"), lt.Key("bob"), lt.Key("thermo")
	id := dev.Public().Address()
	mustOK(t, c.Block(c.TxCo(alice, []keys.PrivateKey{dev}, lt.Register(dev, "thermo-v1", "cold-room"),
		&txn.Send{To: id, Amount: 1_000_000}))[0], "register")
	mustOK(t, c.Block(c.Reading(dev, id, 1, "temp", 4))[0], "reading")
	readingHeight := c.Height

	var info contract.DeviceInfo
	if err := txn.Unmarshal(returned(t, call(t, c, bob, addr, callGas, 0, "device", id)).Bytes(), &info); err != nil {
		t.Fatal(err)
	}
	if info.ID != id || info.Owner != lt.Addr("alice") || info.Model != "thermo-v1" || info.Readings != 1 ||
		len(info.Tags) != 1 || info.Status != 0 {
		t.Errorf("device info %+v", info)
	}
	var rd contract.ReadingInfo
	if err := txn.Unmarshal(returned(t, call(t, c, bob, addr, callGas, 0, "reading", id)).Bytes(), &rd); err != nil {
		t.Fatal(err)
	}
	if rd.Device != id || rd.Counter != 1 || !bytes.Equal(rd.Payload, lt.SenML("temp", 4)) || rd.Height != readingHeight {
		t.Errorf("reading info %+v", rd)
	}
	mustFail(t, call(t, c, bob, addr, callGas, 0, "device", lt.Addr("nobody")), errs.ErrReverted, "no device")

	send := func(to keys.Address) ledger.Result {
		return call(t, c, bob, addr, callGas, 0, "send", to, "defrost", []byte{1, 2})
	}
	if st := returned(t, send(id)).Uint(); st != uint64(errs.ErrNoGrant.Code) {
		t.Fatalf("command without a grant: status %d", st)
	}
	mustOK(t, c.Block(c.Tx(alice, &txn.MessageGrant{Device: id, Grantee: addr, Kinds: []uint8{txn.KindCommand}}))[0], "grant")
	r := send(id)
	if st := returned(t, r).Uint(); st != 0 {
		t.Fatalf("command with a grant: status %d", st)
	}
	if attr(r, "message", "to") != id.String() || attr(r, "message", "from") != addr.String() {
		t.Errorf("message event %+v", r.Events)
	}
	var page ledger.Page
	mustQuery(t, c, "/inbox/"+id.String(), &page)
	if len(page.Items) != 1 {
		t.Fatalf("inbox has %d entries", len(page.Items))
	}
	var e message.Entry
	if err := txn.Unmarshal(page.Items[0], &e); err != nil {
		t.Fatal(err)
	}
	var cmd contract.Command
	if err := txn.Unmarshal(e.Box, &cmd); err != nil {
		t.Fatal(err)
	}
	if e.Sender != addr || e.Kind != txn.KindContractCommand || cmd.Kind != "defrost" || !bytes.Equal(cmd.Payload, []byte{1, 2}) {
		t.Errorf("inbox entry %+v, command %+v", e, cmd)
	}
	var rec message.Record
	mustQuery(t, c, "/message/"+addr.String()+"/"+hex.EncodeToString(e.ID), &rec)
	if rec.Recipient != id {
		t.Errorf("sender's record %+v", rec)
	}
	// An account needs no grant (an owner notified).
	if st := returned(t, send(lt.Addr("carol"))).Uint(); st != 0 {
		t.Errorf("notify carol: status %d", st)
	}
	if st := returned(t, call(t, c, bob, addr, callGas, 0, "send", id, "bad kind", []byte{})).Uint(); st != uint64(errs.ErrInvalidMsg.Code) {
		t.Errorf("kind with a space: status %d", st)
	}
	// A revoked device takes no commands.
	mustOK(t, c.Block(c.Tx(alice, &txn.DeviceRevoke{Device: id}))[0], "revoke")
	if st := returned(t, send(id)).Uint(); st != uint64(errs.ErrDeviceRevoked.Code) {
		t.Errorf("revoked device: status %d", st)
	}
}

// TestCallEnvironment: caller, self, block height and time, and a seed that
// differs between msgs.
func TestCallEnvironment(t *testing.T) {
	c, addr := probeChain(t)
	bob := lt.Key("bob")
	r := c.Block(probeTx(c, bob, addr, "env"), probeTx(c, bob, addr, "env"))
	var seeds [][]byte
	for _, res := range r {
		d := returned(t, res)
		caller, self, height, bt, seed := d.Bytes(), d.Bytes(), d.Uint(), d.Uint(), d.Bytes()
		bobAddr := lt.Addr("bob")
		if !bytes.Equal(caller, bobAddr[:]) || !bytes.Equal(self, addr[:]) || height != uint64(c.Height) ||
			int64(bt) != c.Time.UnixNano() {
			t.Errorf("env: caller %x self %x height %d time %d", caller, self, height, bt)
		}
		seeds = append(seeds, seed)
	}
	if bytes.Equal(seeds[0], seeds[1]) {
		t.Error("two txs drew the same random bytes")
	}
}

// TestEvents: contract events are "contract.<topic>" with the contract's
// address; the ledger's own names are reserved.
func TestEvents(t *testing.T) {
	c, addr := probeChain(t)
	bob := lt.Key("bob")
	r := call(t, c, bob, addr, callGas, 0, "emit", "excursion", []byte{0xab})
	mustOK(t, r, "emit")
	if attr(r, "contract.excursion", "contract") != addr.String() || attr(r, "contract.excursion", "data") != "ab" {
		t.Errorf("events %+v", r.Events)
	}
	for _, topic := range []string{"call", "with space", ""} {
		mustFail(t, call(t, c, bob, addr, callGas, 0, "emit", topic, []byte{}), errs.ErrInvalidMsg, "topic %q", topic)
	}
}

package ledger_test

import (
	"fmt"
	"testing"

	"github.com/hypha-iot/hypha/errs"
	"github.com/hypha-iot/hypha/keys"
	"github.com/hypha-iot/hypha/ledger"
	"github.com/hypha-iot/hypha/ledger/device"
	lt "github.com/hypha-iot/hypha/ledger/ledgertest"
	"github.com/hypha-iot/hypha/store"
	"github.com/hypha-iot/hypha/txn"
)

// TestQueryProofs: single-record queries with prove=true verify against the
// app hash of that height, both for present records (existence) and absent
// ones (non-existence); old heights stay queryable.
func TestQueryProofs(t *testing.T) {
	c := lt.New(t, "alice")
	alice, dev := lt.Key("alice"), lt.Key("dev1")
	_, h1 := c.BlockHash(c.TxCo(alice, []keys.PrivateKey{dev}, lt.Register(dev, "thermo", "cold")))
	_, h2 := c.BlockHash(c.Tx(alice, &txn.Send{To: lt.Addr("dev1"), Amount: 10_000}))
	_, h3 := c.BlockHash(c.Reading(dev, lt.Addr("dev1"), 1, "temp", 3))
	hashes := map[int64][]byte{1: h1, 2: h2, 3: h3}

	id := lt.Addr("dev1").Device()
	for _, tc := range []struct {
		path    string
		height  int64
		present bool
	}{
		{"/device/" + id, 1, true},
		{"/device/" + id, 3, true},
		{"/device/" + id + "/history/0", 3, true},
		{"/device/" + id + "/history/1", 3, false},
		{"/reading/" + id + "/0", 2, false},
		{"/reading/" + id + "/0", 3, true},
		{"/account/" + lt.Addr("alice").String(), 2, true},
		{"/account/" + lt.Addr("nobody").String(), 3, false},
		{"/device/" + lt.Addr("nodev").Device(), 3, false},
		{"/params", 1, true},
	} {
		t.Run(fmt.Sprintf("%s@%d", tc.path, tc.height), func(t *testing.T) {
			r := c.L.Query(ledger.QueryRequest{Path: tc.path, Height: tc.height, Prove: true})
			if tc.present && r.Code != 0 {
				t.Fatalf("%s: %s", r.Name, r.Log)
			}
			if !tc.present && r.Code != errs.ErrNotFound.Code {
				t.Fatalf("want ErrNotFound, got %q", r.Name)
			}
			if r.Proof == nil || r.Height != tc.height {
				t.Fatalf("no proof or wrong height %d", r.Height)
			}
			if err := store.VerifyProof(hashes[tc.height], r.Key, r.Value, r.Proof); err != nil {
				t.Fatalf("proof does not verify: %v", err)
			}
			if err := store.VerifyProof(hashes[tc.height], r.Key, append([]byte{0}, r.Value...), r.Proof); err == nil && tc.present {
				t.Fatal("proof verifies a tampered value")
			}
		})
	}
	t.Run("proof size of a device record", func(t *testing.T) {
		r := c.L.Query(ledger.QueryRequest{Path: "/device/" + id, Prove: true})
		b, err := r.Proof.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("device record %d bytes, proof %d bytes", len(r.Value), len(b))
	})
}

func TestQueryPagination(t *testing.T) {
	c := lt.New(t, "alice")
	alice := lt.Key("alice")
	var txs [][]byte
	for i := range 7 {
		d := lt.Key(fmt.Sprintf("d%d", i))
		txs = append(txs, c.TxCo(alice, []keys.PrivateKey{d}, lt.Register(d, "m", "fleet")))
	}
	mustOK(t, c.Block(txs...))
	for _, path := range []string{"/devices/owner/" + lt.Addr("alice").String(), "/devices/tag/fleet"} {
		t.Run(path, func(t *testing.T) {
			seen := map[keys.Address]bool{}
			cursor := ""
			for pages := 0; ; pages++ {
				if pages > 10 {
					t.Fatal("pagination does not end")
				}
				q := path + "?limit=3"
				if cursor != "" {
					q += "&after=" + cursor
				}
				r := c.Query(q)
				if r.Code != 0 {
					t.Fatalf("%s: %s", r.Name, r.Log)
				}
				var p ledger.Page
				if err := txn.Unmarshal(r.Value, &p); err != nil {
					t.Fatal(err)
				}
				for _, it := range p.Items {
					var d device.Device
					if err := txn.Unmarshal(it, &d); err != nil {
						t.Fatal(err)
					}
					if seen[d.ID] {
						t.Fatalf("%s listed twice", d.ID.Device())
					}
					seen[d.ID] = true
				}
				if p.Next == "" {
					break
				}
				cursor = p.Next
			}
			if len(seen) != 7 {
				t.Fatalf("listed %d devices, want 7", len(seen))
			}
		})
	}
	for _, bad := range []string{"/devices/owner/nonsense", "/device/x/history?limit=0", "/devices/tag/fleet?limit=9999",
		"/nope", "/device/" + lt.Addr("d1").Device() + "/history?bogus=1", "/store/zz"} {
		if r := c.Query(bad); r.Code == 0 {
			t.Errorf("%s: accepted", bad)
		}
	}
	if r := c.L.Query(ledger.QueryRequest{Path: "/params", Height: 99}); r.Code != errs.ErrHeight.Code {
		t.Errorf("future height: %s", r.Name)
	}
	if r := c.L.Query(ledger.QueryRequest{Path: "/devices/tag/fleet", Prove: true}); r.Code != errs.ErrInvalidQuery.Code {
		t.Errorf("proof of a list: %s", r.Name)
	}
}

// TestCheckTxPendingNonces: CheckTx tracks accepted txs so that a client can
// send several per block; after the block commits, the pending view starts
// again from committed state (recheck).
func TestCheckTxPendingNonces(t *testing.T) {
	c := lt.New(t, "alice")
	alice := lt.Key("alice")
	var txs [][]byte
	for range 5 {
		raw := c.Tx(alice, &txn.Send{To: lt.Addr("bob"), Amount: 1})
		if r := c.L.CheckTx(raw); !r.OK() {
			t.Fatalf("CheckTx: %s %s", r.Name, r.Log)
		}
		txs = append(txs, raw)
	}
	if r := c.L.CheckTx(txs[2]); r.Code != errs.ErrNonceReplayed.Code {
		t.Fatalf("CheckTx replay: %s", r.Name)
	}
	mustOK(t, c.Block(txs[:3]...))
	// Recheck of what stays in the mempool passes against the new state.
	for _, raw := range txs[3:] {
		if r := c.L.CheckTx(raw); !r.OK() {
			t.Fatalf("recheck: %s %s", r.Name, r.Log)
		}
	}
	for _, raw := range txs[:3] {
		if r := c.L.CheckTx(raw); r.Code != errs.ErrNonceReplayed.Code {
			t.Fatalf("recheck of committed tx: %s", r.Name)
		}
	}
	// Overdraft is refused at CheckTx, before it costs a fee, and leaves
	// no trace in the pending view: the same nonce stays usable.
	over := c.TxN(alice, 5, nil, &txn.Send{To: lt.Addr("bob"), Amount: 5_000_000_000})
	if r := c.L.CheckTx(over); r.Code != errs.ErrInsufficientFunds.Code {
		t.Fatalf("overdraft: %s", r.Name)
	}
	if r := c.L.CheckTx(c.TxN(alice, 5, nil, &txn.Send{To: lt.Addr("bob"), Amount: 1})); !r.OK() {
		t.Fatalf("nonce after a refused tx: %s %s", r.Name, r.Log)
	}
}

// TestLocalMinGasPrice: a gateway may ask more than the chain minimum in its
// mempool; blocks still accept what the chain accepts.
func TestLocalMinGasPrice(t *testing.T) {
	st, err := store.Open(store.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	l, err := ledger.New(st, ledger.Config{LocalMinGasPriceMilli: 10})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.InitChain(lt.ChainID, ledger.Genesis{Accounts: []ledger.GenesisAccount{{Address: lt.Addr("alice"), Balance: 1e9}}}); err != nil {
		t.Fatal(err)
	}
	alice := lt.Key("alice")
	tx, err := txn.New(lt.ChainID, alice.Public().Address(), 0).WithPubKey(alice.Public()).WithFee(1000, 1_000_000).
		Add(&txn.Send{To: lt.Addr("bob"), Amount: 1}).Sign(alice)
	if err != nil {
		t.Fatal(err)
	}
	if r := l.CheckTx(tx.Bytes()); r.Code != errs.ErrFeeTooLow.Code {
		t.Fatalf("CheckTx: %s", r.Name)
	}
}

// TestP256Device: a secure-element device with a P-256 key registers, sends
// readings and rotates to an ed25519 key.
func TestP256Device(t *testing.T) {
	c := lt.New(t, "alice")
	alice, se := lt.Key("alice"), lt.P256Key("se1")
	id := se.Public().Address()
	mustOK(t, c.Block(c.TxCo(alice, []keys.PrivateKey{se}, lt.Register(se, "lock-se")),
		c.Tx(alice, &txn.Send{To: id, Amount: 100_000})))
	mustOK(t, c.Block(c.DeviceTx(se, id, 1, nil, &txn.ReadingSubmit{Payload: lt.SenML("door", 1)})))
	nk := lt.Key("se1-next")
	mustOK(t, c.Block(c.DeviceTx(se, id, 2, []keys.PrivateKey{nk}, &txn.DeviceRotateKey{Device: id, NewPubKey: nk.Public().Bytes()})))
	mustOK(t, c.Block(c.DeviceTx(nk, id, 3, nil, &txn.ReadingSubmit{Payload: lt.SenML("door", 0)})))
	d, _ := c.Device(id)
	a := c.Account(id)
	if h, _ := a.ReadingHead(); h == nil || h.Count != 2 || a.Nonce != 3 || d.KeyRotations != 1 {
		t.Fatalf("device %+v, account %+v", d, a)
	}
	r := c.Query("/device/key/" + nk.Public().Address().String())
	if r.Code != 0 || string(r.Value) != string(id[:]) {
		t.Fatalf("lookup by current key: %s %x", r.Name, r.Value)
	}
	if r := c.Query("/device/key/" + id.String()); r.Code != errs.ErrNotFound.Code {
		t.Fatalf("old key still indexed: %s", r.Name)
	}
}

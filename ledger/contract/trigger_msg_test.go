package contract_test

import (
	"bytes"
	"encoding/hex"
	"testing"

	"github.com/hypha-iot/hypha/errs"
	"github.com/hypha-iot/hypha/keys"
	"github.com/hypha-iot/hypha/ledger"
	"github.com/hypha-iot/hypha/ledger/contract"
	lt "github.com/hypha-iot/hypha/ledger/ledgertest"
	"github.com/hypha-iot/hypha/store"
	"github.com/hypha-iot/hypha/txn"
	"github.com/hypha-iot/hypha/vm/sdk"
)

func plainMsg(to keys.Address, kind uint8, id string, body string) *txn.MessageSend {
	return &txn.MessageSend{To: to, Kind: kind, ID: []byte(id + string(make([]byte, 16-len(id)))), Box: []byte(body)}
}

func TestTriggerMessage(t *testing.T) {
	e := newTrigEnv(t, store.Config{}, false, nil, 0, 2)
	alice, bob, carol := lt.Key("alice"), lt.Key("bob"), lt.Key("carol")
	w, other := e.watchers[0], e.watchers[1]

	mustFail(t, e.c.Block(tx(e.c, carol, callGas, plainMsg(w, txn.KindData, "m0", "early")))[0],
		errs.ErrNoEntryPoint, "a contract without a message trigger takes no messages")
	mustFail(t, e.subscribe(t, carol, &txn.ContractSubscribe{Contract: w, Kind: txn.TriggerMessage}),
		errs.ErrNotAdmin, "only the admin or creator subscribes")
	mustOK(t, e.subscribe(t, bob, &txn.ContractSubscribe{Contract: w, Kind: txn.TriggerMessage}), "subscribe")

	r := e.c.Block(tx(e.c, carol, callGas, plainMsg(w, txn.KindCommand, "m1", "open gate 3")))[0]
	mustOK(t, r, "message to the contract")
	if got := e.count(t, w, "messages"); got != 1 {
		t.Fatalf("on_message ran %d times, want 1", got)
	}
	if v, _ := storage(t, e.c, w, "last_message"); string(v) != "open gate 3" {
		t.Errorf("last_message = %q", v)
	}
	if v, _ := storage(t, e.c, w, "last_sender"); !bytes.Equal(v, addrBytes(lt.Addr("carol"))) {
		t.Errorf("last_sender = %x, want carol", v)
	}
	// The message is in the contract's inbox like any other.
	if q := e.c.Query("/inbox/" + w.String()); q.Code != 0 || !bytes.Contains(q.Value, []byte("open gate 3")) {
		t.Errorf("inbox query: %d %s", q.Code, q.Log)
	}

	mustFail(t, e.c.Block(tx(e.c, carol, callGas, plainMsg(w, txn.KindData, "m1", "again")))[0],
		errs.ErrMessageReplayed, "replayed id")
	res := e.c.Block(tx(e.c, carol, callGas, &txn.MessageSend{To: w, Kind: txn.KindCommandResult,
		ID: bytes.Repeat([]byte{9}, 16), Box: []byte("x"), ReplyTo: bytes.Repeat([]byte{1}, 16)}))[0]
	mustFail(t, res, errs.ErrInvalidMsg, "command-result to a contract")
	mustFail(t, e.c.Block(tx(e.c, carol, callGas, plainMsg(other, txn.KindData, "m2", "hi")))[0],
		errs.ErrNoEntryPoint, "the other watcher has no message trigger")
	if got := e.count(t, w, "messages"); got != 1 {
		t.Fatalf("refused messages ran on_message: %d", got)
	}

	mustOK(t, e.c.Block(tx(e.c, bob, callGas, &txn.ContractUnsubscribe{Contract: w, Kind: txn.TriggerMessage}))[0], "unsubscribe")
	mustFail(t, e.c.Block(tx(e.c, alice, callGas, plainMsg(w, txn.KindData, "m3", "late")))[0],
		errs.ErrNoEntryPoint, "after unsubscribe")
}

// Two contracts forwarding every message to each other: a cycle. Each hop
// is one level deeper; the command at txn.MaxTriggerDepth is refused, so
// the cycle ends within the block and the queue drains.
func TestTriggerMessageCycleIsBounded(t *testing.T) {
	e := newTrigEnv(t, store.Config{}, false, nil, 0, 2)
	bob, carol := lt.Key("bob"), lt.Key("carol")
	a, b := e.watchers[0], e.watchers[1]
	for _, pair := range [][2]keys.Address{{a, b}, {b, a}} {
		mustOK(t, e.subscribe(t, bob, &txn.ContractSubscribe{Contract: pair[0], Kind: txn.TriggerMessage}), "subscribe")
		mustOK(t, e.c.Block(tx(e.c, bob, callGas, &txn.ContractCall{Contract: pair[0],
			Args: sdk.NewEncoder().String("forward").Bytes(addrBytes(pair[1])).Encoded()}))[0], "forward")
	}
	mustOK(t, e.c.Block(tx(e.c, carol, callGas, plainMsg(a, txn.KindData, "ping", "ping")))[0], "start the cycle")
	// Depths: a 0, b 1, a 2, b 3, a 4 (its forward is refused).
	if got, want := e.count(t, a, "messages"), uint64(3); got != want {
		t.Errorf("a ran %d times, want %d", got, want)
	}
	if got, want := e.count(t, b, "messages"), uint64(2); got != want {
		t.Errorf("b ran %d times, want %d", got, want)
	}
	if got := e.count(t, a, "last_depth"); got != txn.MaxTriggerDepth {
		t.Errorf("a's last depth %d, want %d", got, txn.MaxTriggerDepth)
	}
	if got := e.count(t, a, "forward_status"); got != uint64(errs.ErrRateLimited.Code) {
		t.Errorf("a's last forward status %d, want %d (rate limited)", got, errs.ErrRateLimited.Code)
	}
	if v, _ := storage(t, e.c, b, "last_message"); string(v) != "ping" {
		t.Errorf("b's last message %q", v)
	}
	var pos contract.QueuePos
	if q := e.c.Query("/triggers/queue"); q.Code != 0 || txn.Unmarshal(q.Value, &pos) != nil || pos.Head != pos.Tail || pos.Tail == 0 {
		t.Errorf("queue not drained: %+v (%s)", pos, q.Log)
	}
	// Another block: nothing runs any more.
	e.c.Block()
	if got := e.count(t, a, "messages") + e.count(t, b, "messages"); got != 5 {
		t.Errorf("the cycle went on: %d invocations", got)
	}
}

// A device owned by someone other than the contract's manager joins its
// reading trigger with contract.attach, signed by the device's owner.
func TestTriggerAttachDetach(t *testing.T) {
	e := newTrigEnv(t, store.Config{}, false, nil, 1, 1)
	alice, bob, carol := lt.Key("alice"), lt.Key("bob"), lt.Key("carol")
	w := e.watchers[0]
	cdev := lt.Key("carols-meter")
	cid := cdev.Public().Address()
	mustOK(t, e.c.Block(e.c.TxCo(carol, []keys.PrivateKey{cdev}, lt.Register(cdev, "meter-v1"),
		&txn.Send{To: cid, Amount: 1_000_000}))[0], "carol registers her meter")

	attach := func(signer keys.PrivateKey, devs ...keys.Address) []byte {
		return tx(e.c, signer, callGas, &txn.ContractAttach{Contract: w, Devices: devs})
	}
	mustFail(t, e.c.Block(attach(carol, cid))[0], errs.ErrInvalidMsg, "no reading trigger yet")
	// The admin subscribes with no devices of its own.
	mustOK(t, e.subscribe(t, alice, &txn.ContractSubscribe{Contract: w, Kind: txn.TriggerReading,
		Condition: `records["temp"] > 0`}), "subscribe with no devices")
	mustFail(t, e.c.Block(attach(bob, cid))[0], errs.ErrUnauthorized, "bob does not own carol's meter")
	mustFail(t, e.c.Block(attach(carol, lt.Addr("ghost")))[0], errs.ErrUnknownDevice, "unknown device")
	mustOK(t, e.c.Block(attach(carol, cid))[0], "carol attaches")
	mustFail(t, e.c.Block(attach(carol, cid))[0], errs.ErrInvalidMsg, "attached twice")

	read := func(v int64) []byte {
		e.counters[cid]++
		return e.c.Reading(cdev, cid, e.counters[cid], "temp", v)
	}
	mustOK(t, e.c.Block(read(5), read(-3))[0], "readings")
	if got := e.count(t, w, "readings"); got != 1 {
		t.Fatalf("readings seen %d, want 1 (the condition drops -3)", got)
	}
	if v, _ := storage(t, e.c, w, "last_temp"); sdk.NewDecoder(v).Int() != 5000 {
		t.Errorf("last_temp = %x, want 5000 (milli)", v)
	}

	detach := &txn.ContractDetach{Contract: w, Devices: []keys.Address{cid}}
	mustOK(t, e.c.Block(tx(e.c, alice, callGas, &txn.Send{To: lt.Addr("dave"), Amount: 1_000_000}))[0], "fund dave")
	mustFail(t, e.c.Block(tx(e.c, lt.Key("dave"), callGas, detach))[0], errs.ErrUnauthorized, "a stranger detaches")
	mustOK(t, e.c.Block(tx(e.c, bob, callGas, detach))[0], "the admin detaches")
	mustOK(t, e.c.Block(read(7))[0], "reading after detach")
	if got := e.count(t, w, "readings"); got != 1 {
		t.Errorf("a detached device still triggers: %d", got)
	}
	mustOK(t, e.c.Block(attach(carol, cid))[0], "carol attaches again")
	mustOK(t, e.c.Block(tx(e.c, carol, callGas, detach))[0], "the owner detaches")
}

func addrBytes(a keys.Address) []byte { return a[:] }

// A reading whose SenML base name is the device's own URN (as the CLI
// writes it) shows its records by their bare names to the condition and to
// on_reading; another base name stays part of the name.
func TestTriggerDeviceBaseName(t *testing.T) {
	e := newTrigEnv(t, store.Config{}, false, nil, 1, 1)
	alice := lt.Key("alice")
	w, dev, id := e.watchers[0], e.devs[0], e.ids[0]
	mustOK(t, e.subscribe(t, alice, &txn.ContractSubscribe{Contract: w, Kind: txn.TriggerReading,
		Devices: []keys.Address{id}, Condition: `records["temp"] > 0`}), "subscribe")
	read := func(bn string, v int64) {
		e.counters[id]++
		payload := txn.MustMarshal([]map[int]any{{-2: bn, 0: "temp", 2: v}})
		mustOK(t, e.c.Block(e.c.DeviceTx(dev, id, e.counters[id], nil, &txn.ReadingSubmit{Payload: payload}))[0], "reading")
	}
	read(contract.DeviceBaseName(id), 7)
	if got := e.count(t, w, "readings"); got != 1 {
		t.Fatalf("own base name: %d readings seen, want 1", got)
	}
	if v, _ := storage(t, e.c, w, "last_temp"); sdk.NewDecoder(v).Int() != 7000 {
		t.Errorf("last_temp = %x, want 7000", v)
	}
	read("urn:dev:mac:0024befffe804ff1:", 9)
	if got := e.count(t, w, "readings"); got != 1 {
		t.Errorf("a foreign base name matched records[\"temp\"]: %d readings", got)
	}
}

// One contract's invocations in the queue are bounded: past the bound a
// reading still commits but queues nothing for it (a visible
// contract.trigger_dropped event), and a message to it is refused.
func TestTriggerQueueBound(t *testing.T) {
	p := ledger.DefaultParams()
	p.MaxQueuedPerContract = 2
	p.TriggerGasPerBlock, p.TriggerGasLimit = 5_000_000, 5_000_000 // one invocation per block
	e := newTrigEnv(t, store.Config{}, false, &p, 1, 1)
	alice, bob, carol := lt.Key("alice"), lt.Key("bob"), lt.Key("carol")
	w := e.watchers[0]
	mustOK(t, e.subscribe(t, alice, &txn.ContractSubscribe{Contract: w, Kind: txn.TriggerReading, Devices: e.ids}), "subscribe")
	mustOK(t, e.subscribe(t, bob, &txn.ContractSubscribe{Contract: w, Kind: txn.TriggerMessage}), "subscribe messages")

	res := e.c.Block(e.reading(0, "t", 1), e.reading(0, "t", 2), e.reading(0, "t", 3))
	for i, r := range res {
		mustOK(t, r, "reading %d", i)
	}
	if attr(res[2], "contract.trigger_dropped", "contract") != w.String() || attr(res[1], "contract.trigger_dropped", "contract") != "" {
		t.Fatalf("the third reading should report its dropped trigger, only it: %+v / %+v", res[1].Events, res[2].Events)
	}
	if got := e.count(t, w, "readings"); got != 1 {
		t.Fatalf("%d invocations ran in the first block, want 1", got)
	}
	// One is still queued: two messages in one block, the second refused.
	res = e.c.Block(tx(e.c, carol, callGas, plainMsg(w, txn.KindData, "q1", "one")),
		tx(e.c, alice, callGas, plainMsg(w, txn.KindData, "q2", "two")))
	mustOK(t, res[0], "a message while one reading waits")
	mustFail(t, res[1], errs.ErrRateLimited, "a message past the bound")
	e.c.Block()
	e.c.Block()
	if r, m := e.count(t, w, "readings"), e.count(t, w, "messages"); r != 2 || m != 1 {
		t.Fatalf("ran %d readings and %d messages, want 2 and 1 (the third reading was dropped)", r, m)
	}
	var n contract.QueueCount
	if q := e.c.Query("/store/" + hex.EncodeToString(contract.QueuedKey(w))); q.Code == 0 && txn.Unmarshal(q.Value, &n) == nil && n.N != 0 {
		t.Errorf("queue count %d after the queue drained", n.N)
	}
}

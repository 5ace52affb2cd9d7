package contract_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/hypha-iot/hypha/errs"
	"github.com/hypha-iot/hypha/keys"
	"github.com/hypha-iot/hypha/ledger"
	lt "github.com/hypha-iot/hypha/ledger/ledgertest"
	"github.com/hypha-iot/hypha/store"
	"github.com/hypha-iot/hypha/txn"
	"github.com/hypha-iot/hypha/vm/sdk"
)

// triggerChain starts a chain running rt on st with params p (nil: the
// defaults), registers the devices (owned by alice) and instantiates n
// watcher contracts (alice creates them; bob is their admin), each funded.
type trigEnv struct {
	c        *lt.Chain
	devs     []keys.PrivateKey
	ids      []keys.Address
	watchers []keys.Address
	counters map[keys.Address]uint64
}

func newTrigEnv(t *testing.T, cfg store.Config, interpreter bool, p *ledger.Params, devices, watchers int) *trigEnv {
	t.Helper()
	st, err := store.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	g := genesis()
	g.Params = p
	c := lt.NewWith(t, st, g, ledger.Config{Contracts: mustRuntime(t, interpreter)})
	e := &trigEnv{c: c, counters: map[keys.Address]uint64{}}
	alice := lt.Key("alice")
	var txs [][]byte
	for i := range devices {
		dev := lt.Key("trigdev" + string(rune('a'+i)))
		id := dev.Public().Address()
		e.devs, e.ids = append(e.devs, dev), append(e.ids, id)
		txs = append(txs, c.TxCo(alice, []keys.PrivateKey{dev}, lt.Register(dev, "thermo-v1"),
			&txn.Send{To: id, Amount: 1_000_000}))
	}
	if len(txs) > 0 {
		for i, r := range c.Block(txs...) {
			mustOK(t, r, "register device %d", i)
		}
	}
	hash := upload(t, c, alice, mustContract(t, "watcher"))
	bob := lt.Addr("bob")
	for range watchers {
		e.watchers = append(e.watchers, instantiate(t, c, alice, hash, &bob, 1_000_000))
	}
	return e
}

func (e *trigEnv) reading(i int, name string, value int64) []byte {
	e.counters[e.ids[i]]++
	return e.c.Reading(e.devs[i], e.ids[i], e.counters[e.ids[i]], name, value)
}

func (e *trigEnv) subscribe(t *testing.T, signer keys.PrivateKey, m *txn.ContractSubscribe) ledger.Result {
	t.Helper()
	return e.c.Block(tx(e.c, signer, callGas, m))[0]
}

func (e *trigEnv) count(t *testing.T, w keys.Address, key string) uint64 {
	t.Helper()
	v, ok := storage(t, e.c, w, key)
	if !ok {
		return 0
	}
	return decodeUint(t, v)
}

func TestTriggerSubscribeRefusals(t *testing.T) {
	e := newTrigEnv(t, store.Config{}, false, nil, 2, 1)
	alice, bob, carol := lt.Key("alice"), lt.Key("bob"), lt.Key("carol")
	w := e.watchers[0]
	sub := func(cond string, devs ...keys.Address) *txn.ContractSubscribe {
		return &txn.ContractSubscribe{Contract: w, Kind: txn.TriggerReading, Devices: devs, Condition: cond}
	}
	mustFail(t, e.subscribe(t, alice, sub(`counter >`, e.ids[0])), errs.ErrBadCondition, "syntax error")
	mustFail(t, e.subscribe(t, alice, sub(`counter + 1`, e.ids[0])), errs.ErrBadCondition, "not a bool")
	mustFail(t, e.subscribe(t, alice, sub(`records.exists(k, true)`, e.ids[0])), errs.ErrBadCondition, "macro")
	mustFail(t, e.subscribe(t, alice, sub(strings.Repeat("device + ", 40)+`device == ""`, e.ids[0])), errs.ErrBadCondition, "too costly")
	mustFail(t, e.subscribe(t, carol, sub("", e.ids[0])), errs.ErrNotAdmin, "neither admin nor creator")
	// bob is the admin but does not own the device.
	mustFail(t, e.subscribe(t, bob, sub("", e.ids[0])), errs.ErrUnauthorized, "device not owned")
	mustFail(t, e.subscribe(t, alice, sub("", lt.Addr("nobody"))), errs.ErrUnknownDevice, "unknown device")
	mustFail(t, e.c.Block(tx(e.c, alice, callGas, &txn.ContractUnsubscribe{Contract: w, Kind: txn.TriggerTick}))[0],
		errs.ErrInvalidMsg, "unsubscribe without a trigger")
	mustOK(t, e.subscribe(t, alice, sub(`counter > 0`, e.ids[0], e.ids[1])), "good subscription")
	mustOK(t, e.subscribe(t, bob, &txn.ContractSubscribe{Contract: w, Kind: txn.TriggerTick, Every: 5}), "admin ticks")
}

func TestTriggerReadingCondition(t *testing.T) {
	e := newTrigEnv(t, store.Config{}, false, nil, 2, 1)
	alice, w := lt.Key("alice"), e.watchers[0]
	mustOK(t, e.subscribe(t, alice, &txn.ContractSubscribe{Contract: w, Kind: txn.TriggerReading,
		Devices: []keys.Address{e.ids[0]}, Condition: `records["temp"] > 20000`}), "subscribe")
	// Device 0: 25 matches, 10 does not; device 1 is not subscribed.
	for i, r := range e.c.Block(e.reading(0, "temp", 25), e.reading(1, "temp", 30)) {
		mustOK(t, r, "reading %d", i)
	}
	if n := e.count(t, w, "readings"); n != 1 {
		t.Fatalf("readings %d, want 1", n)
	}
	if n := e.count(t, w, "last_counter"); n != 1 {
		t.Fatalf("last_counter %d, want 1", n)
	}
	if v, _ := storage(t, e.c, w, "last_device"); !bytes.Equal(v, e.ids[0][:]) {
		t.Fatalf("last_device %x, want %x", v, e.ids[0][:])
	}
	mustOK(t, e.c.Block(e.reading(0, "temp", 10))[0], "cold reading")
	if n := e.count(t, w, "readings"); n != 1 {
		t.Fatalf("readings %d after a reading that does not match, want 1", n)
	}
	mustOK(t, e.c.Block(e.reading(0, "temp", 21))[0], "warm reading")
	if n, c := e.count(t, w, "readings"), e.count(t, w, "last_counter"); n != 2 || c != 3 {
		t.Fatalf("readings %d, last_counter %d; want 2, 3", n, c)
	}
	// The contract paid for its trigger gas.
	if b := e.c.Account(w).Balance; b >= 1_000_000 {
		t.Fatalf("contract balance %d: no trigger fee paid", b)
	}
	// After unsubscribing, readings queue nothing.
	mustOK(t, e.c.Block(tx(e.c, alice, callGas, &txn.ContractUnsubscribe{Contract: w, Kind: txn.TriggerReading}))[0], "unsubscribe")
	mustOK(t, e.c.Block(e.reading(0, "temp", 99))[0], "reading after unsubscribe")
	if n := e.count(t, w, "readings"); n != 2 {
		t.Fatalf("readings %d after unsubscribing, want 2", n)
	}
}

func TestTriggerTick(t *testing.T) {
	e := newTrigEnv(t, store.Config{}, false, nil, 0, 1)
	w := e.watchers[0]
	mustOK(t, e.subscribe(t, lt.Key("alice"), &txn.ContractSubscribe{Contract: w, Kind: txn.TriggerTick, Every: 3}), "subscribe")
	start := e.c.Height // ticks at start+3, start+6, ...
	for e.c.Height < start+7 {
		e.c.Block()
	}
	if n, h := e.count(t, w, "ticks"), e.count(t, w, "last_tick"); n != 2 || h != uint64(start+6) {
		t.Fatalf("ticks %d, last at %d; want 2, %d", n, h, start+6)
	}
	mustOK(t, e.c.Block(tx(e.c, lt.Key("alice"), callGas, &txn.ContractUnsubscribe{Contract: w, Kind: txn.TriggerTick}))[0], "unsubscribe")
	for range 4 {
		e.c.Block()
	}
	if n := e.count(t, w, "ticks"); n != 2 {
		t.Fatalf("ticks %d after unsubscribing, want 2", n)
	}
}

// With a block budget of one invocation, three readings of one block run
// over three blocks, in tx order.
func TestTriggerCarryOver(t *testing.T) {
	p := ledger.DefaultParams()
	p.TriggerGasPerBlock = p.TriggerGasLimit
	e := newTrigEnv(t, store.Config{}, false, &p, 3, 1)
	w := e.watchers[0]
	mustOK(t, e.subscribe(t, lt.Key("alice"), &txn.ContractSubscribe{Contract: w, Kind: txn.TriggerReading,
		Devices: e.ids}), "subscribe")
	// Tx order: device 2, device 0, device 1.
	for i, r := range e.c.Block(e.reading(2, "t", 1), e.reading(0, "t", 1), e.reading(1, "t", 1)) {
		mustOK(t, r, "reading %d", i)
	}
	for i, want := range []keys.Address{e.ids[2], e.ids[0], e.ids[1]} {
		if i > 0 {
			e.c.Block()
		}
		if n := e.count(t, w, "readings"); n != uint64(i+1) {
			t.Fatalf("after block %d: readings %d, want %d", i, n, i+1)
		}
		if v, _ := storage(t, e.c, w, "last_device"); !bytes.Equal(v, want[:]) {
			t.Fatalf("after block %d: last device %x, want %x", i, v, want[:])
		}
	}
	e.c.Block()
	if n := e.count(t, w, "readings"); n != 3 {
		t.Fatalf("readings %d, want 3 (nothing more queued)", n)
	}
}

// A trapping trigger leaves no write and does not stop the next one.
func TestTriggerTrapIsolated(t *testing.T) {
	e := newTrigEnv(t, store.Config{}, false, nil, 1, 2)
	alice := lt.Key("alice")
	for _, w := range e.watchers {
		mustOK(t, e.subscribe(t, alice, &txn.ContractSubscribe{Contract: w, Kind: txn.TriggerReading,
			Devices: e.ids}), "subscribe")
	}
	// Trap the first watcher in address order: it runs first.
	first, second := e.watchers[0], e.watchers[1]
	if bytes.Compare(first[:], second[:]) > 0 {
		first, second = second, first
	}
	mustOK(t, call(t, e.c, alice, first, callGas, 0, "trap"), "trap")
	mustOK(t, e.c.Block(e.reading(0, "t", 1))[0], "reading")
	if n := e.count(t, second, "readings"); n != 1 {
		t.Fatalf("second watcher: readings %d, want 1", n)
	}
	if _, ok := storage(t, e.c, first, "poison"); ok {
		t.Fatal("the trapped trigger's write survived")
	}
	if n := e.count(t, first, "readings"); n != 0 {
		t.Fatalf("trapped watcher: readings %d, want 0", n)
	}
	mustOK(t, call(t, e.c, alice, first, callGas, 0, "untrap"), "untrap")
	mustOK(t, e.c.Block(e.reading(0, "t", 1))[0], "reading")
	if a, b := e.count(t, first, "readings"), e.count(t, second, "readings"); a != 1 || b != 2 {
		t.Fatalf("readings %d and %d, want 1 and 2", a, b)
	}
}

// The same trigger workload on disk with the compiler and in memory with
// the interpreter reaches the same app hash after every block.
func TestTriggerDeterminism(t *testing.T) {
	p := ledger.DefaultParams()
	p.TriggerGasPerBlock = 2 * p.TriggerGasLimit
	var hashes [2][][]byte
	for k, run := range []struct {
		cfg         store.Config
		interpreter bool
	}{{store.Config{Dir: t.TempDir()}, false}, {store.Config{}, true}} {
		e := newTrigEnv(t, run.cfg, run.interpreter, &p, 2, 3)
		alice := lt.Key("alice")
		var blocks [][][]byte
		blocks = append(blocks,
			[][]byte{tx(e.c, alice, callGas, &txn.ContractSubscribe{Contract: e.watchers[0], Kind: txn.TriggerReading,
				Devices: e.ids, Condition: `records["t"] >= 5000`}),
				tx(e.c, alice, callGas, &txn.ContractSubscribe{Contract: e.watchers[1], Kind: txn.TriggerReading,
					Devices: e.ids[:1]}),
				tx(e.c, alice, callGas, &txn.ContractSubscribe{Contract: e.watchers[2], Kind: txn.TriggerTick, Every: 2}),
				tx(e.c, alice, callGas, &txn.ContractCall{Contract: e.watchers[1], Args: encode("trap")}),
				// watcher 2 also takes messages and forwards each to
				// itself: a cycle that ends at txn.MaxTriggerDepth.
				tx(e.c, alice, callGas, &txn.ContractSubscribe{Contract: e.watchers[2], Kind: txn.TriggerMessage}),
				tx(e.c, alice, callGas, &txn.ContractCall{Contract: e.watchers[2],
					Args: sdk.NewEncoder().String("forward").Bytes(addrBytes(e.watchers[2])).Encoded()})},
			[][]byte{e.reading(0, "t", 7), e.reading(1, "t", 3), e.reading(1, "t", 9),
				tx(e.c, lt.Key("carol"), callGas, plainMsg(e.watchers[2], txn.KindData, "d1", "loop"))},
			[][]byte{e.reading(0, "t", 1), tx(e.c, alice, callGas, &txn.ContractCall{Contract: e.watchers[1], Args: encode("untrap")})},
			nil, nil, nil,
		)
		for i, b := range blocks {
			res, h := e.c.BlockHash(b...)
			for j, r := range res {
				mustOK(t, r, "run %d block %d tx %d", k, i, j)
			}
			hashes[k] = append(hashes[k], h)
		}
		if n := e.count(t, e.watchers[0], "readings"); n != 2 {
			t.Errorf("run %d: watcher 0 saw %d readings, want 2", k, n)
		}
		if n := e.count(t, e.watchers[2], "messages"); n != txn.MaxTriggerDepth+1 {
			t.Errorf("run %d: watcher 2 saw %d messages, want %d", k, n, txn.MaxTriggerDepth+1)
		}
	}
	for i := range hashes[0] {
		if !bytes.Equal(hashes[0][i], hashes[1][i]) {
			t.Fatalf("block %d: app hash %x on disk+compiler, %x in memory+interpreter", i, hashes[0][i], hashes[1][i])
		}
	}
}

// A contract that cannot pay for its trigger's gas is skipped, and the
// queue moves on to the next one.
func TestTriggerUnfunded(t *testing.T) {
	e := newTrigEnv(t, store.Config{}, false, nil, 1, 1)
	alice := lt.Key("alice")
	bob := lt.Addr("bob")
	hash := sumOf(mustContract(t, "watcher"))
	poor := instantiate(t, e.c, alice, [32]byte(hash), &bob, 0)
	for _, w := range []keys.Address{poor, e.watchers[0]} {
		mustOK(t, e.subscribe(t, alice, &txn.ContractSubscribe{Contract: w, Kind: txn.TriggerReading,
			Devices: e.ids}), "subscribe")
	}
	mustOK(t, e.c.Block(e.reading(0, "t", 1))[0], "reading")
	if n := e.count(t, poor, "readings"); n != 0 {
		t.Fatalf("unfunded watcher ran: readings %d", n)
	}
	if n := e.count(t, e.watchers[0], "readings"); n != 1 {
		t.Fatalf("funded watcher: readings %d, want 1", n)
	}
	if b := e.c.Account(poor).Balance; b != 0 {
		t.Fatalf("unfunded watcher balance %d", b)
	}
	// The entry was consumed, not retried: funding the contract later runs
	// only new readings.
	mustOK(t, e.c.Block(e.c.Tx(alice, &txn.Send{To: poor, Amount: 100_000}))[0], "fund")
	mustOK(t, e.c.Block(e.reading(0, "t", 1))[0], "reading")
	if n := e.count(t, poor, "readings"); n != 1 {
		t.Fatalf("funded later: readings %d, want 1", n)
	}
}

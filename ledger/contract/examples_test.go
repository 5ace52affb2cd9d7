package contract_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/hypha-iot/hypha/errs"
	"github.com/hypha-iot/hypha/keys"
	"github.com/hypha-iot/hypha/ledger"
	lt "github.com/hypha-iot/hypha/ledger/ledgertest"
	"github.com/hypha-iot/hypha/store"
	"github.com/hypha-iot/hypha/txn"
	"github.com/hypha-iot/hypha/vm/sdk"
)

// The worked examples of vm/sdk/examples, each driven through its whole
// story on an in-memory chain with a controlled block clock; the node
// tests (cmd/hypha TestExampleContracts) run the same stories through the
// CLI on a real node.

// exampleChain is a chain with a device (owned by owner) ready to send
// readings.
type exampleChain struct {
	c        *lt.Chain
	counters map[keys.Address]uint64
}

func newExampleChain(t *testing.T) *exampleChain {
	st, err := store.Open(store.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return &exampleChain{c: lt.NewWith(t, st, genesis(), ledger.Config{Contracts: mustRuntime(t, false)}),
		counters: map[keys.Address]uint64{}}
}

// device registers a device owned by owner and funds it for its fees.
func (e *exampleChain) device(t *testing.T, owner keys.PrivateKey, name string) (keys.PrivateKey, keys.Address) {
	t.Helper()
	dev := lt.Key(name)
	id := dev.Public().Address()
	mustOK(t, e.c.Block(e.c.TxCo(owner, []keys.PrivateKey{dev}, lt.Register(dev, name),
		&txn.Send{To: id, Amount: 1_000_000}))[0], "register %s", name)
	return dev, id
}

// senml builds a SenML pack of numeric records, in the order given.
func senml(kv ...any) []byte {
	var pack []map[int]any
	for i := 0; i < len(kv); i += 2 {
		pack = append(pack, map[int]any{0: kv[i], 2: kv[i+1]})
	}
	return txn.MustMarshal(pack)
}

// read submits one reading in its own block, after advancing the clock by
// wait (the block itself adds a second), and returns the block's time.
func (e *exampleChain) read(t *testing.T, dev keys.PrivateKey, id keys.Address, wait time.Duration, kv ...any) time.Time {
	t.Helper()
	e.c.Time = e.c.Time.Add(wait)
	e.counters[id]++
	mustOK(t, e.c.Block(e.c.DeviceTx(dev, id, e.counters[id], nil, &txn.ReadingSubmit{Payload: senml(kv...)}))[0], "reading %v", kv)
	return e.c.Time
}

func (e *exampleChain) balance(a keys.Address) uint64 { return uint64(e.c.Account(a).Balance) }

func (e *exampleChain) deploy(t *testing.T, signer keys.PrivateKey, name string, funds txn.Amount, args []byte) keys.Address {
	t.Helper()
	hash := upload(t, e.c, signer, mustContract(t, name))
	r := e.c.Block(tx(e.c, signer, callGas, &txn.ContractInstantiate{CodeHash: hash[:], Args: args, Label: name, Funds: funds}))[0]
	mustOK(t, r, "instantiate %s", name)
	a, _, err := keys.ParseAddress(attr(r, "contract.instantiate", "contract"))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func (e *exampleChain) inbox(t *testing.T, a keys.Address) []byte {
	t.Helper()
	q := e.c.Query("/inbox/" + a.String())
	if q.Code != 0 {
		t.Fatalf("inbox of %s: %s", a, q.Log)
	}
	return q.Value
}

func TestExampleParking(t *testing.T) {
	e := newExampleChain(t)
	alice, bob, carol := lt.Key("alice"), lt.Key("bob"), lt.Key("carol")
	owner, driver := lt.Addr("alice"), lt.Addr("bob")
	sensor, sid := e.device(t, alice, "bay-7")
	const rate = 100
	lot := e.deploy(t, alice, "parking", 200_000, sdk.NewEncoder().Bytes(addrBytes(sid)).Uint(rate).Encoded())
	mustOK(t, e.c.Block(tx(e.c, alice, callGas, &txn.ContractSubscribe{Contract: lot, Kind: txn.TriggerReading,
		Devices: []keys.Address{sid}}))[0], "subscribe")

	// A car with no reservation: an "unpaid" event, no session.
	e.read(t, sensor, sid, 0, "occupied", 1)
	e.read(t, sensor, sid, 0, "occupied", 0)
	if st := e.status(t, lot); st[0] != 0 {
		t.Fatalf("state after unpaid occupancy: %v", st)
	}

	mustFail(t, call(t, e.c, bob, lot, callGas, rate-1, "park"), errs.ErrReverted, "a deposit under one minute")
	mustOK(t, call(t, e.c, bob, lot, callGas, 1_000, "park"), "bob parks")
	mustFail(t, call(t, e.c, carol, lot, callGas, 1_000, "park"), errs.ErrReverted, "the space is taken")
	bobBefore, ownerBefore := e.balance(driver), e.balance(owner)

	start := e.read(t, sensor, sid, 0, "occupied", 1)
	if st := e.status(t, lot); st[0] != 2 || st[3] != uint64(start.UnixNano()) {
		t.Fatalf("session not started at the reading's block time: %v", st)
	}
	end := e.read(t, sensor, sid, 150*time.Second, "occupied", 0) // 151 s: three started minutes
	minutes := uint64((end.Sub(start) + time.Minute - 1) / time.Minute)
	if minutes != 3 {
		t.Fatalf("session of %v", end.Sub(start))
	}
	if got := e.balance(owner) - ownerBefore; got != minutes*rate {
		t.Errorf("owner paid %d, want %d", got, minutes*rate)
	}
	if got := e.balance(driver) - bobBefore; got != 1_000-minutes*rate {
		t.Errorf("driver refunded %d, want %d", got, 1_000-minutes*rate)
	}
	if !bytes.Contains(e.inbox(t, driver), []byte("parking-receipt")) {
		t.Error("no parking-receipt command in the driver's inbox")
	}
	if st := e.status(t, lot); st[0] != 0 {
		t.Fatalf("space not free after the session: %v", st)
	}

	// A deposit smaller than the stay: the owner gets it all, no refund.
	mustOK(t, call(t, e.c, carol, lot, callGas, 250, "park"), "carol parks")
	e.read(t, sensor, sid, 0, "occupied", 1)
	ownerBefore = e.balance(owner)
	e.read(t, sensor, sid, 10*time.Minute, "occupied", 0)
	if got := e.balance(owner) - ownerBefore; got != 250 {
		t.Errorf("owner paid %d, want the whole deposit 250", got)
	}
	// Cancel before arrival gives the deposit back.
	mustOK(t, call(t, e.c, carol, lot, callGas, 500, "park"), "carol parks again")
	mustFail(t, call(t, e.c, bob, lot, callGas, 0, "cancel"), errs.ErrReverted, "bob cancels carol's reservation")
	before := e.balance(lt.Addr("carol"))
	r := call(t, e.c, carol, lot, callGas, 0, "cancel")
	mustOK(t, r, "cancel")
	if got := e.balance(lt.Addr("carol")) + fee(callGas) - before; got != 500 {
		t.Errorf("cancel refunded %d, want 500", got)
	}
}

// status reads the lot's storage (a status call would cost its signer a
// fee and blur the balances under test): state, 0, deposit, start.
func (e *exampleChain) status(t *testing.T, lot keys.Address) []uint64 {
	t.Helper()
	u := func(k string) uint64 {
		v, ok := storage(t, e.c, lot, k)
		if !ok {
			return 0
		}
		return decodeUint(t, v)
	}
	return []uint64{u("state"), 0, u("deposit"), u("start")}
}

func TestExampleColdChain(t *testing.T) {
	e := newExampleChain(t)
	bob, carol := lt.Key("bob"), lt.Key("carol")
	buyer, carrier := lt.Addr("carol"), lt.Addr("bob")
	logger, lid := e.device(t, bob, "logger-12")
	const price, penalty = 10_000, 2_500
	args := sdk.NewEncoder().Bytes(addrBytes(carrier)).Bytes(addrBytes(lid)).Uint(price).
		Int(2_000).Int(8_000).Uint(600).Uint(penalty). // 2–8 °C, 10 minutes' grace
		Int(52_370).Int(4_890).Int(5).                 // Amsterdam, ±0.005°
		Encoded()
	ship := e.deploy(t, carol, "coldchain", price+100_000, args)
	mustOK(t, e.c.Block(tx(e.c, carol, callGas, &txn.ContractSubscribe{Contract: ship, Kind: txn.TriggerReading}))[0],
		"the buyer subscribes with no devices")
	mustOK(t, e.c.Block(tx(e.c, bob, callGas, &txn.ContractAttach{Contract: ship, Devices: []keys.Address{lid}}))[0],
		"the carrier attaches its logger")

	buyerBefore := e.balance(buyer)
	e.read(t, logger, lid, 0, "temp", 5.0)
	e.read(t, logger, lid, 0, "temp", 9.5)             // excursion starts
	e.read(t, logger, lid, 5*time.Minute, "temp", 9.0) // 5 min: within the grace
	e.read(t, logger, lid, 0, "temp", 6.0)             // back in range
	if got := e.balance(buyer); got != buyerBefore {
		t.Fatalf("penalty paid for a short excursion: %d", got-buyerBefore)
	}
	e.read(t, logger, lid, 0, "temp", 12.0)
	e.read(t, logger, lid, 11*time.Minute, "temp", 11.0) // 11 min out of range
	if got := e.balance(buyer) - buyerBefore; got != penalty {
		t.Fatalf("buyer got %d, want the penalty %d", got, penalty)
	}
	e.read(t, logger, lid, 30*time.Minute, "temp", 13.0) // only one penalty per shipment
	if got := e.balance(buyer) - buyerBefore; got != penalty {
		t.Fatalf("second penalty: buyer got %d", got)
	}

	carrierBefore := e.balance(carrier)
	e.read(t, logger, lid, 0, "temp", 5.0, "lat", 52.1, "lon", 4.89) // 30 km short
	if e.balance(carrier) != carrierBefore {
		t.Fatal("paid outside the geofence")
	}
	e.read(t, logger, lid, 0, "temp", 5.0, "lat", 52.372, "lon", 4.888) // arrived
	if got := e.balance(carrier) - carrierBefore; got != price-penalty {
		t.Fatalf("carrier got %d, want %d", got, price-penalty)
	}
	e.read(t, logger, lid, 0, "temp", 20.0, "lat", 52.372, "lon", 4.888) // after delivery: ignored
	if got := e.balance(carrier) - carrierBefore; got != price-penalty {
		t.Fatalf("paid twice: %d", got)
	}
	d := returned(t, call(t, e.c, carol, ship, callGas, 0, "status"))
	if delivered, escrow, pen := d.Uint(), d.Uint(), d.Uint(); delivered != 1 || escrow != 0 || pen != 1 {
		t.Errorf("status: delivered %d escrow %d penalised %d", delivered, escrow, pen)
	}
	mustFail(t, call(t, e.c, bob, ship, callGas, 0, "refund"), errs.ErrReverted, "the carrier takes the gas tokens")
	before := e.balance(buyer)
	r := call(t, e.c, carol, ship, callGas, 0, "refund")
	mustOK(t, r, "refund")
	if e.balance(ship) != 0 || e.balance(buyer)+fee(callGas) <= before {
		t.Errorf("refund left %d in the contract", e.balance(ship))
	}
}

func TestExampleEnergy(t *testing.T) {
	e := newExampleChain(t)
	alice, bob, carol := lt.Key("alice"), lt.Key("bob"), lt.Key("carol")
	producer, consumer := lt.Addr("bob"), lt.Addr("carol")
	pv, pid := e.device(t, bob, "meter-roof")
	home, hid := e.device(t, carol, "meter-flat")
	const price = 200 // uhyp per kWh
	market := e.deploy(t, alice, "energy", 200_000, sdk.NewEncoder().Uint(price).Encoded())
	for _, m := range []txn.Msg{
		&txn.ContractSubscribe{Contract: market, Kind: txn.TriggerReading},
		&txn.ContractSubscribe{Contract: market, Kind: txn.TriggerTick, Every: 1_000},
	} {
		mustOK(t, e.c.Block(tx(e.c, alice, callGas, m))[0], "subscribe")
	}
	mustFail(t, call(t, e.c, carol, market, callGas, 0, "join", pid), errs.ErrReverted, "carol enrols bob's meter")
	for _, p := range []struct {
		k  keys.PrivateKey
		id keys.Address
	}{{bob, pid}, {carol, hid}} {
		mustOK(t, call(t, e.c, p.k, market, callGas, 0, "join", p.id), "join")
		mustOK(t, e.c.Block(tx(e.c, p.k, callGas, &txn.ContractAttach{Contract: market, Devices: []keys.Address{p.id}}))[0], "attach")
	}
	mustOK(t, call(t, e.c, carol, market, callGas, 10_000, "deposit"), "deposit")

	e.read(t, pv, pid, 0, "export", 1_000, "import", 0) // baselines
	e.read(t, home, hid, 0, "export", 0, "import", 500)
	e.read(t, pv, pid, 0, "export", 4_000, "import", 0)     // +3 kWh out
	e.read(t, home, hid, 0, "export", 0, "import", 2_500)   // +2 kWh in
	e.read(t, home, hid, 0, "export", 0, "import", 100)     // register reset: no trade
	e.read(t, home, hid, 0, "export", 0, "import", 100+500) // +0.5 kWh in

	// Settle now: move the tick to the next block.
	mustOK(t, e.c.Block(tx(e.c, alice, callGas, &txn.ContractSubscribe{Contract: market, Kind: txn.TriggerTick, Every: 1}))[0], "tick now")
	prodBefore := e.balance(producer)
	e.c.Block()
	// matched = min(3000, 2500) Wh = 2.5 kWh at 200 = 500 uhyp.
	if got := e.balance(producer) - prodBefore; got != 500 {
		t.Fatalf("producer paid %d, want 500", got)
	}
	if got := returned(t, call(t, e.c, alice, market, callGas, 0, "balance", consumer)).Uint(); got != 9_500 {
		t.Fatalf("consumer deposit %d, want 9500", got)
	}
	// The next periods have nothing to settle.
	prodBefore = e.balance(producer)
	e.c.Block()
	e.c.Block()
	if e.balance(producer) != prodBefore {
		t.Fatal("an empty period paid the producer")
	}
	// A consumer without enough deposit: a shortfall, the producer gets
	// what was collected.
	mustOK(t, call(t, e.c, carol, market, callGas, 0, "withdraw"), "withdraw")
	mustOK(t, call(t, e.c, carol, market, callGas, 100, "deposit"), "small deposit")
	// Both readings and the settlement in one block: the tick runs after
	// the readings the block's txs queued.
	prodBefore = e.balance(producer)
	e.c.Block(e.c.DeviceTx(pv, pid, e.next(pid), nil, &txn.ReadingSubmit{Payload: senml("export", 10_000, "import", 0)}),
		e.c.DeviceTx(home, hid, e.next(hid), nil, &txn.ReadingSubmit{Payload: senml("export", 0, "import", 5_600)}))
	if got := e.balance(producer) - prodBefore; got != 100 {
		t.Fatalf("producer got %d, want the 100 collected", got)
	}
	if got := returned(t, call(t, e.c, alice, market, callGas, 0, "balance", consumer)).Uint(); got != 0 {
		t.Fatalf("consumer deposit %d left, want 0", got)
	}
}

func (e *exampleChain) next(id keys.Address) uint64 {
	e.counters[id]++
	return e.counters[id]
}

package contract_test

import (
	"testing"
	"time"

	"github.com/hypha-iot/hypha/keys"
	"github.com/hypha-iot/hypha/ledger"
	lt "github.com/hypha-iot/hypha/ledger/ledgertest"
	"github.com/hypha-iot/hypha/store"
	"github.com/hypha-iot/hypha/txn"
)

// readingsPerBlock is the block size of BenchmarkTriggerReading: all its
// triggers fit one block's trigger budget.
const readingsPerBlock = 64

// BenchmarkTriggerReading measures what a reading costs the ledger with a
// contract subscribed to its device: a block of readings executed and
// committed, per reading. "plain" has no subscriber (the baseline, measured
// in the same run); "cel-false" evaluates a condition that never holds
// (the CEL cost alone); "cel-true" evaluates one that always holds and runs
// the watcher's on_reading (CEL + call). x-plain is ns/reading over the
// baseline's.
func BenchmarkTriggerReading(b *testing.B) {
	var plain float64
	for _, c := range []struct{ name, cond string }{
		{"plain", ""},
		{"cel-false", `records["temp"] > 1000000`},
		{"cel-true", `records["temp"] >= 0`},
	} {
		b.Run(c.name, func(b *testing.B) {
			ch, devs, ids := triggerBenchChain(b, c.name != "plain", c.cond)
			counters := make([]uint64, len(ids))
			blockOf := func() [][]byte {
				txs := make([][]byte, len(ids))
				for i := range ids {
					counters[i]++
					txs[i] = ch.Reading(devs[i], ids[i], counters[i], "temp", int64(counters[i]%40))
				}
				return txs
			}
			var elapsed time.Duration
			for b.Loop() {
				b.StopTimer()
				txs := blockOf()
				b.StartTimer()
				start := time.Now()
				for _, r := range ch.Block(txs...) {
					if !r.OK() {
						b.Fatalf("reading: %s", r.Log)
					}
				}
				elapsed += time.Since(start)
			}
			per := float64(elapsed.Nanoseconds()) / float64(b.N*readingsPerBlock)
			b.ReportMetric(per, "ns/reading")
			if c.name == "plain" {
				plain = per
			} else if plain > 0 {
				b.ReportMetric(per/plain, "x-plain")
			}
		})
	}
}

// triggerBenchChain is a chain with readingsPerBlock registered devices
// and, if watch, a watcher contract subscribed to all of them with cond.
func triggerBenchChain(b *testing.B, watch bool, cond string) (*lt.Chain, []keys.PrivateKey, []keys.Address) {
	st, err := store.Open(store.Config{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	g := genesis()
	ch := lt.NewWith(b, st, g, ledger.Config{Contracts: mustRuntime(b, false)})
	alice := lt.Key("alice")
	var devs []keys.PrivateKey
	var ids []keys.Address
	var txs [][]byte
	for i := range readingsPerBlock {
		dev := lt.Key("benchdev" + string(rune('A'+i/26)) + string(rune('a'+i%26)))
		id := dev.Public().Address()
		devs, ids = append(devs, dev), append(ids, id)
		txs = append(txs, ch.TxCo(alice, []keys.PrivateKey{dev}, lt.Register(dev, "bench"), &txn.Send{To: id, Amount: 10_000_000}))
	}
	for i, r := range ch.Block(txs...) {
		mustOK(b, r, "register %d", i)
	}
	if watch {
		hash := upload(b, ch, alice, mustContract(b, "watcher"))
		w := instantiate(b, ch, alice, hash, nil, 100_000_000)
		mustOK(b, ch.Block(tx(ch, alice, callGas, &txn.ContractSubscribe{Contract: w, Kind: txn.TriggerReading,
			Devices: ids, Condition: cond}))[0], "subscribe")
	}
	return ch, devs, ids
}

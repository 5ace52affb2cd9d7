package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hypha-iot/hypha/api"
)

// The README's contract walkthroughs, command for command, against a real
// node: each example is built from source with hypha contract build,
// stored, instantiated and driven by device readings through the CLI;
// balances, inbox and events are checked from outside as a user would.
func TestExampleContracts(t *testing.T) {
	tn := startNode(t)
	dir := t.TempDir()
	build := func(t *testing.T, name string) string {
		wasm := filepath.Join(dir, name+".wasm")
		tn.run(t, "contract", "build", "../../vm/sdk/examples/"+name, "--out", wasm)
		tn.run(t, "contract", "store", wasm, "--from", "dev")
		return wasm
	}
	fund := func(t *testing.T, names ...string) {
		for _, n := range names {
			tn.run(t, "keys", "add", n)
			tn.run(t, "tx", "send", "--from", "dev", "--to", n, "--amount", "5000000")
		}
	}
	balance := func(t *testing.T, name string) uint64 {
		var a struct{ Balance uint64 }
		tn.json(t, &a, "query", "account", name, "-o", "json")
		return a.Balance
	}
	instantiate := func(t *testing.T, args ...string) string {
		addr := strings.TrimSpace(tn.run(t, append([]string{"contract", "instantiate"}, append(args, "-q")...)...))
		if !strings.HasPrefix(addr, "hypha1") {
			t.Fatalf("instantiate printed %q", addr)
		}
		return addr
	}
	// waitEvent waits for the first event of type kind naming the contract.
	waitEvent := func(t *testing.T, addr, kind string) map[string]string {
		out := tn.run(t, "contract", "events", addr, "--from-height", "1", "--kind", kind, "--limit", "1", "--wait", "20s", "-o", "json")
		var ev struct {
			Attrs []struct{ Key, Value string }
		}
		if err := json.Unmarshal([]byte(out), &ev); err != nil || len(ev.Attrs) == 0 {
			t.Fatalf("no %s event from %s: %q; its events:\n%s", kind, addr, out,
				tn.run(t, "contract", "events", addr, "--from-height", "1", "--wait", "2s"))
		}
		m := map[string]string{}
		for _, a := range ev.Attrs {
			m[a.Key] = a.Value
		}
		return m
	}

	t.Run("parking", func(t *testing.T) {
		fund(t, "driver")
		tn.run(t, "keys", "add", "bay7")
		tn.run(t, "device", "register", "--from", "dev", "--device-key", "bay7", "--model", "parking-sensor-v1")
		wasm := build(t, "parking")
		lot := instantiate(t, wasm, "--from", "dev", "--label", "bay 7", "--funds", "1000000", "--arg", "a:bay7", "--arg", "u:100")
		tn.run(t, "contract", "subscribe", lot, "--from", "dev", "--reading", "bay7")
		if out := tn.run(t, "contract", "triggers", lot); !strings.Contains(out, "reading  1 device(s)") {
			t.Fatalf("triggers:\n%s", out)
		}
		tn.run(t, "contract", "call", lot, "--from", "driver", "--arg", "s:park", "--funds", "1000")
		driver, owner := balance(t, "driver"), balance(t, "dev")
		tn.run(t, "reading", "send", "--device-key", "bay7", "--value", "occupied=1")
		waitEvent(t, lot, "contract.session_started")
		// The driver follows its inbox live: the receipt the trigger sends
		// at the end of the block comes through the stream (block events).
		var who struct{ Address string }
		tn.json(t, &who, "keys", "show", "driver", "-o", "json")
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		live, err := api.NewClient(tn.api, nil).InboxStream(ctx, who.Address, "")
		if err != nil {
			t.Fatal(err)
		}
		// And the live event stream carries the block's trigger events
		// after its txs: no replay, no polling.
		evs, err := api.NewClient(tn.api, nil).Events(ctx, api.EventFilter{Account: lot})
		if err != nil {
			t.Fatal(err)
		}
		tn.run(t, "reading", "send", "--device-key", "bay7", "--value", "occupied=0")
	events:
		for {
			select {
			case ev, ok := <-evs:
				if !ok {
					t.Fatal("event stream ended")
				}
				if ev.Name != api.BlockEventsName {
					continue
				}
				for _, e := range ev.Events {
					if e.Type == "contract.session_ended" {
						if len(ev.Hash) != 0 {
							t.Errorf("trigger events carry a tx hash: %+v", ev)
						}
						break events
					}
				}
			case <-ctx.Done():
				t.Fatal("no trigger events on the live event stream")
			}
		}
		select {
		case e, ok := <-live:
			if !ok || e.Kind != "contract-command" || e.From != lot {
				t.Fatalf("inbox stream: %+v (open %v)", e, ok)
			}
		case <-ctx.Done():
			t.Fatal("the receipt never came through the driver's inbox stream")
		}
		waitEvent(t, lot, "contract.session_ended")
		// A stay of seconds is one started minute: 100 to the owner, 900 back.
		if got := balance(t, "driver") - driver; got != 900 {
			t.Errorf("driver refunded %d, want 900", got)
		}
		if got := balance(t, "dev") - owner; got != 100 {
			t.Errorf("owner paid %d, want 100", got)
		}
		if out := tn.run(t, "msg", "inbox", "--key", "driver"); !strings.Contains(out, "parking-receipt") {
			t.Errorf("driver's inbox:\n%s", out)
		}
		if out := tn.run(t, "contract", "query", lot); !strings.Contains(out, "state = 00 (uint 0)") {
			t.Errorf("lot state:\n%s", out)
		}
	})

	t.Run("coldchain", func(t *testing.T) {
		fund(t, "buyer", "carrier")
		tn.run(t, "keys", "add", "logger1")
		tn.run(t, "device", "register", "--from", "carrier", "--device-key", "logger1", "--model", "coldlog-v1")
		wasm := build(t, "coldchain")
		ship := instantiate(t, wasm, "--from", "buyer", "--funds", "2000000",
			"--arg", "a:carrier", "--arg", "a:logger1", "--arg", "u:1000000", // price in escrow
			"--arg", "i:2000", "--arg", "i:8000", "--arg", "u:2", "--arg", "u:250000", // 2–8 °C, 2 s grace, penalty
			"--arg", "i:52370", "--arg", "i:4890", "--arg", "i:5") // Amsterdam ± 0.005°
		tn.run(t, "contract", "subscribe", ship, "--from", "buyer", "--attached")
		tn.run(t, "contract", "attach", ship, "logger1", "--from", "carrier")
		buyer, carrier := balance(t, "buyer"), balance(t, "carrier")
		tn.run(t, "reading", "send", "--device-key", "logger1", "--value", "temp=5.1")
		tn.run(t, "reading", "send", "--device-key", "logger1", "--value", "temp=9.4")
		waitEvent(t, ship, "contract.excursion_started")
		// The logger keeps reporting; the contract measures the excursion
		// in block time, and pays the penalty once it exceeds the grace.
		// (A block's time is its predecessor's commit time, so after an
		// idle spell it lags: it is the readings that move the clock.)
		var pen map[string]string
		for i := 0; i < 20 && balance(t, "buyer") == buyer; i++ {
			time.Sleep(time.Second)
			tn.run(t, "reading", "send", "--device-key", "logger1", "--value", "temp=9.8")
		}
		pen = waitEvent(t, ship, "contract.penalty")
		if got := balance(t, "buyer") - buyer; got != 250000 {
			t.Errorf("buyer got %d, want the penalty 250000 (%v)", got, pen)
		}
		tn.run(t, "reading", "send", "--device-key", "logger1", "--value", "temp=5.0", "--value", "lat=52.3702", "--value", "lon=4.8952")
		waitEvent(t, ship, "contract.delivered")
		if got := balance(t, "carrier") - carrier; got != 750000 {
			t.Errorf("carrier got %d, want 750000", got)
		}
	})

	t.Run("energy", func(t *testing.T) {
		fund(t, "producer", "consumer")
		for _, m := range [][2]string{{"producer", "roof"}, {"consumer", "flat"}} {
			tn.run(t, "keys", "add", m[1])
			tn.run(t, "device", "register", "--from", m[0], "--device-key", m[1], "--model", "meter-v1")
		}
		wasm := build(t, "energy")
		market := instantiate(t, wasm, "--from", "dev", "--funds", "1000000", "--arg", "u:200")
		tn.run(t, "contract", "subscribe", market, "--from", "dev", "--attached")
		for _, m := range [][2]string{{"producer", "roof"}, {"consumer", "flat"}} {
			tn.run(t, "contract", "call", market, "--from", m[0], "--arg", "s:join", "--arg", "a:"+m[1])
			tn.run(t, "contract", "attach", market, m[1], "--from", m[0])
		}
		tn.run(t, "contract", "call", market, "--from", "consumer", "--arg", "s:deposit", "--funds", "10000")
		tn.run(t, "reading", "send", "--device-key", "roof", "--value", "export=1000", "--value", "import=0")
		tn.run(t, "reading", "send", "--device-key", "flat", "--value", "export=0", "--value", "import=500")
		tn.run(t, "reading", "send", "--device-key", "roof", "--value", "export=4000", "--value", "import=0")
		tn.run(t, "reading", "send", "--device-key", "flat", "--value", "export=0", "--value", "import=2500")
		producer := balance(t, "producer")
		tn.run(t, "contract", "subscribe", market, "--from", "dev", "--every", "3")
		settled := waitEvent(t, market, "contract.settled")
		// 3 kWh offered, 2 kWh wanted: 2 kWh at 200 uhyp/kWh.
		if got := balance(t, "producer") - producer; got != 400 {
			t.Errorf("producer got %d, want 400 (%v)", got, settled)
		}
		out := tn.run(t, "contract", "call", market, "--from", "consumer", "--arg", "s:balance", "--arg", "a:consumer")
		if !strings.Contains(out, "returned") {
			t.Errorf("balance call:\n%s", out)
		}
	})
}

package api_test

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hypha-iot/hypha/api"
	"github.com/hypha-iot/hypha/keys"
	"github.com/hypha-iot/hypha/ledger/ledgertest"
	"github.com/hypha-iot/hypha/txn"
)

// waitFor polls cond until it holds or a generous deadline passes.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// collect reads events from ch until it has seen n of them.
func collect(t testing.TB, ch <-chan api.Event, n int) []api.Event {
	t.Helper()
	var out []api.Event
	timeout := time.After(20 * time.Second)
	for len(out) < n {
		select {
		case ev, ok := <-ch:
			if !ok {
				t.Fatalf("stream ended after %d of %d events", len(out), n)
			}
			out = append(out, ev)
		case <-timeout:
			t.Fatalf("timed out after %d of %d events", len(out), n)
		}
	}
	return out
}

// TestEvents: filtered streams receive exactly the matching committed txs,
// in order; replay from a height and Last-Event-ID join the live stream
// without gaps or duplicates.
func TestEvents(t *testing.T) {
	e := newEnv(t, api.Config{HeartbeatInterval: 20 * time.Millisecond})
	ctx, cancel := context.WithCancel(ctxT(t))
	defer cancel()
	alice, bobKey, dev := ledgertest.Key("alice"), ledgertest.Key("bob"), ledgertest.Key("sensor-9")
	bob, carol, id := bobKey.Public().Address(), ledgertest.Addr("carol"), dev.Public().Address()

	filters := map[string]api.EventFilter{
		"transfer+bob": {Kind: "transfer", Account: bob.Account()},
		"device":       {Device: id.Device()},
		"reading":      {Kind: "reading"},
		"device.*":     {Kind: "device"},
		"all":          {},
		"register":     {Kind: "device.register", Account: alice.Public().Address().Account()},
	}
	streams := map[string]<-chan api.Event{}
	for name, f := range filters {
		ch, err := e.c.Events(ctx, f)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		streams[name] = ch
	}
	if n := e.b.Subscribers(); n != len(filters) {
		t.Fatalf("%d subscribers, want %d", n, len(filters))
	}

	fw := "2.0"
	txs := [][]byte{
		1: e.b.BuildTx(alice, &txn.Send{To: bob, Amount: 5}),
		2: e.b.BuildTx(alice, &txn.Send{To: carol, Amount: 6}),
		3: e.b.BuildTxCo(alice, []keys.PrivateKey{dev}, ledgertest.Register(dev, "meter")),
	}
	hashes := map[string]int{}
	commit := func(i int, raw []byte) {
		t.Helper()
		sub := mustCommit(t, e.c, ctx, raw)
		hashes[sub.Hash.String()] = i
	}
	for i := 1; i <= 3; i++ {
		commit(i, txs[i])
	}
	commit(4, e.b.BuildTx(alice, &txn.Send{To: id, Amount: 100_000}))
	commit(5, e.b.BuildReading(dev, id, 1, "kwh", 7))
	commit(6, e.b.BuildTx(bobKey, &txn.Send{To: alice.Public().Address(), Amount: 1}))
	commit(7, e.b.BuildTx(alice, &txn.DeviceUpdate{Device: id, Firmware: &fw}))
	commit(8, e.b.BuildReading(dev, id, 2, "kwh", 8))

	want := map[string][]int{
		"transfer+bob": {1, 6},
		"device":       {3, 4, 5, 7, 8},
		"reading":      {5, 8},
		"device.*":     {3, 7},
		"all":          {1, 2, 3, 4, 5, 6, 7, 8},
		"register":     {3},
	}
	for name, w := range want {
		evs := collect(t, streams[name], len(w))
		var got []int
		for _, ev := range evs {
			got = append(got, hashes[ev.Hash.String()])
			if ev.ID != fmt.Sprintf("%d:%d", ev.Height, ev.Index) || len(ev.Events) == 0 || ev.Code != 0 {
				t.Fatalf("%s: event %+v", name, ev)
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(w) {
			t.Errorf("%s: got txs %v, want %v", name, got, w)
		}
	}

	t.Run("replay", func(t *testing.T) {
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		f := filters["transfer+bob"]
		f.FromHeight = 1
		ch, err := e.c.Events(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		commit(9, e.b.BuildTx(alice, &txn.Send{To: bob, Amount: 9}))
		var got []int
		for _, ev := range collect(t, ch, 3) {
			got = append(got, hashes[ev.Hash.String()])
		}
		if fmt.Sprint(got) != "[1 6 9]" {
			t.Fatalf("replayed then live: %v", got)
		}
	})
	t.Run("last event id", func(t *testing.T) {
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		var first string
		for h, i := range hashes {
			if i == 1 {
				first = h
			}
		}
		var tx api.Tx
		e.getJSON("/v1/txs/"+first, 200, &tx)
		req, _ := http.NewRequestWithContext(ctx, "GET", e.ts.URL+"/v1/events?kind=transfer&account="+bob.Account(), nil)
		req.Header.Set("Last-Event-ID", fmt.Sprintf("%d:%d", tx.Height, tx.Index))
		resp, err := e.ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
			t.Fatalf("status %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		// Raw framing: the first event after tx 1 is tx 6, with an id line;
		// heartbeats are comments.
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
		var ids, data []string
		heartbeats := 0
		for sc.Scan() && (len(data) < 2 || heartbeats == 0) {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "id: "):
				ids = append(ids, strings.TrimPrefix(line, "id: "))
			case strings.HasPrefix(line, "data: "):
				data = append(data, line)
			case line == ": heartbeat":
				heartbeats++
			}
		}
		if len(data) < 2 || heartbeats == 0 {
			t.Fatalf("ids %v, %d data lines, %d heartbeats", ids, len(data), heartbeats)
		}
		var six *api.Tx
		for h, i := range hashes {
			if i == 6 {
				e.getJSON("/v1/txs/"+h, 200, &six)
			}
		}
		if ids[0] != fmt.Sprintf("%d:%d", six.Height, six.Index) {
			t.Fatalf("first id %s, want tx 6 at %d:%d", ids[0], six.Height, six.Index)
		}
	})
	t.Run("replay too long", func(t *testing.T) {
		e2 := newEnv(t, api.Config{MaxReplayBlocks: 1})
		mustCommit(t, e2.c, ctx, e2.b.BuildTx(alice, &txn.Send{To: bob, Amount: 1}))
		mustCommit(t, e2.c, ctx, e2.b.BuildTx(alice, &txn.Send{To: bob, Amount: 1}))
		st, _, body := e2.do("GET", "/v1/events?from_height=1", "", nil)
		wantError(t, "replay", 400, st, body, "ErrInvalidQuery")
	})

	// Streams end when their clients go away.
	cancel()
	waitFor(t, "subscriptions to end", func() bool { return e.b.Subscribers() == 0 })
}

package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/hypha-iot/hypha/api"
	"github.com/hypha-iot/hypha/ledger/exec"
	lt "github.com/hypha-iot/hypha/ledger/ledgertest"
)

// A broken event stream is reopened after the last event received (SSE
// Last-Event-ID), so `contract events` skips and repeats nothing. The
// server here ends its first stream after one event, as a node does when
// a subscriber lags or a replay fails.
func TestContractEventsReconnects(t *testing.T) {
	addr := lt.Addr("contract").Account()
	event := func(h int64) []byte {
		b, err := json.Marshal(api.Event{ID: fmt.Sprintf("%d:0", h), Height: h,
			Events: []exec.Event{{Type: "contract.ping", Attrs: []exec.Attr{exec.A("contract", addr), exec.A("n", fmt.Sprint(h))}}}})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	var mu sync.Mutex
	var resumes []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/events" || r.URL.Query().Get("account") != addr {
			http.NotFound(w, r)
			return
		}
		mu.Lock()
		resumes = append(resumes, r.Header.Get("Last-Event-ID"))
		n := len(resumes)
		mu.Unlock()
		w.Header().Set("Content-Type", "text/event-stream")
		h := int64(4 + n) // 5 on the first connection, 6 on the second
		fmt.Fprintf(w, "id: %d:0\nevent: tx\ndata: %s\n\n", h, event(h))
		w.(http.Flusher).Flush()
		if n > 1 {
			<-r.Context().Done() // the second stream stays open
		}
	}))
	defer srv.Close()

	out := mustCLI(t, "contract", "events", addr, "--from-height", "1", "--limit", "2", "--wait", "20s",
		"-o", "json", "--node", srv.URL, "--home", t.TempDir())
	var got []string
	dec := json.NewDecoder(strings.NewReader(out))
	for dec.More() {
		var ev struct{ ID string }
		if err := dec.Decode(&ev); err != nil {
			t.Fatalf("output %q: %v", out, err)
		}
		got = append(got, ev.ID)
	}
	if strings.Join(got, ",") != "5:0,6:0" {
		t.Errorf("events %v, want 5:0 then 6:0 (each once)", got)
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(resumes, ",") != ",5:0" {
		t.Errorf("Last-Event-ID per connection %q, want none then 5:0", resumes)
	}
}

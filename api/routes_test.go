package api_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/hypha-iot/hypha/api"
	"github.com/hypha-iot/hypha/api/apitest"
	"github.com/hypha-iot/hypha/errs"
	"github.com/hypha-iot/hypha/keys"
	"github.com/hypha-iot/hypha/ledger/account"
	"github.com/hypha-iot/hypha/ledger/ledgertest"
	"github.com/hypha-iot/hypha/ledger/reading"
	"github.com/hypha-iot/hypha/txn"
)

// TestRoutes walks every route's happy path, raw over HTTP and through the
// Client.
func TestRoutes(t *testing.T) {
	e := newEnv(t, api.Config{})
	f := e.setup()
	ctx := ctxT(t)
	dev, alice := f.id.Device(), f.alice.Account()

	t.Run("account", func(t *testing.T) {
		var a api.Account
		e.getJSON("/v1/accounts/"+alice, 200, &a)
		if a.Address != alice || a.Nonce != 2 || a.Balance == 0 || !strings.HasPrefix(a.PubKey, "did:key:z") || a.Proof != nil {
			t.Fatalf("account %+v", a)
		}
		ca, err := e.c.Account(ctx, alice, nil)
		if err != nil || ca.Balance != a.Balance {
			t.Fatalf("client account %+v %v", ca, err)
		}
	})
	t.Run("device", func(t *testing.T) {
		var d api.Device
		e.getJSON("/v1/devices/"+dev, 200, &d)
		if d.ID != dev || d.Owner != alice || d.Status != "active" || d.Model != "thermo" || d.Readings != 3 ||
			d.Counter != 3 || !strings.HasPrefix(d.PubKey, "did:key:z") || len(d.Tags) != 2 || d.Latest == nil {
			t.Fatalf("device %+v", d)
		}
		if d.Latest.Counter != 3 || len(d.Latest.SenML) != 1 || d.Latest.SenML[0]["n"] != "temp" || d.Latest.SenML[0]["v"] != float64(23) {
			t.Fatalf("latest %+v", d.Latest)
		}
		// Any address form of the id works.
		e.getJSON("/v1/devices/"+f.id.Account(), 200, nil)
		e.getJSON("/v1/devices/"+hex.EncodeToString(f.id[:]), 200, nil)
		if cd, err := e.c.Device(ctx, dev, nil); err != nil || cd.ID != dev {
			t.Fatalf("client device %+v %v", cd, err)
		}
	})
	t.Run("history", func(t *testing.T) {
		var p api.Page[*api.HistoryEntry]
		e.getJSON("/v1/devices/"+dev+"/history", 200, &p)
		if len(p.Items) != 1 || p.Items[0].Kind != "register" || p.Items[0].Actor != alice || p.Next != "" {
			t.Fatalf("history %+v", p)
		}
		var h api.HistoryEntry
		e.getJSON("/v1/devices/"+dev+"/history/0", 200, &h)
		if h.Seq != 0 || h.Kind != "register" || len(h.TxHash) != 32 {
			t.Fatalf("history entry %+v", h)
		}
		if cp, err := e.c.DeviceHistory(ctx, dev, api.ListOptions{Limit: 5}); err != nil || len(cp.Items) != 1 {
			t.Fatalf("client history %+v %v", cp, err)
		}
		if ch, err := e.c.HistoryEntry(ctx, dev, 0, nil); err != nil || ch.Kind != "register" {
			t.Fatalf("client history entry %+v %v", ch, err)
		}
	})
	t.Run("devices", func(t *testing.T) {
		for _, q := range []string{"owner=" + alice, "tag=fleet", "tag=site=a"} {
			var p api.Page[*api.Device]
			e.getJSON("/v1/devices?"+q, 200, &p)
			if len(p.Items) != 1 || p.Items[0].ID != dev {
				t.Fatalf("devices?%s: %+v", q, p)
			}
		}
		var p api.Page[*api.Device]
		e.getJSON("/v1/devices?tag=nothing", 200, &p)
		if len(p.Items) != 0 || p.Items == nil {
			t.Fatalf("empty list %+v", p)
		}
		if cp, err := e.c.Devices(ctx, api.DeviceFilter{Owner: alice}, api.ListOptions{}); err != nil || len(cp.Items) != 1 {
			t.Fatalf("client devices %+v %v", cp, err)
		}
	})
	t.Run("readings", func(t *testing.T) {
		var p api.Page[*api.ReadingRef]
		e.getJSON("/v1/devices/"+dev+"/readings?limit=2", 200, &p)
		if len(p.Items) != 2 || p.Next != "1" || p.Items[0].Index != 0 || p.Items[1].Counter != 2 {
			t.Fatalf("readings page 1 %+v", p)
		}
		var p2 api.Page[*api.ReadingRef]
		e.getJSON("/v1/devices/"+dev+"/readings?limit=2&after="+p.Next, 200, &p2)
		if len(p2.Items) != 1 || p2.Next != "" || p2.Items[0].Index != 2 || len(p2.Items[0].Digest) != 32 {
			t.Fatalf("readings page 2 %+v", p2)
		}
		var r api.ReadingRef
		e.getJSON("/v1/devices/"+dev+"/readings/1", 200, &r)
		if r.Index != 1 || r.Counter != 2 || r.Records != 1 || r.Time.IsZero() {
			t.Fatalf("reading ref %+v", r)
		}
		var l api.Reading
		e.getJSON("/v1/devices/"+dev+"/readings/latest", 200, &l)
		if l.Counter != 3 || l.Index != 2 || len(l.Payload) == 0 || l.SenML[0]["v"] != float64(23) {
			t.Fatalf("latest %+v", l)
		}
		if cp, err := e.c.Readings(ctx, dev, api.ListOptions{}); err != nil || len(cp.Items) != 3 {
			t.Fatalf("client readings %+v %v", cp, err)
		}
		if cr, err := e.c.Reading(ctx, dev, 0, nil); err != nil || cr.Counter != 1 {
			t.Fatalf("client reading %+v %v", cr, err)
		}
		if cl, err := e.c.LatestReading(ctx, dev, nil); err != nil || cl.Counter != 3 {
			t.Fatalf("client latest %+v %v", cl, err)
		}
	})
	t.Run("params", func(t *testing.T) {
		var p api.Params
		e.getJSON("/v1/params", 200, &p)
		if p.MaxTxBytes != txn.DefaultMaxTxBytes || p.Gas.TxBase == 0 {
			t.Fatalf("params %+v", p)
		}
		if cp, err := e.c.Params(ctx, nil); err != nil || cp.MaxTxBytes != p.MaxTxBytes {
			t.Fatalf("client params %+v %v", cp, err)
		}
	})
	t.Run("tx", func(t *testing.T) {
		raw := e.b.BuildTx(ledgertest.Key("alice"), &txn.Send{To: ledgertest.Addr("bob"), Amount: 5})
		sub := mustCommit(t, e.c, ctx, raw)
		var tx api.Tx
		e.getJSON("/v1/txs/"+sub.Hash.String(), 200, &tx)
		if tx.Height != sub.Height || tx.Body == nil || tx.Body.Signer != alice || len(tx.Body.Msgs) != 1 ||
			tx.Body.Msgs[0]["type"] != "account.send" || tx.Body.Msgs[0]["amount"] != float64(5) ||
			tx.Body.Msgs[0]["to"] != ledgertest.Addr("bob").Account() || tx.Result.Code != 0 || len(tx.Result.Events) == 0 {
			t.Fatalf("tx %+v", tx)
		}
		if ct, err := e.c.Tx(ctx, sub.Hash); err != nil || ct.Index != sub.Index {
			t.Fatalf("client tx %+v %v", ct, err)
		}
	})
	t.Run("blocks", func(t *testing.T) {
		var latest, first api.Block
		e.getJSON("/v1/blocks/latest", 200, &latest)
		if latest.Height != e.b.Height() || latest.TxCount != 1 || len(latest.TxHashes) != 1 {
			t.Fatalf("latest block %+v", latest)
		}
		e.getJSON("/v1/blocks/1", 200, &first)
		if first.Height != 1 || first.Time.IsZero() || len(first.Hash) != 32 {
			t.Fatalf("block 1 %+v", first)
		}
		if hex.EncodeToString(latest.AppHash) != hex.EncodeToString(e.b.AppHash(latest.Height-1)) {
			t.Fatal("block app hash is not the previous state root")
		}
		if cb, err := e.c.Block(ctx, 0); err != nil || cb.Height != latest.Height {
			t.Fatalf("client block %+v %v", cb, err)
		}
		if cb, err := e.c.Block(ctx, 2); err != nil || cb.Height != 2 {
			t.Fatalf("client block 2 %+v %v", cb, err)
		}
	})
	t.Run("status", func(t *testing.T) {
		var st api.NodeStatus
		e.getJSON("/v1/status", 200, &st)
		if st.ChainID != ledgertest.ChainID || st.LatestHeight != e.b.Height() || len(st.LatestAppHash) == 0 {
			t.Fatalf("status %+v", st)
		}
		if cs, err := e.c.Status(ctx); err != nil || cs.ChainID != st.ChainID {
			t.Fatalf("client status %+v %v", cs, err)
		}
	})
	t.Run("openapi", func(t *testing.T) {
		doc, err := e.c.OpenAPI(ctx)
		if err != nil || !strings.Contains(string(doc), `"openapi": "3.1.0"`) {
			t.Fatalf("openapi: %v %.100s", err, doc)
		}
	})
}

// TestProofs: every single-record route proves its record (and absence)
// against the app hash of the height it read, at latest and past heights.
func TestProofs(t *testing.T) {
	e := newEnv(t, api.Config{})
	f := e.setup()
	dev, alice := f.id.Device(), f.alice.Account()
	past := e.b.Height() - 2
	paths := []string{
		"/v1/accounts/" + alice,
		"/v1/devices/" + dev,
		"/v1/devices/" + dev + "/history/0",
		"/v1/devices/" + dev + "/readings/0",
		"/v1/devices/" + dev + "/readings/latest",
		"/v1/params",
	}
	for _, p := range paths {
		for _, h := range []int64{0, past} {
			t.Run(fmt.Sprintf("%s@%d", p, h), func(t *testing.T) {
				q := "?prove=true"
				if h > 0 {
					q += "&height=" + strconv.FormatInt(h, 10)
				}
				var out struct {
					Proof *api.Proof `json:"proof"`
				}
				_, hdr, _ := e.do("GET", p+q, "", nil)
				e.getJSON(p+q, 200, &out)
				e.verifyProof(out.Proof)
				want := h
				if h == 0 {
					want = e.b.Height()
				}
				if out.Proof.Height != want || hdr.Get("X-Hypha-Height") != strconv.FormatInt(want, 10) {
					t.Fatalf("proof height %d, header %q, want %d", out.Proof.Height, hdr.Get("X-Hypha-Height"), want)
				}
			})
		}
	}
	// The device at the past height had 1 reading, and so does its list.
	var d api.Device
	e.getJSON(fmt.Sprintf("/v1/devices/%s?height=%d", dev, past), 200, &d)
	if d.Readings != 1 {
		t.Fatalf("device at height %d has %d readings, want 1", past, d.Readings)
	}
	var refs api.Page[*api.ReadingRef]
	e.getJSON(fmt.Sprintf("/v1/devices/%s/readings?height=%d", dev, past), 200, &refs)
	if len(refs.Items) != 1 {
		t.Fatalf("readings at height %d: %d, want 1", past, len(refs.Items))
	}

	t.Run("absence", func(t *testing.T) {
		nobody := ledgertest.Addr("nobody")
		for _, p := range []string{
			"/v1/accounts/" + nobody.Account(),
			"/v1/devices/" + nobody.Device(),
			"/v1/devices/" + dev + "/history/7",
			"/v1/devices/" + dev + "/readings/99",
		} {
			st, _, body := e.do("GET", p+"?prove=true", "", nil)
			eb := wantError(t, p, 404, st, body, "ErrNotFound")
			if eb.Proof == nil {
				t.Fatalf("%s: no proof of absence: %s", p, body)
			}
			e.verifyProof(eb.Proof)
			if !strings.HasSuffix(p, "/readings/99") {
				if eb.Proof.Value != nil {
					t.Fatalf("%s: not a proof of absence: %s", p, body)
				}
				continue
			}
			// A reading beyond the count is proven absent by the device's
			// account, whose reading head holds the count.
			var a account.Account
			if err := txn.Unmarshal(eb.Proof.Value, &a); err != nil {
				t.Fatalf("%s: proven value is not an account: %v", p, err)
			}
			if h, err := a.ReadingHead(); err != nil || h == nil || h.Count > 99 {
				t.Fatalf("%s: proven head %+v %v", p, h, err)
			}
		}
		// Through the client: the *Error carries the proof.
		_, err := e.c.Account(ctxT(t), nobody.Account(), &api.QueryOptions{Prove: true})
		ae := asAPIError(t, err)
		if ae.HTTPStatus != 404 || !errors.Is(err, errs.ErrNotFound) || ae.Proof == nil {
			t.Fatalf("client absence: %+v", ae)
		}
		e.verifyProof(ae.Proof)
	})
	t.Run("client", func(t *testing.T) {
		d, err := e.c.Device(ctxT(t), dev, &api.QueryOptions{Prove: true, Height: past})
		if err != nil {
			t.Fatal(err)
		}
		e.verifyProof(d.Proof)
	})
}

// TestErrors: every failure is a JSON error with a class and its status.
func TestErrors(t *testing.T) {
	e := newEnv(t, api.Config{})
	f := e.setup()
	dev := f.id.Device()
	cases := []struct {
		method, path string
		status       int
		name         string
	}{
		{"GET", "/v1/nope", 404, "ErrNotFound"},
		{"GET", "/", 404, "ErrNotFound"},
		{"GET", "/v2/status", 404, "ErrNotFound"},
		{"DELETE", "/v1/status", 405, "ErrMethodNotAllowed"},
		{"PUT", "/v1/txs", 405, "ErrMethodNotAllowed"},
		{"GET", "/v1/txs", 405, "ErrMethodNotAllowed"},
		{"GET", "/v1/accounts/hypha1notanaddress", 400, "ErrInvalidAddress"},
		{"GET", "/v1/devices/xyz", 400, "ErrInvalidAddress"},
		{"GET", "/v1/devices/" + dev + "%3Fx=1", 400, "ErrInvalidAddress"},
		{"GET", "/v1/devices?owner=bad", 400, "ErrInvalidAddress"},
		{"GET", "/v1/devices", 400, "ErrInvalidQuery"},
		{"GET", "/v1/devices?owner=" + f.alice.Account() + "&tag=x", 400, "ErrInvalidQuery"},
		{"GET", "/v1/devices?tag=a/b", 400, "ErrInvalidQuery"},
		{"GET", "/v1/devices/" + dev + "/history?limit=0", 400, "ErrInvalidQuery"},
		{"GET", "/v1/devices/" + dev + "/history?limit=501", 400, "ErrInvalidQuery"},
		{"GET", "/v1/devices/" + dev + "/readings?after=x", 400, "ErrInvalidQuery"},
		{"GET", "/v1/devices/" + dev + "/readings/-1", 400, "ErrInvalidQuery"},
		{"GET", "/v1/devices/" + dev + "/history/x", 400, "ErrInvalidQuery"},
		{"GET", "/v1/devices/" + dev + "?height=x", 400, "ErrInvalidQuery"},
		{"GET", "/v1/devices/" + dev + "?prove=maybe", 400, "ErrInvalidQuery"},
		{"GET", "/v1/devices/" + dev + "?height=9999", 404, "ErrHeight"},
		{"GET", "/v1/devices/" + ledgertest.Addr("nobody").Device(), 404, "ErrNotFound"},
		{"GET", "/v1/devices/" + ledgertest.Addr("nobody").Device() + "/readings/latest", 404, "ErrNotFound"},
		{"GET", "/v1/txs/zz", 400, "ErrInvalidQuery"},
		{"GET", "/v1/txs/" + strings.Repeat("ab", 32), 404, "ErrNotFound"},
		{"GET", "/v1/blocks/0", 400, "ErrInvalidQuery"},
		{"GET", "/v1/blocks/x", 400, "ErrInvalidQuery"},
		{"GET", "/v1/blocks/9999", 404, "ErrHeight"},
		{"GET", "/v1/events?device=bad", 400, "ErrInvalidAddress"},
		{"GET", "/v1/events?from_height=x", 400, "ErrInvalidQuery"},
		{"POST", "/v1/txs?mode=later", 400, "ErrInvalidQuery"},
		{"POST", "/v1/txs?timeout=soon", 400, "ErrInvalidQuery"},
	}
	for _, c := range cases {
		t.Run(c.method+" "+c.path, func(t *testing.T) {
			st, h, body := e.do(c.method, c.path, "application/cbor", nil)
			eb := wantError(t, c.path, c.status, st, body, c.name)
			if h.Get("Content-Type") != "application/json" {
				t.Fatalf("Content-Type %q", h.Get("Content-Type"))
			}
			if eb.Error.Message == "" {
				t.Fatal("empty message")
			}
			if c.status == 405 && h.Get("Allow") == "" {
				t.Fatal("405 without Allow")
			}
		})
	}

	t.Run("latest reading of a device with none", func(t *testing.T) {
		ctx := ctxT(t)
		other := ledgertest.Key("quiet")
		mustCommit(t, e.c, ctx, e.b.BuildTxCo(ledgertest.Key("bob"), []keys.PrivateKey{other}, ledgertest.Register(other, "lock")))
		_, err := e.c.LatestReading(ctx, other.Public().Address().Device(), nil)
		if ae := asAPIError(t, err); ae.HTTPStatus != 404 || ae.Name != "ErrNotFound" {
			t.Fatalf("%+v", ae)
		}
	})

	t.Run("backend unavailable", func(t *testing.T) {
		e.b.SetUnavailable(api.ErrUnavailable.Wrap("starting"))
		defer e.b.SetUnavailable(nil)
		for _, p := range []string{"/v1/status", "/v1/devices/" + dev, "/v1/blocks/latest"} {
			st, _, body := e.do("GET", p, "", nil)
			wantError(t, p, 503, st, body, "ErrUnavailable")
		}
		_, err := e.c.Status(ctxT(t))
		if ae := asAPIError(t, err); ae.HTTPStatus != http.StatusServiceUnavailable || !errors.Is(err, api.ErrUnavailable) {
			t.Fatalf("%+v", ae)
		}
		// An unclassified backend error is a 500 that does not leak details.
		e.b.SetUnavailable(errors.New("secret disk path /var/x"))
		st, _, body := e.do("GET", "/v1/status", "", nil)
		eb := wantError(t, "status", 500, st, body, "ErrInternal")
		if strings.Contains(eb.Error.Message, "secret") {
			t.Fatalf("leaked: %s", body)
		}
	})
}

// panicky is a backend whose Status panics.
type panicky struct{ api.Backend }

func (panicky) Status(context.Context) (api.Status, error) { panic("boom") }

// TestPanicRecovered: a handler panic is a 500 JSON error, and the server
// keeps serving.
func TestPanicRecovered(t *testing.T) {
	var logs bytes.Buffer
	srv := api.New(panicky{apitest.New(t, "alice")}, api.Config{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	e := &env{t: t, ts: ts}
	for range 2 {
		st, _, body := e.do("GET", "/v1/status", "", nil)
		wantError(t, "panic", 500, st, body, "ErrInternal")
		if strings.Contains(string(body), "boom") {
			t.Fatalf("panic value leaked: %s", body)
		}
	}
	e.getJSON("/v1/openapi.json", 200, nil)
	if !strings.Contains(logs.String(), "boom") {
		t.Fatalf("panic not logged: %s", logs.String())
	}
}

// TestReadingLog: a device's refs are listed and proven the same whether
// they are still open in its account or sealed into a chunk of its log, and
// each proof covers the record that holds the ref.
func TestReadingLog(t *testing.T) {
	e := newEnv(t, api.Config{})
	f := e.setup() // readings 1..3
	ctx := ctxT(t)
	n := uint64(reading.ChunkSize + 2)
	for i := uint64(4); i <= n; i++ {
		mustCommit(t, e.c, ctx, e.b.BuildReading(f.dev, f.id, i, "temp", int64(20+i)))
	}
	dev := f.id.Device()
	var all []*api.ReadingRef
	after := ""
	for range n {
		var p api.Page[*api.ReadingRef]
		q := "?limit=3"
		if after != "" {
			q += "&after=" + after
		}
		e.getJSON("/v1/devices/"+dev+"/readings"+q, 200, &p)
		all = append(all, p.Items...)
		if p.Next == "" {
			break
		}
		after = p.Next
	}
	if uint64(len(all)) != n {
		t.Fatalf("listed %d refs, want %d", len(all), n)
	}
	for i, ref := range all {
		if ref.Index != uint64(i) || ref.Counter != uint64(i+1) {
			t.Fatalf("ref %d: %+v", i, ref)
		}
		var one api.ReadingRef
		e.getJSON(fmt.Sprintf("/v1/devices/%s/readings/%d?prove=true", dev, i), 200, &one)
		if one.Index != ref.Index || one.Counter != ref.Counter || one.Digest.String() != ref.Digest.String() {
			t.Fatalf("ref %d alone %+v, listed %+v", i, one, ref)
		}
		e.verifyProof(one.Proof)
		// Sealed refs are proven by their chunk, open ones by the account.
		wantKey := reading.ChunkKey(f.id, uint64(i)/reading.ChunkSize)
		if uint64(i) >= n-n%reading.ChunkSize {
			wantKey = account.Key(f.id)
		}
		if !bytes.Equal(one.Proof.Key, wantKey) {
			t.Errorf("ref %d proven by key %x, want %x", i, []byte(one.Proof.Key), wantKey)
		}
		got, ok, err := reading.Extract(f.id, one.Proof.Key, one.Proof.Value, uint64(i))
		if err != nil || !ok || got.Counter != ref.Counter {
			t.Errorf("ref %d not in its proven record: %+v %v %v", i, got, ok, err)
		}
	}
	var d api.Device
	e.getJSON("/v1/devices/"+dev, 200, &d)
	if d.Readings != n || d.Counter != n || d.Latest == nil || d.Latest.Index != n-1 {
		t.Fatalf("device view: readings %d counter %d latest %+v", d.Readings, d.Counter, d.Latest)
	}
}

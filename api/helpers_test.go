package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	ics23 "github.com/cosmos/ics23/go"

	"github.com/hypha-iot/hypha/api"
	"github.com/hypha-iot/hypha/api/apitest"
	"github.com/hypha-iot/hypha/keys"
	"github.com/hypha-iot/hypha/ledger/ledgertest"
	"github.com/hypha-iot/hypha/store"
	"github.com/hypha-iot/hypha/txn"
)

// env is a server over a twin backend behind a real HTTP server.
type env struct {
	t   testing.TB
	b   *apitest.Backend
	srv *api.Server
	ts  *httptest.Server
	c   *api.Client
}

func newEnv(t testing.TB, cfg api.Config) *env {
	t.Helper()
	b := apitest.New(t, "alice", "bob", "carol")
	srv := api.New(b, cfg)
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return &env{t: t, b: b, srv: srv, ts: ts, c: api.NewClient(ts.URL, ts.Client())}
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// do sends a request and returns the status and body.
func (e *env) do(method, path, ctype string, body []byte) (int, http.Header, []byte) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.ts.URL+path, bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := e.ts.Client().Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b
}

// getJSON GETs path, wants status and decodes the body into out (if not nil).
func (e *env) getJSON(path string, status int, out any) {
	e.t.Helper()
	got, h, b := e.do("GET", path, "", nil)
	if got != status {
		e.t.Fatalf("GET %s: status %d, want %d: %s", path, got, status, b)
	}
	if ct := h.Get("Content-Type"); ct != "application/json" {
		e.t.Fatalf("GET %s: Content-Type %q", path, ct)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			e.t.Fatalf("GET %s: decode %s: %v", path, b, err)
		}
	}
}

// errBody is the wire form of an error answer.
type errBody struct {
	Error      *api.Error      `json:"error"`
	Submission *api.Submission `json:"submission"`
	Proof      *api.Proof      `json:"proof"`
}

// wantError checks an error answer: status, class name, JSON shape.
func wantError(t testing.TB, what string, status int, gotStatus int, body []byte, name string) errBody {
	t.Helper()
	if gotStatus != status {
		t.Fatalf("%s: status %d, want %d: %s", what, gotStatus, status, body)
	}
	var eb errBody
	if err := json.Unmarshal(body, &eb); err != nil || eb.Error == nil {
		t.Fatalf("%s: not a JSON error: %s (%v)", what, body, err)
	}
	if name != "" && eb.Error.Name != name {
		t.Fatalf("%s: error %s (%d) %q, want %s", what, eb.Error.Name, eb.Error.Code, eb.Error.Message, name)
	}
	if eb.Error.Code == 0 {
		t.Fatalf("%s: error code 0", what)
	}
	return eb
}

// verifyProof checks p against the twin's app hash for its height.
func (e *env) verifyProof(p *api.Proof) {
	e.t.Helper()
	if p == nil {
		e.t.Fatal("no proof")
	}
	if p.AppHashHeight != p.Height+1 {
		e.t.Fatalf("app_hash_height %d for height %d", p.AppHashHeight, p.Height)
	}
	var cp ics23.CommitmentProof
	if err := cp.Unmarshal(p.Proof); err != nil {
		e.t.Fatalf("proof bytes: %v", err)
	}
	var value []byte
	if p.Value != nil {
		value = p.Value
	}
	root := e.b.AppHash(p.Height)
	if err := store.VerifyProof(root, p.Key, value, &cp); err != nil {
		e.t.Fatalf("proof of %x at %d: %v", []byte(p.Key), p.Height, err)
	}
	// A proof must not verify for another value.
	if value != nil {
		if err := store.VerifyProof(root, p.Key, append(bytes.Clone(value), 0), &cp); err == nil {
			e.t.Fatal("proof verifies for a different value")
		}
	}
}

// fixture is a chain with a registered device that sent readings.
type fixture struct {
	dev   keys.PrivateKey
	id    keys.Address
	alice keys.Address
}

func (e *env) setup() fixture {
	e.t.Helper()
	alice, dev := ledgertest.Key("alice"), ledgertest.Key("thermo-1")
	id := dev.Public().Address()
	ctx := ctxT(e.t)
	mustCommit(e.t, e.c, ctx, e.b.BuildTxCo(alice, []keys.PrivateKey{dev}, ledgertest.Register(dev, "thermo", "fleet", "site=a")))
	// The device pays its own fees.
	mustCommit(e.t, e.c, ctx, e.b.BuildTx(alice, &txn.Send{To: id, Amount: 1_000_000}))
	for i := uint64(1); i <= 3; i++ {
		mustCommit(e.t, e.c, ctx, e.b.BuildReading(dev, id, i, "temp", int64(20+i)))
	}
	return fixture{dev: dev, id: id, alice: alice.Public().Address()}
}

func mustCommit(t testing.TB, c *api.Client, ctx context.Context, raw []byte) *api.Submission {
	t.Helper()
	sub, err := c.SubmitTx(ctx, raw, api.ModeCommit)
	if err != nil {
		t.Fatalf("submit: %v", err)
	}
	if sub.Result == nil || sub.Result.Code != 0 || sub.Height == 0 {
		t.Fatalf("submit: %+v", sub)
	}
	return sub
}

func asAPIError(t testing.TB, err error) *api.Error {
	t.Helper()
	var e *api.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not an *api.Error", err, err)
	}
	return e
}

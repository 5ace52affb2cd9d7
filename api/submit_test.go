package api_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"testing"
	"time"

	"github.com/hypha-iot/hypha/api"
	"github.com/hypha-iot/hypha/errs"
	"github.com/hypha-iot/hypha/ledger/ledgertest"
	"github.com/hypha-iot/hypha/txn"
)

func TestSubmit(t *testing.T) {
	e := newEnv(t, api.Config{})
	alice, bob := ledgertest.Key("alice"), ledgertest.Addr("bob")
	send := func(n txn.Amount) []byte { return e.b.BuildTx(alice, &txn.Send{To: bob, Amount: n}) }

	t.Run("cbor commit", func(t *testing.T) {
		raw := send(7)
		st, _, body := e.do("POST", "/v1/txs", "application/cbor", raw)
		var sub api.Submission
		if st != 200 || json.Unmarshal(body, &sub) != nil {
			t.Fatalf("status %d: %s", st, body)
		}
		h := txn.Hash(raw)
		if !bytes.Equal(sub.Hash, h[:]) || sub.Mode != "commit" || sub.Height != e.b.Height() || sub.Result.Code != 0 {
			t.Fatalf("%s", body)
		}
		// The hash is hex on the wire.
		if !bytes.Contains(body, []byte(`"hash":"`+sub.Hash.String()+`"`)) {
			t.Fatalf("hash not hex: %s", body)
		}
	})
	t.Run("json sync", func(t *testing.T) {
		raw := send(8)
		req, _ := json.Marshal(api.TxRequest{Tx: raw})
		st, _, body := e.do("POST", "/v1/txs?mode=sync", "application/json; charset=utf-8", req)
		var sub api.Submission
		if st != 202 || json.Unmarshal(body, &sub) != nil || sub.Mode != "sync" || sub.Height != 0 {
			t.Fatalf("status %d: %s", st, body)
		}
		// Not committed until the next block.
		st, _, body = e.do("GET", "/v1/txs/"+sub.Hash.String(), "", nil)
		wantError(t, "tx before block", 404, st, body, "ErrNotFound")
		h := e.b.Commit()
		var tx api.Tx
		e.getJSON("/v1/txs/"+sub.Hash.String(), 200, &tx)
		if tx.Height != h {
			t.Fatalf("tx at %d, block %d", tx.Height, h)
		}
	})
	t.Run("client", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		sub, err := e.c.SubmitTx(ctx, send(9), "")
		if err != nil || sub.Height == 0 {
			t.Fatalf("%+v %v", sub, err)
		}
		sub, err = e.c.SubmitTx(ctx, send(10), api.ModeSync)
		if err != nil || sub.Mode != api.ModeSync {
			t.Fatalf("%+v %v", sub, err)
		}
		e.b.Commit()
	})
	t.Run("ledger refusals", func(t *testing.T) {
		ctx := ctxT(t)
		replay := send(1)
		mustCommit(t, e.c, ctx, replay)
		_, err := e.c.SubmitTx(ctx, replay, api.ModeCommit)
		ae := asAPIError(t, err)
		h := txn.Hash(replay)
		if ae.HTTPStatus != 409 || ae.Name != "ErrNonceReplayed" || ae.Code != errs.ErrNonceReplayed.Code ||
			ae.Submission == nil || !bytes.Equal(ae.Submission.Hash, h[:]) || ae.Submission.Result.Code != ae.Code {
			t.Fatalf("replay: %+v %+v", ae, ae.Submission)
		}
		_, err = e.c.SubmitTx(ctx, send(5_000_000_000), api.ModeSync)
		if ae := asAPIError(t, err); ae.HTTPStatus != 402 || ae.Name != "ErrInsufficientFunds" {
			t.Fatalf("funds: %+v", ae)
		}
		// A tx for another chain.
		other, err := txn.New("other-chain", alice.Public().Address(), 0).WithPubKey(alice.Public()).
			WithFee(1000, 100000).Add(&txn.Send{To: bob, Amount: 1}).Sign(alice)
		if err != nil {
			t.Fatal(err)
		}
		_, err = e.c.SubmitTx(ctx, other.Bytes(), api.ModeSync)
		if ae := asAPIError(t, err); ae.HTTPStatus != 400 || ae.Name != "ErrWrongChain" {
			t.Fatalf("chain: %+v", ae)
		}
	})
	t.Run("random and truncated bytes", func(t *testing.T) {
		good := send(3)
		rng := rand.New(rand.NewPCG(1, 2))
		var inputs [][]byte
		for n := 1; n < len(good); n += 7 {
			inputs = append(inputs, good[:n])
		}
		for range 50 {
			b := make([]byte, 1+rng.IntN(300))
			for i := range b {
				b[i] = byte(rng.Uint32())
			}
			inputs = append(inputs, b)
		}
		decodeClasses := map[string]bool{}
		for _, c := range []*errs.Class{errs.ErrMalformed, errs.ErrTruncated, errs.ErrNonCanonical, errs.ErrUnknownField,
			errs.ErrDuplicateKey, errs.ErrIndefiniteLength, errs.ErrTrailingBytes, errs.ErrUnknownMsg,
			errs.ErrNegativeAmount, errs.ErrAmountOverflow} {
			decodeClasses[c.Name] = true
		}
		for i, in := range inputs {
			for _, mode := range []string{"sync", "commit"} {
				st, _, body := e.do("POST", "/v1/txs?mode="+mode, "application/cbor", in)
				eb := wantError(t, "garbage", 400, st, body, "")
				if !decodeClasses[eb.Error.Name] {
					t.Fatalf("input %d (%x): class %s, want a decoding class", i, in, eb.Error.Name)
				}
				if eb.Submission == nil || len(eb.Submission.Hash) != 32 {
					t.Fatalf("input %d: no submission hash: %s", i, body)
				}
			}
		}
		st, _, body := e.do("POST", "/v1/txs", "application/cbor", good[:len(good)-1])
		wantError(t, "truncated", 400, st, body, "ErrTruncated")
	})
	t.Run("bad bodies", func(t *testing.T) {
		raw := send(4)
		b64 := base64.StdEncoding.EncodeToString(raw)
		cases := []struct {
			ctype  string
			body   string
			status int
			name   string
		}{
			{"", string(raw), 415, "ErrUnsupportedMediaType"},
			{"text/plain", string(raw), 415, "ErrUnsupportedMediaType"},
			{"application/octet-stream", string(raw), 415, "ErrUnsupportedMediaType"},
			{"application/json", `{`, 400, "ErrMalformed"},
			{"application/json", `[]`, 400, "ErrMalformed"},
			{"application/json", `{}`, 400, "ErrMalformed"},
			{"application/json", `{"tx": 5}`, 400, "ErrMalformed"},
			{"application/json", `{"tx": "!!!"}`, 400, "ErrMalformed"},
			{"application/json", `{"tx": "` + b64 + `", "x": 1}`, 400, "ErrMalformed"},
			{"application/json", `{"tx": "` + b64 + `"} {}`, 400, "ErrTrailingBytes"},
			{"application/json", `{"tx": ""}`, 400, "ErrTruncated"},
			{"application/cbor", ``, 400, "ErrTruncated"},
		}
		for _, c := range cases {
			st, _, body := e.do("POST", "/v1/txs", c.ctype, []byte(c.body))
			wantError(t, c.ctype+" "+c.body, c.status, st, body, c.name)
		}
	})
	t.Run("too large", func(t *testing.T) {
		// Past the body limit: 413 before the ledger sees it.
		st, _, body := e.do("POST", "/v1/txs", "application/cbor", make([]byte, 2<<20))
		wantError(t, "2 MiB body", 413, st, body, "ErrTxTooLarge")
		// Within the body limit but above the chain's max_tx_bytes: the ledger's 413.
		st, _, body = e.do("POST", "/v1/txs?mode=sync", "application/cbor", make([]byte, 100<<10))
		wantError(t, "100 KiB tx", 413, st, body, "ErrTxTooLarge")
		// Chunked (no Content-Length) past the limit.
		req, _ := http.NewRequest("POST", e.ts.URL+"/v1/txs", struct{ *bytes.Reader }{bytes.NewReader(make([]byte, 2<<20))})
		req.Header.Set("Content-Type", "application/cbor")
		resp, err := e.ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 413 || req.ContentLength != 0 {
			t.Fatalf("chunked: status %d", resp.StatusCode)
		}
	})
	t.Run("commit timeout", func(t *testing.T) {
		e.b.HoldCommits(true)
		defer func() { e.b.HoldCommits(false); e.b.Commit() }()
		// A signer whose nonces the subtests above did not consume.
		carol := ledgertest.Key("carol")
		raw := e.b.BuildTx(carol, &txn.Send{To: bob, Amount: 2})
		st, _, body := e.do("POST", "/v1/txs?timeout=100ms", "application/cbor", raw)
		eb := wantError(t, "held", 504, st, body, "ErrTimeout")
		h := txn.Hash(raw)
		if eb.Submission == nil || !bytes.Equal(eb.Submission.Hash, h[:]) {
			t.Fatalf("no hash with the timeout: %s", body)
		}
		// The client turns its deadline into the server's wait.
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		_, err := e.c.SubmitTx(ctx, e.b.BuildTx(carol, &txn.Send{To: bob, Amount: 3}), api.ModeCommit)
		if ae := asAPIError(t, err); ae.HTTPStatus != 504 || ae.Submission == nil {
			t.Fatalf("%+v", ae)
		}
	})
}

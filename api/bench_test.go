package api_test

import (
	"bytes"
	"fmt"
	"net/http/httptest"
	"testing"

	"github.com/hypha-iot/hypha/api"
	"github.com/hypha-iot/hypha/ledger/ledgertest"
	"github.com/hypha-iot/hypha/txn"
)

// BenchmarkGetDevice: GET /v1/devices/{id} through the handler (no
// network), plain and with a proof.
func BenchmarkGetDevice(b *testing.B) {
	e := newEnv(b, api.Config{})
	f := e.setup()
	h := e.srv.Handler()
	for _, q := range []string{"", "?prove=true"} {
		b.Run(fmt.Sprintf("q=%q", q), func(b *testing.B) {
			path := "/v1/devices/" + f.id.Device() + q
			b.ReportAllocs()
			for b.Loop() {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
				if rec.Code != 200 {
					b.Fatalf("status %d: %s", rec.Code, rec.Body.Bytes())
				}
			}
		})
	}
}

// BenchmarkSubmitSync: POST /v1/txs?mode=sync through the handler: body
// read, CheckTx (decode, signature, nonce, msgs) and the JSON answer. Each
// op submits a fresh signed send from one of many signers (signing is
// outside the timer).
func BenchmarkSubmitSync(b *testing.B) {
	e := newEnv(b, api.Config{})
	h := e.srv.Handler()
	const batch = 1000
	alice := ledgertest.Key("alice")
	bob := ledgertest.Addr("bob")
	b.ReportAllocs()
	var txs [][]byte
	i := 0
	for b.Loop() {
		if i == len(txs) {
			b.StopTimer()
			e.b.Commit()
			txs = txs[:0]
			for range batch {
				txs = append(txs, e.b.BuildTx(alice, &txn.Send{To: bob, Amount: 1}))
			}
			i = 0
			b.StartTimer()
		}
		req := httptest.NewRequest("POST", "/v1/txs?mode=sync", bytes.NewReader(txs[i]))
		req.Header.Set("Content-Type", "application/cbor")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 202 {
			b.Fatalf("status %d: %s", rec.Code, rec.Body.Bytes())
		}
		i++
	}
}

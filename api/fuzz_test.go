package api_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http/httptest"
	"testing"

	"github.com/hypha-iot/hypha/api"
	"github.com/hypha-iot/hypha/api/apitest"
	"github.com/hypha-iot/hypha/ledger/ledgertest"
	"github.com/hypha-iot/hypha/txn"
)

// FuzzSubmitTx feeds arbitrary bodies to POST /v1/txs in each content type
// and mode: the answer is never a 5xx, always JSON, and the handler never
// panics (a panic would surface as a 500 from the recovery layer).
func FuzzSubmitTx(f *testing.F) {
	b := apitest.New(f, "alice", "bob")
	h := api.New(b, api.Config{}).Handler()
	good := b.BuildTx(ledgertest.Key("alice"), &txn.Send{To: ledgertest.Addr("bob"), Amount: 1})
	goodJSON, _ := json.Marshal(api.TxRequest{Tx: good})
	for _, seed := range [][]byte{nil, {0}, {0xa0}, {0xff}, good, good[:len(good)/2], goodJSON, []byte(`{"tx":""}`),
		[]byte(`{"tx":"` + base64.StdEncoding.EncodeToString(good[:10]) + `"}`), []byte(`{"tx":null}`), []byte(`[1,2]`)} {
		for sel := range uint8(6) {
			f.Add(sel, seed)
		}
	}
	ctypes := []string{"application/cbor", "application/json", "application/json; charset=utf-8", "text/plain", "", "application/cbor; x=\""}
	f.Fuzz(func(t *testing.T, sel uint8, body []byte) {
		ctype := ctypes[int(sel)%len(ctypes)]
		// Sync mode only: a valid tx would otherwise grow the chain by a
		// block per input.
		req := httptest.NewRequest("POST", "/v1/txs?mode=sync", bytes.NewReader(body))
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("status %d for %q %x: %s", rec.Code, ctype, body, rec.Body.Bytes())
		}
		if rec.Header().Get("Content-Type") != "application/json" || !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("not JSON: %q", rec.Body.Bytes())
		}
		if rec.Code >= 400 {
			var eb errBody
			if json.Unmarshal(rec.Body.Bytes(), &eb) != nil || eb.Error == nil || eb.Error.Name == "" {
				t.Fatalf("bad error body %s", rec.Body.Bytes())
			}
		}
	})
}

package txn_test

import (
	"bytes"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/hypha-iot/hypha/keys"
	"github.com/hypha-iot/hypha/txn"
)

var update = flag.Bool("update", false, "rewrite testdata/golden_tx.hex")

const goldenFile = "golden_tx.hex"

// goldenTx is a fixed tx: fixed-seed keys (Ed25519 signer, P-256 device
// co-signing its registration; both sign deterministically) and fixed fields
// touching every kind of field the envelope has.
func goldenTx(tb testing.TB) *txn.Tx {
	tb.Helper()
	signer := keys.Ed25519FromSeed(seed(0x11))
	device := keys.P256FromSeed(seed(0x22))
	reading := mustCBOR(tb, []map[int]any{{-2: "urn:dev:ow:10e2073a01080063:", 0: "temp", 1: "Cel", 2: 23.5, 6: 1_700_000_000}})
	tx, err := txn.New("hypha-golden-1", signer.Public().Address(), 1).
		WithPubKey(signer.Public()).
		WithFee(2500, 100_000).
		WithMemo("golden").
		Add(
			&txn.Send{To: addr(0x20), Amount: 1_234_567},
			&txn.DeviceRegister{PubKey: device.Public().Bytes(), Model: "thermo-2", Firmware: "1.0.0",
				Location: &txn.Location{LatE7: 523_700_000, LonE7: -48_900_000, AltCM: 1200, AccuracyM: 3},
				Tags:     []string{"floor:3"}, SealKey: bytes.Repeat([]byte{0x33}, 32)},
			&txn.DeviceUpdate{Device: device.Public().Address(), Model: ptr("thermo-3"), RemoveTags: []string{"floor:3"}},
			&txn.ReadingSubmit{Payload: reading},
		).
		Sign(signer, device)
	if err != nil {
		tb.Fatalf("sign: %v", err)
	}
	return tx
}

// TestGoldenTx pins the wire format: any change to the encoding of the
// envelope, a msg, a key or a signature changes these bytes. If the change is
// intended (a new protocol version), rerun with -update and say so in review.
func TestGoldenTx(t *testing.T) {
	tx := goldenTx(t)
	enc := mustEncode(t, tx)
	hash := tx.Hash()
	path := filepath.Join("testdata", goldenFile)
	if *update {
		if err := os.WriteFile(path, formatGolden(enc, hash[:]), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s", path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	wantTx, wantHash := parseGolden(t, data)
	if !bytes.Equal(enc, wantTx) {
		t.Errorf("encoding differs from %s\n got %x\nwant %x", path, enc, wantTx)
	}
	if !bytes.Equal(hash[:], wantHash) {
		t.Errorf("hash %x, golden %x", hash, wantHash)
	}

	// The golden bytes must decode back to the same tx, with valid signatures.
	got := mustDecode(t, wantTx)
	if h := got.Hash(); !bytes.Equal(h[:], wantHash) {
		t.Errorf("decoded hash %x, golden %x", h, wantHash)
	}
	if !reflect.DeepEqual(got.Body, tx.Body) {
		t.Errorf("decoded body differs\n got %+v\nwant %+v", got.Body, tx.Body)
	}
	sb, _ := got.SignBytes()
	if !keys.Ed25519FromSeed(seed(0x11)).Public().Verify(sb, got.Sig) {
		t.Errorf("golden signature does not verify")
	}
	if len(got.Cosigs) != 1 || !keys.P256FromSeed(seed(0x22)).Public().Verify(sb, got.Cosigs[0].Sig) {
		t.Errorf("golden co-signature does not verify")
	}
}

func formatGolden(tx, hash []byte) []byte {
	var b strings.Builder
	b.WriteString("# Golden tx: goldenTx in golden_test.go, canonical CBOR in hex, and its SHA-256.\n")
	b.WriteString("# Regenerate: go test ./txn -run TestGoldenTx -update\n")
	fmt.Fprintf(&b, "hash %x\n", hash)
	h := hex.EncodeToString(tx)
	for len(h) > 0 {
		n := min(len(h), 64)
		fmt.Fprintf(&b, "tx %s\n", h[:n])
		h = h[n:]
	}
	return []byte(b.String())
}

func parseGolden(tb testing.TB, data []byte) (tx, hash []byte) {
	tb.Helper()
	var txHex strings.Builder
	for _, line := range strings.Split(string(data), "\n") {
		switch k, v, _ := strings.Cut(strings.TrimSpace(line), " "); k {
		case "hash":
			hash = mustHex(tb, v)
		case "tx":
			txHex.WriteString(v)
		}
	}
	tx = mustHex(tb, txHex.String())
	if len(tx) == 0 || len(hash) != 32 {
		tb.Fatalf("golden file: %d tx bytes, %d hash bytes", len(tx), len(hash))
	}
	return tx, hash
}

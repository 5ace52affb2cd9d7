package seal_test

import (
	"bytes"
	"errors"
	"slices"
	"testing"

	"github.com/hypha-iot/hypha/keys"
	"github.com/hypha-iot/hypha/seal"
)

// FuzzOpen feeds arbitrary bytes to Open and Recipients. Neither may panic;
// Open may fail only with its three documented errors, and its outcome must
// agree with Recipients.
func FuzzOpen(f *testing.F) {
	rcpt, aud := testSealKey(f, 1), testSealKey(f, 2)
	valid := mustSeal(f, testHeader(), []byte("fuzz seed"), rcpt.PublicBytes(), aud.PublicBytes())
	f.Add(valid)
	f.Add(mustSeal(f, testHeader(), nil, rcpt.PublicBytes()))
	f.Add(mustSeal(f, testHeader(), bytes.Repeat([]byte{0xaa}, 300), aud.PublicBytes(), rcpt.PublicBytes()))
	f.Add(valid[:len(valid)/2])
	f.Add(append(bytes.Clone(valid), 0))
	f.Add([]byte{})
	f.Add([]byte{0xa0})
	f.Add([]byte{0xa4, 0x01, 0x01, 0x02, 0x80, 0x03, 0x40, 0x04, 0x40})

	f.Fuzz(func(t *testing.T, box []byte) {
		ids, idsErr := seal.Recipients(box)
		if idsErr != nil && !errors.Is(idsErr, seal.ErrMalformed) {
			t.Fatalf("Recipients: %v, want ErrMalformed", idsErr)
		}
		for k, key := range [...]keys.SealKey{rcpt, aud} {
			pt, err := seal.Open(testHeader(), box, key)
			switch {
			case err == nil:
				if idsErr != nil || !slices.Contains(ids, seal.KeyID(key.PublicBytes())) {
					t.Fatalf("Open succeeded for key %d, but Recipients = %x, %v", k, ids, idsErr)
				}
				if pt == nil {
					t.Fatal("Open returned nil plaintext without error")
				}
			case !isOpenError(err):
				t.Fatalf("Open: unexpected error class: %v", err)
			case idsErr != nil && !errors.Is(err, seal.ErrMalformed):
				t.Fatalf("Recipients says malformed (%v), Open says %v", idsErr, err)
			case idsErr == nil && errors.Is(err, seal.ErrMalformed):
				t.Fatalf("Open says malformed (%v), Recipients accepted it", err)
			}
		}
	})
}

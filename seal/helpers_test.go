package seal_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/hypha-iot/hypha/keys"
	"github.com/hypha-iot/hypha/seal"
	"github.com/hypha-iot/hypha/txn"
)

// testSealKey returns the fixed X25519 key whose scalar is 32 bytes of i.
func testSealKey(tb testing.TB, i byte) keys.SealKey {
	tb.Helper()
	k, err := keys.SealKeyFromBytes(bytes.Repeat([]byte{i}, keys.SealKeySize))
	if err != nil {
		tb.Fatalf("SealKeyFromBytes: %v", err)
	}
	return k
}

// testHeader is the header the tests seal under unless they say otherwise.
func testHeader() seal.Header {
	return seal.Header{
		Sender:    keys.Address{1, 2, 3},
		Recipient: keys.Address{4, 5, 6},
		Kind:      1,
		MsgID:     [16]byte{7, 8, 9},
		ChainID:   "hypha-test-1",
	}
}

func mustSeal(tb testing.TB, h seal.Header, pt []byte, to []byte, extra ...[]byte) []byte {
	tb.Helper()
	box, err := seal.Seal(nil, h, pt, to, extra...)
	if err != nil {
		tb.Fatalf("Seal: %v", err)
	}
	return box
}

func mustDecode(tb testing.TB, box []byte) seal.Box {
	tb.Helper()
	var b seal.Box
	if err := txn.Unmarshal(box, &b); err != nil {
		tb.Fatalf("decode box: %v", err)
	}
	return b
}

func mustEncode(tb testing.TB, v any) []byte {
	tb.Helper()
	out, err := txn.Marshal(v)
	if err != nil {
		tb.Fatalf("encode: %v", err)
	}
	return out
}

// openErrors are the only errors Open may return for a valid key.
var openErrors = []error{seal.ErrMalformed, seal.ErrNotForMe, seal.ErrTampered}

func isOpenError(err error) bool {
	for _, want := range openErrors {
		if errors.Is(err, want) {
			return true
		}
	}
	return false
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("entropy exhausted") }

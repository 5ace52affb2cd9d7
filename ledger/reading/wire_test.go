package reading

import (
	"bytes"
	"math"
	"testing"

	"github.com/hypha-iot/hypha/txn"
)

// TestUintLen: uintLen is the length of the CBOR encoding of each integer
// at the edges of every head size.
func TestUintLen(t *testing.T) {
	for _, v := range []uint64{0, 23, 24, 255, 256, 65535, 65536, math.MaxUint32, math.MaxUint32 + 1, math.MaxUint64} {
		if got, want := uintLen(v), len(txn.MustMarshal(v)); got != want {
			t.Errorf("uintLen(%d) = %d, want %d", v, got, want)
		}
	}
}

// TestAppendRef: appending encoded refs one by one gives the canonical
// encoding of the array of them, and a damaged head is refused.
func TestAppendRef(t *testing.T) {
	var refs []Ref
	var open []byte
	for i := range ChunkSize {
		r := Ref{Index: uint64(i), Counter: uint64(100 + i), TxHash: []byte{byte(i)}, Digest: []byte{1, 2}}
		refs = append(refs, r)
		var n int
		var err error
		open, n, err = appendRef(open, txn.MustMarshal(&r))
		if err != nil || n != i+1 {
			t.Fatalf("append %d: n %d, %v", i, n, err)
		}
		if want := txn.MustMarshal(refs); !bytes.Equal(open, want) {
			t.Fatalf("after %d refs: %x, want %x", i+1, open, want)
		}
	}
	for _, bad := range [][]byte{{0x80}, {0x88, 0}, {0xa0}, {0x40}} {
		if _, _, err := appendRef(bad, []byte{0}); err == nil {
			t.Errorf("appendRef(%x) accepted", bad)
		}
	}
}

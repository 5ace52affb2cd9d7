package keys

import (
	"fmt"
	"slices"
	"testing"
)

type batchItem struct {
	pub      PublicKey
	msg, sig []byte
}

// batchItems returns n valid entries, alternating types as mix asks.
func batchItems(tb testing.TB, n int, types ...Type) []batchItem {
	tb.Helper()
	items := make([]batchItem, n)
	for i := range items {
		k := testKey(tb, types[i%len(types)], byte(i))
		msg := fmt.Appendf(nil, "tx-%d", i)
		items[i] = batchItem{k.Public(), msg, mustSign(tb, k, msg)}
	}
	return items
}

func TestBatchVerifier(t *testing.T) {
	zip215Pub := PublicKey{Type: Ed25519, Key: make([]byte, 32)} // order-4 point
	zip215Sig := append(mustHex(t, "0100000000000000000000000000000000000000000000000000000000000000"), make([]byte, 32)...)

	tests := []struct {
		name  string
		n     int
		types []Type
		bad   []int                   // entries whose signature is corrupted
		edit  func(items []batchItem) // extra changes
	}{
		{name: "empty", n: 0, types: []Type{Ed25519}},
		{name: "one ed25519", n: 1, types: []Type{Ed25519}},
		{name: "one bad ed25519", n: 1, types: []Type{Ed25519}, bad: []int{0}},
		{name: "64 ed25519", n: 64, types: []Type{Ed25519}},
		{name: "64 ed25519, one bad", n: 64, types: []Type{Ed25519}, bad: []int{37}},
		{name: "64 ed25519, first and last bad", n: 64, types: []Type{Ed25519}, bad: []int{0, 63}},
		{name: "mixed", n: 16, types: []Type{Ed25519, P256, Ed25519}},
		{name: "mixed, bad p256", n: 16, types: []Type{Ed25519, P256}, bad: []int{5}},
		{name: "mixed, bad ed25519", n: 16, types: []Type{Ed25519, P256}, bad: []int{4}},
		{name: "all p256, one bad", n: 8, types: []Type{P256}, bad: []int{7}},
		{name: "short signature", n: 8, types: []Type{Ed25519}, edit: func(items []batchItem) {
			items[3].sig = items[3].sig[:63]
		}},
		{name: "wrong message", n: 8, types: []Type{Ed25519}, edit: func(items []batchItem) {
			items[2].msg = []byte("other")
		}},
		{name: "unknown key type", n: 8, types: []Type{Ed25519}, edit: func(items []batchItem) {
			items[1].pub = PublicKey{Type: 9, Key: items[1].pub.Key}
		}},
		{name: "zip215 vector agrees with single verification", n: 8, types: []Type{Ed25519}, edit: func(items []batchItem) {
			items[6] = batchItem{zip215Pub, []byte("zip215-1"), zip215Sig}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			items := batchItems(t, tt.n, tt.types...)
			for _, i := range tt.bad {
				items[i].sig = flip(items[i].sig, 10)
			}
			if tt.edit != nil {
				tt.edit(items)
			}
			v := NewBatchVerifier()
			want := make([]bool, len(items))
			wantAll := true
			for i, it := range items {
				v.Add(it.pub, it.msg, it.sig)
				want[i] = it.pub.Verify(it.msg, it.sig)
				wantAll = wantAll && want[i]
			}
			if v.Len() != len(items) {
				t.Errorf("Len() = %d, want %d", v.Len(), len(items))
			}
			allOK, results := v.Verify()
			if allOK != wantAll || !slices.Equal(results, want) {
				t.Errorf("Verify() = %v %v, want %v %v", allOK, results, wantAll, want)
			}
			for _, i := range tt.bad {
				if results[i] {
					t.Errorf("corrupted entry %d reported valid", i)
				}
			}
		})
	}
}

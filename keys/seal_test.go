package keys

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

func TestSealKey(t *testing.T) {
	a, err := GenerateSealKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := GenerateSealKey(rand.NewChaCha8([32]byte{7}))
	if err != nil {
		t.Fatal(err)
	}
	b2, err := GenerateSealKey(rand.NewChaCha8([32]byte{7}))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b.Bytes(), b2.Bytes()) {
		t.Error("GenerateSealKey is not deterministic for a deterministic reader")
	}
	if len(a.Bytes()) != SealKeySize || len(a.PublicBytes()) != SealKeySize {
		t.Fatalf("sizes: %d, %d", len(a.Bytes()), len(a.PublicBytes()))
	}

	back, err := SealKeyFromBytes(a.Bytes())
	if err != nil || !bytes.Equal(back.PublicBytes(), a.PublicBytes()) {
		t.Fatalf("SealKeyFromBytes round trip: %v", err)
	}

	// Both sides derive the same shared secret from the parsed public keys.
	pa, err := ParseSealPublic(a.PublicBytes())
	if err != nil {
		t.Fatal(err)
	}
	pb, err := ParseSealPublic(b.PublicBytes())
	if err != nil {
		t.Fatal(err)
	}
	s1, err := a.Private().ECDH(pb)
	if err != nil {
		t.Fatal(err)
	}
	s2, err := b.Private().ECDH(pa)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(s1, s2) {
		t.Error("ECDH shared secrets differ")
	}
	if !a.Public().Equal(pa) {
		t.Error("Public() differs from the parsed public key")
	}
	if (SealKey{}).IsZero() != true || a.IsZero() {
		t.Error("IsZero is wrong")
	}
}

func TestSealKeyErrors(t *testing.T) {
	for _, n := range []int{0, 31, 33} {
		if _, err := SealKeyFromBytes(make([]byte, n)); err == nil {
			t.Errorf("SealKeyFromBytes(%d bytes) succeeded", n)
		}
	}
	if _, err := GenerateSealKey(bytes.NewReader(make([]byte, 5))); err == nil {
		t.Error("GenerateSealKey from a short reader succeeded")
	}
	// Low-order points on Curve25519 (u = 0, 1, and the order-8 point) and
	// wrong lengths.
	tests := []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"31 bytes", make([]byte, 31)},
		{"33 bytes", make([]byte, 33)},
		{"u=0", make([]byte, 32)},
		{"u=1", append([]byte{1}, make([]byte, 31)...)},
		{"order 8", mustHex(t, "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800")},
		{"u=p-1 (order 2)", mustHex(t, "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := ParseSealPublic(tt.b); err == nil {
				t.Errorf("ParseSealPublic(%x) succeeded", tt.b)
			}
		})
	}
}

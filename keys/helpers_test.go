package keys

import (
	"bytes"
	"encoding/hex"
	"testing"
)

// testKey returns a fixed key of type t derived from the seed {i, i, ...}.
func testKey(tb testing.TB, t Type, i byte) PrivateKey {
	tb.Helper()
	var seed [SeedSize]byte
	for j := range seed {
		seed[j] = i
	}
	switch t {
	case Ed25519:
		return Ed25519FromSeed(seed)
	case P256:
		return P256FromSeed(seed)
	}
	tb.Fatalf("testKey: unknown type %v", t)
	return nil
}

func mustSign(tb testing.TB, k PrivateKey, msg []byte) []byte {
	tb.Helper()
	sig, err := k.Sign(msg)
	if err != nil {
		tb.Fatalf("Sign: %v", err)
	}
	return sig
}

func mustHex(tb testing.TB, s string) []byte {
	tb.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		tb.Fatalf("hex %q: %v", s, err)
	}
	return b
}

// wire returns a public key's wire form built from its parts.
func wire(t Type, key []byte) []byte {
	return append([]byte{byte(t)}, key...)
}

// flip returns a copy of b with bit 0 of byte i inverted.
func flip(b []byte, i int) []byte {
	c := bytes.Clone(b)
	c[i] ^= 1
	return c
}

var allTypes = []Type{Ed25519, P256}

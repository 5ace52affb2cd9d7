package keys

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestTypeString(t *testing.T) {
	tests := []struct {
		t    Type
		want string
	}{
		{Ed25519, "ed25519"},
		{P256, "p256"},
		{0, "type(0)"},
		{9, "type(9)"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.t.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
			if tt.t == Ed25519 || tt.t == P256 {
				if got, err := ParseType(tt.want); err != nil || got != tt.t {
					t.Errorf("ParseType(%q) = %v, %v", tt.want, got, err)
				}
			} else if _, err := ParseType(tt.want); err == nil {
				t.Errorf("ParseType(%q) succeeded", tt.want)
			}
		})
	}
}

func TestSignVerify(t *testing.T) {
	msg := []byte("hypha/tx/v1 sign bytes")
	for _, typ := range allTypes {
		t.Run(typ.String(), func(t *testing.T) {
			k := testKey(t, typ, 1)
			other := testKey(t, typ, 2)
			if k.Type() != typ || k.Public().Type != typ {
				t.Fatalf("Type() = %v, Public().Type = %v, want %v", k.Type(), k.Public().Type, typ)
			}
			sig := mustSign(t, k, msg)
			if len(sig) != SignatureSize {
				t.Fatalf("signature is %d bytes, want %d", len(sig), SignatureSize)
			}
			pub := k.Public()
			checks := []struct {
				name string
				pub  PublicKey
				msg  []byte
				sig  []byte
				want bool
			}{
				{"valid", pub, msg, sig, true},
				{"other message", pub, []byte("other"), sig, false},
				{"empty message", pub, nil, sig, false},
				{"other key", other.Public(), msg, sig, false},
				{"flipped sig byte 0", pub, msg, flip(sig, 0), false},
				{"flipped sig byte 40", pub, msg, flip(sig, 40), false},
				{"flipped sig byte 63", pub, msg, flip(sig, 63), false},
				{"short sig", pub, msg, sig[:63], false},
				{"long sig", pub, msg, append(bytes.Clone(sig), 0), false},
				{"nil sig", pub, msg, nil, false},
				{"wrong type byte", PublicKey{Type: 3 - typ, Key: pub.Key}, msg, sig, false},
				{"unknown type", PublicKey{Type: 7, Key: pub.Key}, msg, sig, false},
				{"short key", PublicKey{Type: typ, Key: pub.Key[:len(pub.Key)-1]}, msg, sig, false},
				{"nil key", PublicKey{Type: typ}, msg, sig, false},
				{"zero key", PublicKey{}, msg, sig, false},
			}
			for _, c := range checks {
				t.Run(c.name, func(t *testing.T) {
					if got := c.pub.Verify(c.msg, c.sig); got != c.want {
						t.Errorf("Verify = %v, want %v", got, c.want)
					}
				})
			}
		})
	}
}

func TestSignEmptyAndLargeMessages(t *testing.T) {
	large := bytes.Repeat([]byte{0xab}, 1<<20)
	for _, typ := range allTypes {
		for _, msg := range [][]byte{nil, {}, {0}, large} {
			t.Run(fmt.Sprintf("%v/len=%d", typ, len(msg)), func(t *testing.T) {
				k := testKey(t, typ, 3)
				if !k.Public().Verify(msg, mustSign(t, k, msg)) {
					t.Error("signature does not verify")
				}
			})
		}
	}
}

func TestPrivateKeyBytesRoundTrip(t *testing.T) {
	for _, typ := range allTypes {
		t.Run(typ.String(), func(t *testing.T) {
			k := testKey(t, typ, 4)
			b := k.Bytes()
			if len(b) != 1+SeedSize || Type(b[0]) != typ {
				t.Fatalf("Bytes() = %x", b)
			}
			k2, err := PrivateKeyFromBytes(b)
			if err != nil {
				t.Fatalf("PrivateKeyFromBytes: %v", err)
			}
			if !k2.Public().Equal(k.Public()) || !bytes.Equal(k2.Bytes(), b) {
				t.Errorf("round trip changed the key")
			}
			msg := []byte("m")
			if !k.Public().Verify(msg, mustSign(t, k2, msg)) {
				t.Errorf("signature of round-tripped key does not verify")
			}
			if s := fmt.Sprint(k); strings.Contains(s, fmt.Sprintf("%x", b[1:])) {
				t.Errorf("fmt.Sprint(key) leaks the secret: %s", s)
			}
		})
	}
}

func TestPrivateKeyFromBytesErrors(t *testing.T) {
	order := p256Order.FillBytes(make([]byte, 32))
	tests := []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"type only", []byte{byte(Ed25519)}},
		{"short seed", wire(Ed25519, make([]byte, 31))},
		{"long seed", wire(Ed25519, make([]byte, 33))},
		{"unknown type", wire(9, make([]byte, 32))},
		{"p256 zero scalar", wire(P256, make([]byte, 32))},
		{"p256 scalar n", wire(P256, order)},
		{"p256 scalar all ones", wire(P256, bytes.Repeat([]byte{0xff}, 32))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if k, err := PrivateKeyFromBytes(tt.b); err == nil {
				t.Errorf("PrivateKeyFromBytes(%x) = %v, want error", tt.b, k)
			}
		})
	}
}

func TestGenerate(t *testing.T) {
	for _, typ := range allTypes {
		t.Run(typ.String(), func(t *testing.T) {
			a, err := Generate(typ, rand.NewChaCha8([32]byte{1}))
			if err != nil {
				t.Fatal(err)
			}
			b, err := Generate(typ, rand.NewChaCha8([32]byte{1}))
			if err != nil {
				t.Fatal(err)
			}
			if !a.Public().Equal(b.Public()) {
				t.Error("Generate is not deterministic for a deterministic reader")
			}
			c, err := Generate(typ, nil)
			if err != nil {
				t.Fatal(err)
			}
			if c.Public().Equal(a.Public()) || c.Type() != typ {
				t.Errorf("Generate(nil) = %v", c.Public())
			}
			msg := []byte("x")
			if !c.Public().Verify(msg, mustSign(t, c, msg)) {
				t.Error("generated key does not verify its signature")
			}
		})
	}
	t.Run("unknown type", func(t *testing.T) {
		if _, err := Generate(0, nil); err == nil {
			t.Error("Generate(0) succeeded")
		}
	})
	t.Run("short reader", func(t *testing.T) {
		for _, typ := range allTypes {
			if _, err := Generate(typ, bytes.NewReader(make([]byte, 10))); err == nil {
				t.Errorf("Generate(%v) from a 10-byte reader succeeded", typ)
			}
		}
	})
}

func TestParsePublicKey(t *testing.T) {
	ed := testKey(t, Ed25519, 1).Public()
	p := testKey(t, P256, 1).Public()
	// An x coordinate that is not on the curve (x^3 - 3x + b is not a square).
	offCurve := wire(P256, append([]byte{2}, make([]byte, 32)...))
	offCurve[33] = 1
	tests := []struct {
		name    string
		b       []byte
		wantErr string
	}{
		{"ed25519", ed.Bytes(), ""},
		{"p256", p.Bytes(), ""},
		{"empty", nil, "empty"},
		{"type zero", wire(0, ed.Key), "unknown key type"},
		{"type three", wire(3, ed.Key), "unknown key type"},
		{"ed25519 short", wire(Ed25519, ed.Key[:31]), "32"},
		{"ed25519 long", wire(Ed25519, append(bytes.Clone(ed.Key), 0)), "32"},
		{"ed25519 type only", []byte{byte(Ed25519)}, "32"},
		{"p256 short", wire(P256, p.Key[:32]), "33"},
		{"p256 long", wire(P256, append(bytes.Clone(p.Key), 0)), "33"},
		{"p256 ed25519 key", wire(P256, ed.Key), "33"},
		{"p256 bad prefix", wire(P256, append([]byte{5}, p.Key[1:]...)), "curve"},
		{"p256 infinity", wire(P256, make([]byte, 33)), "curve"},
		{"p256 x >= p", wire(P256, append([]byte{2}, bytes.Repeat([]byte{0xff}, 32)...)), "curve"},
		{"p256 off curve", offCurve, "curve"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := ParsePublicKey(tt.b)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParsePublicKey(%x) = %v, %v; want error containing %q", tt.b, k, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(k.Bytes(), tt.b) {
				t.Errorf("Bytes() = %x, want %x", k.Bytes(), tt.b)
			}
			tt.b[1] ^= 0xff
			if bytes.Equal(k.Bytes(), tt.b) {
				t.Error("parsed key aliases its input")
			}
		})
	}
}

// TestP256OffCurveVectorIsOffCurve guards the table above: x = 1 really is
// not the x coordinate of a curve point for either y parity.
func TestP256OffCurveVectorIsOffCurve(t *testing.T) {
	for _, prefix := range []byte{2, 3} {
		b := append([]byte{prefix}, make([]byte, 32)...)
		b[32] = 1
		if _, err := parseP256(b); err == nil {
			t.Fatalf("x=1 with prefix %d parsed; pick another x", prefix)
		}
	}
}

func TestPublicKeyEqualAndAddress(t *testing.T) {
	a := testKey(t, Ed25519, 1).Public()
	b := testKey(t, Ed25519, 2).Public()
	p := testKey(t, P256, 1).Public()
	if !a.Equal(testKey(t, Ed25519, 1).Public()) || a.Equal(b) || a.Equal(p) {
		t.Error("Equal is wrong")
	}
	if a.Equal(PublicKey{Type: P256, Key: a.Key}) {
		t.Error("Equal ignores the type")
	}
	for _, k := range []PublicKey{a, b, p} {
		t.Run(k.Type.String(), func(t *testing.T) {
			sum := sha256.Sum256(k.Bytes())
			if got := k.Address(); !bytes.Equal(got[:], sum[:20]) {
				t.Errorf("Address() = %x, want %x", got, sum[:20])
			}
		})
	}
	// The type byte is part of the address.
	if a.Address() == (PublicKey{Type: P256, Key: a.Key}).Address() {
		t.Error("address does not depend on the key type")
	}
	if (PublicKey{}).IsZero() != true || a.IsZero() {
		t.Error("IsZero is wrong")
	}
}

// TestZIP215 checks that Ed25519 verification follows ZIP-215, which
// accepts signatures that crypto/ed25519 (RFC 8032 cofactorless, byte
// comparison of R) rejects, and still rejects malleable S.
func TestZIP215(t *testing.T) {
	identity := mustHex(t, "0100000000000000000000000000000000000000000000000000000000000000")
	// y = p + 1, a non-canonical encoding of the identity point.
	identityNonCanonical := mustHex(t, "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f")
	// y = 0: a point of order 4.
	order4 := make([]byte, 32)
	zeroS := make([]byte, 32)

	t.Run("non-canonical R", func(t *testing.T) {
		pub := PublicKey{Type: Ed25519, Key: identity}
		sig := append(bytes.Clone(identityNonCanonical), zeroS...)
		msg := []byte("zip215")
		if ed25519.Verify(ed25519.PublicKey(identity), msg, sig) {
			t.Fatal("crypto/ed25519 accepts the vector; it no longer tells the rules apart")
		}
		if !pub.Verify(msg, sig) {
			t.Error("Verify rejects a non-canonical R that ZIP-215 accepts")
		}
	})

	t.Run("small-order key, cofactored equation", func(t *testing.T) {
		pub := PublicKey{Type: Ed25519, Key: order4}
		sig := append(bytes.Clone(identity), zeroS...)
		stdRejected := 0
		for i := range 16 {
			msg := fmt.Appendf(nil, "zip215-%d", i)
			if !ed25519.Verify(ed25519.PublicKey(order4), msg, sig) {
				stdRejected++
			}
			if !pub.Verify(msg, sig) {
				t.Errorf("Verify rejects %q; ZIP-215 accepts all of them", msg)
			}
		}
		if stdRejected == 0 {
			t.Error("crypto/ed25519 accepted every message; the vector does not exercise the cofactor")
		}
	})

	t.Run("S + L rejected", func(t *testing.T) {
		k := testKey(t, Ed25519, 1)
		msg := []byte("malleate me")
		sig := mustSign(t, k, msg)
		// L = 2^252 + 27742317777372353535851937790883648493, little-endian.
		l := mustHex(t, "edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010")
		mal := bytes.Clone(sig)
		var carry uint16
		for i := range 32 {
			s := uint16(mal[32+i]) + uint16(l[i]) + carry
			mal[32+i], carry = byte(s), s>>8
		}
		if carry != 0 || mal[63]&0xe0 != 0 {
			t.Skip("S + L overflows 253 bits for this signature")
		}
		if !k.Public().Verify(msg, sig) {
			t.Fatal("original signature does not verify")
		}
		if k.Public().Verify(msg, mal) {
			t.Error("Verify accepts S + L")
		}
	})

	t.Run("S with high bits set rejected", func(t *testing.T) {
		k := testKey(t, Ed25519, 1)
		msg := []byte("m")
		sig := mustSign(t, k, msg)
		sig[63] |= 0x80
		if k.Public().Verify(msg, sig) {
			t.Error("Verify accepts S >= 2^255")
		}
	})
}

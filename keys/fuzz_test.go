package keys

import (
	"bytes"
	"encoding/hex"
	"testing"
)

// Fuzz targets for every decoder of untrusted input, seeded from the tables
// and vectors of the unit tests.

func FuzzParsePublicKey(f *testing.F) {
	for _, typ := range allTypes {
		pub := testKey(f, typ, 1).Public()
		f.Add(pub.Bytes())
		f.Add(pub.Bytes()[:len(pub.Bytes())-1])
	}
	f.Add([]byte{})
	f.Add(wire(P256, append([]byte{2}, bytes.Repeat([]byte{0xff}, 32)...)))
	f.Add(wire(P256, append([]byte{4}, make([]byte, 64)...)))
	f.Add(wire(Ed25519, make([]byte, 32)))
	f.Fuzz(func(t *testing.T, b []byte) {
		k, err := ParsePublicKey(b)
		if err != nil {
			return
		}
		if !bytes.Equal(k.Bytes(), b) {
			t.Fatalf("Bytes() = %x, input %x", k.Bytes(), b)
		}
		back, err := ParseDID(k.DID())
		if err != nil || !back.Equal(k) {
			t.Fatalf("DID round trip of %x: %v, %v", b, back, err)
		}
		_ = k.Address()
		_ = k.Verify(b, make([]byte, SignatureSize))
	})
}

func FuzzParseAddress(f *testing.F) {
	a := testAddress()
	for _, s := range []string{a.Account(), a.Device(), hex.EncodeToString(a[:]), "", "hypha1", "HYPHA1QQQQ", "cosmos1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqnrql8a"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, prefix, err := ParseAddress(s)
		if err != nil {
			return
		}
		var again string
		switch prefix {
		case AccountPrefix:
			again = a.Account()
		case DevicePrefix:
			again = a.Device()
		case "":
			again = hex.EncodeToString(a[:])
		default:
			t.Fatalf("ParseAddress(%q) returned prefix %q", s, prefix)
		}
		b, prefix2, err := ParseAddress(again)
		if err != nil || b != a || prefix2 != prefix {
			t.Fatalf("re-parse of %q (from %q) = %x %q %v", again, s, b, prefix2, err)
		}
	})
}

func FuzzAddressCBOR(f *testing.F) {
	enc, _ := testAddress().MarshalCBOR()
	f.Add(enc)
	f.Add([]byte{0x58, 0x14})
	f.Add([]byte{0x5f, 0xff})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		var a Address
		if err := a.UnmarshalCBOR(b); err != nil {
			return
		}
		again, _ := a.MarshalCBOR()
		if !bytes.Equal(again, b) {
			t.Fatalf("accepted non-canonical %x (re-encodes as %x)", b, again)
		}
	})
}

func FuzzParseDID(f *testing.F) {
	for _, v := range ed25519DIDVectors {
		f.Add(v.did)
	}
	for _, v := range p256DIDVectors {
		f.Add(v.did)
	}
	f.Add("did:key:z")
	f.Add("did:key:z6LShs9GGnqk85isEBzzshkuVWrVKsRp24GnDuHk8QWkARMW")
	f.Add("did:key:zé")
	f.Fuzz(func(t *testing.T, s string) {
		k, err := ParseDID(s)
		if err != nil {
			return
		}
		if k.DID() != s {
			t.Fatalf("ParseDID(%q) accepted a non-canonical form of %s", s, k.DID())
		}
		if _, err := ParsePublicKey(k.Bytes()); err != nil {
			t.Fatalf("ParseDID(%q) returned an invalid key: %v", s, err)
		}
	})
}

func FuzzVerify(f *testing.F) {
	for _, typ := range allTypes {
		k := testKey(f, typ, 1)
		msg := []byte("fuzz")
		sig := mustSign(f, k, msg)
		f.Add(k.Public().Bytes(), msg, sig)
		f.Add(k.Public().Bytes(), msg, flip(sig, 63))
		f.Add(k.Public().Bytes(), msg, make([]byte, 64))
	}
	f.Add([]byte{byte(Ed25519)}, []byte{}, []byte{})
	f.Add(wire(Ed25519, make([]byte, 32)), []byte("zip215-1"), append(mustHex(f, "01"), make([]byte, 63)...))
	f.Fuzz(func(t *testing.T, pubWire, msg, sig []byte) {
		// Verify must never panic, on parsed or raw keys.
		if len(pubWire) > 0 {
			raw := PublicKey{Type: Type(pubWire[0]), Key: pubWire[1:]}
			got := raw.Verify(msg, sig)
			if k, err := ParsePublicKey(pubWire); err == nil {
				if k.Verify(msg, sig) != got {
					t.Fatal("parsed and raw keys disagree")
				}
				v := NewBatchVerifier()
				v.Add(k, msg, sig)
				v.Add(k, msg, sig)
				if ok, res := v.Verify(); ok != got || res[0] != got || res[1] != got {
					t.Fatalf("batch %v %v disagrees with single %v", ok, res, got)
				}
			}
		}
	})
}

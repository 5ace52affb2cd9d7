package keys

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/cosmos/btcutil/base58"
)

// W3C CCG did-method-key test vectors
// (https://github.com/w3c-ccg/did-method-key, test-vectors/ed25519-x25519.json
// and test-vectors/nist-curves.json).
var ed25519DIDVectors = []struct {
	seed      byte // the 32-byte seed is 31 zero bytes followed by this byte
	did       string
	publicB58 string
}{
	{0, "did:key:z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp", "4zvwRjXUKGfvwnParsHAS3HuSVzV5cA4McphgmoCtajS"},
	{1, "did:key:z6MkjchhfUsD6mmvni8mCdXHw216Xrm9bQe2mBH1P5RDjVJG", "6ASf5EcmmEHTgDJ4X4ZT5vT6iHVJBXPg5AN5YoTCpGWt"},
	{2, "did:key:z6MknGc3ocHs3zdPiJbnaaqDi58NGb4pk1Sp9WxWufuXSdxf", "8pM1DN3RiT8vbom5u1sNryaNT1nyL8CTTW3b5PwWXRBH"},
}

var p256DIDVectors = []struct {
	did     string
	x, y, d string // base64url JWK coordinates and private scalar
}{
	{
		"did:key:zDnaerx9CtbPJ1q36T5Ln5wYt3MQYeGRG5ehnPAmxcf5mDZpv",
		"igrFmi0whuihKnj9R3Om1SoMph72wUGeFaBbzG2vzns",
		"efsX5b10x8yjyrj4ny3pGfLcY7Xby1KzgqOdqnsrJIM",
		"gPh-VvVS8MbvKQ9LSVVmfnxnKjHn4Tqj0bmbpehRlpc",
	},
	{
		"did:key:zDnaerDaTF5BXEavCrfRZEk316dpbLsfPDZ3WJ5hRTPFU2169",
		"fyNYMN0976ci7xqiSdag3buk-ZCwgXU4kz9XNkBlNUI",
		"hW2ojTNfH7Jbi8--CJUo3OCbH3y5n91g-IMA9MLMbTU",
		"YjRs6vNvw4sYrzVVY8ipkEpDAD9PFqw1sUnvPRMA-WI",
	},
}

func b64url(tb testing.TB, s string) []byte {
	tb.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func TestDIDEd25519Vectors(t *testing.T) {
	for _, v := range ed25519DIDVectors {
		t.Run(v.did, func(t *testing.T) {
			var seed [32]byte
			seed[31] = v.seed
			pub := Ed25519FromSeed(seed).Public()
			if got := pub.DID(); got != v.did {
				t.Errorf("DID() = %s, want %s", got, v.did)
			}
			if got := base58.Encode(pub.Key); got != v.publicB58 {
				t.Errorf("public key base58 = %s, want %s", got, v.publicB58)
			}
			parsed, err := ParseDID(v.did)
			if err != nil || !parsed.Equal(pub) {
				t.Errorf("ParseDID = %v, %v; want %v", parsed, err, pub)
			}
		})
	}
	t.Run("spec example", func(t *testing.T) {
		const did = "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"
		k, err := ParseDID(did)
		if err != nil {
			t.Fatal(err)
		}
		if k.Type != Ed25519 || k.DID() != did || k.String() != did {
			t.Errorf("round trip: %v %s", k.Type, k.DID())
		}
	})
}

func TestDIDP256Vectors(t *testing.T) {
	for _, v := range p256DIDVectors {
		t.Run(v.did, func(t *testing.T) {
			x, y, d := b64url(t, v.x), b64url(t, v.y), b64url(t, v.d)
			pub, err := ParseDID(v.did)
			if err != nil {
				t.Fatal(err)
			}
			wantKey := append([]byte{2 | y[31]&1}, x...)
			if pub.Type != P256 || !bytes.Equal(pub.Key, wantKey) {
				t.Errorf("ParseDID = %v %x, want p256 %x", pub.Type, pub.Key, wantKey)
			}
			if got := pub.DID(); got != v.did {
				t.Errorf("DID() = %s, want %s", got, v.did)
			}
			priv, err := PrivateKeyFromBytes(append([]byte{byte(P256)}, d...))
			if err != nil {
				t.Fatal(err)
			}
			if got := priv.Public().DID(); got != v.did {
				t.Errorf("DID of the vector's private key = %s, want %s", got, v.did)
			}
			msg := []byte("did:key")
			if !pub.Verify(msg, mustSign(t, priv, msg)) {
				t.Error("signature by the vector's private key does not verify")
			}
		})
	}
}

func TestDIDRoundTrip(t *testing.T) {
	for _, typ := range allTypes {
		for i := range byte(8) {
			pub := testKey(t, typ, i).Public()
			did := pub.DID()
			prefix := map[Type]string{Ed25519: "did:key:z6Mk", P256: "did:key:zDn"}[typ]
			if !strings.HasPrefix(did, prefix) {
				t.Errorf("%v DID %s does not start with %s", typ, did, prefix)
			}
			back, err := ParseDID(did)
			if err != nil || !back.Equal(pub) {
				t.Errorf("ParseDID(%s) = %v, %v", did, back, err)
			}
		}
	}
	if got := (PublicKey{Type: 9, Key: []byte{1}}).DID(); got != "" {
		t.Errorf("DID of unknown type = %q, want empty", got)
	}
}

func TestParseDIDErrors(t *testing.T) {
	ed := ed25519DIDVectors[0].did
	id := strings.TrimPrefix(ed, "did:key:z")
	raw := base58.Decode(id)
	enc := func(b []byte) string { return "did:key:z" + base58.Encode(b) }
	tests := []struct {
		name, s string
	}{
		{"empty", ""},
		{"prefix only", "did:key:z"},
		{"other method", "did:web:" + id},
		{"no multibase", "did:key:" + id},
		{"base32 multibase", "did:key:b" + id},
		{"upper DID", strings.ToUpper(ed)},
		{"invalid base58 0", ed[:20] + "0" + ed[21:]},
		{"invalid base58 l", ed[:20] + "l" + ed[21:]},
		{"non-ascii", ed[:20] + "é" + ed[22:]},
		{"fragment", ed + "#z" + id},
		{"path", ed + "/x"},
		{"trailing space", ed + " "},
		{"leading zero byte", enc(append([]byte{0}, raw...))},
		{"truncated key", enc(raw[:len(raw)-1])},
		{"extra key byte", enc(append(bytes.Clone(raw), 0))},
		{"codec only", enc(raw[:2])},
		{"one byte", enc(raw[:1])},
		{"x25519 did", "did:key:z6LShs9GGnqk85isEBzzshkuVWrVKsRp24GnDuHk8QWkARMW"},
		{"secp256k1 did", "did:key:zQ3shokFTS3brHcDQrn82RUDfCZESWL1ZdCEJwekUDPQiYBme"},
		{"p384 did", "did:key:z82Lm1MpAkeJcix9K8TMiLd5NMAhnwkjjCBeWHXyu3U4oT2MVJJKXkcVBgjGhnLBn2Kaau9"},
		{"p256 uncompressed", enc(append([]byte{0x80, 0x24, 4}, make([]byte, 64)...))},
		{"p256 off curve", enc(append([]byte{0x80, 0x24, 2}, append(make([]byte, 31), 1)...))}, // x = 1
		{"too long", "did:key:z" + strings.Repeat("2", 200)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if k, err := ParseDID(tt.s); err == nil {
				t.Errorf("ParseDID(%q) = %v, want error", tt.s, k)
			}
		})
	}
}

package keys

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/cosmos/btcutil/base58"
)

// did:key (W3C CCG did-method-key): "did:key:" + multibase base58btc ('z')
// of the unsigned-varint multicodec code followed by the raw public key.
const didKeyPrefix = "did:key:z"

// base58Alphabet is the Bitcoin base58 alphabet that base58btc uses.
const base58Alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"

// maxDIDIDLen bounds the base58 part of a did:key we accept; our longest
// (P-256, 35 bytes) encodes to at most 48 characters.
const maxDIDIDLen = 64

// Multicodec codes, already varint-encoded.
var (
	multicodecEd25519 = []byte{0xed, 0x01} // ed25519-pub, 0xed
	multicodecP256    = []byte{0x80, 0x24} // p256-pub, 0x1200; key is SEC1 compressed
)

// DID returns k as a did:key, e.g. "did:key:z6Mk..." for Ed25519 and
// "did:key:zDn..." for P-256 (compressed point). It returns "" for a key of
// unknown type.
func (k PublicKey) DID() string {
	var codec []byte
	switch k.Type {
	case Ed25519:
		codec = multicodecEd25519
	case P256:
		codec = multicodecP256
	default:
		return ""
	}
	b := make([]byte, 0, len(codec)+len(k.Key))
	b = append(b, codec...)
	b = append(b, k.Key...)
	return didKeyPrefix + base58.Encode(b)
}

// ParseDID parses a did:key holding an Ed25519 or P-256 public key and
// validates the key as ParsePublicKey does. DID URLs (with a path, query or
// fragment) and other multibase encodings are rejected. ParseDID(s) succeeds
// only if k.DID() == s for the returned k.
func ParseDID(s string) (PublicKey, error) {
	id, ok := strings.CutPrefix(s, didKeyPrefix)
	if !ok {
		return PublicKey{}, fmt.Errorf("keys: parse did %q: want prefix %q", s, didKeyPrefix)
	}
	// Check the alphabet first: base58.Decode indexes a table by rune and
	// panics on non-ASCII input. The length bound keeps decoding cheap.
	if len(id) == 0 || len(id) > maxDIDIDLen || !isBase58(id) {
		return PublicKey{}, fmt.Errorf("keys: parse did %q: invalid base58btc", s)
	}
	raw := base58.Decode(id)
	if len(raw) < 2 || base58.Encode(raw) != id {
		return PublicKey{}, fmt.Errorf("keys: parse did %q: invalid base58btc", s)
	}
	var t Type
	switch {
	case bytes.HasPrefix(raw, multicodecEd25519):
		t = Ed25519
	case bytes.HasPrefix(raw, multicodecP256):
		t = P256
	default:
		return PublicKey{}, fmt.Errorf("keys: parse did %q: unsupported multicodec 0x%x", s, raw[:2])
	}
	wire := append([]byte{byte(t)}, raw[2:]...)
	k, err := ParsePublicKey(wire)
	if err != nil {
		return PublicKey{}, fmt.Errorf("keys: parse did %q: %w", s, err)
	}
	return k, nil
}

func isBase58(s string) bool {
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(base58Alphabet, s[i]) < 0 {
			return false
		}
	}
	return true
}

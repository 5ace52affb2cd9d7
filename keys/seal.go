package keys

import (
	"crypto/ecdh"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
)

// SealKeySize is the size of an X25519 private or public key.
const SealKeySize = 32

// SealKey is an X25519 private key that receives sealed messages (HPKE,
// RFC 9180, X25519 + HKDF-SHA256 + ChaCha20-Poly1305). Every device and
// account may hold one beside its signing key. The zero SealKey is not
// usable; build one with GenerateSealKey or SealKeyFromBytes.
type SealKey struct {
	priv *ecdh.PrivateKey
}

// GenerateSealKey returns a new X25519 key whose 32 secret bytes are read
// from random (crypto/rand if nil). As with Generate, the reader is
// honoured, so production callers must pass nil or crypto/rand.Reader.
func GenerateSealKey(random io.Reader) (SealKey, error) {
	if random == nil {
		random = rand.Reader
	}
	var b [SealKeySize]byte
	if _, err := io.ReadFull(random, b[:]); err != nil {
		return SealKey{}, fmt.Errorf("keys: generate seal key: %w", err)
	}
	return SealKeyFromBytes(b[:])
}

// SealKeyFromBytes returns the X25519 key with the given 32-byte private
// scalar (as returned by Bytes; RFC 7748 clamping is applied when used).
func SealKeyFromBytes(b []byte) (SealKey, error) {
	priv, err := ecdh.X25519().NewPrivateKey(b)
	if err != nil {
		return SealKey{}, fmt.Errorf("keys: seal key: %w", err)
	}
	return SealKey{priv: priv}, nil
}

// Bytes returns the 32-byte private scalar. The caller should wipe it when
// done.
func (k SealKey) Bytes() []byte { return k.priv.Bytes() }

// PublicBytes returns the 32-byte X25519 public key, the form published on
// the ledger and parsed by ParseSealPublic.
func (k SealKey) PublicBytes() []byte { return k.priv.PublicKey().Bytes() }

// Public returns the public key.
func (k SealKey) Public() *ecdh.PublicKey { return k.priv.PublicKey() }

// Private returns the key for use with crypto/ecdh or crypto/hpke.
func (k SealKey) Private() *ecdh.PrivateKey { return k.priv }

// IsZero reports whether k is the unusable zero SealKey.
func (k SealKey) IsZero() bool { return k.priv == nil }

// String keeps secrets out of logs and %v output.
func (k SealKey) String() string {
	if k.priv == nil {
		return "x25519 seal key (zero)"
	}
	return fmt.Sprintf("x25519 seal key %x", k.PublicBytes())
}

// lowOrderProbe is a fixed X25519 scalar. Because RFC 7748 clamping makes
// every scalar a multiple of the cofactor 8, X25519(probe, u) is all zero
// exactly when u is a low-order point, and ecdh reports that as an error.
var lowOrderProbe = func() *ecdh.PrivateKey {
	k, err := ecdh.X25519().NewPrivateKey([]byte("hypha/keys/x25519-loworder-probe"))
	if err != nil {
		panic(err)
	}
	return k
}()

// ParseSealPublic parses a 32-byte X25519 public key. It rejects low-order
// points, with which every shared secret would be zero, at the cost of one
// scalar multiplication.
func ParseSealPublic(b []byte) (*ecdh.PublicKey, error) {
	if len(b) != SealKeySize {
		return nil, fmt.Errorf("keys: seal public key is %d bytes, want %d", len(b), SealKeySize)
	}
	pub, err := ecdh.X25519().NewPublicKey(b)
	if err != nil {
		return nil, fmt.Errorf("keys: seal public key: %w", err)
	}
	if _, err := lowOrderProbe.ECDH(pub); err != nil {
		return nil, errors.New("keys: seal public key is a low-order point")
	}
	return pub, nil
}

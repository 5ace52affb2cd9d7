package keys

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"

	"github.com/hdevalence/ed25519consensus"
)

// Type identifies a signing key algorithm. Its numeric value is the first
// byte of a key's wire form and is hashed into addresses, so values never
// change meaning.
type Type byte

// The signing key types.
const (
	Ed25519 Type = 1 // Ed25519, verified under ZIP-215
	P256    Type = 2 // ECDSA P-256 with SHA-256, low-S
)

// Key and signature sizes.
const (
	// Ed25519PublicKeySize is the size of an Ed25519 public key.
	Ed25519PublicKeySize = ed25519.PublicKeySize
	// P256PublicKeySize is the size of a SEC1 compressed P-256 point.
	P256PublicKeySize = 33
	// SignatureSize is the size of a signature of either type.
	SignatureSize = 64
	// SeedSize is the size of a private key's secret: an Ed25519 seed or a
	// P-256 scalar.
	SeedSize = 32
)

// String returns "ed25519", "p256", or "type(N)" for an unknown type.
func (t Type) String() string {
	switch t {
	case Ed25519:
		return "ed25519"
	case P256:
		return "p256"
	default:
		return fmt.Sprintf("type(%d)", byte(t))
	}
}

// ParseType is the inverse of [Type.String] for the known types.
func ParseType(s string) (Type, error) {
	switch s {
	case "ed25519":
		return Ed25519, nil
	case "p256":
		return P256, nil
	default:
		return 0, fmt.Errorf("keys: unknown key type %q", s)
	}
}

// PublicKey is a signing public key: an Ed25519 key (32 bytes) or a P-256
// key (33-byte SEC1 compressed point).
//
// Values returned by [ParsePublicKey], [ParseDID] and [PrivateKey.Public] are
// valid and own their Key slice. A PublicKey built by hand is not checked
// until it is used: Verify on an invalid key returns false.
type PublicKey struct {
	Type Type
	Key  []byte
}

// ParsePublicKey parses the wire form of a public key: the type byte followed
// by the key bytes. It checks the length for the type and, for P-256, that
// the point is a valid compressed point on the curve. Ed25519 keys are only
// checked for length: under ZIP-215 any 32 bytes are a key, and one that does
// not decode to a curve point simply never verifies. The result does not
// alias b.
func ParsePublicKey(b []byte) (PublicKey, error) {
	if len(b) == 0 {
		return PublicKey{}, errors.New("keys: empty public key")
	}
	t, key := Type(b[0]), b[1:]
	switch t {
	case Ed25519:
		if len(key) != Ed25519PublicKeySize {
			return PublicKey{}, fmt.Errorf("keys: ed25519 public key is %d bytes, want %d", len(key), Ed25519PublicKeySize)
		}
	case P256:
		if len(key) != P256PublicKeySize {
			return PublicKey{}, fmt.Errorf("keys: p256 public key is %d bytes, want %d (SEC1 compressed)", len(key), P256PublicKeySize)
		}
		if _, err := parseP256(key); err != nil {
			return PublicKey{}, err
		}
	default:
		return PublicKey{}, fmt.Errorf("keys: unknown key type %d", b[0])
	}
	return PublicKey{Type: t, Key: bytes.Clone(key)}, nil
}

// Bytes returns the wire form used in transactions: the type byte followed by
// the key bytes. The result is a fresh slice.
func (k PublicKey) Bytes() []byte {
	b := make([]byte, 1+len(k.Key))
	b[0] = byte(k.Type)
	copy(b[1:], k.Key)
	return b
}

// Equal reports whether k and o are the same key (same type and bytes).
func (k PublicKey) Equal(o PublicKey) bool {
	return k.Type == o.Type && bytes.Equal(k.Key, o.Key)
}

// IsZero reports whether k is the zero PublicKey.
func (k PublicKey) IsZero() bool {
	return k.Type == 0 && len(k.Key) == 0
}

// Address returns the first 20 bytes of SHA-256(type byte || key bytes).
// A device's id and an account's address are both derived this way.
func (k PublicKey) Address() Address {
	h := sha256.New()
	h.Write([]byte{byte(k.Type)})
	h.Write(k.Key)
	var sum [sha256.Size]byte
	var a Address
	copy(a[:], h.Sum(sum[:0]))
	return a
}

// Verify reports whether sig is a valid signature of msg by k.
//
// Ed25519 signatures are checked under ZIP-215 (ed25519consensus.Verify):
// 64 bytes, S < L, non-canonical point encodings accepted, cofactored
// equation. P-256 signatures are 64 bytes r||s (big-endian, 32 bytes each)
// over SHA-256(msg), with 0 < r < n and 0 < s <= n/2; high-S signatures are
// rejected so that signatures are not malleable.
//
// Verify never panics, whatever its inputs; an unknown key type, a key of
// the wrong length or an invalid point all return false.
func (k PublicKey) Verify(msg, sig []byte) bool {
	switch k.Type {
	case Ed25519:
		return ed25519consensus.Verify(ed25519.PublicKey(k.Key), msg, sig)
	case P256:
		return verifyP256(k.Key, msg, sig)
	default:
		return false
	}
}

// String returns the key's did:key form, see [PublicKey.DID].
func (k PublicKey) String() string {
	return k.DID()
}

// PrivateKey is a signing private key. Implementations are safe for
// concurrent use.
type PrivateKey interface {
	// Public returns the matching public key.
	Public() PublicKey
	// Sign signs msg. Ed25519 signs per RFC 8032. P-256 signs SHA-256(msg)
	// deterministically (RFC 6979) and returns r||s, 64 bytes, with s
	// normalised to low-S. The result verifies with Public().Verify.
	Sign(msg []byte) ([]byte, error)
	// Type returns the key type.
	Type() Type
	// Bytes returns the type byte followed by the 32-byte secret (Ed25519
	// seed or P-256 scalar, big-endian), for the keyring. It is a fresh
	// slice that the caller should wipe when done.
	Bytes() []byte
}

// Generate returns a new private key of type t, reading its secret from
// random (crypto/rand if random is nil). Unlike ecdsa.GenerateKey since Go
// 1.26, the reader is honoured, so a deterministic reader gives a
// deterministic key: production callers must pass nil or crypto/rand.Reader.
func Generate(t Type, random io.Reader) (PrivateKey, error) {
	if random == nil {
		random = rand.Reader
	}
	switch t {
	case Ed25519:
		var seed [SeedSize]byte
		if _, err := io.ReadFull(random, seed[:]); err != nil {
			return nil, fmt.Errorf("keys: generate ed25519: %w", err)
		}
		return Ed25519FromSeed(seed), nil
	case P256:
		return generateP256(random)
	default:
		return nil, fmt.Errorf("keys: generate: unknown key type %d", byte(t))
	}
}

// PrivateKeyFromBytes parses the form returned by [PrivateKey.Bytes]: a type
// byte followed by a 32-byte secret. A P-256 scalar must be in [1, n-1].
func PrivateKeyFromBytes(b []byte) (PrivateKey, error) {
	if len(b) != 1+SeedSize {
		return nil, fmt.Errorf("keys: private key is %d bytes, want %d", len(b), 1+SeedSize)
	}
	switch Type(b[0]) {
	case Ed25519:
		return Ed25519FromSeed([SeedSize]byte(b[1:])), nil
	case P256:
		return p256FromScalar(b[1:])
	default:
		return nil, fmt.Errorf("keys: unknown private key type %d", b[0])
	}
}

// Ed25519FromSeed returns the Ed25519 key with the given RFC 8032 seed.
// It is deterministic, which makes it the way to build fixed test keys.
func Ed25519FromSeed(seed [SeedSize]byte) PrivateKey {
	priv := ed25519.NewKeyFromSeed(seed[:])
	pub := priv.Public().(ed25519.PublicKey)
	return &ed25519Key{priv: priv, pub: PublicKey{Type: Ed25519, Key: bytes.Clone(pub)}}
}

type ed25519Key struct {
	priv ed25519.PrivateKey
	pub  PublicKey
}

func (k *ed25519Key) Public() PublicKey {
	return PublicKey{Type: Ed25519, Key: bytes.Clone(k.pub.Key)}
}

func (k *ed25519Key) Sign(msg []byte) ([]byte, error) {
	return ed25519.Sign(k.priv, msg), nil
}

func (k *ed25519Key) Type() Type { return Ed25519 }

func (k *ed25519Key) Bytes() []byte {
	return append([]byte{byte(Ed25519)}, k.priv.Seed()...)
}

// String keeps secrets out of logs and %v output.
func (k *ed25519Key) String() string { return "ed25519 private key " + k.pub.DID() }

package keyring

import (
	"bytes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/hypha-iot/hypha/keys"
	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/chacha20poly1305"
)

// fileVersion is the only key file format version this package reads and
// writes.
const fileVersion = 1

// maxFileSize bounds what we read from a key file.
const maxFileSize = 64 << 10

// keyFile is the JSON layout of one key file, <dir>/<name>.json. Everything
// but Secret is public. Secret holds the secret blob: the signing key's
// keys.PrivateKey.Bytes() (33 bytes), followed by the 32-byte X25519 seal
// key if SealPublic is set. Unencrypted, Secret is that blob; encrypted, it
// is XChaCha20-Poly1305(key, Nonce, blob, aad) with key =
// Argon2id(passphrase, KDF), see aad for the associated data.
type keyFile struct {
	Version    int    `json:"version"`
	Type       string `json:"type"`                  // "ed25519" or "p256", informational
	PublicKey  []byte `json:"public_key"`            // keys.PublicKey.Bytes(), base64
	DID        string `json:"did"`                   // informational, checked on read
	Address    string `json:"address"`               // informational, checked on read
	SealPublic []byte `json:"seal_public,omitempty"` // X25519 public key, base64
	Encrypted  bool   `json:"encrypted"`
	KDF        *kdf   `json:"kdf,omitempty"`   // iff Encrypted
	Nonce      []byte `json:"nonce,omitempty"` // iff Encrypted, 24 bytes
	Secret     []byte `json:"secret"`
}

// kdf records the Argon2id parameters a key file was encrypted with.
type kdf struct {
	Alg       string `json:"alg"` // "argon2id"
	Time      uint32 `json:"time"`
	MemoryKiB uint32 `json:"memory_kib"`
	Threads   uint8  `json:"threads"`
	Salt      []byte `json:"salt"`
}

// KDFParams are Argon2id cost parameters.
type KDFParams struct {
	Time      uint32 // passes over memory
	MemoryKiB uint32 // memory in KiB
	Threads   uint8  // parallelism
}

// DefaultKDF follows RFC 9106 §4's second recommended option: t=3,
// m=64 MiB, p=4 (about 0.1 s on a laptop core).
var DefaultKDF = KDFParams{Time: 3, MemoryKiB: 64 << 10, Threads: 4}

// Bounds on parameters read from a file, so that a tampered file cannot make
// Get allocate or compute without limit. Writing uses the Keyring's params.
const (
	maxKDFTime      = 64
	maxKDFMemoryKiB = 4 << 20 // 4 GiB
	saltSize        = 16
)

func (p KDFParams) validate() error {
	if p.Time < 1 || p.Time > maxKDFTime || p.MemoryKiB < 1 || p.MemoryKiB > maxKDFMemoryKiB || p.Threads < 1 {
		return fmt.Errorf("argon2id parameters out of range: time=%d memory_kib=%d threads=%d", p.Time, p.MemoryKiB, p.Threads)
	}
	return nil
}

// aad binds the ciphertext to the public parts of the file, so that the
// public key or seal key shown in clear cannot be swapped without Get
// failing.
func aad(f *keyFile) []byte {
	var b bytes.Buffer
	b.WriteString("hypha/keyring/v1\x00")
	b.WriteByte(byte(len(f.PublicKey)))
	b.Write(f.PublicKey)
	b.WriteByte(byte(len(f.SealPublic)))
	b.Write(f.SealPublic)
	return b.Bytes()
}

// newKeyFile builds the file for k and the optional seal key, encrypting the
// secret blob when passphrase is not empty.
func newKeyFile(k keys.PrivateKey, seal keys.SealKey, passphrase string, params KDFParams) (*keyFile, error) {
	pub := k.Public()
	f := &keyFile{
		Version:   fileVersion,
		Type:      pub.Type.String(),
		PublicKey: pub.Bytes(),
		DID:       pub.DID(),
		Address:   pub.Address().Account(),
	}
	secret := k.Bytes()
	defer clear(secret)
	if !seal.IsZero() {
		f.SealPublic = seal.PublicBytes()
		sb := seal.Bytes()
		secret = append(secret, sb...)
		clear(sb)
	}
	if passphrase == "" {
		f.Secret = bytes.Clone(secret)
		return f, nil
	}
	if err := params.validate(); err != nil {
		return nil, err
	}
	f.Encrypted = true
	f.KDF = &kdf{Alg: "argon2id", Time: params.Time, MemoryKiB: params.MemoryKiB, Threads: params.Threads, Salt: make([]byte, saltSize)}
	f.Nonce = make([]byte, chacha20poly1305.NonceSizeX)
	if _, err := io.ReadFull(rand.Reader, f.KDF.Salt); err != nil {
		return nil, fmt.Errorf("salt: %w", err)
	}
	if _, err := io.ReadFull(rand.Reader, f.Nonce); err != nil {
		return nil, fmt.Errorf("nonce: %w", err)
	}
	aead, err := f.aead(passphrase)
	if err != nil {
		return nil, err
	}
	f.Secret = aead.Seal(nil, f.Nonce, secret, aad(f))
	return f, nil
}

// aead derives the file key from passphrase with the file's parameters.
func (f *keyFile) aead(passphrase string) (cipher.AEAD, error) {
	key := argon2.IDKey([]byte(passphrase), f.KDF.Salt, f.KDF.Time, f.KDF.MemoryKiB, f.KDF.Threads, chacha20poly1305.KeySize)
	defer clear(key)
	return chacha20poly1305.NewX(key)
}

// decodeKeyFile parses and checks the public part of a key file.
func decodeKeyFile(data []byte) (*keyFile, keys.PublicKey, error) {
	var f keyFile
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, keys.PublicKey{}, fmt.Errorf("decode: %w", err)
	}
	if dec.More() {
		return nil, keys.PublicKey{}, errors.New("trailing data after JSON object")
	}
	if f.Version != fileVersion {
		return nil, keys.PublicKey{}, fmt.Errorf("unsupported version %d, want %d", f.Version, fileVersion)
	}
	pub, err := keys.ParsePublicKey(f.PublicKey)
	if err != nil {
		return nil, keys.PublicKey{}, err
	}
	if f.Type != pub.Type.String() || f.DID != pub.DID() || f.Address != pub.Address().Account() {
		return nil, keys.PublicKey{}, errors.New("type, did or address does not match public_key")
	}
	if f.SealPublic != nil {
		if _, err := keys.ParseSealPublic(f.SealPublic); err != nil {
			return nil, keys.PublicKey{}, err
		}
	}
	if f.Encrypted {
		if f.KDF == nil || f.KDF.Alg != "argon2id" || len(f.KDF.Salt) < saltSize || len(f.Nonce) != chacha20poly1305.NonceSizeX {
			return nil, keys.PublicKey{}, errors.New("encrypted key without valid argon2id parameters and nonce")
		}
		if err := (KDFParams{Time: f.KDF.Time, MemoryKiB: f.KDF.MemoryKiB, Threads: f.KDF.Threads}).validate(); err != nil {
			return nil, keys.PublicKey{}, err
		}
	} else if f.KDF != nil || f.Nonce != nil {
		return nil, keys.PublicKey{}, errors.New("unencrypted key with kdf or nonce")
	}
	return &f, pub, nil
}

// open decrypts the secret blob if needed and returns the keys in it, after
// checking them against the public key and seal key stored in clear. The
// seal key is zero if the file has none.
func (f *keyFile) open(passphrase string, pub keys.PublicKey) (keys.PrivateKey, keys.SealKey, error) {
	secret := f.Secret
	if f.Encrypted {
		if passphrase == "" {
			return nil, keys.SealKey{}, ErrWrongPassphrase
		}
		aead, err := f.aead(passphrase)
		if err != nil {
			return nil, keys.SealKey{}, err
		}
		secret, err = aead.Open(nil, f.Nonce, f.Secret, aad(f))
		if err != nil {
			return nil, keys.SealKey{}, ErrWrongPassphrase
		}
		defer clear(secret)
	}
	const signLen = 1 + keys.SeedSize
	want := signLen
	if f.SealPublic != nil {
		want += keys.SealKeySize
	}
	if len(secret) != want {
		return nil, keys.SealKey{}, fmt.Errorf("secret is %d bytes, want %d", len(secret), want)
	}
	k, err := keys.PrivateKeyFromBytes(secret[:signLen])
	if err != nil {
		return nil, keys.SealKey{}, err
	}
	if !k.Public().Equal(pub) {
		return nil, keys.SealKey{}, errors.New("private key does not match public_key")
	}
	var seal keys.SealKey
	if f.SealPublic != nil {
		seal, err = keys.SealKeyFromBytes(secret[signLen:])
		if err != nil {
			return nil, keys.SealKey{}, err
		}
		if !bytes.Equal(seal.PublicBytes(), f.SealPublic) {
			return nil, keys.SealKey{}, errors.New("seal key does not match seal_public")
		}
	}
	return k, seal, nil
}

package keys

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"math/big"
)

var (
	p256Order     = elliptic.P256().Params().N
	p256HalfOrder = new(big.Int).Rsh(p256Order, 1) // floor(n/2); n is odd
)

// p256SeedDomain separates the seed-to-scalar derivation of P256FromSeed from
// any other use of SHA-256 over the same seed.
const p256SeedDomain = "hypha/keys/p256-from-seed/v1"

// parseP256 decodes a SEC1 compressed P-256 point. It rejects points that
// are not on the curve, the point at infinity and any other encoding.
func parseP256(compressed []byte) (*ecdsa.PublicKey, error) {
	if len(compressed) != P256PublicKeySize {
		return nil, fmt.Errorf("keys: p256 public key is %d bytes, want %d", len(compressed), P256PublicKeySize)
	}
	x, y := elliptic.UnmarshalCompressed(elliptic.P256(), compressed)
	if x == nil {
		return nil, errors.New("keys: p256 public key is not a compressed point on the curve")
	}
	var uncompressed [65]byte
	uncompressed[0] = 4
	x.FillBytes(uncompressed[1:33])
	y.FillBytes(uncompressed[33:])
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), uncompressed[:])
	if err != nil {
		return nil, fmt.Errorf("keys: p256 public key: %w", err)
	}
	return pub, nil
}

// compressP256 returns the SEC1 compressed form of a valid P-256 key.
func compressP256(pub *ecdsa.PublicKey) ([]byte, error) {
	u, err := pub.Bytes() // 0x04 || X || Y
	if err != nil {
		return nil, fmt.Errorf("keys: encode p256 public key: %w", err)
	}
	out := make([]byte, P256PublicKeySize)
	out[0] = 2 | u[64]&1
	copy(out[1:], u[1:33])
	return out, nil
}

// verifyP256 checks a 64-byte r||s signature over SHA-256(msg), rejecting
// r or s outside [1, n-1] and high-S (s > n/2).
func verifyP256(key, msg, sig []byte) bool {
	if len(sig) != SignatureSize {
		return false
	}
	r := new(big.Int).SetBytes(sig[:32])
	s := new(big.Int).SetBytes(sig[32:])
	if r.Sign() == 0 || r.Cmp(p256Order) >= 0 || s.Sign() == 0 || s.Cmp(p256HalfOrder) > 0 {
		return false
	}
	pub, err := parseP256(key)
	if err != nil {
		return false
	}
	digest := sha256.Sum256(msg)
	return ecdsa.Verify(pub, digest[:], r, s)
}

// P256FromSeed derives a P-256 key deterministically from seed, for tests
// and fixed fixtures. The scalar is SHA-256(p256SeedDomain || seed || c) for
// the first counter byte c = 0, 1, ... whose digest, read big-endian, lies in
// [1, n-1]; c = 0 fails with probability about 2^-32.
func P256FromSeed(seed [SeedSize]byte) PrivateKey {
	buf := make([]byte, 0, len(p256SeedDomain)+SeedSize+1)
	buf = append(buf, p256SeedDomain...)
	buf = append(buf, seed[:]...)
	buf = append(buf, 0)
	for c := range 256 {
		buf[len(buf)-1] = byte(c)
		d := sha256.Sum256(buf)
		if k, err := p256FromScalar(d[:]); err == nil {
			return k
		}
	}
	panic("keys: P256FromSeed: no valid scalar in 256 tries") // probability ~2^-8192
}

// generateP256 reads 32-byte candidates from random until one is a valid
// scalar (rejection sampling, so the scalar is uniform in [1, n-1]).
func generateP256(random io.Reader) (PrivateKey, error) {
	var d [SeedSize]byte
	for range 64 {
		if _, err := io.ReadFull(random, d[:]); err != nil {
			return nil, fmt.Errorf("keys: generate p256: %w", err)
		}
		if k, err := p256FromScalar(d[:]); err == nil {
			return k, nil
		}
	}
	return nil, errors.New("keys: generate p256: random source returned 64 invalid scalars")
}

// p256FromScalar builds a key from a 32-byte big-endian scalar in [1, n-1].
func p256FromScalar(d []byte) (PrivateKey, error) {
	priv, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), d)
	if err != nil {
		return nil, fmt.Errorf("keys: p256 private key: %w", err)
	}
	pub, err := compressP256(&priv.PublicKey)
	if err != nil {
		return nil, err
	}
	return &p256Key{priv: priv, pub: PublicKey{Type: P256, Key: pub}}, nil
}

type p256Key struct {
	priv *ecdsa.PrivateKey
	pub  PublicKey
}

func (k *p256Key) Public() PublicKey {
	return PublicKey{Type: P256, Key: bytes.Clone(k.pub.Key)}
}

// Sign signs SHA-256(msg) with RFC 6979 deterministic nonces and returns
// r||s with s normalised to low-S.
func (k *p256Key) Sign(msg []byte) ([]byte, error) {
	digest := sha256.Sum256(msg)
	der, err := k.priv.Sign(nil, digest[:], crypto.SHA256) // nil rand: RFC 6979
	if err != nil {
		return nil, fmt.Errorf("keys: p256 sign: %w", err)
	}
	var rs struct{ R, S *big.Int }
	rest, err := asn1.Unmarshal(der, &rs)
	if err != nil || len(rest) != 0 {
		return nil, fmt.Errorf("keys: p256 sign: malformed signature from crypto/ecdsa: %v", err)
	}
	if rs.S.Cmp(p256HalfOrder) > 0 {
		rs.S.Sub(p256Order, rs.S)
	}
	sig := make([]byte, SignatureSize)
	rs.R.FillBytes(sig[:32])
	rs.S.FillBytes(sig[32:])
	return sig, nil
}

func (k *p256Key) Type() Type { return P256 }

func (k *p256Key) Bytes() []byte {
	d, err := k.priv.Bytes()
	if err != nil {
		// Unreachable: the key was validated by ParseRawPrivateKey.
		panic("keys: p256 private key encoding: " + err.Error())
	}
	return append([]byte{byte(P256)}, d...)
}

// String keeps secrets out of logs and %v output.
func (k *p256Key) String() string { return "p256 private key " + k.pub.DID() }

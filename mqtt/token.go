package mqtt

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hypha-iot/hypha/keys"
	"github.com/hypha-iot/hypha/txn"
)

// TokenDomain prefixes the bytes a token signature covers, so a token
// signature can never be replayed as a tx signature or anything else Hypha
// signs (txs sign under "hypha/tx/v1").
const TokenDomain = "hypha/mqtt-token/v1"

// Token limits.
const (
	// NonceSize is the size of a token's random nonce.
	NonceSize = 16
	// MaxTokenLen bounds the text form accepted at CONNECT, before any
	// decoding: a real token is about 170 characters.
	MaxTokenLen = 512
)

// Claims is the signed content of a token: who it is for and when it is
// valid. Times are Unix seconds.
//
// Wire form: canonical CBOR (RFC 8949 §4.2), {1: id (20-byte bstr),
// 2: issued_at (uint), 3: expires_at (uint), 4: nonce (16-byte bstr)}.
type Claims struct {
	ID        keys.Address `cbor:"1,keyasint"`
	IssuedAt  uint64       `cbor:"2,keyasint"`
	ExpiresAt uint64       `cbor:"3,keyasint"`
	Nonce     []byte       `cbor:"4,keyasint"`
}

// Token is a parsed MQTT password: the claims, their exact encoded bytes and
// the signature over TokenDomain || those bytes.
type Token struct {
	Claims Claims
	raw    []byte
	Sig    []byte
}

// SignBytes returns the bytes the token's signature covers.
func (t *Token) SignBytes() []byte {
	return append([]byte(TokenDomain), t.raw...)
}

// String returns the text form, base64url(claims) "." base64url(sig), both
// without padding.
func (t *Token) String() string {
	enc := base64.RawURLEncoding
	return enc.EncodeToString(t.raw) + "." + enc.EncodeToString(t.Sig)
}

// MakeToken returns a password for identity id, signed by k (the identity's
// current key), valid from now for ttl. The broker accepts it only if ttl is
// within its TokenMaxAge. The nonce comes from crypto/rand, so two tokens
// made at the same second differ.
func MakeToken(k keys.PrivateKey, id keys.Address, now time.Time, ttl time.Duration) (string, error) {
	if k == nil {
		return "", errors.New("mqtt: make token: nil key")
	}
	if ttl < time.Second {
		return "", fmt.Errorf("mqtt: make token: ttl %v, want at least 1s", ttl)
	}
	if now.Unix() < 0 {
		return "", fmt.Errorf("mqtt: make token: time %v before 1970", now)
	}
	nonce := make([]byte, NonceSize)
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("mqtt: make token: nonce: %w", err)
	}
	c := Claims{
		ID:        id,
		IssuedAt:  uint64(now.Unix()),
		ExpiresAt: uint64(now.Add(ttl).Unix()),
		Nonce:     nonce,
	}
	t, err := SignClaims(k, c)
	if err != nil {
		return "", err
	}
	return t.String(), nil
}

// SignClaims encodes and signs c with k. Most callers want MakeToken; this
// one lets tests and tools choose every claim.
func SignClaims(k keys.PrivateKey, c Claims) (*Token, error) {
	raw, err := txn.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("mqtt: encode token claims: %w", err)
	}
	t := &Token{Claims: c, raw: raw}
	if t.Sig, err = k.Sign(t.SignBytes()); err != nil {
		return nil, fmt.Errorf("mqtt: sign token: %w", err)
	}
	return t, nil
}

// ParseToken decodes the text form of a token strictly: two unpadded
// base64url parts, canonical CBOR claims with every field present and a
// 16-byte nonce, and a 64-byte signature. It does not check the signature or
// the times; see Token.Verify.
func ParseToken(s string) (*Token, error) {
	if len(s) > MaxTokenLen {
		return nil, fmt.Errorf("mqtt: token is %d characters, limit %d", len(s), MaxTokenLen)
	}
	claims, sig, ok := strings.Cut(s, ".")
	if !ok {
		return nil, errors.New("mqtt: token: want claims.signature")
	}
	// encoding/base64 skips \r and \n even in strict mode: refuse every
	// byte outside the URL-safe alphabet, so a token has one text form.
	if i := strings.IndexFunc(claims+sig, func(r rune) bool {
		return !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_')
	}); i >= 0 {
		return nil, errors.New("mqtt: token: a character outside base64url")
	}
	enc := base64.RawURLEncoding.Strict()
	raw, err := enc.DecodeString(claims)
	if err != nil {
		return nil, fmt.Errorf("mqtt: token claims: %w", err)
	}
	t := &Token{raw: raw}
	if t.Sig, err = enc.DecodeString(sig); err != nil {
		return nil, fmt.Errorf("mqtt: token signature: %w", err)
	}
	if len(t.Sig) != keys.SignatureSize {
		return nil, fmt.Errorf("mqtt: token signature is %d bytes, want %d", len(t.Sig), keys.SignatureSize)
	}
	if err := txn.Unmarshal(raw, &t.Claims); err != nil {
		return nil, fmt.Errorf("mqtt: token claims: %w", err)
	}
	if len(t.Claims.Nonce) != NonceSize {
		return nil, fmt.Errorf("mqtt: token nonce is %d bytes, want %d", len(t.Claims.Nonce), NonceSize)
	}
	if t.Claims.ExpiresAt <= t.Claims.IssuedAt {
		return nil, errors.New("mqtt: token expires before it is issued")
	}
	return t, nil
}

// Token verification failures, for callers that branch (the broker maps
// them all to "bad user name or password").
var (
	ErrTokenSignature = errors.New("mqtt: token signature does not verify")
	ErrTokenExpired   = errors.New("mqtt: token expired")
	ErrTokenEarly     = errors.New("mqtt: token not valid yet")
	ErrTokenTooLong   = errors.New("mqtt: token lifetime above the maximum")
	ErrTokenIdentity  = errors.New("mqtt: token is for another identity")
)

// CheckClaims checks the claims alone: t is for id, its lifetime is at most
// maxAge, it was issued no later than now+skew and does not expire before
// now-skew. It is cheap, so the broker runs it before any lookup.
func (t *Token) CheckClaims(id keys.Address, now time.Time, maxAge, skew time.Duration) error {
	c := t.Claims
	if c.ID != id {
		return ErrTokenIdentity
	}
	if c.ExpiresAt-c.IssuedAt > uint64(maxAge/time.Second) {
		return fmt.Errorf("%w: %ds, limit %v", ErrTokenTooLong, c.ExpiresAt-c.IssuedAt, maxAge)
	}
	sec := now.Unix()
	sk := int64(skew / time.Second)
	if c.IssuedAt > uint64(max(sec+sk, 0)) {
		return fmt.Errorf("%w: issued at %d, now %d", ErrTokenEarly, c.IssuedAt, sec)
	}
	if int64(min(c.ExpiresAt, 1<<62)) <= sec-sk {
		return fmt.Errorf("%w: at %d, now %d", ErrTokenExpired, c.ExpiresAt, sec)
	}
	return nil
}

// Verify runs CheckClaims and then checks the signature with pub, the
// identity's current key.
func (t *Token) Verify(pub keys.PublicKey, id keys.Address, now time.Time, maxAge, skew time.Duration) error {
	if err := t.CheckClaims(id, now, maxAge, skew); err != nil {
		return err
	}
	if !pub.Verify(t.SignBytes(), t.Sig) {
		return ErrTokenSignature
	}
	return nil
}

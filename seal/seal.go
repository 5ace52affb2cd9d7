package seal

import (
	"crypto/hkdf"
	"crypto/hpke"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"

	"golang.org/x/crypto/chacha20poly1305"

	"github.com/hypha-iot/hypha/keys"
	"github.com/hypha-iot/hypha/txn"
)

// MaxRecipients is the most keys one box is sealed to: the recipient and up
// to three extra recipients.
const MaxRecipients = 4

// Version is the only box version this package writes and reads.
const Version = 1

// KeyIDSize is the size of a key id, see [KeyID].
const KeyIDSize = 8

// Sizes of the fixed-length fields of a box.
const (
	contentKeySize = 32
	commitSize     = 32
	encSize        = 32                                         // DHKEM(X25519) encapsulated key
	sealedKeySize  = contentKeySize + chacha20poly1305.Overhead // HPKE ciphertext of K
)

// Domain-separation labels. Changing any of them is a new format version.
const (
	hpkeInfo  = "hypha/seal/v1"
	deriveTag = "hypha/seal/v1 payload"
)

// Errors returned by Open and Seal. Open's errors are always one of the
// first three, possibly wrapping a cause; compare with errors.Is.
var (
	// ErrNotForMe: the box has no entry for the key used to open it.
	ErrNotForMe = errors.New("seal: box is not sealed to this key")
	// ErrTampered: authentication failed. The header differs from the one the
	// box was sealed under (recipient, sender, kind, message id or chain id)
	// or bytes of the box were changed.
	ErrTampered = errors.New("seal: box does not authenticate")
	// ErrMalformed: the bytes are not a well-formed, canonical box.
	ErrMalformed = errors.New("seal: malformed box")
	// ErrInvalidRecipients: Seal was given an invalid or low-order public
	// key, the same key twice, or more than MaxRecipients keys.
	ErrInvalidRecipients = errors.New("seal: invalid recipients")
)

// Header is what every recipient's ciphertext is bound to: its canonical
// CBOR encoding is the associated data of the payload and of every HPKE
// entry. Receivers must fill it from the signed transaction that carried the
// box (see the package doc).
type Header struct {
	Sender    keys.Address `cbor:"1,keyasint"` // tx signer (account or device id)
	Recipient keys.Address `cbor:"2,keyasint"` // device id or account
	Kind      uint8        `cbor:"3,keyasint"` // 0 data, 1 command, 2 command-result (the ledger's kinds)
	MsgID     [16]byte     `cbor:"4,keyasint"` // client-chosen, unique per sender
	ChainID   string       `cbor:"5,keyasint"` // binds to one chain
}

// aad returns the canonical CBOR encoding of h.
func (h Header) aad() ([]byte, error) {
	b, err := txn.Marshal(h)
	if err != nil {
		return nil, fmt.Errorf("seal: encode header: %w", err)
	}
	return b, nil
}

// Box is a sealed message as carried in a message.send transaction; its
// encoding is given in the package doc.
type Box struct {
	Version    uint64  `cbor:"1,keyasint"`
	Entries    []Entry `cbor:"2,keyasint"`
	Commitment []byte  `cbor:"3,keyasint"`
	Ciphertext []byte  `cbor:"4,keyasint"`
}

// Entry is the content key sealed to one recipient key.
type Entry struct {
	KeyID     []byte `cbor:"1,keyasint"`
	Enc       []byte `cbor:"2,keyasint"`
	SealedKey []byte `cbor:"3,keyasint"`
}

// KeyID returns the id under which a box lists the X25519 public key pub:
// the first 8 bytes of SHA-256(pub). It does not validate pub.
func KeyID(pub []byte) [KeyIDSize]byte {
	sum := sha256.Sum256(pub)
	return [KeyIDSize]byte(sum[:KeyIDSize])
}

// suite returns the fixed HPKE KDF and AEAD.
func suite() (hpke.KDF, hpke.AEAD) { return hpke.HKDFSHA256(), hpke.ChaCha20Poly1305() }

// Seal encrypts plaintext to the X25519 public key to (32 bytes, as
// published on the ledger) and to each extra key, bound to h, and returns the
// encoded box.
//
// The content key is read from random (crypto/rand if nil), which must be a
// cryptographically secure source: a repeated content key with the fixed
// payload nonce breaks confidentiality. The HPKE ephemeral keys always come
// from crypto/rand, as crypto/hpke draws them itself.
//
// Seal fails with ErrInvalidRecipients for a malformed or low-order key, a
// key given twice, or more than MaxRecipients keys in all.
func Seal(random io.Reader, h Header, plaintext []byte, to []byte, extra ...[]byte) ([]byte, error) {
	if random == nil {
		random = rand.Reader
	}
	all := append([][]byte{to}, extra...)
	if len(all) > MaxRecipients {
		return nil, fmt.Errorf("%w: %d keys, at most %d", ErrInvalidRecipients, len(all), MaxRecipients)
	}
	pubs := make([]hpke.PublicKey, len(all))
	ids := make([][KeyIDSize]byte, len(all))
	for i, raw := range all {
		pub, err := keys.ParseSealPublic(raw)
		if err != nil {
			return nil, fmt.Errorf("%w: key %d: %w", ErrInvalidRecipients, i, err)
		}
		if pubs[i], err = hpke.NewDHKEMPublicKey(pub); err != nil {
			return nil, fmt.Errorf("%w: key %d: %w", ErrInvalidRecipients, i, err)
		}
		ids[i] = KeyID(raw)
		for j := range i {
			if ids[j] == ids[i] {
				return nil, fmt.Errorf("%w: keys %d and %d have the same key id %x", ErrInvalidRecipients, j, i, ids[i])
			}
		}
	}
	aad, err := h.aad()
	if err != nil {
		return nil, err
	}

	var k [contentKeySize]byte
	if _, err := io.ReadFull(random, k[:]); err != nil {
		return nil, fmt.Errorf("seal: content key: %w", err)
	}
	payloadKey, commit, err := derive(k[:])
	if err != nil {
		return nil, err
	}
	aead, err := chacha20poly1305.New(payloadKey)
	if err != nil {
		return nil, fmt.Errorf("seal: payload cipher: %w", err)
	}
	var nonce [chacha20poly1305.NonceSize]byte
	box := Box{
		Version:    Version,
		Entries:    make([]Entry, len(pubs)),
		Commitment: commit,
		Ciphertext: aead.Seal(nil, nonce[:], plaintext, aad),
	}
	kdf, hpkeAEAD := suite()
	for i, pub := range pubs {
		enc, s, err := hpke.NewSender(pub, kdf, hpkeAEAD, []byte(hpkeInfo))
		if err != nil {
			return nil, fmt.Errorf("seal: hpke to key %d: %w", i, err)
		}
		sealed, err := s.Seal(aad, k[:])
		if err != nil {
			return nil, fmt.Errorf("seal: hpke to key %d: %w", i, err)
		}
		box.Entries[i] = Entry{KeyID: ids[i][:], Enc: enc, SealedKey: sealed}
	}
	clear(k[:])
	out, err := txn.Marshal(box)
	if err != nil {
		return nil, fmt.Errorf("seal: encode box: %w", err)
	}
	return out, nil
}

// Open finds the entry for key in box, recovers the content key and returns
// the plaintext, provided box was sealed under exactly h.
//
// It fails with ErrMalformed if box is not a well-formed canonical box,
// ErrNotForMe if box lists no entry for key, and ErrTampered if the entry,
// the commitment or the ciphertext does not authenticate under h. It never
// panics on any input.
func Open(h Header, box []byte, key keys.SealKey) ([]byte, error) {
	if key.IsZero() {
		return nil, errors.New("seal: open with the zero SealKey")
	}
	b, err := parse(box)
	if err != nil {
		return nil, err
	}
	id := KeyID(key.PublicBytes())
	var entry *Entry
	for i := range b.Entries {
		if subtle.ConstantTimeCompare(b.Entries[i].KeyID, id[:]) == 1 {
			entry = &b.Entries[i]
			break
		}
	}
	if entry == nil {
		return nil, fmt.Errorf("%w: no entry for key id %x", ErrNotForMe, id)
	}
	aad, err := h.aad()
	if err != nil {
		return nil, err
	}
	priv, err := hpke.NewDHKEMPrivateKey(key.Private())
	if err != nil {
		return nil, fmt.Errorf("seal: private key: %w", err)
	}
	kdf, hpkeAEAD := suite()
	// NewRecipient fails only on a bad enc (e.g. a low-order point): a
	// modified entry, so tampering rather than malformation.
	r, err := hpke.NewRecipient(entry.Enc, priv, kdf, hpkeAEAD, []byte(hpkeInfo))
	if err != nil {
		return nil, fmt.Errorf("%w: entry %x: %w", ErrTampered, id, err)
	}
	k, err := r.Open(aad, entry.SealedKey)
	if err != nil {
		return nil, fmt.Errorf("%w: entry %x: %w", ErrTampered, id, err)
	}
	defer clear(k)
	payloadKey, commit, err := derive(k)
	if err != nil {
		return nil, err
	}
	if subtle.ConstantTimeCompare(commit, b.Commitment) != 1 {
		return nil, fmt.Errorf("%w: key commitment mismatch", ErrTampered)
	}
	aead, err := chacha20poly1305.New(payloadKey)
	if err != nil {
		return nil, fmt.Errorf("seal: payload cipher: %w", err)
	}
	var nonce [chacha20poly1305.NonceSize]byte
	pt, err := aead.Open(nil, nonce[:], b.Ciphertext, aad)
	if err != nil {
		return nil, fmt.Errorf("%w: payload: %w", ErrTampered, err)
	}
	if pt == nil {
		pt = []byte{}
	}
	return pt, nil
}

// Recipients returns the key ids that box is sealed to, the main recipient
// first. It validates the encoding as Open does (ErrMalformed) but checks no
// authentication.
func Recipients(box []byte) ([][KeyIDSize]byte, error) {
	b, err := parse(box)
	if err != nil {
		return nil, err
	}
	ids := make([][KeyIDSize]byte, len(b.Entries))
	for i, e := range b.Entries {
		ids[i] = [KeyIDSize]byte(e.KeyID)
	}
	return ids, nil
}

// derive expands the content key into the payload key and the key
// commitment.
func derive(k []byte) (payloadKey, commit []byte, err error) {
	out, err := hkdf.Expand(sha256.New, k, deriveTag, chacha20poly1305.KeySize+commitSize)
	if err != nil {
		return nil, nil, fmt.Errorf("seal: derive: %w", err)
	}
	return out[:chacha20poly1305.KeySize], out[chacha20poly1305.KeySize:], nil
}

// parse decodes box strictly and checks every structural rule of the format.
// Every error wraps ErrMalformed.
func parse(box []byte) (*Box, error) {
	var b Box
	if err := txn.Unmarshal(box, &b); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if b.Version != Version {
		return nil, fmt.Errorf("%w: version %d, want %d", ErrMalformed, b.Version, Version)
	}
	if n := len(b.Entries); n == 0 || n > MaxRecipients {
		return nil, fmt.Errorf("%w: %d entries, want 1 to %d", ErrMalformed, n, MaxRecipients)
	}
	for i, e := range b.Entries {
		switch {
		case len(e.KeyID) != KeyIDSize:
			return nil, fmt.Errorf("%w: entry %d: key id is %d bytes, want %d", ErrMalformed, i, len(e.KeyID), KeyIDSize)
		case len(e.Enc) != encSize:
			return nil, fmt.Errorf("%w: entry %d: enc is %d bytes, want %d", ErrMalformed, i, len(e.Enc), encSize)
		case len(e.SealedKey) != sealedKeySize:
			return nil, fmt.Errorf("%w: entry %d: sealed key is %d bytes, want %d", ErrMalformed, i, len(e.SealedKey), sealedKeySize)
		}
		for j := range i {
			if string(b.Entries[j].KeyID) == string(e.KeyID) {
				return nil, fmt.Errorf("%w: entries %d and %d share key id %x", ErrMalformed, j, i, e.KeyID)
			}
		}
	}
	if len(b.Commitment) != commitSize {
		return nil, fmt.Errorf("%w: commitment is %d bytes, want %d", ErrMalformed, len(b.Commitment), commitSize)
	}
	if len(b.Ciphertext) < chacha20poly1305.Overhead {
		return nil, fmt.Errorf("%w: ciphertext is %d bytes, shorter than its %d-byte tag", ErrMalformed, len(b.Ciphertext), chacha20poly1305.Overhead)
	}
	return &b, nil
}

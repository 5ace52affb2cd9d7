// Package txn defines Hypha's transaction format: the envelope
// {chain_id, signer, pubkey?, nonce, fee, msgs[], memo} plus signatures, its
// canonical CBOR encoding (RFC 8949 §4.2), strict decoding, sign bytes and
// hash, the message kinds with their stable type tags, and a builder shared by
// tests, the CLI and SDKs.
//
// Wire form (integer map keys; see docs/transactions.md):
//
//	tx   = {1: body, 2: sig, ?3: [cosig...]}
//	body = {1: chain_id, 2: signer(20 bytes), ?3: pubkey, 4: nonce,
//	        5: {1: fee_amount, 2: gas_limit}, 6: [[type, msg]...], ?7: memo}
//	cosig = {1: pubkey, 2: sig}
//
// Sign bytes are "hypha/tx/v1" || canonical_cbor(body); every signature (the
// signer's and each co-signer's) covers the same sign bytes. The tx hash is
// SHA-256 of the whole encoded tx.
package txn

import (
	"crypto/sha256"

	"github.com/fxamacker/cbor/v2"

	"github.com/hypha-iot/hypha/errs"
	"github.com/hypha-iot/hypha/keys"
)

// SignDomain prefixes every signed body, so a signature over a tx can never
// be replayed as a signature over anything else Hypha signs.
const SignDomain = "hypha/tx/v1"

// DefaultMaxTxBytes is the default chain limit on an encoded tx.
const DefaultMaxTxBytes = 64 << 10

// Tx is a signed transaction.
type Tx struct {
	Body   Body    `cbor:"1,keyasint"`
	Sig    []byte  `cbor:"2,keyasint"`
	Cosigs []Cosig `cbor:"3,keyasint,omitempty"`

	raw       []byte
	hash      [32]byte
	signBytes []byte
}

// Body is the signed part of a Tx.
type Body struct {
	ChainID string       `cbor:"1,keyasint"`
	Signer  keys.Address `cbor:"2,keyasint"`
	// PubKey is the signer's public key (keys.PublicKey.Bytes form). An
	// account's first tx must carry it; later txs may omit it. Device
	// signers never need it: the ledger holds the device's current key.
	PubKey []byte   `cbor:"3,keyasint,omitempty"`
	Nonce  uint64   `cbor:"4,keyasint"`
	Fee    Fee      `cbor:"5,keyasint"`
	Msgs   []AnyMsg `cbor:"6,keyasint"`
	Memo   string   `cbor:"7,keyasint,omitempty"`
}

// Fee is what the signer pays, whatever the outcome, for at most GasLimit gas.
type Fee struct {
	Amount   Amount `cbor:"1,keyasint"`
	GasLimit uint64 `cbor:"2,keyasint"`
}

// Cosig is an extra signature over the same sign bytes, by a key that a msg
// needs: a device proving possession of its key at registration, a new owner
// accepting a transfer, a new key at rotation.
type Cosig struct {
	PubKey []byte `cbor:"1,keyasint"`
	Sig    []byte `cbor:"2,keyasint"`
}

// Decode parses an encoded tx strictly. maxBytes bounds the input (0 means
// DefaultMaxTxBytes). Every error carries an errs class.
func Decode(b []byte, maxBytes int) (*Tx, error) {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxTxBytes
	}
	if len(b) > maxBytes {
		return nil, errs.ErrTxTooLarge.Wrap("%d bytes, limit %d", len(b), maxBytes)
	}
	var w wireTx
	if err := Unmarshal(b, &w); err != nil {
		return nil, err
	}
	tx := &Tx{Sig: w.Sig, Cosigs: w.Cosigs}
	if err := Unmarshal(w.Body, &tx.Body); err != nil {
		return nil, err
	}
	tx.raw = append([]byte(nil), b...)
	tx.hash = sha256.Sum256(b)
	tx.signBytes = make([]byte, 0, len(SignDomain)+len(w.Body))
	tx.signBytes = append(append(tx.signBytes, SignDomain...), w.Body...)
	return tx, nil
}

// wireTx is Tx with its body left encoded, so that decoding keeps the exact
// body bytes the signatures cover.
type wireTx struct {
	Body   cbor.RawMessage `cbor:"1,keyasint"`
	Sig    []byte          `cbor:"2,keyasint"`
	Cosigs []Cosig         `cbor:"3,keyasint,omitempty"`
}

// SignBytes returns the bytes every signature on tx covers.
func (tx *Tx) SignBytes() ([]byte, error) {
	if tx.signBytes != nil {
		return tx.signBytes, nil
	}
	return tx.Body.SignBytes()
}

// Encode returns the canonical encoding of tx.
func (tx *Tx) Encode() ([]byte, error) {
	if tx.raw != nil {
		return tx.raw, nil
	}
	return Marshal(tx)
}

// Bytes is the encoded tx as decoded or built; nil for a Tx assembled by hand
// and not yet encoded.
func (tx *Tx) Bytes() []byte { return tx.raw }

// Hash is SHA-256 of the encoded tx.
func (tx *Tx) Hash() [32]byte {
	if tx.raw == nil {
		b, err := Marshal(tx)
		if err != nil {
			return [32]byte{}
		}
		tx.raw = b
		tx.hash = sha256.Sum256(b)
	}
	return tx.hash
}

// SignBytes returns the bytes every signature on this body covers.
func (b *Body) SignBytes() ([]byte, error) {
	enc, err := Marshal(b)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, len(SignDomain)+len(enc))
	out = append(out, SignDomain...)
	return append(out, enc...), nil
}

// Hash returns SHA-256 of an encoded tx, for callers holding raw bytes.
func Hash(b []byte) [32]byte { return sha256.Sum256(b) }

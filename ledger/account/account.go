// Package account is the ledger's account domain: balances in uhyp, the
// exact next nonce, and the public key an account proved on its first tx.
// It owns the state prefix "acct/".
//
// An account is the hot state of its address: what changes whenever the
// address signs. For a registered device that is its fee balance, its
// counter and its direct-reading head, all in one record, so that a
// device's reading writes one record of the tree besides its reading log
// (decision 0018).
package account

import (
	"fmt"

	"github.com/fxamacker/cbor/v2"

	"github.com/hypha-iot/hypha/errs"
	"github.com/hypha-iot/hypha/keys"
	"github.com/hypha-iot/hypha/ledger/exec"
	"github.com/hypha-iot/hypha/txn"
)

// Prefix is this domain's key prefix.
const Prefix = "acct/"

// Account is the state of one address. Device ids are addresses too, so a
// device can hold tokens and pay its own fees.
type Account struct {
	Balance txn.Amount `cbor:"1,keyasint" json:"balance"`
	// Nonce is the next nonce this account's txs must carry. For a
	// registered device it is instead the highest counter its txs have used
	// (0 before the first); its next tx must carry a greater one.
	Nonce  uint64 `cbor:"2,keyasint" json:"nonce"`
	PubKey []byte `cbor:"3,keyasint,omitempty" json:"pubkey,omitempty"`
	// SealKey is the X25519 key messages to this account are sealed to.
	SealKey []byte `cbor:"4,keyasint,omitempty" json:"seal_key,omitempty"`
	// Readings is a device's direct-reading head, a ReadingHead in
	// canonical CBOR; nil before its first reading. It stays encoded so that
	// the fee and counter update of every device tx passes it through
	// without decoding it: use ReadingHead (package reading writes it).
	Readings cbor.RawMessage `cbor:"5,keyasint,omitempty" json:"-"`
}

// ReadingHead decodes a's reading head; nil if it has none.
func (a *Account) ReadingHead() (*ReadingHead, error) {
	if a.Readings == nil {
		return nil, nil
	}
	var h ReadingHead
	if err := txn.UnmarshalRecord(a.Readings, &h); err != nil {
		return nil, fmt.Errorf("reading head: %w", err)
	}
	return &h, nil
}

// ReadingHead is a device's direct-reading state (see the reading package):
// how many readings it has made, the latest with its body, and the refs of
// the newest ones, which are not yet sealed into a chunk of its log.
type ReadingHead struct {
	Count  uint64  `cbor:"1,keyasint" json:"count"`
	Latest Reading `cbor:"2,keyasint" json:"latest"`
	// Open holds the refs of readings Count-len(Open) to Count-1, in order.
	Open []ReadingRef `cbor:"3,keyasint,omitempty" json:"open,omitempty"`
}

// Reading is a device's latest direct reading, with its body.
type Reading struct {
	Counter uint64 `cbor:"1,keyasint" json:"counter"`
	Index   uint64 `cbor:"2,keyasint" json:"index"`
	Height  int64  `cbor:"3,keyasint" json:"height"`
	// Time is the block time in Unix nanoseconds.
	Time    int64  `cbor:"4,keyasint" json:"time"`
	TxHash  []byte `cbor:"5,keyasint" json:"tx_hash"`
	Payload []byte `cbor:"6,keyasint" json:"payload"`
}

// ReadingRef is one entry of a device's reading log: where and when the
// reading was made, and the digest of its body (the body itself stays in
// the block, in the tx TxHash names).
type ReadingRef struct {
	Index   uint64 `cbor:"1,keyasint" json:"index"`
	Counter uint64 `cbor:"2,keyasint" json:"counter"`
	Height  int64  `cbor:"3,keyasint" json:"height"`
	Time    int64  `cbor:"4,keyasint" json:"time"`
	TxHash  []byte `cbor:"5,keyasint" json:"tx_hash"`
	// Digest is SHA-256 of the payload.
	Digest  []byte `cbor:"6,keyasint" json:"digest"`
	Size    uint32 `cbor:"7,keyasint" json:"size"`
	Records uint32 `cbor:"8,keyasint" json:"records"`
}

// Key is the state key of addr's account.
func Key(addr keys.Address) []byte {
	k := make([]byte, 0, len(Prefix)+keys.AddressSize)
	return append(append(k, Prefix...), addr[:]...)
}

// Get returns addr's account; the zero Account if it has none.
func Get(c *exec.Context, addr keys.Address) Account {
	var a Account
	c.GetRecord(Key(addr), &a)
	return a
}

// Put writes addr's account.
func Put(c *exec.Context, addr keys.Address, a Account) { c.SetRecord(Key(addr), &a) }

// Send moves amount from one address to another, emitting a transfer event.
func Send(c *exec.Context, from, to keys.Address, amount txn.Amount) error {
	if amount == 0 {
		return errs.ErrZeroAmount.Wrap("transfer of zero")
	}
	src := Get(c, from)
	bal, err := src.Balance.Sub(amount)
	if err != nil {
		return err
	}
	src.Balance = bal
	if from == to {
		// A self-transfer must still be affordable, and changes nothing.
		c.Emit("transfer", exec.Ix("from", from.String()), exec.Ix("to", to.String()), exec.A("amount", exec.U(uint64(amount))))
		return nil
	}
	dst := Get(c, to)
	if dst.Balance, err = dst.Balance.Add(amount); err != nil {
		return err
	}
	Put(c, from, src)
	Put(c, to, dst)
	c.Emit("transfer", exec.Ix("from", from.String()), exec.Ix("to", to.String()), exec.A("amount", exec.U(uint64(amount))))
	return nil
}

// HandleSend executes an account.send msg from the tx signer.
func HandleSend(c *exec.Context, m *txn.Send) error {
	return Send(c, c.Signer, m.To, m.Amount)
}

// Credit adds amount to addr (genesis allocations, fee pool).
func Credit(c *exec.Context, addr keys.Address, amount txn.Amount) error {
	a := Get(c, addr)
	var err error
	if a.Balance, err = a.Balance.Add(amount); err != nil {
		return err
	}
	Put(c, addr, a)
	return nil
}

// Package account is the ledger's account domain: balances in uhyp, the
// exact next nonce, and the public key an account proved on its first tx.
// It owns the state prefix "acct/".
package account

import (
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
	// Nonce is the next nonce this account's txs must carry.
	Nonce  uint64 `cbor:"2,keyasint" json:"nonce"`
	PubKey []byte `cbor:"3,keyasint,omitempty" json:"pubkey,omitempty"`
	// SealKey is the X25519 key messages to this account are sealed to.
	SealKey []byte `cbor:"4,keyasint,omitempty" json:"seal_key,omitempty"`
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

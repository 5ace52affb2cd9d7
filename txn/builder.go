package txn

import (
	"crypto/sha256"

	"github.com/hypha-iot/hypha/errs"
	"github.com/hypha-iot/hypha/keys"
)

// Builder assembles and signs a tx. It is the one way tests, the CLI and SDKs
// make transactions:
//
//	tx, err := txn.New(chainID, owner.Public().Address(), nonce).
//		WithPubKey(owner.Public()).
//		WithFee(2000, 200_000).
//		Add(&txn.Send{To: bob, Amount: 5}).
//		Sign(owner)
type Builder struct {
	body Body
	err  error
}

// New starts a tx from signer with the given nonce (for an account, its next
// nonce; for a device, a counter above its last one).
func New(chainID string, signer keys.Address, nonce uint64) *Builder {
	return &Builder{body: Body{ChainID: chainID, Signer: signer, Nonce: nonce}}
}

// WithPubKey attaches the signer's public key (needed on an account's first tx).
func (b *Builder) WithPubKey(pk keys.PublicKey) *Builder {
	b.body.PubKey = pk.Bytes()
	return b
}

// WithFee sets the fee amount (uhyp) and gas limit.
func (b *Builder) WithFee(amount, gasLimit uint64) *Builder {
	b.body.Fee = Fee{Amount: Amount(amount), GasLimit: gasLimit}
	return b
}

// WithMemo sets the memo.
func (b *Builder) WithMemo(memo string) *Builder {
	b.body.Memo = memo
	return b
}

// Add appends msgs.
func (b *Builder) Add(msgs ...Msg) *Builder {
	for _, m := range msgs {
		if m == nil {
			b.err = errs.ErrInvalidMsg.Wrap("nil message")
			continue
		}
		b.body.Msgs = append(b.body.Msgs, AnyMsg{Msg: m})
	}
	return b
}

// Body returns the body built so far.
func (b *Builder) Body() Body { return b.body }

// Sign signs the body with signer and each co-signer and returns the tx,
// encoded and hashed. It does not check the tx against any state.
func (b *Builder) Sign(signer keys.PrivateKey, cosigners ...keys.PrivateKey) (*Tx, error) {
	if b.err != nil {
		return nil, b.err
	}
	return Sign(b.body, signer, cosigners...)
}

// Sign signs body and returns the finished tx.
func Sign(body Body, signer keys.PrivateKey, cosigners ...keys.PrivateKey) (*Tx, error) {
	sb, err := body.SignBytes()
	if err != nil {
		return nil, err
	}
	tx := &Tx{Body: body}
	if tx.Sig, err = signer.Sign(sb); err != nil {
		return nil, err
	}
	for _, c := range cosigners {
		sig, err := c.Sign(sb)
		if err != nil {
			return nil, err
		}
		tx.Cosigs = append(tx.Cosigs, Cosig{PubKey: c.Public().Bytes(), Sig: sig})
	}
	raw, err := Marshal(tx)
	if err != nil {
		return nil, err
	}
	tx.raw = raw
	tx.hash = sha256.Sum256(raw)
	tx.signBytes = sb
	return tx, nil
}

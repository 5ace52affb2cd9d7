package txn

import (
	"unicode"

	"github.com/hypha-iot/hypha/errs"
	"github.com/hypha-iot/hypha/keys"
)

// Contract field limits checked statelessly. The code size limit that
// applies is the chain parameter max_code_bytes; MaxCodeSize only bounds
// what a msg may claim.
const (
	// CodeHashSize is the size of a code hash: SHA-256 of the code.
	CodeHashSize = 32
	// MaxCodeSize bounds ContractStore.TotalSize (64 MiB, the runtime's
	// own ceiling).
	MaxCodeSize = 64 << 20
	// MaxContractLabelBytes bounds a contract's label.
	MaxContractLabelBytes = 128
)

// KindContractCommand is the message kind of a command a contract sent. Only
// the ledger writes it (message.send refuses kinds above
// KindCommandResult), and its box is not sealed: a contract holds no
// private key and its inputs are public, so the box is the canonical CBOR of
// {1: command kind (text), 2: payload (bytes)} in plaintext
// (docs/decisions/0017-contracts.md).
const KindContractCommand uint8 = 3

// ContractStore uploads one chunk of contract code. Code is larger than a
// tx (a Go contract is 2-3 MB), so it arrives in chunks, in order, from
// one signer: chunk 0 starts the upload, each further chunk carries the
// next Index, and the chunk that brings the bytes received to TotalSize
// completes it: the ledger checks that the bytes hash to CodeHash,
// validates and compiles the code, and records it under its hash, for
// anyone to instantiate. Chunk sizes are the sender's choice (at least one
// byte; the tx size limit bounds them).
type ContractStore struct {
	CodeHash  []byte `cbor:"1,keyasint"`
	TotalSize uint64 `cbor:"2,keyasint"`
	Index     uint32 `cbor:"3,keyasint"`
	Chunk     []byte `cbor:"4,keyasint"`
}

// Type implements Msg.
func (*ContractStore) Type() MsgType { return TypeContractStore }

// ValidateBasic implements Msg.
func (m *ContractStore) ValidateBasic() error {
	if err := checkCodeHash(m.CodeHash); err != nil {
		return err
	}
	if m.TotalSize == 0 || m.TotalSize > MaxCodeSize {
		return errs.ErrInvalidMsg.Wrap("contract code: total size %d outside [1, %d]", m.TotalSize, MaxCodeSize)
	}
	if len(m.Chunk) == 0 || uint64(len(m.Chunk)) > m.TotalSize {
		return errs.ErrInvalidMsg.Wrap("contract code: chunk of %d bytes for a total of %d", len(m.Chunk), m.TotalSize)
	}
	if uint64(m.Index) >= m.TotalSize {
		return errs.ErrInvalidMsg.Wrap("contract code: chunk index %d past a total of %d bytes", m.Index, m.TotalSize)
	}
	return nil
}

// ContractCancelStore abandons the signer's upload of CodeHash and deletes
// the chunks received (an upload whose last chunk failed to validate, or
// one no longer wanted).
type ContractCancelStore struct {
	CodeHash []byte `cbor:"1,keyasint"`
}

// Type implements Msg.
func (*ContractCancelStore) Type() MsgType { return TypeContractCancelStore }

// ValidateBasic implements Msg.
func (m *ContractCancelStore) ValidateBasic() error { return checkCodeHash(m.CodeHash) }

// ContractInstantiate creates a contract running the stored code CodeHash.
// Its address is derived from the signer, the tx nonce and the msg index
// (so a client knows it before sending). Funds move from the signer to the
// contract's account, then the code's instantiate entry point, if it
// exports one, runs with Args as its input. Admin, if set, may migrate the
// contract to other code.
type ContractInstantiate struct {
	CodeHash []byte        `cbor:"1,keyasint"`
	Args     []byte        `cbor:"2,keyasint,omitempty"`
	Admin    *keys.Address `cbor:"3,keyasint,omitempty"`
	Label    string        `cbor:"4,keyasint,omitempty"`
	Funds    Amount        `cbor:"5,keyasint,omitempty"`
}

// Type implements Msg.
func (*ContractInstantiate) Type() MsgType { return TypeContractInstantiate }

// ValidateBasic implements Msg.
func (m *ContractInstantiate) ValidateBasic() error {
	if err := checkCodeHash(m.CodeHash); err != nil {
		return err
	}
	if m.Admin != nil && m.Admin.IsZero() {
		return errs.ErrInvalidAddress.Wrap("contract: empty admin (leave it out for none)")
	}
	if len(m.Label) > MaxContractLabelBytes {
		return errs.ErrInvalidMsg.Wrap("contract: label longer than %d bytes", MaxContractLabelBytes)
	}
	for _, r := range m.Label {
		if !unicode.IsPrint(r) {
			return errs.ErrInvalidMsg.Wrap("contract: label has a non-printable character")
		}
	}
	return nil
}

// ContractCall runs the call entry point of Contract with Args as its
// input, after moving Funds from the signer to the contract's account.
type ContractCall struct {
	Contract keys.Address `cbor:"1,keyasint"`
	Args     []byte       `cbor:"2,keyasint,omitempty"`
	Funds    Amount       `cbor:"3,keyasint,omitempty"`
}

// Type implements Msg.
func (*ContractCall) Type() MsgType { return TypeContractCall }

// ValidateBasic implements Msg.
func (m *ContractCall) ValidateBasic() error {
	if m.Contract.IsZero() {
		return errs.ErrInvalidAddress.Wrap("contract call: empty contract address")
	}
	return nil
}

// ContractMigrate switches Contract to the stored code CodeHash and runs
// that code's migrate entry point with Args. Signed by the contract's
// admin; the contract keeps its address, storage and balance.
type ContractMigrate struct {
	Contract keys.Address `cbor:"1,keyasint"`
	CodeHash []byte       `cbor:"2,keyasint"`
	Args     []byte       `cbor:"3,keyasint,omitempty"`
}

// Type implements Msg.
func (*ContractMigrate) Type() MsgType { return TypeContractMigrate }

// ValidateBasic implements Msg.
func (m *ContractMigrate) ValidateBasic() error {
	if m.Contract.IsZero() {
		return errs.ErrInvalidAddress.Wrap("contract migrate: empty contract address")
	}
	return checkCodeHash(m.CodeHash)
}

func checkCodeHash(h []byte) error {
	if len(h) != CodeHashSize {
		return errs.ErrInvalidMsg.Wrap("code hash must be %d bytes (SHA-256 of the code), got %d", CodeHashSize, len(h))
	}
	return nil
}

package txn

import (
	"github.com/hypha-iot/hypha/errs"
	"github.com/hypha-iot/hypha/keys"
)

// Message kinds.
const (
	KindData          uint8 = 0
	KindCommand       uint8 = 1
	KindCommandResult uint8 = 2
)

// KindName names a message kind.
func KindName(k uint8) string {
	switch k {
	case KindData:
		return "data"
	case KindCommand:
		return "command"
	case KindCommandResult:
		return "command-result"
	case KindContractCommand:
		return "contract-command"
	}
	return "unknown"
}

// Receipt states.
const (
	StateSent      uint8 = 0
	StateDelivered uint8 = 1
	StateRead      uint8 = 2
)

// MsgIDSize is the size of a client-chosen message id.
const MsgIDSize = 16

// SetSealKey publishes the signer's X25519 key for sealed messages: an
// account's, or (signed by a device) the device's own. Rotatable: a new
// key replaces the old one.
type SetSealKey struct {
	SealKey []byte `cbor:"1,keyasint"`
}

// Type implements Msg.
func (*SetSealKey) Type() MsgType { return TypeSetSealKey }

// ValidateBasic implements Msg.
func (m *SetSealKey) ValidateBasic() error {
	if m.SealKey == nil {
		return errs.ErrInvalidKey.Wrap("seal key is required")
	}
	return checkSealKey(m.SealKey)
}

// MessageSend sends a sealed message from the signer to To (a device id or
// an account). Box is a seal.Box: the ledger reads only its recipient key
// ids, to check that it is sealed to To (and to the auditor of a device
// involved); the content stays opaque.
type MessageSend struct {
	To   keys.Address `cbor:"1,keyasint"`
	Kind uint8        `cbor:"2,keyasint"`
	// ID is chosen by the sender, unique per sender; it is bound into the
	// box's associated data, so a box cannot be replayed under another id.
	ID  []byte `cbor:"3,keyasint"`
	Box []byte `cbor:"4,keyasint"`
	// ReplyTo is the id of the command a command-result answers.
	ReplyTo []byte `cbor:"5,keyasint,omitempty"`
}

// Type implements Msg.
func (*MessageSend) Type() MsgType { return TypeMessageSend }

// ValidateBasic implements Msg. The size limit is a chain parameter.
func (m *MessageSend) ValidateBasic() error {
	if m.To.IsZero() {
		return errs.ErrInvalidAddress.Wrap("message: empty recipient")
	}
	if m.Kind > KindCommandResult {
		return errs.ErrInvalidMsg.Wrap("message: unknown kind %d", m.Kind)
	}
	if len(m.ID) != MsgIDSize {
		return errs.ErrInvalidMsg.Wrap("message: id must be %d bytes", MsgIDSize)
	}
	if len(m.Box) == 0 {
		return errs.ErrInvalidMsg.Wrap("message: empty box")
	}
	if m.Kind == KindCommandResult && len(m.ReplyTo) != MsgIDSize {
		return errs.ErrInvalidMsg.Wrap("command-result: reply_to must be the %d-byte command id", MsgIDSize)
	}
	if m.Kind != KindCommandResult && m.ReplyTo != nil {
		return errs.ErrInvalidMsg.Wrap("message: reply_to only on a command-result")
	}
	return nil
}

// MessageReceipt acknowledges messages from Sender, signed by their
// recipient, so the sender sees delivered/read state.
type MessageReceipt struct {
	Sender keys.Address `cbor:"1,keyasint"`
	IDs    [][]byte     `cbor:"2,keyasint"`
	State  uint8        `cbor:"3,keyasint"`
}

// MaxReceiptIDs bounds the ids in one receipt.
const MaxReceiptIDs = 64

// Type implements Msg.
func (*MessageReceipt) Type() MsgType { return TypeMessageReceipt }

// ValidateBasic implements Msg.
func (m *MessageReceipt) ValidateBasic() error {
	if m.Sender.IsZero() {
		return errs.ErrInvalidAddress.Wrap("receipt: empty sender")
	}
	if m.State != StateDelivered && m.State != StateRead {
		return errs.ErrInvalidMsg.Wrap("receipt: state must be delivered (1) or read (2)")
	}
	if len(m.IDs) == 0 || len(m.IDs) > MaxReceiptIDs {
		return errs.ErrInvalidMsg.Wrap("receipt: 1 to %d ids", MaxReceiptIDs)
	}
	for _, id := range m.IDs {
		if len(id) != MsgIDSize {
			return errs.ErrInvalidMsg.Wrap("receipt: ids are %d bytes", MsgIDSize)
		}
	}
	return nil
}

// MessageGrant lets Grantee send the given kinds to Device until the block
// height Expires (0: no expiry). Signed by the device's owner. Empty Kinds
// withdraws the grant.
type MessageGrant struct {
	Device  keys.Address `cbor:"1,keyasint"`
	Grantee keys.Address `cbor:"2,keyasint"`
	Kinds   []uint8      `cbor:"3,keyasint,omitempty"`
	Expires int64        `cbor:"4,keyasint,omitempty"`
}

// Type implements Msg.
func (*MessageGrant) Type() MsgType { return TypeMessageGrant }

// ValidateBasic implements Msg.
func (m *MessageGrant) ValidateBasic() error {
	if m.Device.IsZero() || m.Grantee.IsZero() {
		return errs.ErrInvalidAddress.Wrap("grant: empty device or grantee")
	}
	if m.Expires < 0 {
		return errs.ErrInvalidMsg.Wrap("grant: negative expiry")
	}
	for _, k := range m.Kinds {
		if k > KindCommandResult {
			return errs.ErrInvalidMsg.Wrap("grant: unknown kind %d", k)
		}
	}
	return nil
}

package txn

import (
	"github.com/hypha-iot/hypha/errs"
	"github.com/hypha-iot/hypha/keys"
)

// Trigger kinds of ContractSubscribe.
const (
	// TriggerReading runs the contract's on_reading entry point for each
	// direct reading of the listed devices that satisfies the condition.
	TriggerReading uint8 = 1
	// TriggerTick runs the contract's on_tick entry point every Every
	// blocks.
	TriggerTick uint8 = 2
)

// Trigger limits checked statelessly.
const (
	// MaxTriggerDevices bounds the devices of one reading subscription.
	MaxTriggerDevices = 64
	// MaxConditionBytes bounds a condition's source.
	MaxConditionBytes = 1024
)

// ContractSubscribe sets the contract's trigger of Kind (one per kind; a
// new subscription replaces the old). Signed by the contract's admin or
// creator. A reading trigger lists Devices (each owned by the signer) and
// an optional CEL Condition over the reading; a tick trigger runs every
// Every blocks (docs/decisions/0017-contracts.md, "Triggers").
type ContractSubscribe struct {
	Contract  keys.Address   `cbor:"1,keyasint"`
	Kind      uint8          `cbor:"2,keyasint"`
	Devices   []keys.Address `cbor:"3,keyasint,omitempty"`
	Condition string         `cbor:"4,keyasint,omitempty"`
	Every     uint64         `cbor:"5,keyasint,omitempty"`
}

// Type implements Msg.
func (*ContractSubscribe) Type() MsgType { return TypeContractSubscribe }

// ValidateBasic implements Msg.
func (m *ContractSubscribe) ValidateBasic() error {
	if m.Contract.IsZero() {
		return errs.ErrInvalidAddress.Wrap("contract subscribe: empty contract address")
	}
	switch m.Kind {
	case TriggerReading:
		if len(m.Devices) == 0 || len(m.Devices) > MaxTriggerDevices {
			return errs.ErrInvalidMsg.Wrap("reading trigger: 1 to %d devices, got %d", MaxTriggerDevices, len(m.Devices))
		}
		seen := map[keys.Address]bool{}
		for _, d := range m.Devices {
			if d.IsZero() {
				return errs.ErrInvalidAddress.Wrap("reading trigger: empty device id")
			}
			if seen[d] {
				return errs.ErrInvalidMsg.Wrap("reading trigger: device %s listed twice", d.Device())
			}
			seen[d] = true
		}
		if len(m.Condition) > MaxConditionBytes {
			return errs.ErrBadCondition.Wrap("condition longer than %d bytes", MaxConditionBytes)
		}
		if m.Every != 0 {
			return errs.ErrInvalidMsg.Wrap("reading trigger: every is for tick triggers")
		}
	case TriggerTick:
		if m.Every == 0 {
			return errs.ErrInvalidMsg.Wrap("tick trigger: every must be at least 1 block")
		}
		if len(m.Devices) > 0 || m.Condition != "" {
			return errs.ErrInvalidMsg.Wrap("tick trigger: devices and condition are for reading triggers")
		}
	default:
		return errs.ErrInvalidMsg.Wrap("trigger kind %d: want 1 (reading) or 2 (tick)", m.Kind)
	}
	return nil
}

// ContractUnsubscribe removes the contract's trigger of Kind. Signed by
// the contract's admin or creator; invocations already queued still run.
type ContractUnsubscribe struct {
	Contract keys.Address `cbor:"1,keyasint"`
	Kind     uint8        `cbor:"2,keyasint"`
}

// Type implements Msg.
func (*ContractUnsubscribe) Type() MsgType { return TypeContractUnsubscribe }

// ValidateBasic implements Msg.
func (m *ContractUnsubscribe) ValidateBasic() error {
	if m.Contract.IsZero() {
		return errs.ErrInvalidAddress.Wrap("contract unsubscribe: empty contract address")
	}
	if m.Kind != TriggerReading && m.Kind != TriggerTick {
		return errs.ErrInvalidMsg.Wrap("trigger kind %d: want 1 (reading) or 2 (tick)", m.Kind)
	}
	return nil
}

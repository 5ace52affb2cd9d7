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
	// TriggerMessage runs the contract's on_message entry point for each
	// message sent to the contract (by a message.send tx or by another
	// contract's command).
	TriggerMessage uint8 = 3
)

// MaxTriggerDepth bounds a chain of contracts triggering each other through
// messages: a command sent from an on_message invocation at this depth is
// refused (ErrRateLimited), so a cycle of contracts ends.
const MaxTriggerDepth = 4

// Trigger limits checked statelessly.
const (
	// MaxTriggerDevices bounds the devices of one reading subscription.
	MaxTriggerDevices = 64
	// MaxConditionBytes bounds a condition's source.
	MaxConditionBytes = 1024
)

// ContractSubscribe sets the contract's trigger of Kind (one per kind; a
// new subscription replaces the old). Signed by the contract's admin or
// creator. A reading trigger lists Devices (each owned by the signer; the
// list may be empty when other owners attach their devices with
// ContractAttach) and an optional CEL Condition over the reading; a tick
// trigger runs every Every blocks; a message trigger takes messages sent
// to the contract (docs/decisions/0017-contracts.md, "Triggers").
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
		if err := checkTriggerDevices(m.Devices, false); err != nil {
			return err
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
	case TriggerMessage:
		if len(m.Devices) > 0 || m.Condition != "" || m.Every != 0 {
			return errs.ErrInvalidMsg.Wrap("message trigger: takes no devices, condition or interval")
		}
	default:
		return badTriggerKind(m.Kind)
	}
	return nil
}

func badTriggerKind(k uint8) error {
	return errs.ErrInvalidMsg.Wrap("trigger kind %d: want 1 (reading), 2 (tick) or 3 (message)", k)
}

// checkTriggerDevices checks a device list: at most MaxTriggerDevices,
// no empty or repeated id, and at least one if nonEmpty.
func checkTriggerDevices(devs []keys.Address, nonEmpty bool) error {
	if nonEmpty && len(devs) == 0 {
		return errs.ErrInvalidMsg.Wrap("reading trigger: no devices")
	}
	if len(devs) > MaxTriggerDevices {
		return errs.ErrInvalidMsg.Wrap("reading trigger: at most %d devices, got %d", MaxTriggerDevices, len(devs))
	}
	seen := make(map[keys.Address]bool, len(devs))
	for _, d := range devs {
		if d.IsZero() {
			return errs.ErrInvalidAddress.Wrap("reading trigger: empty device id")
		}
		if seen[d] {
			return errs.ErrInvalidMsg.Wrap("reading trigger: device %s listed twice", d.Device())
		}
		seen[d] = true
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
	if m.Kind != TriggerReading && m.Kind != TriggerTick && m.Kind != TriggerMessage {
		return badTriggerKind(m.Kind)
	}
	return nil
}

// ContractAttach adds Devices to the contract's reading trigger. Signed by
// the owner of every device: the way an owner who does not manage the
// contract (a carrier's logger, a neighbour's meter) consents to feed it.
// The contract must have a reading trigger; the subscription's condition
// applies to the attached devices too.
type ContractAttach struct {
	Contract keys.Address   `cbor:"1,keyasint"`
	Devices  []keys.Address `cbor:"2,keyasint"`
}

// Type implements Msg.
func (*ContractAttach) Type() MsgType { return TypeContractAttach }

// ValidateBasic implements Msg.
func (m *ContractAttach) ValidateBasic() error {
	if m.Contract.IsZero() {
		return errs.ErrInvalidAddress.Wrap("contract attach: empty contract address")
	}
	return checkTriggerDevices(m.Devices, true)
}

// ContractDetach removes Devices from the contract's reading trigger.
// Signed by the owner of every device or by the contract's admin or
// creator.
type ContractDetach struct {
	Contract keys.Address   `cbor:"1,keyasint"`
	Devices  []keys.Address `cbor:"2,keyasint"`
}

// Type implements Msg.
func (*ContractDetach) Type() MsgType { return TypeContractDetach }

// ValidateBasic implements Msg.
func (m *ContractDetach) ValidateBasic() error {
	if m.Contract.IsZero() {
		return errs.ErrInvalidAddress.Wrap("contract detach: empty contract address")
	}
	return checkTriggerDevices(m.Devices, true)
}

package txn

import (
	"github.com/fxamacker/cbor/v2"

	"github.com/hypha-iot/hypha/errs"
)

// MsgType is a message kind's stable type tag on the wire. Tags are part of
// the protocol: never renumber or reuse one (docs/transactions.md lists them).
type MsgType uint16

// The message kinds.
const (
	TypeSend       MsgType = 1
	TypeSetSealKey MsgType = 2

	TypeDeviceRegister       MsgType = 16
	TypeDeviceUpdate         MsgType = 17
	TypeDeviceRotateKey      MsgType = 18
	TypeDeviceTransfer       MsgType = 19
	TypeDeviceAcceptTransfer MsgType = 20
	TypeDeviceCancelTransfer MsgType = 21
	TypeDeviceRevoke         MsgType = 22
	TypeDeviceDecommission   MsgType = 23

	TypeReadingSubmit MsgType = 32

	TypeMessageSend    MsgType = 48
	TypeMessageReceipt MsgType = 49
	TypeMessageGrant   MsgType = 50

	TypeFilePublish MsgType = 64
	TypeFilePin     MsgType = 65
	TypeFileUnpin   MsgType = 66
	TypeFileGrant   MsgType = 67

	TypeFirmwareRegisterModel MsgType = 80
	TypeFirmwareRelease       MsgType = 81
	TypeFirmwareReport        MsgType = 82

	TypeContractStore       MsgType = 96
	TypeContractInstantiate MsgType = 97
	TypeContractCall        MsgType = 98
	TypeContractMigrate     MsgType = 99
	TypeContractCancelStore MsgType = 100
	TypeContractSubscribe   MsgType = 101
	TypeContractUnsubscribe MsgType = 102
	TypeContractAttach      MsgType = 103
	TypeContractDetach      MsgType = 104
)

// Msg is one operation inside a tx.
type Msg interface {
	// Type is the message's stable type tag.
	Type() MsgType
	// ValidateBasic checks what can be checked without state; errors carry
	// an errs class (mostly ErrInvalidMsg, ErrZeroAmount, ErrInvalidAddress).
	ValidateBasic() error
}

type msgKind struct {
	name string
	new  func() Msg
}

var kinds = map[MsgType]msgKind{
	TypeSend:                  {"account.send", func() Msg { return new(Send) }},
	TypeDeviceRegister:        {"device.register", func() Msg { return new(DeviceRegister) }},
	TypeDeviceUpdate:          {"device.update", func() Msg { return new(DeviceUpdate) }},
	TypeDeviceRotateKey:       {"device.rotate_key", func() Msg { return new(DeviceRotateKey) }},
	TypeDeviceTransfer:        {"device.transfer", func() Msg { return new(DeviceTransfer) }},
	TypeDeviceAcceptTransfer:  {"device.accept_transfer", func() Msg { return new(DeviceAcceptTransfer) }},
	TypeDeviceCancelTransfer:  {"device.cancel_transfer", func() Msg { return new(DeviceCancelTransfer) }},
	TypeDeviceRevoke:          {"device.revoke", func() Msg { return new(DeviceRevoke) }},
	TypeDeviceDecommission:    {"device.decommission", func() Msg { return new(DeviceDecommission) }},
	TypeReadingSubmit:         {"reading.submit", func() Msg { return new(ReadingSubmit) }},
	TypeSetSealKey:            {"account.set_seal_key", func() Msg { return new(SetSealKey) }},
	TypeMessageSend:           {"message.send", func() Msg { return new(MessageSend) }},
	TypeMessageReceipt:        {"message.receipt", func() Msg { return new(MessageReceipt) }},
	TypeMessageGrant:          {"message.grant", func() Msg { return new(MessageGrant) }},
	TypeFilePublish:           {"file.publish", func() Msg { return new(FilePublish) }},
	TypeFilePin:               {"file.pin", func() Msg { return new(FilePin) }},
	TypeFileUnpin:             {"file.unpin", func() Msg { return new(FileUnpin) }},
	TypeFileGrant:             {"file.grant", func() Msg { return new(FileGrant) }},
	TypeFirmwareRegisterModel: {"firmware.register_model", func() Msg { return new(FirmwareRegisterModel) }},
	TypeFirmwareRelease:       {"firmware.release", func() Msg { return new(FirmwareRelease) }},
	TypeFirmwareReport:        {"firmware.report", func() Msg { return new(FirmwareReport) }},
	TypeContractStore:         {"contract.store", func() Msg { return new(ContractStore) }},
	TypeContractInstantiate:   {"contract.instantiate", func() Msg { return new(ContractInstantiate) }},
	TypeContractCall:          {"contract.call", func() Msg { return new(ContractCall) }},
	TypeContractMigrate:       {"contract.migrate", func() Msg { return new(ContractMigrate) }},
	TypeContractCancelStore:   {"contract.cancel_store", func() Msg { return new(ContractCancelStore) }},
	TypeContractSubscribe:     {"contract.subscribe", func() Msg { return new(ContractSubscribe) }},
	TypeContractUnsubscribe:   {"contract.unsubscribe", func() Msg { return new(ContractUnsubscribe) }},
	TypeContractAttach:        {"contract.attach", func() Msg { return new(ContractAttach) }},
	TypeContractDetach:        {"contract.detach", func() Msg { return new(ContractDetach) }},
}

// String is the kind's stable name, e.g. "device.register".
func (t MsgType) String() string {
	if k, ok := kinds[t]; ok {
		return k.name
	}
	return "unknown"
}

// Types lists every known message type in tag order.
func Types() []MsgType {
	return []MsgType{TypeSend, TypeSetSealKey, TypeDeviceRegister, TypeDeviceUpdate, TypeDeviceRotateKey,
		TypeDeviceTransfer, TypeDeviceAcceptTransfer, TypeDeviceCancelTransfer, TypeDeviceRevoke,
		TypeDeviceDecommission, TypeReadingSubmit, TypeMessageSend, TypeMessageReceipt, TypeMessageGrant,
		TypeFilePublish, TypeFilePin, TypeFileUnpin, TypeFileGrant,
		TypeFirmwareRegisterModel, TypeFirmwareRelease, TypeFirmwareReport,
		TypeContractStore, TypeContractInstantiate, TypeContractCall, TypeContractMigrate, TypeContractCancelStore,
		TypeContractSubscribe, TypeContractUnsubscribe, TypeContractAttach, TypeContractDetach}
}

// AnyMsg carries one Msg; on the wire it is the array [type, msg].
type AnyMsg struct{ Msg Msg }

type wireMsg struct {
	_    struct{} `cbor:",toarray"`
	Type uint64
	Msg  cbor.RawMessage
}

// MarshalCBOR encodes [type, msg].
func (a AnyMsg) MarshalCBOR() ([]byte, error) {
	if a.Msg == nil {
		return nil, errs.ErrInvalidMsg.Wrap("nil message")
	}
	body, err := encMode.Marshal(a.Msg)
	if err != nil {
		return nil, err
	}
	return encMode.Marshal(wireMsg{Type: uint64(a.Msg.Type()), Msg: body})
}

// UnmarshalCBOR decodes [type, msg] strictly; an unknown type is ErrUnknownMsg.
func (a *AnyMsg) UnmarshalCBOR(b []byte) error {
	var w wireMsg
	if err := decMode.Unmarshal(b, &w); err != nil {
		return classify(err)
	}
	k, ok := kinds[MsgType(w.Type)]
	if w.Type > 0xffff || !ok {
		return errs.ErrUnknownMsg.Wrap("type %d", w.Type)
	}
	m := k.new()
	if err := decMode.Unmarshal(w.Msg, m); err != nil {
		return classify(err)
	}
	a.Msg = m
	return nil
}

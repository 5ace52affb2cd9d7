package txn

import (
	"unicode"

	"github.com/hypha-iot/hypha/errs"
	"github.com/hypha-iot/hypha/keys"
)

// Field limits checked statelessly. Chain parameters (payload and memo size,
// tag count) are checked by the ledger.
const (
	MaxTextBytes   = 64  // model, firmware
	MaxTagBytes    = 32  // one tag
	MaxReasonBytes = 128 // revoke reason
	MaxTags        = 32  // tags in one msg
)

// Send moves tokens from the signer to To.
type Send struct {
	To     keys.Address `cbor:"1,keyasint"`
	Amount Amount       `cbor:"2,keyasint"`
}

// Type implements Msg.
func (*Send) Type() MsgType { return TypeSend }

// ValidateBasic implements Msg.
func (m *Send) ValidateBasic() error {
	if m.To.IsZero() {
		return errs.ErrInvalidAddress.Wrap("send: empty recipient")
	}
	if m.Amount == 0 {
		return errs.ErrZeroAmount.Wrap("send: amount is zero")
	}
	return nil
}

// Location is a claimed position, in units of 1e-7 degree (no floats on the
// ledger). It is the owner's claim, not a proof.
type Location struct {
	LatE7     int64  `cbor:"1,keyasint"`
	LonE7     int64  `cbor:"2,keyasint"`
	AltCM     int64  `cbor:"3,keyasint,omitempty"`
	AccuracyM uint32 `cbor:"4,keyasint,omitempty"`
}

func (l *Location) validate() error {
	if l == nil {
		return nil
	}
	if l.LatE7 < -900_000_000 || l.LatE7 > 900_000_000 {
		return errs.ErrInvalidMsg.Wrap("latitude %d out of range", l.LatE7)
	}
	if l.LonE7 < -1_800_000_000 || l.LonE7 > 1_800_000_000 {
		return errs.ErrInvalidMsg.Wrap("longitude %d out of range", l.LonE7)
	}
	return nil
}

// DeviceRegister registers a device owned by the signer. The device proves
// possession of PubKey by co-signing the tx. The device id is PubKey's
// address and never changes, whatever later rotations do.
type DeviceRegister struct {
	PubKey   []byte    `cbor:"1,keyasint"`
	Model    string    `cbor:"2,keyasint"`
	Firmware string    `cbor:"3,keyasint,omitempty"`
	Location *Location `cbor:"4,keyasint,omitempty"`
	Tags     []string  `cbor:"5,keyasint,omitempty"`
	// SealKey is the device's X25519 public key for sealed messages.
	SealKey []byte `cbor:"6,keyasint,omitempty"`
}

// Type implements Msg.
func (*DeviceRegister) Type() MsgType { return TypeDeviceRegister }

// ValidateBasic implements Msg.
func (m *DeviceRegister) ValidateBasic() error {
	if _, err := keys.ParsePublicKey(m.PubKey); err != nil {
		return errs.ErrInvalidKey.WithCause(err, "device key")
	}
	if err := checkText("model", m.Model, true); err != nil {
		return err
	}
	if err := checkText("firmware", m.Firmware, false); err != nil {
		return err
	}
	if err := checkSealKey(m.SealKey); err != nil {
		return err
	}
	if err := m.Location.validate(); err != nil {
		return err
	}
	return checkTags(m.Tags)
}

// DeviceID is the id the device will have.
func (m *DeviceRegister) DeviceID() (keys.Address, error) {
	pk, err := keys.ParsePublicKey(m.PubKey)
	if err != nil {
		return keys.Address{}, errs.ErrInvalidKey.WithCause(err, "device key")
	}
	return pk.Address(), nil
}

// DeviceUpdate changes a device's metadata. Nil fields stay as they are.
// Signed by the owner.
type DeviceUpdate struct {
	Device        keys.Address `cbor:"1,keyasint"`
	Model         *string      `cbor:"2,keyasint,omitempty"`
	Firmware      *string      `cbor:"3,keyasint,omitempty"`
	Location      *Location    `cbor:"4,keyasint,omitempty"`
	ClearLocation bool         `cbor:"5,keyasint,omitempty"`
	AddTags       []string     `cbor:"6,keyasint,omitempty"`
	RemoveTags    []string     `cbor:"7,keyasint,omitempty"`
	SealKey       []byte       `cbor:"8,keyasint,omitempty"`
	// Auditor is an account every message to or from the device must also
	// be sealed to (its published seal key); ClearAuditor removes it.
	Auditor      *keys.Address `cbor:"9,keyasint,omitempty"`
	ClearAuditor bool          `cbor:"10,keyasint,omitempty"`
}

// Type implements Msg.
func (*DeviceUpdate) Type() MsgType { return TypeDeviceUpdate }

// ValidateBasic implements Msg.
func (m *DeviceUpdate) ValidateBasic() error {
	if m.Device.IsZero() {
		return errs.ErrInvalidAddress.Wrap("update: empty device id")
	}
	if m.Model != nil {
		if err := checkText("model", *m.Model, true); err != nil {
			return err
		}
	}
	if m.Firmware != nil {
		if err := checkText("firmware", *m.Firmware, true); err != nil {
			return err
		}
	}
	if m.ClearLocation && m.Location != nil {
		return errs.ErrInvalidMsg.Wrap("update: both location and clear_location")
	}
	if err := m.Location.validate(); err != nil {
		return err
	}
	if err := checkSealKey(m.SealKey); err != nil {
		return err
	}
	if err := checkTags(m.AddTags); err != nil {
		return err
	}
	if err := checkTags(m.RemoveTags); err != nil {
		return err
	}
	if m.Auditor != nil && (m.ClearAuditor || m.Auditor.IsZero()) {
		return errs.ErrInvalidMsg.Wrap("update: auditor must be a non-empty address, without clear_auditor")
	}
	if m.Model == nil && m.Firmware == nil && m.Location == nil && !m.ClearLocation &&
		len(m.AddTags) == 0 && len(m.RemoveTags) == 0 && m.SealKey == nil && m.Auditor == nil && !m.ClearAuditor {
		return errs.ErrInvalidMsg.Wrap("update changes nothing")
	}
	return nil
}

// DeviceRotateKey replaces the key behind a device id. Signed by the device's
// current key or by its owner; the new key co-signs to prove possession.
// Rotating a revoked device's key (by its owner) makes it active again.
type DeviceRotateKey struct {
	Device    keys.Address `cbor:"1,keyasint"`
	NewPubKey []byte       `cbor:"2,keyasint"`
}

// Type implements Msg.
func (*DeviceRotateKey) Type() MsgType { return TypeDeviceRotateKey }

// ValidateBasic implements Msg.
func (m *DeviceRotateKey) ValidateBasic() error {
	if m.Device.IsZero() {
		return errs.ErrInvalidAddress.Wrap("rotate: empty device id")
	}
	if _, err := keys.ParsePublicKey(m.NewPubKey); err != nil {
		return errs.ErrInvalidKey.WithCause(err, "new device key")
	}
	return nil
}

// DeviceTransfer offers a device to a new owner. Signed by the current owner.
// If the tx also carries a co-signature by To's key, ownership moves at once;
// otherwise the offer waits for DeviceAcceptTransfer signed by To.
type DeviceTransfer struct {
	Device keys.Address `cbor:"1,keyasint"`
	To     keys.Address `cbor:"2,keyasint"`
}

// Type implements Msg.
func (*DeviceTransfer) Type() MsgType { return TypeDeviceTransfer }

// ValidateBasic implements Msg.
func (m *DeviceTransfer) ValidateBasic() error {
	if m.Device.IsZero() || m.To.IsZero() {
		return errs.ErrInvalidAddress.Wrap("transfer: empty device or recipient")
	}
	return nil
}

// DeviceAcceptTransfer completes a pending transfer; signed by its recipient.
type DeviceAcceptTransfer struct {
	Device keys.Address `cbor:"1,keyasint"`
}

// Type implements Msg.
func (*DeviceAcceptTransfer) Type() MsgType { return TypeDeviceAcceptTransfer }

// ValidateBasic implements Msg.
func (m *DeviceAcceptTransfer) ValidateBasic() error { return checkDevice(m.Device) }

// DeviceCancelTransfer withdraws a pending transfer; signed by the owner.
type DeviceCancelTransfer struct {
	Device keys.Address `cbor:"1,keyasint"`
}

// Type implements Msg.
func (*DeviceCancelTransfer) Type() MsgType { return TypeDeviceCancelTransfer }

// ValidateBasic implements Msg.
func (m *DeviceCancelTransfer) ValidateBasic() error { return checkDevice(m.Device) }

// DeviceRevoke marks the device's current key as lost or compromised: every
// later tx signed by it fails with ErrDeviceRevoked. Signed by the owner or by
// the device itself. The owner can restore the device by rotating its key.
type DeviceRevoke struct {
	Device keys.Address `cbor:"1,keyasint"`
	Reason string       `cbor:"2,keyasint,omitempty"`
}

// Type implements Msg.
func (*DeviceRevoke) Type() MsgType { return TypeDeviceRevoke }

// ValidateBasic implements Msg.
func (m *DeviceRevoke) ValidateBasic() error {
	if err := checkDevice(m.Device); err != nil {
		return err
	}
	if len(m.Reason) > MaxReasonBytes {
		return errs.ErrInvalidMsg.Wrap("revoke reason longer than %d bytes", MaxReasonBytes)
	}
	return nil
}

// DeviceDecommission retires a device for good; signed by the owner. Its
// record and history stay; nothing can change it afterwards.
type DeviceDecommission struct {
	Device keys.Address `cbor:"1,keyasint"`
}

// Type implements Msg.
func (*DeviceDecommission) Type() MsgType { return TypeDeviceDecommission }

// ValidateBasic implements Msg.
func (m *DeviceDecommission) ValidateBasic() error { return checkDevice(m.Device) }

// ReadingSubmit is a direct reading for low-rate devices: a SenML (RFC 8428)
// CBOR pack, signed by the device as the tx signer. The tx nonce is the
// device's counter (strictly increasing, gaps allowed) and is the reading's
// sequence number. One reading per tx.
type ReadingSubmit struct {
	Payload []byte `cbor:"1,keyasint"`
}

// Type implements Msg.
func (*ReadingSubmit) Type() MsgType { return TypeReadingSubmit }

// ValidateBasic implements Msg. The SenML check and the size limit (a chain
// parameter) are the ledger's.
func (m *ReadingSubmit) ValidateBasic() error {
	if len(m.Payload) == 0 {
		return errs.ErrInvalidPayload.Wrap("empty reading")
	}
	return nil
}

func checkDevice(a keys.Address) error {
	if a.IsZero() {
		return errs.ErrInvalidAddress.Wrap("empty device id")
	}
	return nil
}

func checkText(field, s string, required bool) error {
	if s == "" {
		if required {
			return errs.ErrInvalidMsg.Wrap("%s is required", field)
		}
		return nil
	}
	if len(s) > MaxTextBytes {
		return errs.ErrInvalidMsg.Wrap("%s longer than %d bytes", field, MaxTextBytes)
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return errs.ErrInvalidMsg.Wrap("%s has a non-printable character", field)
		}
	}
	return nil
}

// checkTags accepts tags of 1..MaxTagBytes bytes from [a-z0-9._:=/-].
func checkTags(tags []string) error {
	if len(tags) > MaxTags {
		return errs.ErrInvalidMsg.Wrap("more than %d tags", MaxTags)
	}
	for _, t := range tags {
		if t == "" || len(t) > MaxTagBytes {
			return errs.ErrInvalidMsg.Wrap("tag %q: 1 to %d bytes", t, MaxTagBytes)
		}
		for i := 0; i < len(t); i++ {
			c := t[i]
			ok := c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == ':' || c == '=' || c == '/' || c == '-'
			if !ok {
				return errs.ErrInvalidMsg.Wrap("tag %q: only a-z 0-9 . _ : = / -", t)
			}
		}
	}
	return nil
}

func checkSealKey(k []byte) error {
	if k == nil {
		return nil
	}
	if _, err := keys.ParseSealPublic(k); err != nil {
		return errs.ErrInvalidKey.WithCause(err, "seal key (X25519, 32 bytes)")
	}
	return nil
}

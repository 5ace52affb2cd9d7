package device

import (
	"bytes"
	"encoding/hex"
	"slices"

	"github.com/hypha-iot/hypha/errs"
	"github.com/hypha-iot/hypha/keys"
	"github.com/hypha-iot/hypha/ledger/account"
	"github.com/hypha-iot/hypha/ledger/exec"
	"github.com/hypha-iot/hypha/txn"
)

// Get returns the device record of id, or false.
func Get(c *exec.Context, id keys.Address) (Device, bool) {
	var d Device
	ok := c.GetRecord(RecordKey(id), &d)
	return d, ok
}

// mustGet returns the record of id or ErrUnknownDevice.
func mustGet(c *exec.Context, id keys.Address) (Device, error) {
	d, ok := Get(c, id)
	if !ok {
		return d, errs.ErrUnknownDevice.Wrap("%s", id.Device())
	}
	return d, nil
}

// CheckSigner validates a device as the signer of a tx: it must be active.
// It returns the key the signature must verify against. (The counter is
// checked against the device's account: CheckCounter.)
func CheckSigner(d Device) (keys.PublicKey, error) {
	switch d.Status {
	case Revoked:
		return keys.PublicKey{}, errs.ErrDeviceRevoked.Wrap("%s: key revoked", d.ID.Device())
	case Decommissioned:
		return keys.PublicKey{}, errs.ErrDeviceDecommissioned.Wrap("%s", d.ID.Device())
	}
	pk, err := keys.ParsePublicKey(d.PubKey)
	if err != nil {
		return keys.PublicKey{}, errs.ErrInternal.WithCause(err, "stored device key")
	}
	return pk, nil
}

// CheckCounter checks a device-signed tx's counter against last, the
// highest its txs have used (its account's nonce): it must be greater.
// Gaps are allowed.
func CheckCounter(id keys.Address, counter, last uint64) error {
	if counter <= last {
		return errs.ErrCounterReused.Wrap("%s: counter %d, last %d", id.Device(), counter, last)
	}
	return nil
}

// Put writes d, stamping the update height.
func Put(c *exec.Context, d *Device) {
	d.Updated = c.Header.Height
	c.SetRecord(RecordKey(d.ID), d)
}

// appendHistory records a change of d (whose HistoryLen it advances) and
// emits the matching event.
func appendHistory(c *exec.Context, d *Device, kind string, attrs ...Attr) {
	e := HistoryEntry{Seq: d.HistoryLen, Height: c.Header.Height, TxHash: c.TxHash[:], Kind: kind, Actor: c.Signer, Attrs: attrs}
	c.SetRecord(HistoryKey(d.ID, e.Seq), &e)
	d.HistoryLen++
	ev := []exec.Attr{exec.Ix("device", d.ID.Device()), exec.A("actor", c.Signer.String()), exec.A("seq", exec.U(e.Seq))}
	for _, a := range attrs {
		ev = append(ev, exec.A(a.Key, a.Value))
	}
	c.Emit("device."+kind, ev...)
}

// requireOwner fails unless the tx signer owns d.
func requireOwner(c *exec.Context, d Device) error {
	if c.Signer != d.Owner {
		return errs.ErrUnauthorized.Wrap("%s is not the owner of %s", c.Signer, d.ID.Device())
	}
	return nil
}

func requireNotDecommissioned(d Device) error {
	if d.Status == Decommissioned {
		return errs.ErrDeviceDecommissioned.Wrap("%s", d.ID.Device())
	}
	return nil
}

// Register executes device.register.
func Register(c *exec.Context, m *txn.DeviceRegister, maxTags int) error {
	if c.SignerIsDevice {
		return errs.ErrUnauthorized.Wrap("a device cannot register devices")
	}
	pk, err := keys.ParsePublicKey(m.PubKey)
	if err != nil {
		return errs.ErrInvalidKey.WithCause(err, "device key")
	}
	id := pk.Address()
	if id == c.Signer {
		return errs.ErrInvalidMsg.Wrap("device key must differ from the owner's key")
	}
	if !c.HasCosigner(id) {
		return errs.ErrMissingSignature.Wrap("device %s must co-sign its registration", id.Device())
	}
	if _, ok := Get(c, id); ok {
		return errs.ErrDeviceExists.Wrap("%s", id.Device())
	}
	kk, _ := KeyIndexKey(m.PubKey)
	if c.Has(kk) {
		return errs.ErrKeyInUse.Wrap("key %s already serves a device", id.Device())
	}
	// A key that has signed as an account keeps serving that account: as a
	// device it would hand the account's funds to the device's owner.
	if account.Get(c, id).PubKey != nil {
		return errs.ErrKeyInUse.Wrap("key %s already serves an account", id)
	}
	tags := normTags(m.Tags)
	if len(tags) > maxTags {
		return errs.ErrInvalidMsg.Wrap("%d tags, limit %d", len(tags), maxTags)
	}
	d := Device{ID: id, PubKey: m.PubKey, Owner: c.Signer, Model: m.Model, Firmware: m.Firmware,
		Location: m.Location, Tags: tags, SealKey: m.SealKey, Registered: c.Header.Height}
	c.Set(kk, id[:])
	c.Set(OwnerKey(d.Owner, id), present)
	for _, t := range tags {
		c.Set(TagKey(t, id), present)
	}
	appendHistory(c, &d, "register", Attr{Key: "owner", Value: d.Owner.String()}, Attr{Key: "model", Value: d.Model},
		Attr{Key: "key", Value: pk.DID()})
	Put(c, &d)
	return nil
}

// Update executes device.update (owner only).
func Update(c *exec.Context, m *txn.DeviceUpdate, maxTags int) error {
	d, err := mustGet(c, m.Device)
	if err != nil {
		return err
	}
	if err := requireOwner(c, d); err != nil {
		return err
	}
	if err := requireNotDecommissioned(d); err != nil {
		return err
	}
	var attrs []Attr
	// Only what actually changes is recorded; an update that changes
	// nothing is refused below.
	if m.Model != nil && *m.Model != d.Model {
		d.Model = *m.Model
		attrs = append(attrs, Attr{Key: "model", Value: d.Model})
	}
	if m.Firmware != nil && *m.Firmware != d.Firmware {
		d.Firmware = *m.Firmware
		attrs = append(attrs, Attr{Key: "firmware", Value: d.Firmware})
	}
	if m.Location != nil && (d.Location == nil || *m.Location != *d.Location) {
		d.Location = m.Location
		attrs = append(attrs, Attr{Key: "location", Value: "set"})
	}
	if m.ClearLocation && d.Location != nil {
		d.Location = nil
		attrs = append(attrs, Attr{Key: "location", Value: "cleared"})
	}
	if m.SealKey != nil && !bytes.Equal(m.SealKey, d.SealKey) {
		d.SealKey = m.SealKey
		attrs = append(attrs, Attr{Key: "seal_key", Value: hex.EncodeToString(m.SealKey)})
	}
	if m.Auditor != nil && (d.Auditor == nil || *d.Auditor != *m.Auditor) {
		a := *m.Auditor
		d.Auditor = &a
		attrs = append(attrs, Attr{Key: "auditor", Value: a.String()})
	}
	if m.ClearAuditor && d.Auditor != nil {
		d.Auditor = nil
		attrs = append(attrs, Attr{Key: "auditor", Value: "cleared"})
	}
	for _, t := range normTags(m.RemoveTags) {
		if i, found := slices.BinarySearch(d.Tags, t); found {
			d.Tags = slices.Delete(d.Tags, i, i+1)
			c.Delete(TagKey(t, d.ID))
			attrs = append(attrs, Attr{Key: "tag_removed", Value: t})
		}
	}
	for _, t := range normTags(m.AddTags) {
		if i, found := slices.BinarySearch(d.Tags, t); !found {
			d.Tags = slices.Insert(d.Tags, i, t)
			c.Set(TagKey(t, d.ID), present)
			attrs = append(attrs, Attr{Key: "tag_added", Value: t})
		}
	}
	if len(d.Tags) > maxTags {
		return errs.ErrInvalidMsg.Wrap("%d tags, limit %d", len(d.Tags), maxTags)
	}
	if len(d.Tags) == 0 {
		d.Tags = nil
	}
	if len(attrs) == 0 {
		return errs.ErrInvalidMsg.Wrap("update changes nothing on %s", d.ID.Device())
	}
	appendHistory(c, &d, "update", attrs...)
	Put(c, &d)
	return nil
}

// RotateKey executes device.rotate_key: by the device's current key or its
// owner; the new key co-signs. A revoked device becomes active again.
func RotateKey(c *exec.Context, m *txn.DeviceRotateKey) error {
	d, err := mustGet(c, m.Device)
	if err != nil {
		return err
	}
	if c.Signer != d.Owner && c.Signer != d.ID {
		return errs.ErrUnauthorized.Wrap("only %s or its owner may rotate its key", d.ID.Device())
	}
	if err := requireNotDecommissioned(d); err != nil {
		return err
	}
	newPK, err := keys.ParsePublicKey(m.NewPubKey)
	if err != nil {
		return errs.ErrInvalidKey.WithCause(err, "new device key")
	}
	if !c.HasCosigner(newPK.Address()) {
		return errs.ErrMissingSignature.Wrap("the new key must co-sign the rotation")
	}
	newKK, _ := KeyIndexKey(m.NewPubKey)
	if c.Has(newKK) {
		return errs.ErrKeyInUse.Wrap("the new key already serves a device")
	}
	oldKK, err := KeyIndexKey(d.PubKey)
	if err != nil {
		return errs.ErrInternal.WithCause(err, "stored device key")
	}
	c.Delete(oldKK)
	c.Set(newKK, d.ID[:])
	wasRevoked := d.Status == Revoked
	d.PubKey = m.NewPubKey
	d.Status = Active
	d.KeyRotations++
	attrs := []Attr{{Key: "key", Value: newPK.DID()}}
	if wasRevoked {
		attrs = append(attrs, Attr{Key: "reactivated", Value: "true"})
	}
	appendHistory(c, &d, "rotate_key", attrs...)
	Put(c, &d)
	return nil
}

// Transfer executes device.transfer (owner only): immediate when the new
// owner co-signs, otherwise a pending offer.
func Transfer(c *exec.Context, m *txn.DeviceTransfer) error {
	d, err := mustGet(c, m.Device)
	if err != nil {
		return err
	}
	if err := requireOwner(c, d); err != nil {
		return err
	}
	if err := requireNotDecommissioned(d); err != nil {
		return err
	}
	if m.To == d.Owner {
		return errs.ErrInvalidMsg.Wrap("%s already owns %s", m.To, d.ID.Device())
	}
	if m.To == d.ID {
		return errs.ErrInvalidMsg.Wrap("a device cannot own itself")
	}
	if c.HasCosigner(m.To) {
		moveOwner(c, &d, m.To)
		appendHistory(c, &d, "transfer", Attr{Key: "to", Value: m.To.String()}, Attr{Key: "accepted", Value: "cosigned"})
	} else {
		to := m.To
		d.PendingOwner = &to
		appendHistory(c, &d, "transfer_offer", Attr{Key: "to", Value: m.To.String()})
	}
	Put(c, &d)
	return nil
}

// AcceptTransfer executes device.accept_transfer (the offered owner only).
func AcceptTransfer(c *exec.Context, m *txn.DeviceAcceptTransfer) error {
	d, err := mustGet(c, m.Device)
	if err != nil {
		return err
	}
	if err := requireNotDecommissioned(d); err != nil {
		return err
	}
	if d.PendingOwner == nil {
		return errs.ErrNoPendingTransfer.Wrap("%s", d.ID.Device())
	}
	if *d.PendingOwner != c.Signer {
		return errs.ErrUnauthorized.Wrap("the transfer of %s was offered to someone else", d.ID.Device())
	}
	from := d.Owner
	moveOwner(c, &d, c.Signer)
	appendHistory(c, &d, "transfer", Attr{Key: "from", Value: from.String()}, Attr{Key: "accepted", Value: "accept_tx"})
	Put(c, &d)
	return nil
}

// CancelTransfer executes device.cancel_transfer (owner only).
func CancelTransfer(c *exec.Context, m *txn.DeviceCancelTransfer) error {
	d, err := mustGet(c, m.Device)
	if err != nil {
		return err
	}
	if err := requireOwner(c, d); err != nil {
		return err
	}
	if d.PendingOwner == nil {
		return errs.ErrNoPendingTransfer.Wrap("%s", d.ID.Device())
	}
	to := *d.PendingOwner
	d.PendingOwner = nil
	appendHistory(c, &d, "transfer_cancel", Attr{Key: "to", Value: to.String()})
	Put(c, &d)
	return nil
}

func moveOwner(c *exec.Context, d *Device, to keys.Address) {
	c.Delete(OwnerKey(d.Owner, d.ID))
	c.Set(OwnerKey(to, d.ID), present)
	d.Owner = to
	d.PendingOwner = nil
}

// Revoke executes device.revoke: by the owner, or by the device itself.
func Revoke(c *exec.Context, m *txn.DeviceRevoke) error {
	d, err := mustGet(c, m.Device)
	if err != nil {
		return err
	}
	if c.Signer != d.Owner && c.Signer != d.ID {
		return errs.ErrUnauthorized.Wrap("only %s or its owner may revoke it", d.ID.Device())
	}
	if err := requireNotDecommissioned(d); err != nil {
		return err
	}
	if d.Status == Revoked {
		return errs.ErrDeviceRevoked.Wrap("%s is already revoked", d.ID.Device())
	}
	d.Status = Revoked
	var attrs []Attr
	if m.Reason != "" {
		attrs = append(attrs, Attr{Key: "reason", Value: m.Reason})
	}
	appendHistory(c, &d, "revoke", attrs...)
	Put(c, &d)
	return nil
}

// Decommission executes device.decommission (owner only). Final.
func Decommission(c *exec.Context, m *txn.DeviceDecommission) error {
	d, err := mustGet(c, m.Device)
	if err != nil {
		return err
	}
	if err := requireOwner(c, d); err != nil {
		return err
	}
	if err := requireNotDecommissioned(d); err != nil {
		return err
	}
	kk, err := KeyIndexKey(d.PubKey)
	if err != nil {
		return errs.ErrInternal.WithCause(err, "stored device key")
	}
	c.Delete(kk)
	d.Status = Decommissioned
	d.PendingOwner = nil
	appendHistory(c, &d, "decommission")
	Put(c, &d)
	return nil
}

// normTags returns the tags sorted and deduplicated.
func normTags(tags []string) []string {
	if len(tags) == 0 {
		return nil
	}
	out := slices.Clone(tags)
	slices.Sort(out)
	return slices.Compact(out)
}

// ReportFirmware records that d now runs a firmware release: the record's
// firmware field and a "firmware" history entry with the version and the
// image's CID. The caller (the file domain) has checked the release.
func ReportFirmware(c *exec.Context, d *Device, version, cid string) {
	prev := d.Firmware
	d.Firmware = version
	appendHistory(c, d, "firmware", Attr{Key: "version", Value: version}, Attr{Key: "cid", Value: cid}, Attr{Key: "previous", Value: prev})
	Put(c, d)
}

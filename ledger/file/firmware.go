package file

import (
	"bytes"
	"encoding/binary"

	"github.com/hypha-iot/hypha/errs"
	"github.com/hypha-iot/hypha/ledger/device"
	"github.com/hypha-iot/hypha/ledger/exec"
	"github.com/hypha-iot/hypha/txn"
)

// GetModel returns a model's record, or false.
func GetModel(c *exec.Context, model string) (Model, bool) {
	var m Model
	ok := c.GetRecord(ModelKey(model), &m)
	return m, ok
}

// RegisterModel executes firmware.register_model.
func RegisterModel(c *exec.Context, m *txn.FirmwareRegisterModel) error {
	if c.SignerIsDevice {
		return errs.ErrUnauthorized.Wrap("a device cannot be a manufacturer")
	}
	if old, ok := GetModel(c, m.Model); ok {
		return errs.ErrModelExists.Wrap("model %q belongs to %s", m.Model, old.Manufacturer)
	}
	c.SetRecord(ModelKey(m.Model), &Model{Model: m.Model, Manufacturer: c.Signer, Registered: c.Header.Height})
	c.Emit("firmware.model", exec.Ix("model", m.Model), exec.Ix("manufacturer", c.Signer.String()))
	return nil
}

// ReleaseMsg executes firmware.release.
func ReleaseMsg(c *exec.Context, m *txn.FirmwareRelease) error {
	mod, ok := GetModel(c, m.Model)
	if !ok {
		return errs.ErrUnknownModel.Wrap("model %q has no manufacturer: register it first", m.Model)
	}
	if c.Signer != mod.Manufacturer {
		return errs.ErrNotManufacturer.Wrap("%s is not the manufacturer of %q (%s is)", c.Signer, m.Model, mod.Manufacturer)
	}
	if mod.Releases > 0 && txn.CompareVersions(m.Version, mod.Latest) <= 0 {
		return errs.ErrVersionNotNewer.Wrap("version %s of %q; latest is %s", m.Version, m.Model, mod.Latest)
	}
	f, err := mustGet(c, m.CID)
	if err != nil {
		return err
	}
	if f.Retired != 0 {
		return errs.ErrInvalidMsg.Wrap("image %s was retired", CIDString(m.CID))
	}
	r := Release{Model: m.Model, Version: m.Version, CID: m.CID, Size: f.Size, Notes: m.Notes,
		Manufacturer: c.Signer, Seq: mod.Releases, Height: c.Header.Height, Time: c.Header.Time.UnixNano(), TxHash: c.TxHash[:]}
	c.SetRecord(ReleaseKey(m.Model, r.Seq), &r)
	c.Set(VersionKey(m.Model, m.Version), binary.BigEndian.AppendUint64(nil, r.Seq))
	mod.Releases++
	mod.Latest = m.Version
	c.SetRecord(ModelKey(m.Model), &mod)
	c.Emit("firmware.release", exec.Ix("model", m.Model), exec.A("version", m.Version),
		exec.A("cid", CIDString(m.CID)), exec.A("seq", exec.U(r.Seq)))
	return nil
}

// GetRelease returns a model's release of version, or false.
func GetRelease(c *exec.Context, model, version string) (Release, bool) {
	b := c.Get(VersionKey(model, version))
	if len(b) != 8 {
		return Release{}, false
	}
	var r Release
	ok := c.GetRecord(ReleaseKey(model, binary.BigEndian.Uint64(b)), &r)
	return r, ok
}

// Report executes firmware.report: signed by a device, for a release of
// its own model.
func Report(c *exec.Context, m *txn.FirmwareReport) error {
	if !c.SignerIsDevice {
		return errs.ErrUnknownDevice.Wrap("firmware reports are signed by a registered device; %s is not one", c.Signer.Device())
	}
	d, ok := device.Get(c, c.Signer)
	if !ok {
		return errs.ErrUnknownDevice.Wrap("%s", c.Signer.Device())
	}
	if d.Status != device.Active {
		return errs.ErrDeviceRevoked.Wrap("%s is %s", d.ID.Device(), d.Status)
	}
	r, ok := GetRelease(c, d.Model, m.Version)
	if !ok {
		return errs.ErrUnknownRelease.Wrap("model %q has no release %s", d.Model, m.Version)
	}
	if !bytes.Equal(r.CID, m.CID) {
		return errs.ErrUnknownRelease.Wrap("release %s of %q is %s, not %s", m.Version, d.Model, CIDString(r.CID), CIDString(m.CID))
	}
	device.ReportFirmware(c, &d, m.Version, CIDString(m.CID))
	return nil
}

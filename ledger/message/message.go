package message

import (
	"bytes"
	"encoding/hex"
	"slices"

	"github.com/hypha-iot/hypha/errs"
	"github.com/hypha-iot/hypha/keys"
	"github.com/hypha-iot/hypha/ledger/account"
	"github.com/hypha-iot/hypha/ledger/device"
	"github.com/hypha-iot/hypha/ledger/exec"
	"github.com/hypha-iot/hypha/seal"
	"github.com/hypha-iot/hypha/store"
	"github.com/hypha-iot/hypha/txn"
)

// Limits are the chain parameters this domain applies.
type Limits struct {
	Retention  int64  // blocks an inbox entry is kept
	RateLimit  uint64 // messages per sender per window (0: unlimited)
	RateWindow uint64 // window length in blocks
}

// SetSealKey executes account.set_seal_key: an account publishes its key;
// a device signer replaces its own record's key.
func SetSealKey(c *exec.Context, m *txn.SetSealKey) error {
	if c.SignerIsDevice {
		d, ok := device.Get(c, c.Signer)
		if !ok {
			return errs.ErrUnknownDevice.Wrap("%s", c.Signer.Device())
		}
		d.SealKey = m.SealKey
		device.Put(c, &d)
	} else {
		a := account.Get(c, c.Signer)
		a.SealKey = m.SealKey
		account.Put(c, c.Signer, a)
	}
	c.Emit("seal_key", exec.Ix("owner", c.Signer.String()), exec.A("key", hex.EncodeToString(m.SealKey)))
	return nil
}

// sealKeyOf returns the published seal key of a device or account, and the
// device record when addr is a device.
func sealKeyOf(c *exec.Context, addr keys.Address) ([]byte, *device.Device) {
	if d, ok := device.Get(c, addr); ok {
		return d.SealKey, &d
	}
	return account.Get(c, addr).SealKey, nil
}

// Send executes message.send.
func Send(c *exec.Context, m *txn.MessageSend, lim Limits) error {
	if err := rateLimit(c, lim); err != nil {
		return err
	}
	recipientKey, dev := sealKeyOf(c, m.To)
	if dev != nil {
		switch dev.Status {
		case device.Revoked:
			return errs.ErrDeviceRevoked.Wrap("recipient %s is revoked", dev.ID.Device())
		case device.Decommissioned:
			return errs.ErrDeviceDecommissioned.Wrap("recipient %s", dev.ID.Device())
		}
	}
	if recipientKey == nil {
		return errs.ErrNoSealKey.Wrap("%s has published no seal key", m.To)
	}
	if err := authorize(c, m, dev); err != nil {
		return err
	}
	if err := checkBox(c, m, recipientKey, dev); err != nil {
		return err
	}
	rk := RecordKey(c.Signer, m.ID)
	if c.Has(rk) {
		return errs.ErrMessageReplayed.Wrap("id %x already used by %s", m.ID, c.Signer)
	}
	cur := Cursor{Height: c.Header.Height, Tx: c.TxIndex, Msg: c.MsgIndex}
	expires := c.Header.Height + lim.Retention
	c.SetRecord(InboxKey(m.To, cur), &Entry{Sender: c.Signer, Kind: m.Kind, ID: m.ID, Box: m.Box, ReplyTo: m.ReplyTo,
		Time: c.Header.Time.UnixNano(), Expires: expires, TxHash: c.TxHash[:], Cursor: cur.Bytes()})
	c.SetRecord(rk, &Record{Recipient: m.To, Kind: m.Kind, Cursor: cur.Bytes(), Expires: expires})
	c.Set(ExpiryKey(expires, m.To, cur, c.Signer, m.ID), present)
	attrs := []exec.Attr{exec.Ix("to", m.To.String()), exec.Ix("from", c.Signer.String()),
		exec.A("kind", txn.KindName(m.Kind)), exec.A("id", hex.EncodeToString(m.ID)), exec.A("cursor", cur.String()),
		exec.A("size", exec.U(uint64(len(m.Box))))}
	if m.ReplyTo != nil {
		attrs = append(attrs, exec.A("reply_to", hex.EncodeToString(m.ReplyTo)))
	}
	c.Emit("message", attrs...)
	return nil
}

// authorize applies the rules on who may send which kind.
func authorize(c *exec.Context, m *txn.MessageSend, dev *device.Device) error {
	switch m.Kind {
	case txn.KindCommand:
		if dev == nil {
			return errs.ErrInvalidMsg.Wrap("commands go to devices; %s is not one", m.To)
		}
		if c.Signer == dev.Owner {
			return nil
		}
		return checkGrant(c, dev.ID, txn.KindCommand)
	case txn.KindCommandResult:
		if !c.SignerIsDevice {
			return errs.ErrUnauthorized.Wrap("only a device answers a command")
		}
		var cmd Record
		if !c.GetRecord(RecordKey(m.To, m.ReplyTo), &cmd) || cmd.Recipient != c.Signer || cmd.Kind != txn.KindCommand {
			return errs.ErrUnknownMessage.Wrap("no command %x from %s to %s", m.ReplyTo, m.To, c.Signer.Device())
		}
	}
	return nil
}

func checkGrant(c *exec.Context, dev keys.Address, kind uint8) error {
	var g Grant
	if !c.GetRecord(GrantKey(dev, c.Signer), &g) || g.Kinds&(1<<kind) == 0 {
		return errs.ErrNoGrant.Wrap("%s may not send %ss to %s", c.Signer, txn.KindName(kind), dev.Device())
	}
	if g.Expires != 0 && g.Expires <= c.Header.Height {
		return errs.ErrGrantExpired.Wrap("grant of %s on %s expired at height %d", c.Signer, dev.Device(), g.Expires)
	}
	return nil
}

// checkBox verifies that the box is sealed to the recipient first and to
// every auditor involved (of a sending or receiving device).
func checkBox(c *exec.Context, m *txn.MessageSend, recipientKey []byte, dev *device.Device) error {
	ids, err := seal.Recipients(m.Box)
	if err != nil {
		return errs.ErrBadSeal.WithCause(err, "box")
	}
	if len(ids) == 0 || ids[0] != seal.KeyID(recipientKey) {
		return errs.ErrBadSeal.Wrap("box is not sealed to %s's current key", m.To)
	}
	var auditors []keys.Address
	if dev != nil && dev.Auditor != nil {
		auditors = append(auditors, *dev.Auditor)
	}
	if c.SignerIsDevice {
		if sd, ok := device.Get(c, c.Signer); ok && sd.Auditor != nil && !slices.Contains(auditors, *sd.Auditor) {
			auditors = append(auditors, *sd.Auditor)
		}
	}
	for _, a := range auditors {
		ak := account.Get(c, a).SealKey
		if ak == nil {
			return errs.ErrNoSealKey.Wrap("auditor %s has published no seal key", a)
		}
		if !slices.Contains(ids, seal.KeyID(ak)) {
			return errs.ErrBadSeal.Wrap("box is not sealed to auditor %s", a)
		}
	}
	return nil
}

// RateLimit counts a message of the signer against the per-sender rate
// limit, or refuses it with ErrRateLimited; the contract domain uses it for
// messages to contracts.
func RateLimit(c *exec.Context, lim Limits) error { return rateLimit(c, lim) }

func rateLimit(c *exec.Context, lim Limits) error {
	if lim.RateLimit == 0 || lim.RateWindow == 0 {
		return nil
	}
	window := uint64(c.Header.Height) / lim.RateWindow
	var r Rate
	c.GetRecord(RateKey(c.Signer), &r)
	if r.Window != window {
		r = Rate{Window: window}
	}
	if r.Count >= lim.RateLimit {
		return errs.ErrRateLimited.Wrap("%s sent %d messages in this %d-block window (limit %d)", c.Signer, r.Count, lim.RateWindow, lim.RateLimit)
	}
	r.Count++
	c.SetRecord(RateKey(c.Signer), &r)
	return nil
}

// Receipt executes message.receipt: the recipient acknowledges messages;
// states only move forward (delivered, then read).
func Receipt(c *exec.Context, m *txn.MessageReceipt) error {
	for _, id := range m.IDs {
		var r Record
		rk := RecordKey(m.Sender, id)
		if !c.GetRecord(rk, &r) {
			return errs.ErrUnknownMessage.Wrap("no message %x from %s", id, m.Sender)
		}
		if r.Recipient != c.Signer {
			return errs.ErrUnauthorized.Wrap("message %x was not sent to %s", id, c.Signer)
		}
		if m.State <= r.State {
			continue
		}
		r.State, r.StateHeight = m.State, c.Header.Height
		c.SetRecord(rk, &r)
		state := "delivered"
		if m.State == txn.StateRead {
			state = "read"
		}
		c.Emit("message.receipt", exec.Ix("from", m.Sender.String()), exec.Ix("to", c.Signer.String()),
			exec.A("id", hex.EncodeToString(id)), exec.A("state", state))
	}
	return nil
}

// GrantMsg executes message.grant (the device's owner only).
func GrantMsg(c *exec.Context, m *txn.MessageGrant) error {
	d, ok := device.Get(c, m.Device)
	if !ok {
		return errs.ErrUnknownDevice.Wrap("%s", m.Device.Device())
	}
	if c.Signer != d.Owner {
		return errs.ErrUnauthorized.Wrap("%s is not the owner of %s", c.Signer, d.ID.Device())
	}
	if m.Expires != 0 && m.Expires <= c.Header.Height {
		return errs.ErrInvalidMsg.Wrap("grant expires at %d, already past", m.Expires)
	}
	key := GrantKey(m.Device, m.Grantee)
	var bits uint8
	for _, k := range m.Kinds {
		bits |= 1 << k
	}
	kinds := []string{}
	for k := uint8(0); k <= txn.KindCommandResult; k++ {
		if bits&(1<<k) != 0 {
			kinds = append(kinds, txn.KindName(k))
		}
	}
	if bits == 0 {
		c.Delete(key)
	} else {
		c.SetRecord(key, &Grant{Kinds: bits, Expires: m.Expires})
	}
	c.Emit("message.grant", exec.Ix("device", d.ID.Device()), exec.Ix("grantee", m.Grantee.String()),
		exec.A("kinds", joinKinds(kinds)), exec.A("expires", exec.U(uint64(m.Expires))))
	return nil
}

func joinKinds(k []string) string {
	var b bytes.Buffer
	for i, s := range k {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(s)
	}
	return b.String()
}

// Expire removes, in key order, inbox entries whose retention ended at or
// before height, at most max of them (the rest go at the next block). It
// reads the queue from committed state r and writes through kv. It returns
// how many it removed.
func Expire(r store.Reader, kv *exec.Cache, height int64, max int) (int, error) {
	n := 0
	var ferr error
	err := r.Iterate([]byte(ExpPrefix), ExpiryEnd(height), false, func(k, _ []byte) bool {
		if n == max {
			return false
		}
		inbox, record, ok := parseExpiry(k)
		if !ok {
			ferr = errs.ErrInternal.Wrap("malformed expiry key %x", k)
			return false
		}
		kv.Delete(append([]byte(nil), k...))
		kv.Delete(inbox)
		kv.Delete(record)
		n++
		return true
	})
	if err == nil {
		err = ferr
	}
	return n, err
}

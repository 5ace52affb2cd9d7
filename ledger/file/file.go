package file

import (
	"bytes"

	"github.com/ipfs/go-cid"

	"github.com/hypha-iot/hypha/errs"
	"github.com/hypha-iot/hypha/keys"
	"github.com/hypha-iot/hypha/ledger/account"
	"github.com/hypha-iot/hypha/ledger/device"
	"github.com/hypha-iot/hypha/ledger/exec"
	"github.com/hypha-iot/hypha/ledger/gateway"
	"github.com/hypha-iot/hypha/seal"
	"github.com/hypha-iot/hypha/txn"
)

// Limits are the chain parameters of this domain.
type Limits struct {
	// MaxFileSize bounds a published file's size in bytes (0: no bound).
	MaxFileSize uint64
}

// CIDString renders a binary CID (checked by txn.CheckCID) as text.
func CIDString(b []byte) string {
	c, err := cid.Cast(b)
	if err != nil {
		return "invalid"
	}
	return c.String()
}

// Get returns the record of cid, or false.
func Get(c *exec.Context, cid []byte) (File, bool) {
	var f File
	ok := c.GetRecord(RecordKey(cid), &f)
	return f, ok
}

func mustGet(c *exec.Context, cid []byte) (File, error) {
	f, ok := Get(c, cid)
	if !ok {
		return f, errs.ErrUnknownFile.Wrap("%s", CIDString(cid))
	}
	return f, nil
}

// put writes f and keeps the wanted index in step with it.
func put(c *exec.Context, f *File) {
	c.SetRecord(RecordKey(f.CID), f)
	if f.Wanted() > 0 {
		c.Set(wantedKey(f.CID), []byte{1})
	} else if c.Has(wantedKey(f.CID)) {
		c.Delete(wantedKey(f.CID))
	}
}

// sealKeyOf returns the published seal key of a device or account.
func sealKeyOf(c *exec.Context, a keys.Address) []byte {
	if d, ok := device.Get(c, a); ok {
		return d.SealKey
	}
	return account.Get(c, a).SealKey
}

// checkWrapped verifies that a wrapped key is sealed, first, to the
// recipient's current seal key. Whether it opens is known only to the
// recipient.
func checkWrapped(c *exec.Context, k *txn.WrappedKey) error {
	pub := sealKeyOf(c, k.Recipient)
	if pub == nil {
		return errs.ErrNoSealKey.Wrap("recipient %s has published no seal key", k.Recipient)
	}
	ids, err := seal.Recipients(k.Box)
	if err != nil {
		return errs.ErrBadSeal.WithCause(err, "wrapped key for %s", k.Recipient)
	}
	if len(ids) == 0 || ids[0] != seal.KeyID(pub) {
		return errs.ErrBadSeal.Wrap("wrapped key is not sealed to %s's current seal key", k.Recipient)
	}
	return nil
}

// Publish executes file.publish.
func Publish(c *exec.Context, m *txn.FilePublish, lim Limits) error {
	if lim.MaxFileSize > 0 && m.Size > lim.MaxFileSize {
		return errs.ErrFileTooLarge.Wrap("%d bytes, limit %d", m.Size, lim.MaxFileSize)
	}
	if old, ok := Get(c, m.CID); ok {
		return errs.ErrFileExists.Wrap("%s was published by %s at height %d", CIDString(m.CID), old.Publisher, old.Published)
	}
	if m.Encrypted != nil {
		for i := range m.Encrypted.Keys {
			if err := checkWrapped(c, &m.Encrypted.Keys[i]); err != nil {
				return err
			}
		}
	}
	f := File{CID: m.CID, Size: m.Size, Name: m.Name, MediaType: m.MediaType, Publisher: c.Signer,
		Replicas: m.Replicas, Published: c.Header.Height, TxHash: c.TxHash[:], Encrypted: m.Encrypted}
	put(c, &f)
	c.Set(publisherKey(c.Signer, m.CID), []byte{1})
	enc := "false"
	if m.Encrypted != nil {
		enc = "true"
	}
	c.Emit("file.publish", exec.Ix("cid", CIDString(m.CID)), exec.Ix("publisher", c.Signer.String()),
		exec.A("size", exec.U(m.Size)), exec.A("name", m.Name), exec.A("replicas", exec.U(uint64(m.Replicas))),
		exec.A("encrypted", enc))
	return nil
}

// PinMsg executes file.pin: a gateway attests that it holds the whole DAG.
func PinMsg(c *exec.Context, m *txn.FilePin) error {
	if !gateway.Is(c, c.Signer) {
		return errs.ErrNotGateway.Wrap("%s", c.Signer)
	}
	f, err := mustGet(c, m.CID)
	if err != nil {
		return err
	}
	if f.Retired != 0 {
		return errs.ErrInvalidMsg.Wrap("%s was retired at height %d", CIDString(m.CID), f.Retired)
	}
	key := HolderKey(m.CID, c.Signer)
	if c.Has(key) {
		return errs.ErrInvalidMsg.Wrap("%s already attested holding %s", c.Signer, CIDString(m.CID))
	}
	c.SetRecord(key, &Pin{Gateway: c.Signer, Height: c.Header.Height, TxHash: c.TxHash[:]})
	f.Holders++
	put(c, &f)
	c.Emit("file.pin", exec.Ix("cid", CIDString(m.CID)), exec.Ix("gateway", c.Signer.String()),
		exec.A("holders", exec.U(uint64(f.Holders))), exec.A("replicas", exec.U(uint64(f.Replicas))))
	return nil
}

// Unpin executes file.unpin: signed by a holding gateway it withdraws the
// pin; signed by the publisher it retires the file.
func Unpin(c *exec.Context, m *txn.FileUnpin) error {
	f, err := mustGet(c, m.CID)
	if err != nil {
		return err
	}
	key := HolderKey(m.CID, c.Signer)
	switch {
	case c.Has(key):
		c.Delete(key)
		f.Holders--
		put(c, &f)
		c.Emit("file.unpin", exec.Ix("cid", CIDString(m.CID)), exec.Ix("gateway", c.Signer.String()),
			exec.A("holders", exec.U(uint64(f.Holders))))
		return nil
	case c.Signer == f.Publisher:
		if f.Retired != 0 {
			return errs.ErrInvalidMsg.Wrap("%s already retired at height %d", CIDString(m.CID), f.Retired)
		}
		f.Retired = c.Header.Height
		put(c, &f)
		c.Emit("file.retire", exec.Ix("cid", CIDString(m.CID)), exec.Ix("publisher", c.Signer.String()))
		return nil
	}
	return errs.ErrUnauthorized.Wrap("%s neither holds nor published %s", c.Signer, CIDString(m.CID))
}

// Grant executes file.grant: the publisher of an encrypted file adds or
// replaces a recipient's wrapped content key.
func Grant(c *exec.Context, m *txn.FileGrant) error {
	f, err := mustGet(c, m.CID)
	if err != nil {
		return err
	}
	if c.Signer != f.Publisher {
		return errs.ErrUnauthorized.Wrap("%s is not the publisher of %s", c.Signer, CIDString(m.CID))
	}
	if f.Encrypted == nil {
		return errs.ErrInvalidMsg.Wrap("%s is not encrypted: nothing to grant", CIDString(m.CID))
	}
	if err := checkWrapped(c, &m.Key); err != nil {
		return err
	}
	replaced := false
	for i := range f.Encrypted.Keys {
		if f.Encrypted.Keys[i].Recipient == m.Key.Recipient {
			f.Encrypted.Keys[i].Box = bytes.Clone(m.Key.Box)
			replaced = true
		}
	}
	if !replaced {
		if len(f.Encrypted.Keys) >= txn.MaxFileRecipients {
			return errs.ErrInvalidMsg.Wrap("%s already has %d recipients", CIDString(m.CID), txn.MaxFileRecipients)
		}
		f.Encrypted.Keys = append(f.Encrypted.Keys, m.Key)
	}
	put(c, &f)
	c.Emit("file.grant", exec.Ix("cid", CIDString(m.CID)), exec.Ix("recipient", m.Key.Recipient.String()))
	return nil
}

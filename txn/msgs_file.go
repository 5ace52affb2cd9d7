package txn

import (
	"strings"
	"unicode"

	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multihash"
	"golang.org/x/mod/semver"

	"github.com/hypha-iot/hypha/errs"
	"github.com/hypha-iot/hypha/keys"
)

// File and firmware field limits checked statelessly.
const (
	MaxFileNameBytes  = 255
	MaxMediaTypeBytes = 127
	MaxNotesBytes     = 1024
	MaxReplicas       = 16
	// MaxFileRecipients bounds the wrapped keys of an encrypted file.
	MaxFileRecipients = 32
	// MaxWrappedKeyBytes bounds one wrapped content key (a seal.Box of a
	// 32-byte key to one recipient is under 200 bytes).
	MaxWrappedKeyBytes = 512
)

// EncryptionStream is the only file encryption scheme: seal's STREAM of
// ChaCha20-Poly1305 segments under a random content key, the key wrapped
// per recipient with seal.Seal (docs/files.md).
const EncryptionStream = "hypha-stream-v1"

// WrappedKey is a file's content key sealed to one recipient.
type WrappedKey struct {
	Recipient keys.Address `cbor:"1,keyasint" json:"recipient"`
	// Box is a seal.Box of the content key, sealed to the recipient's
	// published seal key under the header seal.FileKeyHeader builds.
	Box []byte `cbor:"2,keyasint" json:"box"`
}

// Encryption describes an encrypted file: the CID is of the ciphertext.
type Encryption struct {
	Scheme string       `cbor:"1,keyasint" json:"scheme"`
	Keys   []WrappedKey `cbor:"2,keyasint" json:"keys"`
}

// FilePublish records a file: its CID (binary form), size in bytes, name,
// media type, and how many gateways should hold it. Signed by the
// publisher (an account, or a device publishing its own logs).
type FilePublish struct {
	CID       []byte      `cbor:"1,keyasint"`
	Size      uint64      `cbor:"2,keyasint"`
	Name      string      `cbor:"3,keyasint,omitempty"`
	MediaType string      `cbor:"4,keyasint,omitempty"`
	Replicas  uint8       `cbor:"5,keyasint"`
	Encrypted *Encryption `cbor:"6,keyasint,omitempty"`
}

// Type implements Msg.
func (*FilePublish) Type() MsgType { return TypeFilePublish }

// ValidateBasic implements Msg.
func (m *FilePublish) ValidateBasic() error {
	if err := CheckCID(m.CID); err != nil {
		return err
	}
	if len(m.Name) > MaxFileNameBytes {
		return errs.ErrInvalidMsg.Wrap("file name longer than %d bytes", MaxFileNameBytes)
	}
	for _, r := range m.Name {
		if !unicode.IsPrint(r) || r == '/' || r == '\\' {
			return errs.ErrInvalidMsg.Wrap("file name has a non-printable character or a path separator")
		}
	}
	if err := checkMediaType(m.MediaType); err != nil {
		return err
	}
	if m.Replicas == 0 || m.Replicas > MaxReplicas {
		return errs.ErrInvalidMsg.Wrap("replicas %d outside [1, %d]", m.Replicas, MaxReplicas)
	}
	if e := m.Encrypted; e != nil {
		if e.Scheme != EncryptionStream {
			return errs.ErrInvalidMsg.Wrap("encryption scheme %q; only %q", e.Scheme, EncryptionStream)
		}
		if len(e.Keys) == 0 || len(e.Keys) > MaxFileRecipients {
			return errs.ErrInvalidMsg.Wrap("encrypted file: 1 to %d wrapped keys", MaxFileRecipients)
		}
		for i, k := range e.Keys {
			if err := k.validate(); err != nil {
				return err
			}
			for _, prev := range e.Keys[:i] {
				if prev.Recipient == k.Recipient {
					return errs.ErrInvalidMsg.Wrap("encrypted file: %s listed twice", k.Recipient)
				}
			}
		}
	}
	return nil
}

func (k *WrappedKey) validate() error {
	if k.Recipient.IsZero() {
		return errs.ErrInvalidAddress.Wrap("wrapped key: empty recipient")
	}
	if len(k.Box) == 0 || len(k.Box) > MaxWrappedKeyBytes {
		return errs.ErrInvalidMsg.Wrap("wrapped key: 1 to %d bytes", MaxWrappedKeyBytes)
	}
	return nil
}

// FilePin is a gateway's attestation that it holds the whole DAG of CID.
// Signed by a gateway account listed in the genesis.
type FilePin struct {
	CID []byte `cbor:"1,keyasint"`
}

// Type implements Msg.
func (*FilePin) Type() MsgType { return TypeFilePin }

// ValidateBasic implements Msg.
func (m *FilePin) ValidateBasic() error { return CheckCID(m.CID) }

// FileUnpin withdraws the signer's pin when a gateway signs it; signed by
// the publisher it retires the file: no replicas are wanted any more and
// gateways may drop it.
type FileUnpin struct {
	CID []byte `cbor:"1,keyasint"`
}

// Type implements Msg.
func (*FileUnpin) Type() MsgType { return TypeFileUnpin }

// ValidateBasic implements Msg.
func (m *FileUnpin) ValidateBasic() error { return CheckCID(m.CID) }

// FileGrant adds (or replaces) a recipient's wrapped content key of an
// encrypted file. Signed by the publisher.
type FileGrant struct {
	CID []byte     `cbor:"1,keyasint"`
	Key WrappedKey `cbor:"2,keyasint"`
}

// Type implements Msg.
func (*FileGrant) Type() MsgType { return TypeFileGrant }

// ValidateBasic implements Msg.
func (m *FileGrant) ValidateBasic() error {
	if err := CheckCID(m.CID); err != nil {
		return err
	}
	return m.Key.validate()
}

// FirmwareRegisterModel makes the signer the manufacturer of a device
// model: only it may publish releases for the model. First come, first
// served; the claim is permanent.
type FirmwareRegisterModel struct {
	Model string `cbor:"1,keyasint"`
}

// Type implements Msg.
func (*FirmwareRegisterModel) Type() MsgType { return TypeFirmwareRegisterModel }

// ValidateBasic implements Msg.
func (m *FirmwareRegisterModel) ValidateBasic() error { return checkText("model", m.Model, true) }

// FirmwareRelease publishes a firmware release of a model: a semantic
// version above every earlier release of the model and the CID of the image,
// whose file record must exist. Signed by the model's manufacturer; the
// signature over the tx is the release signature.
type FirmwareRelease struct {
	Model   string `cbor:"1,keyasint"`
	Version string `cbor:"2,keyasint"`
	CID     []byte `cbor:"3,keyasint"`
	Notes   string `cbor:"4,keyasint,omitempty"`
}

// Type implements Msg.
func (*FirmwareRelease) Type() MsgType { return TypeFirmwareRelease }

// ValidateBasic implements Msg.
func (m *FirmwareRelease) ValidateBasic() error {
	if err := checkText("model", m.Model, true); err != nil {
		return err
	}
	if err := CheckVersion(m.Version); err != nil {
		return err
	}
	if len(m.Notes) > MaxNotesBytes {
		return errs.ErrInvalidMsg.Wrap("release notes longer than %d bytes", MaxNotesBytes)
	}
	return CheckCID(m.CID)
}

// FirmwareReport is a device's report of the firmware it now runs: a
// release of its model, identified by version and CID. Signed by the
// device; it updates the device record and appends to its history.
type FirmwareReport struct {
	Version string `cbor:"1,keyasint"`
	CID     []byte `cbor:"2,keyasint"`
}

// Type implements Msg.
func (*FirmwareReport) Type() MsgType { return TypeFirmwareReport }

// ValidateBasic implements Msg.
func (m *FirmwareReport) ValidateBasic() error {
	if err := CheckVersion(m.Version); err != nil {
		return err
	}
	return CheckCID(m.CID)
}

// CheckVersion accepts a semantic version "MAJOR.MINOR.PATCH" with optional
// pre-release and build parts (semver 2.0.0), without a leading "v".
func CheckVersion(v string) error {
	w := "v" + v
	if v == "" || len(v) > MaxTextBytes || v[0] == 'v' || !semver.IsValid(w) ||
		semver.Canonical(w) != strings.TrimSuffix(w, semver.Build(w)) {
		return errs.ErrInvalidMsg.Wrap("version %q is not a semantic version MAJOR.MINOR.PATCH", v)
	}
	return nil
}

// CompareVersions compares two versions accepted by CheckVersion by semver
// precedence: -1, 0 or +1.
func CompareVersions(a, b string) int { return semver.Compare("v"+a, "v"+b) }

// MaxCIDBytes bounds a binary CID.
const MaxCIDBytes = 128

// CheckCID accepts the binary form of a CIDv1 (or v0) whose codec is raw or
// dag-pb and whose multihash is a full-length SHA-256: what the blob store
// produces and re-hashes on read.
func CheckCID(b []byte) error {
	if len(b) == 0 || len(b) > MaxCIDBytes {
		return errs.ErrInvalidCID.Wrap("CID must be 1 to %d bytes", MaxCIDBytes)
	}
	n, c, err := cid.CidFromBytes(b)
	if err != nil {
		return errs.ErrInvalidCID.WithCause(err, "decode")
	}
	if n != len(b) {
		return errs.ErrInvalidCID.Wrap("trailing bytes after the CID")
	}
	if p := c.Prefix(); p.Codec != cid.Raw && p.Codec != cid.DagProtobuf || p.MhType != multihash.SHA2_256 || p.MhLength != 32 {
		return errs.ErrInvalidCID.Wrap("%s: want codec raw or dag-pb with a sha2-256 multihash", c)
	}
	return nil
}

func checkMediaType(s string) error {
	if len(s) > MaxMediaTypeBytes {
		return errs.ErrInvalidMsg.Wrap("media type longer than %d bytes", MaxMediaTypeBytes)
	}
	slash := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '/':
			slash++
		case c <= ' ' || c >= 0x7f || c == '"' || c == '\\':
			return errs.ErrInvalidMsg.Wrap("media type %q: only printable ASCII", s)
		}
	}
	if s != "" && slash != 1 {
		return errs.ErrInvalidMsg.Wrap("media type %q: want type/subtype", s)
	}
	return nil
}

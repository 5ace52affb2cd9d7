// Package file is the ledger's file and firmware domain. The ledger never
// holds file bytes: it records what was published (CID, size, name, media
// type, publisher, replicas wanted, wrapped content keys of encrypted files),
// which gateways attest holding each file, and firmware releases of device
// models by their manufacturers.
//
// It owns the state prefixes "file/" and "fw/":
//
//	file/r/{cid}                           -> File
//	file/h/{len(cid):1}{cid}{gateway}      -> Pin (holders of a file)
//	file/p/{publisher}{len(cid):1}{cid}    -> 0x01 (files by publisher)
//	file/w/{len(cid):1}{cid}               -> 0x01 (files with fewer holders than wanted)
//	fw/m/{len(model):1}{model}             -> Model
//	fw/r/{len(model):1}{model}{seq:8}      -> Release (seq from 0)
//	fw/v/{len(model):1}{model}{version}    -> seq:8
//
// The length prefixes keep one CID or model from being a key prefix of
// another.
package file

import (
	"encoding/binary"

	"github.com/hypha-iot/hypha/keys"
	"github.com/hypha-iot/hypha/txn"
)

// Key prefixes.
const (
	Prefix         = "file/"
	FirmwarePrefix = "fw/"
	recordPrefix   = "file/r/"
	holderPrefix   = "file/h/"
	byPubPrefix    = "file/p/"
	wantedPrefix   = "file/w/"
	modelPrefix    = "fw/m/"
	releasePrefix  = "fw/r/"
	versionPrefix  = "fw/v/"
)

// File is a file's record.
type File struct {
	CID       []byte          `cbor:"1,keyasint"`
	Size      uint64          `cbor:"2,keyasint"`
	Name      string          `cbor:"3,keyasint,omitempty"`
	MediaType string          `cbor:"4,keyasint,omitempty"`
	Publisher keys.Address    `cbor:"5,keyasint"`
	Replicas  uint8           `cbor:"6,keyasint"`
	Holders   uint32          `cbor:"7,keyasint"`
	Published int64           `cbor:"8,keyasint"`
	TxHash    []byte          `cbor:"9,keyasint"`
	Encrypted *txn.Encryption `cbor:"10,keyasint,omitempty"`
	// Retired is the height at which the publisher retired the file (0:
	// live). A retired file wants no replicas.
	Retired int64 `cbor:"11,keyasint,omitempty"`
}

// Wanted is how many more holders the file wants.
func (f *File) Wanted() int {
	if f.Retired != 0 || uint32(f.Replicas) <= f.Holders {
		return 0
	}
	return int(uint32(f.Replicas) - f.Holders)
}

// Pin is one gateway's attestation.
type Pin struct {
	Gateway keys.Address `cbor:"1,keyasint"`
	Height  int64        `cbor:"2,keyasint"`
	TxHash  []byte       `cbor:"3,keyasint"`
}

// Model is a device model's manufacturer and release count.
type Model struct {
	Model        string       `cbor:"1,keyasint"`
	Manufacturer keys.Address `cbor:"2,keyasint"`
	Registered   int64        `cbor:"3,keyasint"`
	// Releases is the number of releases; the latest has seq Releases-1.
	Releases uint64 `cbor:"4,keyasint"`
	Latest   string `cbor:"5,keyasint,omitempty"`
}

// Release is one firmware release.
type Release struct {
	Model        string       `cbor:"1,keyasint"`
	Version      string       `cbor:"2,keyasint"`
	CID          []byte       `cbor:"3,keyasint"`
	Size         uint64       `cbor:"4,keyasint"`
	Notes        string       `cbor:"5,keyasint,omitempty"`
	Manufacturer keys.Address `cbor:"6,keyasint"`
	Seq          uint64       `cbor:"7,keyasint"`
	Height       int64        `cbor:"8,keyasint"`
	Time         int64        `cbor:"9,keyasint"`
	TxHash       []byte       `cbor:"10,keyasint"`
}

func lp(b []byte) []byte { return append([]byte{byte(len(b))}, b...) }

func cat(prefix string, parts ...[]byte) []byte {
	out := []byte(prefix)
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// RecordKey is the key of a file's record.
func RecordKey(cid []byte) []byte { return cat(recordPrefix, cid) }

// HolderPrefix is the key prefix of a file's holders.
func HolderPrefix(cid []byte) []byte { return cat(holderPrefix, lp(cid)) }

// HolderKey is the key of one gateway's pin of a file.
func HolderKey(cid []byte, gw keys.Address) []byte { return cat(holderPrefix, lp(cid), gw[:]) }

// PublisherPrefix is the key prefix of a publisher's files.
func PublisherPrefix(p keys.Address) []byte { return cat(byPubPrefix, p[:]) }

func publisherKey(p keys.Address, cid []byte) []byte { return cat(byPubPrefix, p[:], lp(cid)) }

// WantedPrefix is the key prefix of files that want more holders.
func WantedPrefix() []byte { return []byte(wantedPrefix) }

func wantedKey(cid []byte) []byte { return cat(wantedPrefix, lp(cid)) }

// ModelKey is the key of a model's record.
func ModelKey(model string) []byte { return cat(modelPrefix, lp([]byte(model))) }

// ReleasePrefix is the key prefix of a model's releases.
func ReleasePrefix(model string) []byte { return cat(releasePrefix, lp([]byte(model))) }

// ReleaseKey is the key of a model's release seq.
func ReleaseKey(model string, seq uint64) []byte {
	return binary.BigEndian.AppendUint64(ReleasePrefix(model), seq)
}

// VersionKey is the key of a model's version index.
func VersionKey(model, version string) []byte {
	return cat(versionPrefix, lp([]byte(model)), []byte(version))
}

// CIDFromSuffix splits a length-prefixed CID off the front of b.
func CIDFromSuffix(b []byte) (cid, rest []byte, ok bool) {
	if len(b) == 0 || len(b) < 1+int(b[0]) {
		return nil, nil, false
	}
	return b[1 : 1+b[0]], b[1+b[0]:], true
}

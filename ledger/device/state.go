// Package device is the ledger's device identity domain: registration with
// proof of key possession, metadata, key rotation, ownership transfer,
// revocation and decommissioning, each appended to the device's history.
// It owns the state prefix "dev/".
//
// Keys:
//
//	dev/r/{id}                 -> Device
//	dev/h/{id}{seq:8}          -> HistoryEntry (seq from 0, big-endian)
//	dev/o/{owner}{id}          -> 0x01 (index by owner)
//	dev/t/{len:1}{tag}{id}     -> 0x01 (index by tag)
//	dev/k/{address of key}     -> id  (current keys; a key serves one device)
package device

import (
	"encoding/binary"

	"github.com/hypha-iot/hypha/keys"
	"github.com/hypha-iot/hypha/txn"
)

// Prefixes of this domain's keys.
const (
	Prefix        = "dev/"
	recordPrefix  = "dev/r/"
	historyPrefix = "dev/h/"
	ownerPrefix   = "dev/o/"
	tagPrefix     = "dev/t/"
	keyPrefix     = "dev/k/"
)

// Status of a device.
type Status uint8

// Statuses.
const (
	Active         Status = 0
	Revoked        Status = 1
	Decommissioned Status = 2
)

func (s Status) String() string {
	switch s {
	case Active:
		return "active"
	case Revoked:
		return "revoked"
	case Decommissioned:
		return "decommissioned"
	}
	return "unknown"
}

// MarshalText renders the status name in JSON.
func (s Status) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Device is a device's current record: its identity, which changes only
// through the device msgs and each time appends to its history. What
// changes whenever the device signs (fee balance, counter, direct-reading
// head) lives in its account instead (package account); keys 11, 15 and 17,
// which once held them here, are not reused.
type Device struct {
	ID       keys.Address  `cbor:"1,keyasint" json:"id"`
	PubKey   []byte        `cbor:"2,keyasint" json:"pubkey"`
	Owner    keys.Address  `cbor:"3,keyasint" json:"owner"`
	Model    string        `cbor:"4,keyasint" json:"model"`
	Firmware string        `cbor:"5,keyasint,omitempty" json:"firmware,omitempty"`
	Location *txn.Location `cbor:"6,keyasint,omitempty" json:"location,omitempty"`
	Tags     []string      `cbor:"7,keyasint,omitempty" json:"tags,omitempty"`
	SealKey  []byte        `cbor:"8,keyasint,omitempty" json:"seal_key,omitempty"`
	Status   Status        `cbor:"9,keyasint" json:"status"`
	// PendingOwner is set while a transfer offer waits for acceptance.
	PendingOwner *keys.Address `cbor:"10,keyasint,omitempty" json:"pending_owner,omitempty"`
	// HistoryLen is the number of history entries; the next one gets this seq.
	HistoryLen   uint64 `cbor:"12,keyasint" json:"history_len"`
	Registered   int64  `cbor:"13,keyasint" json:"registered_height"`
	Updated      int64  `cbor:"14,keyasint" json:"updated_height"`
	KeyRotations uint32 `cbor:"16,keyasint,omitempty" json:"key_rotations,omitempty"`
	// Auditor is an account every message to or from the device is also
	// sealed to.
	Auditor *keys.Address `cbor:"18,keyasint,omitempty" json:"auditor,omitempty"`
}

// HistoryEntry is one change to a device, in the append-only history.
type HistoryEntry struct {
	Seq    uint64       `cbor:"1,keyasint" json:"seq"`
	Height int64        `cbor:"2,keyasint" json:"height"`
	TxHash []byte       `cbor:"3,keyasint" json:"tx_hash"`
	Kind   string       `cbor:"4,keyasint" json:"kind"`
	Actor  keys.Address `cbor:"5,keyasint" json:"actor"`
	// Attrs describe the change (new key, new owner, reason…), in a fixed order.
	Attrs []Attr `cbor:"6,keyasint,omitempty" json:"attrs,omitempty"`
}

// Attr is one detail of a history entry.
type Attr struct {
	_     struct{} `cbor:",toarray"`
	Key   string   `json:"key"`
	Value string   `json:"value"`
}

// RecordKey is the state key of a device record.
func RecordKey(id keys.Address) []byte { return cat(recordPrefix, id[:]) }

// HistoryKey is the state key of history entry seq of id.
func HistoryKey(id keys.Address, seq uint64) []byte {
	return binary.BigEndian.AppendUint64(cat(historyPrefix, id[:]), seq)
}

// HistoryPrefix is the key prefix of id's history.
func HistoryPrefix(id keys.Address) []byte { return cat(historyPrefix, id[:]) }

// OwnerKey is the index key of (owner, id).
func OwnerKey(owner, id keys.Address) []byte { return cat(ownerPrefix, owner[:], id[:]) }

// OwnerPrefix is the index prefix of owner's devices.
func OwnerPrefix(owner keys.Address) []byte { return cat(ownerPrefix, owner[:]) }

// TagPrefix is the index prefix of devices with tag. The tag's length comes
// first so that tag "a" does not prefix-match tag "ab".
func TagPrefix(tag string) []byte { return cat(tagPrefix, []byte{byte(len(tag))}, []byte(tag)) }

// TagKey is the index key of (tag, id).
func TagKey(tag string, id keys.Address) []byte { return append(TagPrefix(tag), id[:]...) }

// KeyIndexKey is the index key of a device's current public key.
func KeyIndexKey(pub []byte) ([]byte, error) {
	pk, err := keys.ParsePublicKey(pub)
	if err != nil {
		return nil, err
	}
	a := pk.Address()
	return cat(keyPrefix, a[:]), nil
}

func cat(prefix string, parts ...[]byte) []byte {
	n := len(prefix)
	for _, p := range parts {
		n += len(p)
	}
	out := make([]byte, 0, n)
	out = append(out, prefix...)
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

var present = []byte{1}

// Package reading is the ledger's direct-reading domain: SenML CBOR readings
// signed by a device as a tx, for low-rate devices and contract triggers.
// It owns the state prefix "rd/":
//
//	rd/s/{id}{idx:8}   -> Ref (one per reading, idx from 0; payload digest, not body)
//
// The latest reading, with its body, is kept in the device record
// (device.Device.Latest); the sequence keeps digests, and only the newest
// Retention of them (bounded storage). The bodies remain in the block store,
// addressed by tx hash.
package reading

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"

	"github.com/hypha-iot/hypha/keys"
	"github.com/hypha-iot/hypha/ledger/device"
	"github.com/hypha-iot/hypha/ledger/exec"
	"github.com/hypha-iot/hypha/txn"
)

// Key prefixes.
const (
	Prefix    = "rd/"
	seqPrefix = "rd/s/"
)

// Ref is one entry of a device's reading sequence.
type Ref struct {
	Index   uint64 `cbor:"1,keyasint" json:"index"`
	Counter uint64 `cbor:"2,keyasint" json:"counter"`
	Height  int64  `cbor:"3,keyasint" json:"height"`
	Time    int64  `cbor:"4,keyasint" json:"time"`
	TxHash  []byte `cbor:"5,keyasint" json:"tx_hash"`
	// Digest is SHA-256 of the payload.
	Digest  []byte `cbor:"6,keyasint" json:"digest"`
	Size    uint32 `cbor:"7,keyasint" json:"size"`
	Records uint32 `cbor:"8,keyasint" json:"records"`
}

// SeqPrefix is the key prefix of id's reading sequence.
func SeqPrefix(id keys.Address) []byte { return append([]byte(seqPrefix), id[:]...) }

// SeqKey is the state key of id's reading number idx.
func SeqKey(id keys.Address, idx uint64) []byte {
	return binary.BigEndian.AppendUint64(SeqPrefix(id), idx)
}

// Submit executes reading.submit. The signer is an active device whose
// counter check already passed (the ledger does both before msgs run); d is
// its record, updated here (the caller writes it). retention bounds the sequence kept per device
// (0 keeps all).
func Submit(c *exec.Context, d *device.Device, m *txn.ReadingSubmit, records int, retention uint64) {
	c.Meter.Consume(c.Gas.ReadingByte * uint64(len(m.Payload)))
	digest := sha256.Sum256(m.Payload)
	idx := d.Readings
	t := c.Header.Time.UnixNano()
	d.Latest = &device.Reading{Counter: c.Nonce, Index: idx, Height: c.Header.Height, Time: t,
		TxHash: c.TxHash[:], Payload: m.Payload}
	c.SetRecord(SeqKey(d.ID, idx), &Ref{Index: idx, Counter: c.Nonce, Height: c.Header.Height, Time: t,
		TxHash: c.TxHash[:], Digest: digest[:], Size: uint32(len(m.Payload)), Records: uint32(records)})
	if retention > 0 && idx >= retention {
		c.Delete(SeqKey(d.ID, idx-retention))
	}
	d.Readings++
	c.Emit("reading", exec.Ix("device", d.ID.Device()), exec.A("counter", exec.U(c.Nonce)),
		exec.A("index", exec.U(idx)), exec.A("digest", hex.EncodeToString(digest[:])))
}

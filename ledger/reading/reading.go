// Package reading is the ledger's direct-reading domain: SenML CBOR readings
// signed by a device as a tx, for low-rate devices and contract triggers.
//
// A device's readings form its reading log: reading number idx (from 0) has
// a Ref (counter, height, time, tx hash, payload digest; the body stays in
// the block). The log is kept in two places (decision 0018):
//
//   - the device's account holds the head (account.ReadingHead): the count,
//     the latest reading with its body, and the refs of the newest readings
//     not yet sealed into a chunk (fewer than ChunkSize);
//
//   - every ChunkSize readings, those refs are sealed into one chunk of the
//     log under this domain's prefix "rd/":
//
//     rd/s/{id}{chunk:8}   -> []Ref (ChunkSize refs, indexes chunk*ChunkSize ...)
//
// So a reading writes the device's account, which its fee writes anyway, and
// one in ChunkSize readings also writes a chunk. Only the newest chunks that
// hold Retention readings are kept (bounded storage).
package reading

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"

	"github.com/fxamacker/cbor/v2"

	"github.com/hypha-iot/hypha/keys"
	"github.com/hypha-iot/hypha/ledger/account"
	"github.com/hypha-iot/hypha/ledger/exec"
	"github.com/hypha-iot/hypha/store"
	"github.com/hypha-iot/hypha/txn"
)

// Key prefixes.
const (
	Prefix      = "rd/"
	chunkPrefix = "rd/s/"
)

// ChunkSize is the number of refs in a sealed chunk of a reading log.
const ChunkSize = 8

// Ref is one entry of a device's reading log.
type Ref = account.ReadingRef

// ChunkPrefix is the key prefix of id's sealed chunks.
func ChunkPrefix(id keys.Address) []byte { return append([]byte(chunkPrefix), id[:]...) }

// ChunkKey is the state key of id's sealed chunk n (reading indexes
// n*ChunkSize to n*ChunkSize+ChunkSize-1).
func ChunkKey(id keys.Address, n uint64) []byte {
	return binary.BigEndian.AppendUint64(ChunkPrefix(id), n)
}

// Submit executes reading.submit for device id: it appends the reading to
// the head in id's account (whose fee and counter the ledger has already
// updated) and, every ChunkSize readings, seals the open refs into a chunk.
// retention bounds the log kept (0 keeps all): sealed chunks are dropped
// once the newer ones hold at least retention readings.
//
// Gas depends on the reading alone, not on how full the head is: ReadingByte
// per payload byte, plus one write of the new ref and of the payload (the
// latest reading's body). It is charged before any change. The account and
// chunk writes themselves are not metered again.
func Submit(c *exec.Context, id keys.Address, m *txn.ReadingSubmit, records int, retention uint64) {
	// Read the head first (not a change, and not metered), then charge.
	a := exec.Unmetered(c, func() account.Account { return account.Get(c, id) })
	var h headWire
	if a.Readings != nil {
		if err := txn.UnmarshalRecord(a.Readings, &h); err != nil {
			panic(exec.StorageFault{Err: fmt.Errorf("reading head of %s: %w", id, err)})
		}
	}
	idx := h.Count
	digest := sha256.Sum256(m.Payload)
	t := c.Header.Time.UnixNano()
	ref := txn.MustMarshal(&Ref{Index: idx, Counter: c.Nonce, Height: c.Header.Height, Time: t,
		TxHash: c.TxHash[:], Digest: digest[:], Size: uint32(len(m.Payload)), Records: uint32(records)})
	// Charged as if the index took its widest encoding (9 bytes), so that
	// the gas does not depend on it.
	c.Meter.Consume(c.Gas.ReadingByte*uint64(len(m.Payload)) + c.Gas.WriteFlat +
		c.Gas.WriteByte*uint64(len(ref)+9-uintLen(idx)+len(m.Payload)))

	open, n, err := appendRef(h.Open, ref)
	if err != nil {
		panic(exec.StorageFault{Err: fmt.Errorf("reading head of %s: %w", id, err)})
	}
	h.Count++
	h.Latest = txn.MustMarshal(&account.Reading{Counter: c.Nonce, Index: idx, Height: c.Header.Height, Time: t,
		TxHash: c.TxHash[:], Payload: m.Payload})
	h.Open = open
	exec.Unmetered(c, func() struct{} {
		if n == ChunkSize {
			// The open refs, as encoded, are the chunk's canonical encoding.
			chunk := idx / ChunkSize
			c.Set(ChunkKey(id, chunk), h.Open)
			h.Open = nil
			if keep := (retention + ChunkSize - 1) / ChunkSize; retention > 0 && chunk >= keep {
				c.Delete(ChunkKey(id, chunk-keep))
			}
		}
		a.Readings = txn.MustMarshal(&h)
		account.Put(c, id, a)
		return struct{}{}
	})
	c.Emit("reading", exec.Ix("device", id.Device()), exec.A("counter", exec.U(c.Nonce)),
		exec.A("index", exec.U(idx)), exec.A("digest", hex.EncodeToString(digest[:])))
}

// headWire is account.ReadingHead with the latest reading and the open refs
// left encoded (the same CBOR): Submit replaces the one and appends to the
// other without decoding either.
type headWire struct {
	Count  uint64          `cbor:"1,keyasint"`
	Latest cbor.RawMessage `cbor:"2,keyasint"`
	Open   cbor.RawMessage `cbor:"3,keyasint,omitempty"`
}

// appendRef appends the encoded ref to open, the canonical CBOR encoding of
// an array of fewer than ChunkSize refs (nil for none), and returns the new
// array and its length. ChunkSize is below 24, so the array's head is the
// single byte 0x80+length.
func appendRef(open, ref []byte) ([]byte, int, error) {
	n := 0
	if len(open) > 0 {
		n = int(open[0]) - 0x80
		if n < 1 || n >= ChunkSize {
			return nil, 0, fmt.Errorf("open refs: array head %#x", open[0])
		}
	}
	out := make([]byte, 0, max(len(open), 1)+len(ref))
	out = append(out, byte(0x80+n+1))
	if n > 0 {
		out = append(out, open[1:]...)
	}
	return append(out, ref...), n + 1, nil
}

// uintLen is the length of the CBOR head that encodes v.
func uintLen(v uint64) int {
	switch {
	case v < 24:
		return 1
	case v <= math.MaxUint8:
		return 2
	case v <= math.MaxUint16:
		return 3
	case v <= math.MaxUint32:
		return 5
	}
	return 9
}

// Head returns id's reading head from its account; nil if it has made no
// reading.
func Head(r exec.Getter, id keys.Address) (*account.ReadingHead, error) {
	v, err := r.Get(account.Key(id))
	if err != nil || v == nil {
		return nil, err
	}
	var a account.Account
	if err := txn.UnmarshalRecord(v, &a); err != nil {
		return nil, fmt.Errorf("account %s: %w", id, err)
	}
	return a.ReadingHead()
}

// Locate returns the state key of the record that holds id's reading idx:
// its account while the ref is open, else its chunk. ok is false when the
// device has made fewer than idx+1 readings.
func Locate(h *account.ReadingHead, id keys.Address, idx uint64) (key []byte, ok bool) {
	if h == nil || idx >= h.Count {
		return nil, false
	}
	if idx >= h.Count-uint64(len(h.Open)) {
		return account.Key(id), true
	}
	return ChunkKey(id, idx/ChunkSize), true
}

// Extract returns ref idx of id from the record Locate named (key) and its
// value: an account or a chunk. ok is false if the record does not hold it
// (a chunk dropped by retention reads as absent before this is called).
func Extract(id keys.Address, key, value []byte, idx uint64) (Ref, bool, error) {
	var refs []Ref
	if bytes.Equal(key, account.Key(id)) {
		var a account.Account
		if err := txn.Unmarshal(value, &a); err != nil {
			return Ref{}, false, fmt.Errorf("account %s: %w", id, err)
		}
		h, err := a.ReadingHead()
		if err != nil {
			return Ref{}, false, err
		}
		if h != nil {
			refs = h.Open
		}
	} else if err := txn.Unmarshal(value, &refs); err != nil {
		return Ref{}, false, fmt.Errorf("reading chunk of %s: %w", id, err)
	}
	for _, r := range refs {
		if r.Index == idx {
			return r, true, nil
		}
	}
	return Ref{}, false, nil
}

// List returns up to limit refs of id's log with index > after (from the
// oldest kept if after < 0), oldest first, and whether more follow.
// Readings dropped by retention are skipped.
func List(r store.Reader, id keys.Address, after int64, limit int) (refs []Ref, more bool, err error) {
	h, err := Head(r, id)
	if err != nil || h == nil {
		return nil, false, err
	}
	from := uint64(after + 1) // after >= -1
	sealed := h.Count - uint64(len(h.Open))
	add := func(ref Ref) bool {
		if ref.Index < from {
			return true
		}
		if len(refs) == limit {
			more = true
			return false
		}
		refs = append(refs, ref)
		return true
	}
	if from < sealed {
		var bad error
		err = r.Iterate(ChunkKey(id, from/ChunkSize), ChunkKey(id, sealed/ChunkSize), false, func(_, v []byte) bool {
			var chunk []Ref
			if bad = txn.UnmarshalRecord(v, &chunk); bad != nil {
				return false
			}
			for _, ref := range chunk {
				if !add(ref) {
					return false
				}
			}
			return true
		})
		if err == nil {
			err = bad
		}
		if err != nil || more {
			return refs, more, err
		}
	}
	for _, ref := range h.Open {
		if !add(ref) {
			break
		}
	}
	return refs, more, nil
}

// Package message is the ledger's messaging domain: sealed device and
// account messages and commands as txs, per-recipient inboxes ordered by
// (height, tx index, msg index) with deterministic expiry, receipts, grants
// that let others command a device, and a per-sender rate limit. The ledger
// sees sender, recipient, kind, size and ciphertext only.
//
// It owns the state prefix "msg/":
//
//	msg/in/{recipient}{height:8}{tx:4}{msg:2}          -> Entry (the inbox; the suffix is the cursor)
//	msg/id/{sender}{id:16}                             -> Record (status, where it is, when it expires)
//	msg/exp/{expires:8}{recipient}{cursor:14}{sender}{id:16} -> 0x01 (expiry queue)
//	msg/grant/{device}{grantee}                        -> Grant
//	msg/rate/{sender}                                  -> Rate
package message

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"

	"github.com/hypha-iot/hypha/keys"
)

// Key prefixes.
const (
	Prefix      = "msg/"
	inboxPrefix = "msg/in/"
	idPrefix    = "msg/id/"
	ExpPrefix   = "msg/exp/"
	grantPrefix = "msg/grant/"
	ratePrefix  = "msg/rate/"
)

// Cursor orders an inbox: (height, tx index, msg index).
type Cursor struct {
	Height int64
	Tx     uint32
	Msg    uint16
}

// CursorSize is the encoded size of a cursor.
const CursorSize = 14

// Bytes encodes c so that byte order is cursor order.
func (c Cursor) Bytes() []byte {
	b := binary.BigEndian.AppendUint64(nil, uint64(c.Height))
	b = binary.BigEndian.AppendUint32(b, c.Tx)
	return binary.BigEndian.AppendUint16(b, c.Msg)
}

// String renders c as "height.tx.msg".
func (c Cursor) String() string { return fmt.Sprintf("%d.%d.%d", c.Height, c.Tx, c.Msg) }

// ParseCursor parses "height.tx.msg".
func ParseCursor(s string) (Cursor, error) {
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return Cursor{}, fmt.Errorf("cursor %q: want height.tx.msg", s)
	}
	h, err1 := strconv.ParseInt(parts[0], 10, 64)
	t, err2 := strconv.ParseUint(parts[1], 10, 32)
	m, err3 := strconv.ParseUint(parts[2], 10, 16)
	if err1 != nil || err2 != nil || err3 != nil || h < 0 {
		return Cursor{}, fmt.Errorf("cursor %q: want height.tx.msg", s)
	}
	return Cursor{Height: h, Tx: uint32(t), Msg: uint16(m)}, nil
}

// CursorFromBytes decodes an encoded cursor.
func CursorFromBytes(b []byte) (Cursor, bool) {
	if len(b) != CursorSize {
		return Cursor{}, false
	}
	return Cursor{Height: int64(binary.BigEndian.Uint64(b)), Tx: binary.BigEndian.Uint32(b[8:]), Msg: binary.BigEndian.Uint16(b[12:])}, true
}

// Entry is one message in a recipient's inbox.
type Entry struct {
	Sender  keys.Address `cbor:"1,keyasint"`
	Kind    uint8        `cbor:"2,keyasint"`
	ID      []byte       `cbor:"3,keyasint"`
	Box     []byte       `cbor:"4,keyasint"`
	ReplyTo []byte       `cbor:"5,keyasint,omitempty"`
	// Time is the block time in Unix nanoseconds; Expires the height at
	// whose end the entry is removed.
	Time    int64  `cbor:"6,keyasint"`
	Expires int64  `cbor:"7,keyasint"`
	TxHash  []byte `cbor:"8,keyasint"`
	// Cursor is the entry's place in the inbox (the key suffix), so that a
	// page of entries carries its cursors.
	Cursor []byte `cbor:"9,keyasint"`
}

// Record is the sender-side view of a message: where it went and whether
// the recipient acknowledged it.
type Record struct {
	Recipient keys.Address `cbor:"1,keyasint"`
	Kind      uint8        `cbor:"2,keyasint"`
	Cursor    []byte       `cbor:"3,keyasint"`
	State     uint8        `cbor:"4,keyasint"`
	Expires   int64        `cbor:"5,keyasint"`
	// StateHeight is when State last changed.
	StateHeight int64 `cbor:"6,keyasint,omitempty"`
}

// Grant lets a grantee send some kinds to a device.
type Grant struct {
	// Kinds is a bit set: bit k allows kind k.
	Kinds   uint8 `cbor:"1,keyasint"`
	Expires int64 `cbor:"2,keyasint,omitempty"`
}

// Rate counts a sender's messages in the current window of blocks.
type Rate struct {
	Window uint64 `cbor:"1,keyasint"`
	Count  uint64 `cbor:"2,keyasint"`
}

func cat(prefix string, parts ...[]byte) []byte {
	out := []byte(prefix)
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// InboxPrefix is the key prefix of recipient's inbox.
func InboxPrefix(recipient keys.Address) []byte { return cat(inboxPrefix, recipient[:]) }

// InboxKey is the key of one inbox entry.
func InboxKey(recipient keys.Address, c Cursor) []byte {
	return cat(inboxPrefix, recipient[:], c.Bytes())
}

// RecordKey is the key of a sender's message record.
func RecordKey(sender keys.Address, id []byte) []byte { return cat(idPrefix, sender[:], id) }

// GrantKey is the key of a grant.
func GrantKey(device, grantee keys.Address) []byte { return cat(grantPrefix, device[:], grantee[:]) }

// RateKey is the key of a sender's rate counter.
func RateKey(sender keys.Address) []byte { return cat(ratePrefix, sender[:]) }

// ExpiryKey is the key of an entry in the expiry queue.
func ExpiryKey(expires int64, recipient keys.Address, c Cursor, sender keys.Address, id []byte) []byte {
	return cat(ExpPrefix, binary.BigEndian.AppendUint64(nil, uint64(expires)), recipient[:], c.Bytes(), sender[:], id)
}

// ExpiryEnd is the first expiry key after every entry that expires at or
// before height.
func ExpiryEnd(height int64) []byte {
	return cat(ExpPrefix, binary.BigEndian.AppendUint64(nil, uint64(height+1)))
}

// parseExpiry splits an expiry key into the inbox and record keys it names.
func parseExpiry(k []byte) (inbox, record []byte, ok bool) {
	rest := k[len(ExpPrefix):]
	if len(rest) != 8+keys.AddressSize+CursorSize+keys.AddressSize+16 {
		return nil, nil, false
	}
	rest = rest[8:]
	recipient, cur, sender, id := rest[:20], rest[20:20+CursorSize], rest[20+CursorSize:40+CursorSize], rest[40+CursorSize:]
	return cat(inboxPrefix, recipient, cur), cat(idPrefix, sender, id), true
}

var present = []byte{1}

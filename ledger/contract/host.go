package contract

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"

	"github.com/hypha-iot/hypha/errs"
	"github.com/hypha-iot/hypha/keys"
	"github.com/hypha-iot/hypha/ledger/account"
	"github.com/hypha-iot/hypha/ledger/device"
	"github.com/hypha-iot/hypha/ledger/exec"
	"github.com/hypha-iot/hypha/ledger/message"
	"github.com/hypha-iot/hypha/txn"
)

// host is the Host of one call, over the call's child context: reads and
// writes charge ledger gas to the tx's meter (on top of the runtime's own
// price for each host function), storage is the contract's own prefix,
// transfers debit the contract's account.
//
// A panic of the exec layer never crosses the runtime: out of gas becomes
// ErrOutOfGas, which ends the call, and a storage fault ends the call and
// is re-raised by run once the runtime has returned.
type host struct {
	c         *exec.Context
	kv        *exec.Cache // c's cache, for the unmetered reads of iteration
	view      *View
	self      keys.Address
	retention int64
	depth     uint8  // Env.Depth
	maxQueued uint64 // Limits.MaxQueuedPerContract
	fault     *exec.StorageFault
}

var _ Host = (*host)(nil)

// guard turns the exec layer's panics into errors; deferred by every method.
func (h *host) guard(err *error) {
	switch r := recover().(type) {
	case nil:
	case exec.OutOfGas:
		*err = errs.ErrOutOfGas.Wrap("gas limit %d reached in a host call", r.Limit)
	case exec.StorageFault:
		h.fault = &r
		*err = errs.ErrInternal.WithCause(r.Err, "storage fault in a host call")
	default:
		panic(r)
	}
}

// Get implements Host.
func (h *host) Get(key []byte) (v []byte, err error) {
	defer h.guard(&err)
	stored := h.c.Get(StorageKey(h.self, key))
	if stored == nil {
		return nil, nil
	}
	v, ok := StorageValue(stored)
	if !ok {
		return nil, errs.ErrInternal.Wrap("contract %s: malformed storage value under %x", h.self, key)
	}
	return bytes.Clone(v), nil
}

// Set implements Host.
func (h *host) Set(key, value []byte) (err error) {
	defer h.guard(&err)
	k := StorageKey(h.self, key)
	h.c.Set(k, append([]byte{valueTag}, value...))
	h.view.written(k)
	return nil
}

// Delete implements Host.
func (h *host) Delete(key []byte) (err error) {
	defer h.guard(&err)
	h.c.Delete(StorageKey(h.self, key))
	return nil
}

// Next implements Host. It charges the read of the entry it returns, as
// Get would.
func (h *host) Next(prefix, after []byte) (key, value []byte, err error) {
	defer h.guard(&err)
	base := StoragePrefix(h.self)
	lo := append(bytes.Clone(base), prefix...)
	start := lo
	if len(after) > 0 {
		// Strictly after: the smallest key above after is after || 0x00.
		if a := append(append(bytes.Clone(base), after...), 0); bytes.Compare(a, start) > 0 {
			start = a
		}
	}
	k, stored := h.view.first(h.kv, start, prefixEnd(lo))
	if k == nil {
		h.c.Meter.Consume(h.c.Gas.ReadFlat)
		return nil, nil, nil
	}
	h.c.Meter.Consume(h.c.Gas.ReadFlat + h.c.Gas.ReadByte*uint64(len(k)+len(stored)))
	v, ok := StorageValue(stored)
	if !ok {
		return nil, nil, errs.ErrInternal.Wrap("contract %s: malformed storage value under %x", h.self, k)
	}
	return bytes.Clone(k[len(base):]), bytes.Clone(v), nil
}

// Emit implements Host: the event is "contract.<topic>" with the
// contract's address (indexed) and the data in hex.
func (h *host) Emit(topic string, data []byte) (err error) {
	defer h.guard(&err)
	if err := checkTopic(topic); err != nil {
		return err
	}
	h.c.Emit("contract."+topic, exec.Ix("contract", h.self.String()), exec.A("data", hex.EncodeToString(data)))
	return nil
}

// reservedTopics are the ledger's own contract event names.
var reservedTopics = []string{"instantiate", "call", "migrate"}

// checkTopic admits 1 to 64 characters of [A-Za-z0-9_-], other than the
// ledger's own event names.
func checkTopic(t string) error {
	if len(t) == 0 || len(t) > 64 {
		return errs.ErrInvalidMsg.Wrap("event topic must be 1 to 64 characters")
	}
	for _, r := range t {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return errs.ErrInvalidMsg.Wrap("event topic %q: only letters, digits, _ and -", t)
		}
	}
	for _, r := range reservedTopics {
		if t == r {
			return errs.ErrInvalidMsg.Wrap("event topic %q is reserved for the ledger", t)
		}
	}
	return nil
}

func parseAddr(b []byte) (keys.Address, error) {
	a, err := keys.AddressFromBytes(b)
	if err != nil || a.IsZero() {
		return keys.Address{}, errs.ErrInvalidAddress.Wrap("want a 20-byte address, got %d bytes", len(b))
	}
	return a, nil
}

// Device implements Host: a DeviceInfo, or nil.
func (h *host) Device(id []byte) (rec []byte, err error) {
	defer h.guard(&err)
	a, err := parseAddr(id)
	if err != nil {
		return nil, err
	}
	d, ok := device.Get(h.c, a)
	if !ok {
		return nil, nil
	}
	var readings uint64
	acct := account.Get(h.c, a)
	if rh, err := acct.ReadingHead(); err != nil {
		return nil, err
	} else if rh != nil {
		readings = rh.Count
	}
	return txn.MustMarshal(&DeviceInfo{ID: d.ID, Owner: d.Owner, Model: d.Model, Firmware: d.Firmware,
		Status: uint8(d.Status), Tags: d.Tags, Location: d.Location, Registered: d.Registered, Readings: readings}), nil
}

// LatestReading implements Host: a ReadingInfo, or nil.
func (h *host) LatestReading(id []byte) (rec []byte, err error) {
	defer h.guard(&err)
	a, err := parseAddr(id)
	if err != nil {
		return nil, err
	}
	// Only registered devices make readings, so a reading head means one.
	acct := account.Get(h.c, a)
	rh, err := acct.ReadingHead()
	if rh == nil || err != nil {
		return nil, err
	}
	r := rh.Latest
	return txn.MustMarshal(&ReadingInfo{Device: a, Counter: r.Counter, Index: r.Index, Height: r.Height,
		Time: r.Time, Payload: r.Payload}), nil
}

// Balance implements Host.
func (h *host) Balance(addr []byte) (bal uint64, err error) {
	defer h.guard(&err)
	a, err := parseAddr(addr)
	if err != nil {
		return 0, err
	}
	return uint64(account.Get(h.c, a).Balance), nil
}

// Transfer implements Host: from the contract's account, with the
// account domain's rules and "transfer" event. Refusals:
// ErrInvalidAddress, ErrZeroAmount, ErrInsufficientFunds,
// ErrAmountOverflow.
func (h *host) Transfer(to []byte, amount uint64) (err error) {
	defer h.guard(&err)
	a, err := parseAddr(to)
	if err != nil {
		return err
	}
	return account.Send(h.c, h.self, a, txn.Amount(amount))
}

// Send implements Host: a command from the contract, put in the
// recipient's inbox as an entry of kind txn.KindContractCommand whose box
// is the plaintext canonical CBOR of a Command (a contract has no key to
// seal with, and everything it computes is public anyway). It follows the
// message domain's layout and expiry, and emits the same "message" event,
// so every gateway delivers it like any other message.
//
// Rules: a device recipient must be active, and the contract must own it or
// hold a grant of commands on it (message.grant to the contract's
// address); an account recipient (an owner to notify) needs nothing; a
// contract recipient with a message trigger gets an on_message invocation
// queued, one level deeper than the sender's (refused past
// txn.MaxTriggerDepth). One
// command per recipient per msg: the inbox cursor is (height, tx, msg).
// Refusals: ErrInvalidAddress, ErrInvalidMsg (kind), ErrDeviceRevoked,
// ErrDeviceDecommissioned, ErrNoGrant, ErrGrantExpired, ErrRateLimited.
func (h *host) Send(to []byte, kind string, payload []byte) (err error) {
	defer h.guard(&err)
	a, err := parseAddr(to)
	if err != nil {
		return err
	}
	if err := checkCommandKind(kind); err != nil {
		return err
	}
	if d, ok := device.Get(h.c, a); ok {
		switch d.Status {
		case device.Revoked:
			return errs.ErrDeviceRevoked.Wrap("recipient %s is revoked", d.ID.Device())
		case device.Decommissioned:
			return errs.ErrDeviceDecommissioned.Wrap("recipient %s", d.ID.Device())
		}
		if d.Owner != h.self {
			if err := h.checkGrant(a); err != nil {
				return err
			}
		}
	}
	// A contract with a message trigger runs on_message for the command,
	// one level deeper; a chain of contracts commanding each other stops
	// at txn.MaxTriggerDepth.
	trigger := h.c.Has(SubscriptionKey(a, txn.TriggerMessage))
	if trigger && h.depth >= txn.MaxTriggerDepth {
		return errs.ErrRateLimited.Wrap("command to contract %s at trigger depth %d: at most %d", a, h.depth+1, txn.MaxTriggerDepth)
	}
	cur := message.Cursor{Height: h.c.Header.Height, Tx: h.c.TxIndex, Msg: h.c.MsgIndex}
	ik := message.InboxKey(a, cur)
	if h.c.Has(ik) {
		return errs.ErrRateLimited.Wrap("one command per recipient per msg; %s already has one", a)
	}
	id := commandID(h.c.TxHash, h.c.MsgIndex, a)
	if trigger {
		if ok, n := push(h.c, &Pending{Contract: a, Kind: txn.TriggerMessage, Height: h.c.Header.Height, Sender: h.self,
			MsgKind: txn.KindContractCommand, MsgID: id, Payload: payload, Command: kind, Depth: h.depth + 1}, h.maxQueued); !ok {
			return queueFull(a, n)
		}
	}
	expires := h.c.Header.Height + h.retention
	h.c.SetRecord(ik, &message.Entry{Sender: h.self, Kind: txn.KindContractCommand, ID: id,
		Box: txn.MustMarshal(&Command{Kind: kind, Payload: payload}), Time: h.c.Header.Time.UnixNano(),
		Expires: expires, TxHash: h.c.TxHash[:], Cursor: cur.Bytes()})
	h.c.SetRecord(message.RecordKey(h.self, id), &message.Record{Recipient: a, Kind: txn.KindContractCommand,
		Cursor: cur.Bytes(), Expires: expires})
	h.c.Set(message.ExpiryKey(expires, a, cur, h.self, id), []byte{1})
	h.c.Emit("message", exec.Ix("to", a.String()), exec.Ix("from", h.self.String()),
		exec.A("kind", "contract-command"), exec.A("id", hex.EncodeToString(id)), exec.A("cursor", cur.String()),
		exec.A("size", exec.U(uint64(len(payload)))), exec.A("command", kind))
	return nil
}

func (h *host) checkGrant(dev keys.Address) error {
	var g message.Grant
	if !h.c.GetRecord(message.GrantKey(dev, h.self), &g) || g.Kinds&(1<<txn.KindCommand) == 0 {
		return errs.ErrNoGrant.Wrap("contract %s may not command %s", h.self, dev.Device())
	}
	if g.Expires != 0 && g.Expires <= h.c.Header.Height {
		return errs.ErrGrantExpired.Wrap("grant of %s on %s expired at height %d", h.self, dev.Device(), g.Expires)
	}
	return nil
}

// checkCommandKind admits 1 to 64 printable ASCII characters.
func checkCommandKind(k string) error {
	if len(k) == 0 || len(k) > 64 {
		return errs.ErrInvalidMsg.Wrap("command kind must be 1 to 64 characters")
	}
	for i := 0; i < len(k); i++ {
		if k[i] < 0x21 || k[i] > 0x7e {
			return errs.ErrInvalidMsg.Wrap("command kind %q: only printable ASCII without spaces", k)
		}
	}
	return nil
}

// commandID is the message id of a contract command: unique per (tx, msg,
// recipient), as one msg sends at most one command to a recipient.
func commandID(txHash [32]byte, msgIndex uint16, to keys.Address) []byte {
	h := sha256.New()
	h.Write([]byte("hypha/contract/command"))
	h.Write(txHash[:])
	h.Write(binary.BigEndian.AppendUint16(nil, msgIndex))
	h.Write(to[:])
	return h.Sum(nil)[:txn.MsgIDSize]
}

package contract

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"maps"
	"math"
	"math/bits"
	"slices"
	"strconv"

	"github.com/hypha-iot/hypha/errs"
	"github.com/hypha-iot/hypha/keys"
	"github.com/hypha-iot/hypha/ledger/account"
	"github.com/hypha-iot/hypha/ledger/device"
	"github.com/hypha-iot/hypha/ledger/exec"
	"github.com/hypha-iot/hypha/ledger/message"
	"github.com/hypha-iot/hypha/txn"
)

// Triggers (docs/decisions/0017-contracts.md, "Triggers") add these keys
// under "ctr/":
//
//	ctr/t/{contract:20}{kind:1} -> Subscription
//	ctr/d/{device:20}           -> Subscribers (contracts with a reading trigger on the device)
//	ctr/k/{height:8}            -> Subscribers (contracts whose tick is due at height)
//	ctr/q/{seq:8}               -> Pending (a queued invocation)
//	ctr/qp                      -> QueuePos
//	ctr/n/{contract:20}         -> QueueCount (its invocations queued)
//
// None needs iteration: exec.Cache cannot range over a block's writes.
const (
	subPrefix      = "ctr/t/"
	devSubPrefix   = "ctr/d/"
	tickPrefix     = "ctr/k/"
	queuePrefix    = "ctr/q/"
	queuePosKeyStr = "ctr/qp"
	queuedPrefix   = "ctr/n/"
)

// Subscription is a contract's trigger of one kind.
type Subscription struct {
	Kind      uint8          `cbor:"1,keyasint" json:"kind"`
	Devices   []keys.Address `cbor:"2,keyasint,omitempty" json:"devices,omitempty"`
	Condition string         `cbor:"3,keyasint,omitempty" json:"condition,omitempty"`
	Every     uint64         `cbor:"4,keyasint,omitempty" json:"every,omitempty"`
	// Next is the height of the next tick (tick triggers).
	Next   int64 `cbor:"5,keyasint,omitempty" json:"next,omitempty"`
	Height int64 `cbor:"6,keyasint" json:"height"`
}

// Subscribers is a sorted set of contract addresses.
type Subscribers struct {
	Contracts []keys.Address `cbor:"1,keyasint"`
}

// Pending is a queued trigger invocation.
type Pending struct {
	Contract keys.Address `cbor:"1,keyasint"`
	Kind     uint8        `cbor:"2,keyasint"`
	// Height is the height of the reading or of the tick.
	Height int64 `cbor:"3,keyasint"`
	// Reading triggers: the reading and the condition it must satisfy,
	// as subscribed when the reading was submitted.
	Device    keys.Address `cbor:"4,keyasint,omitempty"`
	Counter   uint64       `cbor:"5,keyasint,omitempty"`
	Payload   []byte       `cbor:"6,keyasint,omitempty"`
	Condition string       `cbor:"7,keyasint,omitempty"`
	// Message triggers: the sender, the message's kind and id (Payload
	// holds its body), the command kind of a contract's command, and the
	// depth of the chain of on_message invocations that sent it.
	Sender  keys.Address `cbor:"8,keyasint,omitempty"`
	MsgKind uint8        `cbor:"9,keyasint,omitempty"`
	MsgID   []byte       `cbor:"10,keyasint,omitempty"`
	Command string       `cbor:"11,keyasint,omitempty"`
	Depth   uint8        `cbor:"12,keyasint,omitempty"`
}

// QueueCount is the number of a contract's invocations in the queue.
type QueueCount struct {
	N uint64 `cbor:"1,keyasint"`
}

// QueuedKey is the key of a contract's QueueCount.
func QueuedKey(addr keys.Address) []byte { return cat(queuedPrefix, addr[:]) }

// QueuePos is the trigger queue's head (next to run) and tail (next free).
type QueuePos struct {
	Head uint64 `cbor:"1,keyasint"`
	Tail uint64 `cbor:"2,keyasint"`
}

// SubscriptionKey is the key of a contract's trigger of kind.
func SubscriptionKey(addr keys.Address, kind uint8) []byte {
	return cat(subPrefix, addr[:], []byte{kind})
}

// DeviceSubscribersKey is the key of the contracts subscribed to a device's readings.
func DeviceSubscribersKey(dev keys.Address) []byte { return cat(devSubPrefix, dev[:]) }

// TickKey is the key of the contracts whose tick is due at height.
func TickKey(height int64) []byte {
	return binary.BigEndian.AppendUint64([]byte(tickPrefix), uint64(height))
}

// QueueKey is the key of queued invocation seq.
func QueueKey(seq uint64) []byte { return binary.BigEndian.AppendUint64([]byte(queuePrefix), seq) }

// QueuePosKey is the key of the queue's position.
func QueuePosKey() []byte { return []byte(queuePosKeyStr) }

func addSub(c *exec.Context, key []byte, addr keys.Address) int {
	var s Subscribers
	c.GetRecord(key, &s)
	i, found := slices.BinarySearchFunc(s.Contracts, addr, func(a, b keys.Address) int { return bytes.Compare(a[:], b[:]) })
	if !found {
		s.Contracts = slices.Insert(s.Contracts, i, addr)
		c.SetRecord(key, &s)
	}
	return len(s.Contracts)
}

func removeSub(c *exec.Context, key []byte, addr keys.Address) {
	var s Subscribers
	if !c.GetRecord(key, &s) {
		return
	}
	i, found := slices.BinarySearchFunc(s.Contracts, addr, func(a, b keys.Address) int { return bytes.Compare(a[:], b[:]) })
	if !found {
		return
	}
	s.Contracts = slices.Delete(s.Contracts, i, i+1)
	if len(s.Contracts) == 0 {
		c.Delete(key)
	} else {
		c.SetRecord(key, &s)
	}
}

func entryOf(kind uint8) string {
	switch kind {
	case txn.TriggerReading:
		return EntryOnReading
	case txn.TriggerMessage:
		return EntryOnMessage
	}
	return EntryOnTick
}

// requireManager fails unless the signer is the contract's admin or creator.
func requireManager(c *exec.Context, ct *Contract) error {
	if c.Signer == ct.Creator || ct.Admin != nil && *ct.Admin == c.Signer {
		return nil
	}
	return errs.ErrNotAdmin.Wrap("%s is neither the admin nor the creator of %s", c.Signer, ct.Address)
}

// unsubscribe removes the trigger of kind and its index entries; false if
// there was none.
func unsubscribe(c *exec.Context, addr keys.Address, kind uint8) bool {
	k := SubscriptionKey(addr, kind)
	var old Subscription
	if !c.GetRecord(k, &old) {
		return false
	}
	for _, d := range old.Devices {
		removeSub(c, DeviceSubscribersKey(d), addr)
	}
	if old.Kind == txn.TriggerTick {
		removeSub(c, TickKey(old.Next), addr)
	}
	c.Delete(k)
	return true
}

// Subscribe executes contract.subscribe: signed by the contract's admin or
// creator, it sets (or replaces) the contract's trigger of the kind. The
// code must export the entry point (on_reading, on_tick). A reading
// trigger's devices must be registered and owned by the signer (the owner
// consents, as its readings carry the queueing cost), each device has at
// most Limits.MaxSubscribersPerDevice subscribed contracts, and the
// condition must compile within Limits.MaxConditionCost (ErrBadCondition).
func Subscribe(c *exec.Context, env *Env, m *txn.ContractSubscribe) error {
	ct, err := runtimeContract(c, env, m.Contract)
	if err != nil {
		return err
	}
	if err := requireManager(c, &ct); err != nil {
		return err
	}
	code, err := codeOf(c, &ct)
	if err != nil {
		return err
	}
	entry := entryOf(m.Kind)
	if !code.HasEntry(entry) {
		return errs.ErrNoEntryPoint.Wrap("contract %s exports no %s entry point", ct.Address, entry)
	}
	sub := Subscription{Kind: m.Kind, Height: c.Header.Height}
	if m.Kind == txn.TriggerReading {
		if m.Condition != "" {
			if err := CheckCondition(m.Condition, env.Limits.MaxConditionCost); err != nil {
				return err
			}
		}
		for _, id := range m.Devices {
			d, ok := device.Get(c, id)
			if !ok {
				return errs.ErrUnknownDevice.Wrap("%s", id.Device())
			}
			if d.Owner != c.Signer {
				return errs.ErrUnauthorized.Wrap("%s is not the owner of %s", c.Signer, id.Device())
			}
		}
		sub.Devices, sub.Condition = slices.Clone(m.Devices), m.Condition
	} else if m.Kind == txn.TriggerTick {
		if m.Every > math.MaxInt32 {
			return errs.ErrInvalidMsg.Wrap("tick every %d blocks: at most %d", m.Every, math.MaxInt32)
		}
		sub.Every, sub.Next = m.Every, c.Header.Height+int64(m.Every)
	}
	unsubscribe(c, ct.Address, m.Kind)
	for _, d := range sub.Devices {
		if n := addSub(c, DeviceSubscribersKey(d), ct.Address); uint64(n) > env.Limits.MaxSubscribersPerDevice {
			return errs.ErrInvalidMsg.Wrap("device %s has %d subscribed contracts, at most %d", d.Device(), n,
				env.Limits.MaxSubscribersPerDevice)
		}
	}
	if m.Kind == txn.TriggerTick {
		addSub(c, TickKey(sub.Next), ct.Address)
	}
	c.SetRecord(SubscriptionKey(ct.Address, m.Kind), &sub)
	attrs := []exec.Attr{exec.Ix("contract", ct.Address.String()), exec.A("kind", entry)}
	switch m.Kind {
	case txn.TriggerTick:
		attrs = append(attrs, exec.A("every", exec.U(m.Every)))
	case txn.TriggerReading:
		attrs = append(attrs, exec.A("devices", exec.U(uint64(len(m.Devices)))))
	}
	c.Emit("contract.subscribe", attrs...)
	return nil
}

// Unsubscribe executes contract.unsubscribe. Invocations already queued
// still run.
func Unsubscribe(c *exec.Context, env *Env, m *txn.ContractUnsubscribe) error {
	ct, err := runtimeContract(c, env, m.Contract)
	if err != nil {
		return err
	}
	if err := requireManager(c, &ct); err != nil {
		return err
	}
	if !unsubscribe(c, ct.Address, m.Kind) {
		return errs.ErrInvalidMsg.Wrap("%s has no %s trigger", ct.Address, entryOf(m.Kind))
	}
	c.Emit("contract.unsubscribe", exec.Ix("contract", ct.Address.String()), exec.A("kind", entryOf(m.Kind)))
	return nil
}

// Attach executes contract.attach: the owner of the devices adds them to
// the contract's reading trigger, within Limits.MaxSubscribersPerDevice
// and txn.MaxTriggerDevices.
func Attach(c *exec.Context, env *Env, m *txn.ContractAttach) error {
	ct, err := runtimeContract(c, env, m.Contract)
	if err != nil {
		return err
	}
	sk := SubscriptionKey(ct.Address, txn.TriggerReading)
	var sub Subscription
	if !c.GetRecord(sk, &sub) {
		return errs.ErrInvalidMsg.Wrap("%s has no reading trigger to attach devices to", ct.Address)
	}
	for _, id := range m.Devices {
		d, ok := device.Get(c, id)
		if !ok {
			return errs.ErrUnknownDevice.Wrap("%s", id.Device())
		}
		if d.Owner != c.Signer {
			return errs.ErrUnauthorized.Wrap("%s is not the owner of %s", c.Signer, id.Device())
		}
		if d.Status != device.Active {
			return errs.ErrDeviceRevoked.Wrap("%s is %s", id.Device(), d.Status)
		}
		if slices.Contains(sub.Devices, id) {
			return errs.ErrInvalidMsg.Wrap("%s is already attached to %s", id.Device(), ct.Address)
		}
		sub.Devices = append(sub.Devices, id)
		if n := addSub(c, DeviceSubscribersKey(id), ct.Address); uint64(n) > env.Limits.MaxSubscribersPerDevice {
			return errs.ErrInvalidMsg.Wrap("device %s has %d subscribed contracts, at most %d", id.Device(), n,
				env.Limits.MaxSubscribersPerDevice)
		}
	}
	if len(sub.Devices) > txn.MaxTriggerDevices {
		return errs.ErrInvalidMsg.Wrap("%s would watch %d devices, at most %d", ct.Address, len(sub.Devices), txn.MaxTriggerDevices)
	}
	c.SetRecord(sk, &sub)
	c.Emit("contract.attach", exec.Ix("contract", ct.Address.String()), exec.Ix("owner", c.Signer.String()),
		exec.A("devices", exec.U(uint64(len(m.Devices)))))
	return nil
}

// Detach executes contract.detach: the devices' owner, or the contract's
// admin or creator, removes devices from its reading trigger.
func Detach(c *exec.Context, env *Env, m *txn.ContractDetach) error {
	ct, err := runtimeContract(c, env, m.Contract)
	if err != nil {
		return err
	}
	manager := requireManager(c, &ct) == nil
	sk := SubscriptionKey(ct.Address, txn.TriggerReading)
	var sub Subscription
	if !c.GetRecord(sk, &sub) {
		return errs.ErrInvalidMsg.Wrap("%s has no reading trigger", ct.Address)
	}
	for _, id := range m.Devices {
		i := slices.Index(sub.Devices, id)
		if i < 0 {
			return errs.ErrInvalidMsg.Wrap("%s is not attached to %s", id.Device(), ct.Address)
		}
		if d, ok := device.Get(c, id); !manager && (!ok || d.Owner != c.Signer) {
			return errs.ErrUnauthorized.Wrap("%s neither owns %s nor manages %s", c.Signer, id.Device(), ct.Address)
		}
		sub.Devices = slices.Delete(sub.Devices, i, i+1)
		removeSub(c, DeviceSubscribersKey(id), ct.Address)
	}
	c.SetRecord(sk, &sub)
	c.Emit("contract.detach", exec.Ix("contract", ct.Address.String()), exec.Ix("signer", c.Signer.String()),
		exec.A("devices", exec.U(uint64(len(m.Devices)))))
	return nil
}

// IsContract reports whether addr is a contract. The look-up is not
// metered: every message.send makes it, and messages to devices and
// accounts cost what they did before contracts.
func IsContract(c *exec.Context, addr keys.Address) bool {
	return exec.Unmetered(c, func() bool { return c.Has(InstanceKey(addr)) })
}

// Message executes a message.send whose recipient is a contract. A
// contract has no seal key: Box is the message's body in the clear (a
// contract's inputs are public anyway), of kind data or command. The
// message is kept in the contract's inbox like any other (same layout,
// expiry and "message" event, so it is auditable and replay-protected per
// sender id) and, since a message nobody reads is a loss, the contract
// must have a message trigger: its on_message runs at the block's end.
func Message(c *exec.Context, env *Env, m *txn.MessageSend, lim message.Limits) error {
	ct, err := runtimeContract(c, env, m.To)
	if err != nil {
		return err
	}
	if m.Kind != txn.KindData && m.Kind != txn.KindCommand {
		return errs.ErrInvalidMsg.Wrap("a contract takes data and command messages, not %s", txn.KindName(m.Kind))
	}
	if !c.Has(SubscriptionKey(ct.Address, txn.TriggerMessage)) {
		return errs.ErrNoEntryPoint.Wrap("contract %s takes no messages (it has no message trigger)", ct.Address)
	}
	if err := message.RateLimit(c, lim); err != nil {
		return err
	}
	rk := message.RecordKey(c.Signer, m.ID)
	if c.Has(rk) {
		return errs.ErrMessageReplayed.Wrap("id %x already used by %s", m.ID, c.Signer)
	}
	cur := message.Cursor{Height: c.Header.Height, Tx: c.TxIndex, Msg: c.MsgIndex}
	expires := c.Header.Height + lim.Retention
	c.SetRecord(message.InboxKey(ct.Address, cur), &message.Entry{Sender: c.Signer, Kind: m.Kind, ID: m.ID, Box: m.Box,
		ReplyTo: m.ReplyTo, Time: c.Header.Time.UnixNano(), Expires: expires, TxHash: c.TxHash[:], Cursor: cur.Bytes()})
	c.SetRecord(rk, &message.Record{Recipient: ct.Address, Kind: m.Kind, Cursor: cur.Bytes(), Expires: expires})
	c.Set(message.ExpiryKey(expires, ct.Address, cur, c.Signer, m.ID), []byte{1})
	c.Emit("message", exec.Ix("to", ct.Address.String()), exec.Ix("from", c.Signer.String()),
		exec.A("kind", txn.KindName(m.Kind)), exec.A("id", hex.EncodeToString(m.ID)), exec.A("cursor", cur.String()),
		exec.A("size", exec.U(uint64(len(m.Box)))))
	if ok, n := push(c, &Pending{Contract: ct.Address, Kind: txn.TriggerMessage, Height: c.Header.Height, Sender: c.Signer,
		MsgKind: m.Kind, MsgID: m.ID, Payload: m.Box}, env.Limits.MaxQueuedPerContract); !ok {
		return queueFull(ct.Address, n)
	}
	return nil
}

// push queues p unless its contract already has max invocations queued
// (max 0: no bound); it reports whether it did, and how many are queued.
func push(c *exec.Context, p *Pending, max uint64) (bool, uint64) {
	var n QueueCount
	nk := QueuedKey(p.Contract)
	c.GetRecord(nk, &n)
	if max > 0 && n.N >= max {
		return false, n.N
	}
	var pos QueuePos
	c.GetRecord(QueuePosKey(), &pos)
	c.SetRecord(QueueKey(pos.Tail), p)
	pos.Tail++
	c.SetRecord(QueuePosKey(), &pos)
	n.N++
	c.SetRecord(nk, &n)
	return true, n.N
}

// popped counts an invocation of addr off the queue.
func popped(c *exec.Context, addr keys.Address) {
	var n QueueCount
	nk := QueuedKey(addr)
	if !c.GetRecord(nk, &n) || n.N <= 1 {
		c.Delete(nk)
		return
	}
	n.N--
	c.SetRecord(nk, &n)
}

// queueFull is the refusal of an invocation past Limits.MaxQueuedPerContract.
func queueFull(addr keys.Address, n uint64) error {
	return errs.ErrRateLimited.Wrap("contract %s has %d trigger invocations queued, the most it may", addr, n)
}

// EnqueueReading queues a reading trigger invocation for each contract
// subscribed to the device, in address order, with the subscription's
// condition as it stands now. It runs in the reading's tx (whose gas pays
// the writes, and which takes them back if it fails), so readings are
// queued in tx order.
//
// The lookup of the device's subscribers is not metered: it is part of
// every reading's price, so readings of devices without subscribers cost
// what they did before triggers.
//
// A contract with maxQueued invocations already queued (0: no bound) does
// not get this one: the reading is still recorded, and the tx carries a
// "contract.trigger_dropped" event naming the contract, so the loss is
// visible, never silent.
func EnqueueReading(c *exec.Context, dev keys.Address, counter uint64, payload []byte, maxQueued uint64) {
	var s Subscribers
	if !exec.Unmetered(c, func() bool { return c.GetRecord(DeviceSubscribersKey(dev), &s) }) {
		return
	}
	for _, addr := range s.Contracts {
		var sub Subscription
		if !c.GetRecord(SubscriptionKey(addr, txn.TriggerReading), &sub) {
			continue
		}
		if ok, n := push(c, &Pending{Contract: addr, Kind: txn.TriggerReading, Height: c.Header.Height, Device: dev,
			Counter: counter, Payload: payload, Condition: sub.Condition}, maxQueued); !ok {
			c.Emit("contract.trigger_dropped", exec.Ix("contract", addr.String()), exec.Ix("device", dev.Device()),
				exec.A("counter", exec.U(counter)), exec.A("queued", exec.U(n)))
		}
	}
}

// scheduleTicks queues the ticks due at the context's height, in address
// order, and schedules each contract's next tick. A tick that finds its
// contract's queue full (maxQueued) is skipped with a
// "contract.tick_skipped" event; the next one is scheduled as usual.
func scheduleTicks(c *exec.Context, maxQueued uint64) {
	h := c.Header.Height
	var s Subscribers
	if !c.GetRecord(TickKey(h), &s) {
		return
	}
	c.Delete(TickKey(h))
	for _, addr := range s.Contracts {
		sk := SubscriptionKey(addr, txn.TriggerTick)
		var sub Subscription
		if !c.GetRecord(sk, &sub) || sub.Next != h {
			continue
		}
		if ok, n := push(c, &Pending{Contract: addr, Kind: txn.TriggerTick, Height: h}, maxQueued); !ok {
			c.Emit("contract.tick_skipped", exec.Ix("contract", addr.String()), exec.A("height", strconv.FormatInt(h, 10)),
				exec.A("queued", exec.U(n)))
		}
		sub.Next = h + int64(sub.Every)
		c.SetRecord(sk, &sub)
		addSub(c, TickKey(sub.Next), addr)
	}
}

// triggerFee is the fee of gas at priceMilli uhyp per 1,000 gas, rounded up.
func triggerFee(gas, priceMilli uint64) txn.Amount {
	hi, lo := bits.Mul64(gas, priceMilli)
	if hi >= 1000 {
		return txn.Amount(math.MaxUint64)
	}
	q, r := bits.Div64(hi, lo, 1000)
	if r > 0 {
		q++
	}
	return txn.Amount(q)
}

// TriggerResult is what RunTriggers did in one block.
type TriggerResult struct {
	// Ran is the number of invocations taken off the queue; Left the
	// number still queued.
	Ran, Left uint64
	// Fees are the gas fees paid by the contracts, for the fee pool.
	Fees txn.Amount
	// Events has one "contract.trigger" event per invocation run (with
	// the invocation's own events before it when it succeeded).
	Events []exec.Event
}

// RunTriggers runs at the end of a block, after its txs: it queues the
// ticks due at h.Height after the readings the txs queued, then runs the
// queue in order while the block's trigger budget
// (Limits.TriggerGasPerBlock) can still cover a whole invocation
// (Limits.TriggerGasLimit); the rest waits for the next block, in order.
//
// Each invocation runs in a child of kv written back only if it succeeds;
// a failure is recorded in its event and the queue moves on. A reading
// whose condition is false costs the condition's CEL cost and runs
// nothing. The contract pays the gas used at the chain's minimum price
// from its own balance; a contract whose balance cannot cover
// TriggerGasLimit at that price is not run (ErrInsufficientFunds).
//
// firstIndex is the TxIndex given to the first invocation (the block's tx
// count), so that contract commands get cursors after the block's txs.
func RunTriggers(kv *exec.Cache, env *Env, h exec.Header, gas *exec.GasSchedule, firstIndex uint32, priceMilli uint64) (TriggerResult, error) {
	var out TriggerResult
	if err := requireRuntime(env); err != nil {
		return out, nil
	}
	free := exec.NewContext(h, gas, &exec.Meter{Limit: math.MaxUint64}, kv)
	scheduleTicks(free, env.Limits.MaxQueuedPerContract)
	out.Events = append(out.Events, free.Events()...)
	var pos QueuePos
	free.GetRecord(QueuePosKey(), &pos)
	limit, budget := env.Limits.TriggerGasLimit, env.Limits.TriggerGasPerBlock
	idx := firstIndex
	for pos.Head < pos.Tail && limit > 0 && budget >= limit {
		seq := pos.Head
		var p Pending
		if !free.GetRecord(QueueKey(seq), &p) {
			return out, errs.ErrInternal.Wrap("trigger queue entry %d missing", seq)
		}
		free.Delete(QueueKey(seq))
		popped(free, p.Contract)
		pos.Head++
		out.Ran++
		// The invocation may queue more (commands to contracts): it
		// must see the head moved, and the loop its new tail.
		free.SetRecord(QueuePosKey(), &pos)
		used, evs := runPending(free, kv, env, h, gas, idx, seq, &p, limit, priceMilli, &out.Fees)
		free.GetRecord(QueuePosKey(), &pos)
		idx++
		budget -= used
		out.Events = append(out.Events, evs...)
	}
	out.Left = pos.Tail - pos.Head
	return out, nil
}

// runPending runs one invocation and returns the gas it used and its
// events.
func runPending(free *exec.Context, kv *exec.Cache, env *Env, h exec.Header, gas *exec.GasSchedule, txIndex uint32,
	seq uint64, p *Pending, limit, priceMilli uint64, fees *txn.Amount) (uint64, []exec.Event) {
	entry := entryOf(p.Kind)
	attrs := []exec.Attr{exec.Ix("contract", p.Contract.String()), exec.A("entry", entry), exec.A("seq", exec.U(seq)),
		exec.A("height", strconv.FormatInt(p.Height, 10))}
	switch p.Kind {
	case txn.TriggerReading:
		attrs = append(attrs, exec.Ix("device", p.Device.Device()), exec.A("counter", exec.U(p.Counter)))
	case txn.TriggerMessage:
		attrs = append(attrs, exec.Ix("from", p.Sender.String()), exec.A("id", hex.EncodeToString(p.MsgID)),
			exec.A("depth", exec.U(uint64(p.Depth))))
	}
	fail := func(used uint64, err error) (uint64, []exec.Event) {
		c := errs.Of(err)
		return used, []exec.Event{{Type: "contract.trigger", Attrs: append(attrs, exec.A("gas_used", exec.U(used)),
			exec.A("error", c.Name), exec.A("log", errs.Message(err)))}}
	}
	ct, ok := Get(free, p.Contract)
	if !ok {
		return fail(0, errs.ErrUnknownContract.Wrap("%s", p.Contract))
	}
	acct := account.Get(free, ct.Address)
	if acct.Balance < triggerFee(limit, priceMilli) {
		return fail(0, errs.ErrInsufficientFunds.Wrap("contract %s has %d%s, a trigger may cost %d%s", ct.Address,
			acct.Balance, txn.Denom, triggerFee(limit, priceMilli), txn.Denom))
	}
	meter := &exec.Meter{Limit: limit}
	pay := func() {
		a := account.Get(free, ct.Address)
		f := min(triggerFee(meter.Used, priceMilli), a.Balance)
		if f > 0 {
			a.Balance -= f
			account.Put(free, ct.Address, a)
			*fees += f
		}
	}
	var input []byte
	switch p.Kind {
	case txn.TriggerReading:
		match, cost := evalCondition(p.Condition, env.Limits.MaxConditionCost, p.Device, p.Counter, p.Payload)
		meter.Used = min(cost, limit)
		if !match {
			pay()
			return meter.Used, nil
		}
		input = readingInput(p)
	case txn.TriggerMessage:
		input = appendBytes(nil, p.Sender[:])
		input = appendULEB(input, uint64(p.MsgKind))
		input = appendBytes(input, p.MsgID)
		input = appendBytes(input, p.Payload)
		input = appendULEB(input, uint64(p.Height))
		input = appendULEB(input, uint64(p.Depth))
		input = appendBytes(input, []byte(p.Command))
	default:
		input = appendULEB(nil, uint64(p.Height))
	}
	child := exec.NewCache(kv)
	ic := exec.NewContext(h, gas, meter, child)
	ic.TxHash = triggerHash(h.Height, seq)
	ic.Signer, ic.TxIndex = ct.Address, txIndex
	switch p.Kind {
	case txn.TriggerReading:
		ic.Signer = p.Device
	case txn.TriggerMessage:
		ic.Signer = p.Sender
	}
	err := func() (err error) {
		defer func() {
			if r := recover(); r != nil {
				o, ok := r.(exec.OutOfGas)
				if !ok {
					panic(r)
				}
				err = errs.ErrOutOfGas.Wrap("trigger gas limit %d, wanted %d", o.Limit, o.Wanted)
			}
		}()
		code, err := codeOf(ic, &ct)
		if err != nil {
			return err
		}
		if !code.HasEntry(entry) {
			return errs.ErrNoEntryPoint.Wrap("contract %s exports no %s entry point", ct.Address, entry)
		}
		ienv := &Env{Runtime: env.Runtime, Limits: env.Limits, KV: child, View: env.View}
		if p.Kind == txn.TriggerMessage {
			ienv.Depth = p.Depth
		}
		_, err = run(ic, ienv, &ct, &code, entry, input, 0)
		return err
	}()
	if err != nil {
		pay()
		return fail(meter.Used, err)
	}
	child.WriteTo(kv)
	pay()
	evs := append(ic.Events(), exec.Event{Type: "contract.trigger", Attrs: append(attrs, exec.A("gas_used", exec.U(meter.Used)))})
	return meter.Used, evs
}

// triggerHash stands for the tx hash of an invocation (its seed, command
// ids): SHA-256("hypha/trigger/v1" || height:8 || seq:8).
func triggerHash(height int64, seq uint64) [32]byte {
	b := append([]byte("hypha/trigger/v1"), binary.BigEndian.AppendUint64(nil, uint64(height))...)
	return sha256.Sum256(binary.BigEndian.AppendUint64(b, seq))
}

// readingInput is on_reading's input (sdk.ParseReading): device,
// counter, payload, height, then the records a condition sees, by name.
func readingInput(p *Pending) []byte {
	input := appendBytes(nil, p.Device[:])
	input = appendULEB(input, p.Counter)
	input = appendBytes(input, p.Payload)
	input = appendULEB(input, uint64(p.Height))
	recs := senmlRecords(p.Device, p.Payload)
	names := slices.Sorted(maps.Keys(recs))
	input = appendULEB(input, uint64(len(names)))
	for _, n := range names {
		input = appendBytes(input, []byte(n))
		v := recs[n]
		input = appendULEB(input, uint64(v<<1)^uint64(v>>63))
	}
	return input
}

func appendULEB(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

func appendBytes(b, v []byte) []byte { return append(appendULEB(b, uint64(len(v))), v...) }

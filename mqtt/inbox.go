package mqtt

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/hypha-iot/hypha/keys"
)

// InboxEntry is one sealed message in a recipient's inbox.
//
// On the wire (the payload of an inbox PUBLISH) it is JSON:
//
//	{"cursor": "…", "recipient": "hyphadev1…", "sender": "hypha1…", "kind": "…",
//	 "msg_id": hex, "box": base64 (RFC 4648 §4, padded), "height": n, "reply_to": hex}
//
// recipient is spelled as in the subscribed topic; sender in account form
// (the same bytes name a device). reply_to is omitted when empty.
type InboxEntry struct {
	// Cursor places the entry in its recipient's inbox. It is opaque to the
	// broker; the backend compares cursors. Inbox(after=Cursor) returns the
	// entries that follow this one.
	Cursor    string
	Recipient keys.Address
	Sender    keys.Address
	Kind      string
	MsgID     []byte
	Box       []byte
	Height    int64
	ReplyTo   []byte
}

type wireEntry struct {
	Cursor    string `json:"cursor"`
	Recipient string `json:"recipient"`
	Sender    string `json:"sender"`
	Kind      string `json:"kind"`
	MsgID     string `json:"msg_id"`
	Box       string `json:"box"`
	Height    int64  `json:"height"`
	ReplyTo   string `json:"reply_to,omitempty"`
}

// EncodeEntry renders e as the JSON payload of an inbox message, naming
// the recipient as recipientText (the {id} of the topic).
func EncodeEntry(e InboxEntry, recipientText string) ([]byte, error) {
	w := wireEntry{
		Cursor:    e.Cursor,
		Recipient: recipientText,
		Sender:    e.Sender.Account(),
		Kind:      e.Kind,
		MsgID:     hex.EncodeToString(e.MsgID),
		Box:       base64.StdEncoding.EncodeToString(e.Box),
		Height:    e.Height,
	}
	if len(e.ReplyTo) > 0 {
		w.ReplyTo = hex.EncodeToString(e.ReplyTo)
	}
	return json.Marshal(w)
}

// DecodeEntry parses an inbox message payload (for clients and tests).
func DecodeEntry(b []byte) (InboxEntry, error) {
	var w wireEntry
	if err := json.Unmarshal(b, &w); err != nil {
		return InboxEntry{}, fmt.Errorf("mqtt: inbox entry: %w", err)
	}
	e := InboxEntry{Cursor: w.Cursor, Kind: w.Kind, Height: w.Height}
	var err error
	if e.Recipient, _, err = keys.ParseAddress(w.Recipient); err != nil {
		return InboxEntry{}, fmt.Errorf("mqtt: inbox entry recipient: %w", err)
	}
	if e.Sender, _, err = keys.ParseAddress(w.Sender); err != nil {
		return InboxEntry{}, fmt.Errorf("mqtt: inbox entry sender: %w", err)
	}
	if e.MsgID, err = hex.DecodeString(w.MsgID); err != nil {
		return InboxEntry{}, fmt.Errorf("mqtt: inbox entry msg_id: %w", err)
	}
	if e.Box, err = base64.StdEncoding.DecodeString(w.Box); err != nil {
		return InboxEntry{}, fmt.Errorf("mqtt: inbox entry box: %w", err)
	}
	if w.ReplyTo != "" {
		if e.ReplyTo, err = hex.DecodeString(w.ReplyTo); err != nil {
			return InboxEntry{}, fmt.Errorf("mqtt: inbox entry reply_to: %w", err)
		}
	}
	return e, nil
}

// CursorProperty is the MQTT 5 user property that carries a cursor: on a
// SUBSCRIBE (where to resume) and on every inbox PUBLISH (where it is).
const CursorProperty = "cursor"

// maxCursorLen bounds a client-supplied cursor.
const maxCursorLen = 256

// pump delivers one inbox to one subscription of one connection. It owns a
// cursor (the last entry written or handed to the session's inflight
// store) and only ever reads forward from it with Backend.Inbox, so it can
// neither skip nor repeat an entry: live entries from SubscribeInbox only
// wake it (see Broker.Dispatch).
type pump struct {
	b      *Broker
	c      *conn
	topic  string // as subscribed; also the topic of every delivery
	idText string // the {id} of topic
	inbox  keys.Address
	qos    byte // 0 or 1
	subIDs []int

	wake   chan struct{} // capacity 1: wake-ups coalesce
	window chan struct{} // QoS 1 credit: a slot per unacknowledged message
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}

	mu     sync.Mutex
	cursor string // last entry written (QoS 0) or handed to the client (QoS 1)
	acked  string // last entry the client has: = cursor at QoS 0, last PUBACKed at QoS 1
}

func (b *Broker) newPump(c *conn, topic string, inbox keys.Address, qos byte, subID int, cursor string) *pump {
	ctx, cancel := context.WithCancel(b.ctx)
	p := &pump{
		b: b, c: c, topic: topic, inbox: inbox, qos: min(qos, 1),
		wake: make(chan struct{}, 1), ctx: ctx, cancel: cancel, done: make(chan struct{}),
		cursor: cursor, acked: cursor,
	}
	rest, _ := strings.CutPrefix(topic, topicRoot)
	p.idText, _, _ = strings.Cut(rest, "/")
	if subID > 0 {
		p.subIDs = []int{subID}
	}
	if p.qos > 0 {
		w := b.cfg.InboxWindow
		if rm := int(c.cl.Properties.Props.ReceiveMaximum); c.cl.Properties.ProtocolVersion == 5 && rm > 0 {
			w = min(w, rm)
		}
		p.window = make(chan struct{}, w)
	}
	return p
}

// Cursor returns the cursor of the last entry sent.
func (p *pump) Cursor() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cursor
}

// Acked returns the cursor of the last entry the client acknowledged (the
// last sent, at QoS 0): where a new connection of the session resumes.
func (p *pump) Acked() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.acked
}

func (p *pump) setCursor(c string, acked bool) {
	p.mu.Lock()
	p.cursor = c
	if acked {
		p.acked = c
	}
	p.mu.Unlock()
}

// notify wakes the pump; it never blocks.
func (p *pump) notify() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// ack records the PUBACK of the entry at cursor and returns one unit of
// QoS 1 credit. PUBACKs come in delivery order [MQTT-4.6.0-2].
func (p *pump) ack(cursor string) {
	p.mu.Lock()
	p.acked = cursor
	p.mu.Unlock()
	p.release()
}

// release returns one unit of QoS 1 credit.
func (p *pump) release() {
	select {
	case <-p.window:
	default:
	}
}

// stop ends the pump and waits for its goroutine.
func (p *pump) stop() {
	p.cancel()
	<-p.done
}

// run syncs once, then again on every wake-up, until stopped. A failed
// sync (backend error) is retried after a second.
func (p *pump) run() {
	defer close(p.done)
	for {
		if err := p.Sync(p.ctx); err != nil {
			if p.ctx.Err() != nil || errors.Is(err, mochi.ErrConnectionClosed) {
				return
			}
			p.b.log.Warn("mqtt: inbox delivery", "inbox", p.topic, "client", p.c.cl.ID, "err", err)
			select {
			case <-p.ctx.Done():
				return
			case <-time.After(time.Second):
			}
			continue
		}
		select {
		case <-p.ctx.Done():
			return
		case <-p.wake:
		}
	}
}

// Sync delivers every entry after the pump's cursor, page by page, until
// Backend.Inbox returns none. It returns the first backend or write error.
func (p *pump) Sync(ctx context.Context) error {
	for {
		entries, _, err := p.b.backend.Inbox(ctx, p.inbox, p.Cursor(), p.b.cfg.InboxPage)
		if err != nil {
			return fmt.Errorf("read inbox: %w", err)
		}
		if len(entries) == 0 {
			return nil
		}
		for _, e := range entries {
			if err := p.deliver(ctx, e); err != nil {
				return err
			}
		}
	}
}

// deliver writes one entry to the client. At QoS 1 it waits for window
// credit first; the entry counts as acknowledged when its PUBACK arrives,
// and a later connection of the session resumes after the last
// acknowledged entry (the broker takes its unacknowledged inbox messages
// out of mochi's inflight store, so they are re-read, not resent twice).
// An entry larger than the client's Maximum Packet Size cannot be delivered
// at all: it is logged and passed over rather than blocking the inbox.
func (p *pump) deliver(ctx context.Context, e InboxEntry) error {
	payload, err := EncodeEntry(e, p.idText)
	if err != nil {
		return err
	}
	cl := p.c.cl
	pk := packets.Packet{
		FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: p.qos},
		TopicName:   p.topic,
		Payload:     payload,
		Properties: packets.Properties{
			User:                   []packets.UserProperty{{Key: CursorProperty, Val: e.Cursor}},
			ContentType:            "application/json",
			PayloadFormat:          1,
			PayloadFormatFlag:      true,
			SubscriptionIdentifier: p.subIDs,
		},
		Created: p.b.cfg.Clock().Unix(),
	}
	if p.qos == 0 {
		err := cl.WritePacket(pk)
		if errors.Is(err, packets.ErrPacketTooLarge) {
			p.b.log.Warn("mqtt: inbox entry larger than the client's maximum packet size; passed over",
				"inbox", p.topic, "cursor", e.Cursor, "client", cl.ID)
			err = nil
		}
		if err != nil {
			return err
		}
		p.setCursor(e.Cursor, true)
		return nil
	}
	select {
	case p.window <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	id, err := cl.NextPacketID()
	if err != nil {
		p.release()
		return err
	}
	pk.PacketID = uint16(id)
	p.c.track(pk.PacketID, p, e.Cursor)
	cl.State.Inflight.Set(pk) // reserves the packet id
	err = cl.WritePacket(pk)
	if err != nil && !errors.Is(err, packets.ErrPacketTooLarge) {
		cl.State.Inflight.Delete(pk.PacketID)
		p.c.untrack(pk.PacketID)
		p.release()
		return err
	}
	p.setCursor(e.Cursor, false)
	if errors.Is(err, packets.ErrPacketTooLarge) {
		cl.State.Inflight.Delete(pk.PacketID)
		p.c.untrack(pk.PacketID)
		p.ack(e.Cursor)
		p.b.log.Warn("mqtt: inbox entry larger than the client's maximum packet size; passed over",
			"inbox", p.topic, "cursor", e.Cursor, "client", cl.ID)
		return nil
	}
	return err
}

// Dispatch wakes every pump watching e's recipient. The dispatcher loop
// calls it for each entry from Backend.SubscribeInbox; it never blocks.
func (b *Broker) Dispatch(e InboxEntry) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for p := range b.watchers[e.Recipient] {
		p.notify()
	}
}

// wakeAll wakes every pump (after the live stream was re-established, so
// nothing committed while it was down is left waiting).
func (b *Broker) wakeAll() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, ps := range b.watchers {
		for p := range ps {
			p.notify()
		}
	}
}

// dispatchLoop follows Backend.SubscribeInbox until the broker closes,
// re-subscribing after a second if the stream fails or ends.
func (b *Broker) dispatchLoop() {
	defer b.wg.Done()
	for b.ctx.Err() == nil {
		ch, err := b.backend.SubscribeInbox(b.ctx)
		if err != nil {
			b.log.Warn("mqtt: subscribe to inbox entries", "err", err)
		} else {
			b.wakeAll()
			for e := range ch {
				b.Dispatch(e)
			}
		}
		select {
		case <-b.ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}

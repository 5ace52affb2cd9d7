package mqtt

import (
	"bytes"
	"context"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/hypha-iot/hypha/keys"
)

// hook adapts mochi's hook interface to the broker. Every method runs on
// the goroutine of the client concerned, in packet order.
type hook struct {
	mochi.HookBase
	b *Broker
}

func (h *hook) ID() string { return "hypha" }

func (h *hook) Provides(b byte) bool {
	return bytes.Contains([]byte{
		mochi.OnConnect,
		mochi.OnConnectAuthenticate,
		mochi.OnSessionEstablish,
		mochi.OnSessionEstablished,
		mochi.OnPacketRead,
		mochi.OnPublished,
		mochi.OnDisconnect,
		mochi.OnACLCheck,
		mochi.OnPublish,
		mochi.OnSubscribed,
		mochi.OnUnsubscribed,
		mochi.OnPacketProcessed,
		mochi.OnPacketEncode,
		mochi.OnQosComplete,
		mochi.OnQosDropped,
		mochi.OnClientExpired,
	}, []byte{b})
}

func (h *hook) OnConnect(cl *mochi.Client, pk packets.Packet) error { return h.b.connect(cl, pk) }

// OnConnectAuthenticate admits exactly the clients OnConnect authenticated.
func (h *hook) OnConnectAuthenticate(cl *mochi.Client, _ packets.Packet) bool {
	return h.b.conn(cl) != nil
}

func (h *hook) OnSessionEstablish(cl *mochi.Client, _ packets.Packet) { h.b.takeover(cl) }

func (h *hook) OnSessionEstablished(cl *mochi.Client, pk packets.Packet) {
	h.b.establish(cl, pk.Connect.Clean)
}

func (h *hook) OnDisconnect(cl *mochi.Client, _ error, expire bool) { h.b.disconnect(cl, expire) }

func (h *hook) OnClientExpired(cl *mochi.Client) { h.b.expireSession(cl.ID) }

// OnACLCheck decides subscriptions (write=false, topic is a filter),
// deliveries (write=false, a topic name) and publishes (write=true).
func (h *hook) OnACLCheck(cl *mochi.Client, topic string, write bool) bool {
	if cl.Net.Inline {
		return true
	}
	c := h.b.conn(cl)
	if c == nil {
		return false
	}
	if write {
		return h.b.MayPublish(c.id, topic)
	}
	ok, err := h.b.MaySubscribe(context.Background(), c.id, topic)
	if err != nil {
		h.b.log.Warn("mqtt: subscribe check", "client", cl.ID, "filter", topic, "err", err)
	}
	return ok
}

func (h *hook) OnPublish(cl *mochi.Client, pk packets.Packet) (packets.Packet, error) {
	if cl.Net.Inline {
		return pk, nil
	}
	return pk, h.b.publish(cl, pk)
}

// OnSubscribed notes the inbox subscriptions just granted; their pumps
// start in OnPacketProcessed, after the SUBACK is written, so that no inbox
// message overtakes the SUBACK.
func (h *hook) OnSubscribed(cl *mochi.Client, pk packets.Packet, codes []byte) {
	c := h.b.conn(cl)
	if c == nil {
		return
	}
	cursor, hasCursor := userProperty(pk.Properties.User, CursorProperty)
	for i, f := range pk.Filters {
		if i >= len(codes) || codes[i] >= packets.ErrUnspecifiedError.Code {
			continue
		}
		kind, inbox := ParseTopic(f.Filter)
		if kind != TopicInbox {
			continue
		}
		c.pending = append(c.pending, pendingSub{
			topic: f.Filter, inbox: inbox, qos: codes[i], subID: f.Identifier,
			cursor: cursor, hasCursor: hasCursor,
		})
	}
}

func (h *hook) OnPacketProcessed(cl *mochi.Client, pk packets.Packet, err error) {
	if pk.FixedHeader.Type != packets.Subscribe {
		return
	}
	c := h.b.conn(cl)
	if c == nil || len(c.pending) == 0 {
		return
	}
	pending := c.pending
	c.pending = nil
	if err != nil {
		return
	}
	for _, ps := range pending {
		h.b.startPump(c, ps)
	}
}

func (h *hook) OnUnsubscribed(cl *mochi.Client, pk packets.Packet) {
	h.b.unsubscribe(cl, pk.Filters)
}

// OnPacketEncode fixes two things on the way out. A PUBLISH keeps its user
// properties even when the client set Request Problem Information to 0:
// that setting only concerns packets other than PUBLISH, CONNACK and
// DISCONNECT [MQTT-3.1.2-29], but mochi strips them from PUBLISH too (and
// paho.golang sends 0 by default), which would lose the cursor property.
// A successful MQTT 5 CONNACK gets the limits mochi does not advertise
// itself: Maximum Packet Size, no retained messages, no shared
// subscriptions.
func (h *hook) OnPacketEncode(cl *mochi.Client, pk packets.Packet) packets.Packet {
	if pk.FixedHeader.Type == packets.Publish {
		pk.Mods.DisallowProblemInfo = false
		return pk
	}
	if pk.FixedHeader.Type != packets.Connack || pk.ReasonCode != 0 || cl.Properties.ProtocolVersion != 5 {
		return pk
	}
	pk.Properties.MaximumPacketSize = uint32(h.b.cfg.MaxPayload + PacketOverhead)
	pk.Properties.RetainAvailable, pk.Properties.RetainAvailableFlag = 0, true
	pk.Properties.SharedSubAvailable, pk.Properties.SharedSubAvailableFlag = 0, true
	return pk
}

// OnPacketRead sees every PUBACK, including one whose packet id mochi's
// inflight store lost: mochi keeps one id space for both directions, and a
// client PUBLISH reusing an id drops the server's entry for it, so
// OnQosComplete alone could leak QoS 1 credit.
func (h *hook) OnPacketRead(cl *mochi.Client, pk packets.Packet) (packets.Packet, error) {
	if pk.FixedHeader.Type == packets.Puback {
		h.b.acked(cl, pk.PacketID)
	}
	return pk, nil
}

func (h *hook) OnQosComplete(cl *mochi.Client, pk packets.Packet) { h.b.acked(cl, pk.PacketID) }

func (h *hook) OnQosDropped(cl *mochi.Client, pk packets.Packet) { h.b.acked(cl, pk.PacketID) }

// OnPublished queues the tx accepted by OnPublish, now that mochi has
// recorded its own acknowledgement: a result published earlier could take
// the packet id of a QoS 2 exchange still in progress (mochi's shared id
// space) and break it.
func (h *hook) OnPublished(cl *mochi.Client, _ packets.Packet) {
	if c := h.b.conn(cl); c != nil {
		h.b.release(c)
	}
}

// acked credits the PUBACK of packet id to the pump that sent it.
func (b *Broker) acked(cl *mochi.Client, id uint16) {
	if c := b.conn(cl); c != nil {
		if r, ok := c.untrack(id); ok {
			r.p.ack(r.cursor)
		}
	}
}

func userProperty(props []packets.UserProperty, key string) (string, bool) {
	for _, p := range props {
		if p.Key == key {
			return p.Val, true
		}
	}
	return "", false
}

// MayPublish tells whether identity self may publish to topic: only to its
// own tx topic, and to the cursor topic of an inbox it may read (its own;
// an audited one is checked at SUBSCRIBE). Inbox and result topics are the
// broker's alone.
func (b *Broker) MayPublish(self keys.Address, topic string) bool {
	kind, id := ParseTopic(topic)
	switch kind {
	case TopicTx:
		return id == self
	case TopicCursor:
		if id == self {
			return true
		}
		ctx, cancel := context.WithTimeout(b.ctx, lookupTimeout)
		defer cancel()
		ok, err := b.backend.MayRead(ctx, self, id)
		return err == nil && ok
	}
	return false
}

// MaySubscribe tells whether identity self may subscribe to filter (or
// receive a message on that topic name). Granted:
//
//   - hypha/v1/devices/{self}/inbox, and {id}/inbox when MayRead(self, id);
//   - hypha/v1/devices/{self}/tx/result and any topic or filter below it,
//     wildcards included, since they can only match self's own results.
//
// Everything else is refused: every other wildcard form (#, +, hypha/#,
// hypha/v1/devices/+/inbox, {self}/+, …), even one that would match only
// topics self may read, because deciding that in general means knowing
// every identity; $-topics ($SYS, $share/…); tx and cursor topics.
func (b *Broker) MaySubscribe(ctx context.Context, self keys.Address, filter string) (bool, error) {
	if hasWildcard(filter) {
		return ownResultWildcard(self, filter), nil
	}
	kind, id := ParseTopic(filter)
	switch kind {
	case TopicResult:
		return id == self, nil
	case TopicInbox:
		if id == self {
			return true, nil
		}
		ctx, cancel := context.WithTimeout(ctx, lookupTimeout)
		defer cancel()
		return b.backend.MayRead(ctx, self, id)
	}
	return false, nil
}

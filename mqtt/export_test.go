package mqtt

import (
	"sync/atomic"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

var spyID atomic.Int64

// Spy subscribes fn to filter inside the broker, bypassing the ACL, so a
// test sees every message mochi fans out on matching topics: the check
// that refused (and accepted) tx publishes reach no subscriber.
func (b *Broker) Spy(filter string, fn func(topic string, payload []byte)) error {
	return b.srv.Subscribe(filter, int(spyID.Add(1)), func(_ *mochi.Client, _ packets.Subscription, pk packets.Packet) {
		fn(pk.TopicName, pk.Payload)
	})
}

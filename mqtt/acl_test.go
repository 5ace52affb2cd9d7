package mqtt_test

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/hypha-iot/hypha/mqtt"
)

// spy records every message mochi fans out on filter (inside the broker,
// past the ACL).
type spy struct {
	mu   sync.Mutex
	msgs []string
}

func newSpy(tb testing.TB, e *env, filters ...string) *spy {
	tb.Helper()
	s := &spy{}
	for _, f := range filters {
		if err := e.b.Spy(f, func(topic string, payload []byte) {
			s.mu.Lock()
			s.msgs = append(s.msgs, topic+" "+string(payload))
			s.mu.Unlock()
		}); err != nil {
			tb.Fatal(err)
		}
	}
	return s
}

func (s *spy) assertNone(tb testing.TB) {
	tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.msgs) > 0 {
		tb.Fatalf("messages reached subscribers: %q", s.msgs)
	}
}

func TestSubscribeACL(t *testing.T) {
	dev, victim, auditor := testIdentity(1), testIdentity(2), testIdentity(3)
	e := newEnv(t, mqtt.Config{}, dev, victim, auditor)
	e.fb.grantRead(auditor.id, victim.id)
	self, vic := dev.user(), victim.user()

	granted := []string{
		mqtt.InboxTopic(dev.id),
		"hypha/v1/devices/" + dev.id.Account() + "/inbox",
		mqtt.ResultTopic(dev.id),
		mqtt.ResultTopic(dev.id) + "/req-1",
		mqtt.ResultTopic(dev.id) + "/#",
		mqtt.ResultTopic(dev.id) + "/+",
		mqtt.ResultTopic(dev.id) + "/+/x/#",
	}
	refused := []string{
		mqtt.InboxTopic(victim.id),
		"hypha/v1/devices/" + victim.id.Account() + "/inbox",
		"#", "+", "+/#", "hypha/#", "hypha/+/devices/#", "hypha/v1/devices/#",
		"hypha/v1/devices/+/inbox", "hypha/v1/devices/+/+",
		"hypha/v1/devices/" + self + "/+", "hypha/v1/devices/" + self + "/#",
		"hypha/v1/devices/" + self + "/inbox/#", "hypha/v1/devices/" + self + "/tx/#",
		"hypha/v1/devices/" + self + "/+/result",
		"+/v1/devices/" + self + "/inbox",
		"hypha/v1/devices/" + vic + "/tx/result", "hypha/v1/devices/" + vic + "/tx/result/#",
		mqtt.TxTopic(dev.id), mqtt.TxTopic(victim.id), mqtt.CursorTopic(dev.id),
		"$SYS/#", "$SYS/broker/clients/connected",
		"$share/g/" + mqtt.InboxTopic(dev.id), "$share/g/#",
		"hypha/v1/devices/" + strings.ToUpper(self) + "/inbox",
		"other/topic",
	}

	c5 := mustV5(t, e, dev, v5Opts{})
	c3 := mustV3(t, e, dev, "dev-v3")
	for _, f := range granted {
		if rc := c5.subscribe(t, f, 1, nil); rc != 1 {
			t.Errorf("v5 SUBSCRIBE %s: 0x%02x, want granted QoS 1", f, rc)
		}
		if rc := c3.subscribe(t, f, 1); rc != 1 {
			t.Errorf("3.1.1 SUBSCRIBE %s: 0x%02x, want granted QoS 1", f, rc)
		}
	}
	for _, f := range refused {
		if strings.HasPrefix(f, "$share/") {
			// paho.golang refuses these itself: the CONNACK says no shared
			// subscriptions. The 3.1.1 client below sends them.
		} else if rc := c5.subscribe(t, f, 1, nil); rc < 0x80 {
			t.Errorf("v5 SUBSCRIBE %s: granted 0x%02x, want refused", f, rc)
		}
		if rc := c3.subscribe(t, f, 1); rc != 0x80 {
			t.Errorf("3.1.1 SUBSCRIBE %s: 0x%02x, want 0x80", f, rc)
		}
	}
	if rc := c5.subscribe(t, "#", 0, nil); rc != 0x87 && rc != 0x9E {
		t.Errorf("v5 SUBSCRIBE #: 0x%02x, want 0x87", rc)
	}

	// The auditor may read the victim's inbox; the attacker, after all
	// those attempts, gets none of it.
	a := mustV5(t, e, auditor, v5Opts{})
	if rc := a.subscribe(t, mqtt.InboxTopic(victim.id), 1, nil); rc != 1 {
		t.Fatalf("auditor SUBSCRIBE: 0x%02x", rc)
	}
	e.fb.deliver(victim.id, auditor.id, "secret")
	if m := a.rec.next(t, 5*time.Second); m.Topic != mqtt.InboxTopic(victim.id) {
		t.Fatalf("auditor got %s", m.Topic)
	}
	c5.rec.none(t, 200*time.Millisecond)
	c3.rec.none(t, 50*time.Millisecond)
}

// TestPublishToInboxRefused: nobody publishes to an inbox (own or other)
// or to another identity's tx or result topic; no subscriber sees it.
func TestPublishToInboxRefused(t *testing.T) {
	dev, victim := testIdentity(1), testIdentity(2)
	e := newEnv(t, mqtt.Config{}, dev, victim)
	sp := newSpy(t, e, "hypha/#")
	owner := mustV5(t, e, victim, v5Opts{})
	owner.subscribe(t, mqtt.InboxTopic(victim.id), 1, nil)
	owner.subscribe(t, mqtt.ResultTopic(victim.id), 1, nil)

	topics := []string{mqtt.InboxTopic(dev.id), mqtt.InboxTopic(victim.id), mqtt.TxTopic(victim.id),
		mqtt.ResultTopic(victim.id), mqtt.ResultTopic(dev.id), "hypha/v1/other"}
	// mochi drops a PUBLISH to a $ topic before any hook, without an ack.
	c0 := mustV5(t, e, dev, v5Opts{})
	c0.publish(t, &paho.Publish{Topic: "$SYS/x", QoS: 0, Payload: []byte("x")})
	c := mustV5(t, e, dev, v5Opts{})
	for _, topic := range topics {
		for qos := byte(0); qos <= 2; qos++ {
			rc := c.publish(t, &paho.Publish{Topic: topic, QoS: qos, Payload: mustTx(t, dev, 1)})
			if qos > 0 && rc != 0x87 {
				t.Errorf("v5 QoS %d PUBLISH %s: reason 0x%02x, want 0x87", qos, topic, rc)
			}
		}
	}
	// MQTT 3.1.1: QoS 0 is dropped; QoS 1/2 closes the connection (no
	// negative ack exists).
	for _, topic := range topics {
		c3 := mustV3(t, e, dev, "")
		if err := c3.publish(t, topic, 0, []byte("x")); err != nil {
			t.Fatal(err)
		}
		_ = c3.publish(t, topic, 1, []byte("x"))
		deadline := time.Now().Add(5 * time.Second)
		for c3.c.IsConnectionOpen() && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if c3.c.IsConnectionOpen() {
			t.Errorf("3.1.1 QoS 1 PUBLISH %s: still connected", topic)
		}
	}
	owner.rec.none(t, 300*time.Millisecond)
	sp.assertNone(t)
	if n := len(e.fb.submitted()); n != 0 {
		t.Fatalf("%d txs submitted", n)
	}
}

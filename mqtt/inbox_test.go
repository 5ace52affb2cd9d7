package mqtt_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/hypha-iot/hypha/mqtt"
)

// expectSeq reads messages until the one with cursor last, checking that
// they are exactly the cursors after from, in order, each with the cursor
// user property (v5) equal to the body's.
func expectSeq(tb testing.TB, rec *inboxRec, from, last int64, v5 bool) {
	tb.Helper()
	for want := from + 1; want <= last; want++ {
		m := rec.next(tb, 10*time.Second)
		e, err := mqtt.DecodeEntry(m.Payload)
		if err != nil {
			tb.Fatal(err)
		}
		if c := fmt.Sprintf("%012d", want); e.Cursor != c {
			tb.Fatalf("got cursor %s, want %s (gap or duplicate)", e.Cursor, c)
		}
		if v5 && m.Cursor != e.Cursor {
			tb.Fatalf("user property cursor %q, body %q", m.Cursor, e.Cursor)
		}
	}
}

func TestInboxReplayThenLive(t *testing.T) {
	for _, tc := range []struct {
		name string
		qos  byte
	}{{"qos0", 0}, {"qos1", 1}} {
		t.Run(tc.name, func(t *testing.T) {
			dev, sender := testIdentity(1), testIdentity(2)
			e := newEnv(t, mqtt.Config{InboxPage: 7, InboxWindow: 4}, dev, sender)
			for range 20 {
				e.fb.deliver(dev.id, sender.id, "old")
			}
			e.fb.deliver(sender.id, dev.id, "someone else's") // cursor 21, other inbox
			// Live entries keep committing while the client subscribes.
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 300 {
					e.fb.deliver(dev.id, sender.id, "live")
					time.Sleep(100 * time.Microsecond)
				}
			}()
			c := mustV5(t, e, dev, v5Opts{})
			cursor := fmt.Sprintf("%012d", 5)
			if rc := c.subscribe(t, mqtt.InboxTopic(dev.id), tc.qos, &cursor); rc != tc.qos {
				t.Fatalf("SUBACK 0x%02x", rc)
			}
			wg.Wait()
			// 6..20, then 22..321 (21 went to the other inbox).
			expectSeq(t, c.rec, 5, 20, true)
			expectSeq(t, c.rec, 21, 321, true)
			c.rec.none(t, 200*time.Millisecond)
		})
	}
}

func TestInboxDefaultReplaysAll(t *testing.T) {
	dev, sender := testIdentity(1), testIdentity(2)
	e := newEnv(t, mqtt.Config{}, dev, sender)
	for range 3 {
		e.fb.deliver(dev.id, sender.id, "m")
	}
	c := mustV5(t, e, dev, v5Opts{})
	c.subscribe(t, mqtt.InboxTopic(dev.id), 1, nil)
	expectSeq(t, c.rec, 0, 3, true)

	// Re-subscribing in the same session continues where delivery stood.
	c.subscribe(t, mqtt.InboxTopic(dev.id), 1, nil)
	e.fb.deliver(dev.id, sender.id, "m")
	expectSeq(t, c.rec, 3, 4, true)
	c.rec.none(t, 200*time.Millisecond)
}

// TestInboxV3CursorTopic: a 3.1.1 client sets its cursor by publishing to
// {id}/inbox/cursor before subscribing.
func TestInboxV3CursorTopic(t *testing.T) {
	dev, sender := testIdentity(1), testIdentity(2)
	e := newEnv(t, mqtt.Config{}, dev, sender)
	for range 10 {
		e.fb.deliver(dev.id, sender.id, "m")
	}
	c := mustV3(t, e, dev, "v3-dev")
	if err := c.publish(t, mqtt.CursorTopic(dev.id), 1, []byte(fmt.Sprintf("%012d", 7))); err != nil {
		t.Fatal(err)
	}
	if rc := c.subscribe(t, mqtt.InboxTopic(dev.id), 1); rc != 1 {
		t.Fatalf("SUBACK %d", rc)
	}
	expectSeq(t, c.rec, 7, 10, false)
	e.fb.deliver(dev.id, sender.id, "live")
	expectSeq(t, c.rec, 10, 11, false)
	c.rec.none(t, 200*time.Millisecond)
}

// TestInboxPersistentSession: a resumed session continues delivery where it
// stood, without a new SUBSCRIBE and without repeats.
func TestInboxPersistentSession(t *testing.T) {
	dev, sender := testIdentity(1), testIdentity(2)
	e := newEnv(t, mqtt.Config{}, dev, sender)
	o := v5Opts{clientID: "dev-1", clean: ptr(false), expiry: 600}
	c := mustV5(t, e, dev, o)
	c.subscribe(t, mqtt.InboxTopic(dev.id), 1, nil)
	for range 5 {
		e.fb.deliver(dev.id, sender.id, "m")
	}
	expectSeq(t, c.rec, 0, 5, true)
	time.Sleep(100 * time.Millisecond) // let the PUBACKs reach the broker
	c.close()
	for range 5 {
		e.fb.deliver(dev.id, sender.id, "while away")
	}
	c2 := mustV5(t, e, dev, o)
	expectSeq(t, c2.rec, 5, 10, true)
	c2.rec.none(t, 200*time.Millisecond)
}

// TestInboxUnsubscribe stops delivery.
func TestInboxUnsubscribe(t *testing.T) {
	dev, sender := testIdentity(1), testIdentity(2)
	e := newEnv(t, mqtt.Config{}, dev, sender)
	c := mustV5(t, e, dev, v5Opts{})
	c.subscribe(t, mqtt.InboxTopic(dev.id), 0, nil)
	e.fb.deliver(dev.id, sender.id, "m")
	expectSeq(t, c.rec, 0, 1, true)
	if _, err := c.c.Unsubscribe(t.Context(), &paho.Unsubscribe{Topics: []string{mqtt.InboxTopic(dev.id)}}); err != nil {
		t.Fatal(err)
	}
	e.fb.deliver(dev.id, sender.id, "m")
	c.rec.none(t, 300*time.Millisecond)
}

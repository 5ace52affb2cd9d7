package mqtt_test

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/hypha-iot/hypha/mqtt"
	"github.com/hypha-iot/hypha/txn"
)

func decodeResult(tb testing.TB, m msg) mqtt.TxResult {
	tb.Helper()
	var r mqtt.TxResult
	if err := json.Unmarshal(m.Payload, &r); err != nil {
		tb.Fatalf("result %s: %v", m.Payload, err)
	}
	return r
}

func TestTxPublishResult(t *testing.T) {
	dev := testIdentity(1)
	e := newEnv(t, mqtt.Config{}, dev)
	sp := newSpy(t, e, "hypha/v1/devices/+/tx", "hypha/v1/devices/+/inbox")

	t.Run("v5 response topic", func(t *testing.T) {
		c := mustV5(t, e, dev, v5Opts{})
		resp := mqtt.ResultTopic(dev.id) + "/req"
		if rc := c.subscribe(t, resp+"/#", 1, nil); rc != 1 {
			t.Fatalf("SUBACK 0x%02x", rc)
		}
		for qos := byte(0); qos <= 2; qos++ {
			raw := mustTx(t, dev, uint64(10+qos))
			corr := []byte(fmt.Sprintf("corr-%d", qos))
			rc := c.publish(t, &paho.Publish{Topic: mqtt.TxTopic(dev.id), QoS: qos, Payload: raw,
				Properties: &paho.PublishProperties{ResponseTopic: resp + "/1", CorrelationData: corr}})
			if rc != 0 {
				t.Fatalf("QoS %d: reason 0x%02x", qos, rc)
			}
			m := c.rec.next(t, 5*time.Second)
			if m.Topic != resp+"/1" || !bytes.Equal(m.Corr, corr) {
				t.Fatalf("result on %s corr %q", m.Topic, m.Corr)
			}
			r := decodeResult(t, m)
			h := txn.Hash(raw)
			if r.Hash != hex.EncodeToString(h[:]) || r.Height == 0 || r.Result == nil || r.Error != nil {
				t.Fatalf("result %s", m.Payload)
			}
		}
	})
	t.Run("v5 default result topic", func(t *testing.T) {
		c := mustV5(t, e, dev, v5Opts{})
		c.subscribe(t, mqtt.ResultTopic(dev.id), 1, nil)
		c.publish(t, &paho.Publish{Topic: mqtt.TxTopic(dev.id), QoS: 1, Payload: mustTx(t, dev, 20)})
		if m := c.rec.next(t, 5*time.Second); m.Topic != mqtt.ResultTopic(dev.id) || decodeResult(t, m).Height == 0 {
			t.Fatalf("result %s %s", m.Topic, m.Payload)
		}
	})
	t.Run("3.1.1", func(t *testing.T) {
		c := mustV3(t, e, dev, "")
		c.subscribe(t, mqtt.ResultTopic(dev.id), 1)
		for qos := byte(0); qos <= 2; qos++ {
			if err := c.publish(t, mqtt.TxTopic(dev.id), qos, mustTx(t, dev, uint64(30+qos))); err != nil {
				t.Fatal(err)
			}
			if r := decodeResult(t, c.rec.next(t, 5*time.Second)); r.Height == 0 || r.Error != nil {
				t.Fatalf("QoS %d result %+v", qos, r)
			}
		}
	})
	t.Run("ledger error in result", func(t *testing.T) {
		c := mustV5(t, e, dev, v5Opts{})
		c.subscribe(t, mqtt.ResultTopic(dev.id), 1, nil)
		e.fb.mu.Lock()
		e.fb.failNext = fmt.Errorf("backend down")
		e.fb.mu.Unlock()
		c.publish(t, &paho.Publish{Topic: mqtt.TxTopic(dev.id), QoS: 1, Payload: mustTx(t, dev, 40)})
		r := decodeResult(t, c.rec.next(t, 5*time.Second))
		if r.Error == nil || r.Error.Name != "ErrInternal" || r.Error.Message != "internal error" {
			t.Fatalf("result %+v", r)
		}
	})
	sp.assertNone(t) // accepted txs are acknowledged, never fanned out
}

// TestTxPublishRefused covers every refusal at every QoS on both protocol
// versions: the reason code where MQTT 5 has one, the TxResult's
// reason_code everywhere, no submission and no subscriber reached.
func TestTxPublishRefused(t *testing.T) {
	dev, other := testIdentity(1), testIdentity(2)
	const maxPayload = 2048
	e := newEnv(t, mqtt.Config{MaxPayload: maxPayload}, dev, other)
	sp := newSpy(t, e, "hypha/v1/devices/+/tx", "hypha/v1/devices/+/inbox")

	valid := mustTx(t, dev, 1)
	nonCanonical := append([]byte(nil), valid...)
	nonCanonical[0] = 0xbf // indefinite-length map
	cases := []struct {
		name    string
		payload []byte
		resp    string // v5 response topic
		code    byte
	}{
		{"garbage", []byte{0xff, 0x00, 0x13}, "", 0x99},
		{"empty", nil, "", 0x99},
		{"truncated", valid[:len(valid)-3], "", 0x99},
		{"trailing bytes", append(append([]byte(nil), valid...), 0), "", 0x99},
		{"indefinite length", nonCanonical, "", 0x99},
		{"json", []byte(`{"tx":"x"}`), "", 0x99},
		{"wrong signer", mustTx(t, other, 1), "", 0x87},
		{"oversize", bytes.Repeat([]byte{0x41}, maxPayload+1), "", 0x97},
		{"response topic of another identity", valid, mqtt.ResultTopic(other.id), 0x87},
		{"response topic an inbox", valid, mqtt.InboxTopic(dev.id), 0x87},
	}
	// One protocol at a time: both clients would receive the results.
	c5 := mustV5(t, e, dev, v5Opts{})
	c5.subscribe(t, mqtt.ResultTopic(dev.id), 1, nil)
	for _, tc := range cases {
		for qos := byte(0); qos <= 2; qos++ {
			t.Run(fmt.Sprintf("v5/%s/qos%d", tc.name, qos), func(t *testing.T) {
				p := &paho.Publish{Topic: mqtt.TxTopic(dev.id), QoS: qos, Payload: tc.payload}
				if tc.resp != "" {
					p.Properties = &paho.PublishProperties{ResponseTopic: tc.resp}
				}
				rc := c5.publish(t, p)
				if qos > 0 && rc != tc.code {
					t.Fatalf("reason 0x%02x, want 0x%02x", rc, tc.code)
				}
				m := c5.rec.next(t, 5*time.Second)
				if r := decodeResult(t, m); r.ReasonCode != tc.code || r.Error == nil || r.Height != 0 {
					t.Fatalf("result %s", m.Payload)
				}
			})
		}
	}
	c5.close()
	c3 := mustV3(t, e, dev, "")
	c3.subscribe(t, mqtt.ResultTopic(dev.id), 1)
	for _, tc := range cases {
		if tc.resp != "" {
			continue // 3.1.1 has no response topic
		}
		for qos := byte(0); qos <= 2; qos++ {
			t.Run(fmt.Sprintf("v3/%s/qos%d", tc.name, qos), func(t *testing.T) {
				if err := c3.publish(t, mqtt.TxTopic(dev.id), qos, tc.payload); err != nil {
					t.Fatal(err)
				}
				m := c3.rec.next(t, 5*time.Second)
				if r := decodeResult(t, m); r.ReasonCode != tc.code || r.Error == nil {
					t.Fatalf("result %s", m.Payload)
				}
				if !c3.c.IsConnectionOpen() {
					t.Fatal("disconnected")
				}
			})
		}
	}
	sp.assertNone(t)
	if n := len(e.fb.submitted()); n != 0 {
		t.Fatalf("%d refused txs submitted", n)
	}

	t.Run("packet above maximum packet size closes the connection", func(t *testing.T) {
		c := mustV5(t, e, dev, v5Opts{})
		ctx := t.Context()
		_, _ = c.c.Publish(ctx, &paho.Publish{Topic: mqtt.TxTopic(dev.id), QoS: 0,
			Payload: make([]byte, maxPayload+mqtt.PacketOverhead+1)})
		select {
		case <-c.c.Done():
		case <-time.After(5 * time.Second):
			t.Fatal("still connected")
		}
		sp.assertNone(t)
	})
}

// TestTxQueueFull: beyond MaxPendingTx waiting submissions, a publish is
// refused with 0x97.
func TestTxQueueFull(t *testing.T) {
	dev := testIdentity(1)
	e := newEnv(t, mqtt.Config{MaxPendingTx: 1}, dev)
	gate := make(chan struct{})
	e.fb.mu.Lock()
	e.fb.gate = gate
	e.fb.mu.Unlock()
	defer close(gate)
	c := mustV5(t, e, dev, v5Opts{})
	var codes []byte
	for i := range 4 {
		codes = append(codes, c.publish(t, &paho.Publish{Topic: mqtt.TxTopic(dev.id), QoS: 1, Payload: mustTx(t, dev, uint64(i+1))}))
	}
	if !bytes.Contains(codes, []byte{0x97}) {
		t.Fatalf("reason codes %x, want a 0x97", codes)
	}
}

package node_test

import (
	"context"
	"encoding/json"
	"net"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/hypha-iot/hypha/api"
	"github.com/hypha-iot/hypha/internal/testnet"
	"github.com/hypha-iot/hypha/keys"
	"github.com/hypha-iot/hypha/mqtt"
	"github.com/hypha-iot/hypha/seal"
	"github.com/hypha-iot/hypha/txn"
)

type mqttDevice struct {
	c    *paho.Client
	msgs chan *paho.Publish
}

// dialDevice connects a device to a gateway's broker with a fresh token.
func dialDevice(t *testing.T, addr string, key keys.PrivateKey, id keys.Address) (*mqttDevice, *paho.Connack, error) {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	d := &mqttDevice{msgs: make(chan *paho.Publish, 64)}
	d.c = paho.NewClient(paho.ClientConfig{Conn: nc, OnPublishReceived: []func(paho.PublishReceived) (bool, error){
		func(pr paho.PublishReceived) (bool, error) { d.msgs <- pr.Packet; return true, nil }}})
	tok, err := mqtt.MakeToken(key, id, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ca, err := d.c.Connect(ctx, &paho.Connect{ClientID: "dev-" + id.Device()[9:20], KeepAlive: 30, CleanStart: true,
		Username: id.Device(), UsernameFlag: true, Password: []byte(tok), PasswordFlag: true})
	if err == nil {
		t.Cleanup(func() { _ = d.c.Disconnect(&paho.Disconnect{}) })
	}
	return d, ca, err
}

func (d *mqttDevice) next(t *testing.T, topic string) *paho.Publish {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case p := <-d.msgs:
			if p.Topic == topic {
				return p
			}
		case <-deadline:
			t.Fatalf("nothing on %s", topic)
		}
	}
}

// TestMQTTDeviceAcrossGateways: a device connected to gateway B's MQTT
// broker receives a command sent through gateway A's API in the next block,
// answers by publishing its signed command-result tx on its tx topic, and
// gets the result on its response topic; once revoked, it cannot connect.
func TestMQTTDeviceAcrossGateways(t *testing.T) {
	w := newMsgWorld(t, 200*time.Millisecond)
	ctx := context.Background()
	dev, _, err := dialDevice(t, w.net.MQTT(1), w.dev, w.devID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dev.c.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{
		{Topic: mqtt.InboxTopic(w.devID), QoS: 1}, {Topic: mqtt.ResultTopic(w.devID), QoS: 1}}}); err != nil {
		t.Fatal(err)
	}
	// Another device's inbox is off limits.
	other := keys.Ed25519FromSeed([32]byte{42}).Public().Address()
	sa, err := dev.c.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: mqtt.InboxTopic(other), QoS: 1}}})
	if err == nil && len(sa.Reasons) == 1 && sa.Reasons[0] < 0x80 {
		t.Fatalf("subscribed to another device's inbox: %+v", sa)
	}

	gwA := api.NewClient(w.net.API(0), nil)
	id := newID(t)
	if _, err := gwA.SubmitTx(ctx, w.command(t, id, "unlock"), api.ModeSync); err != nil {
		t.Fatal(err)
	}
	p := dev.next(t, mqtt.InboxTopic(w.devID))
	e, err := mqtt.DecodeEntry(p.Payload)
	if err != nil {
		t.Fatal(err)
	}
	h := seal.Header{Sender: e.Sender, Recipient: w.devID, Kind: txn.KindCommand, MsgID: [16]byte(e.MsgID), ChainID: "hypha-it"}
	if pt, err := seal.Open(h, e.Box, w.devSeal); err != nil || string(pt) != "unlock" {
		t.Fatalf("open: %q %v", pt, err)
	}

	rid := newID(t)
	box, err := seal.Seal(nil, seal.Header{Sender: w.devID, Recipient: w.owner.key.Public().Address(), Kind: txn.KindCommandResult,
		MsgID: [16]byte(rid), ChainID: "hypha-it"}, []byte("unlocked"), w.ownerSeal.PublicBytes())
	if err != nil {
		t.Fatal(err)
	}
	res, err := txn.New("hypha-it", w.devID, 1).WithFee(2_000, 1_000_000).
		Add(&txn.MessageSend{To: w.owner.key.Public().Address(), Kind: txn.KindCommandResult, ID: rid, Box: box, ReplyTo: id}).Sign(w.dev)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dev.c.Publish(ctx, &paho.Publish{Topic: mqtt.TxTopic(w.devID), QoS: 1, Payload: res.Bytes(),
		Properties: &paho.PublishProperties{ResponseTopic: mqtt.ResultTopic(w.devID), CorrelationData: []byte("r1")}}); err != nil {
		t.Fatal(err)
	}
	rp := dev.next(t, mqtt.ResultTopic(w.devID))
	var tr mqtt.TxResult
	if err := json.Unmarshal(rp.Payload, &tr); err != nil {
		t.Fatal(err)
	}
	if tr.Height == 0 || tr.Result == nil || tr.Result.Code != 0 {
		t.Fatalf("result: %s", rp.Payload)
	}
	// Gateway A commits the same block a moment later.
	testnet.Eventually(t, 10*time.Second, "the result in the owner's inbox at gateway A", func() bool {
		inbox, err := gwA.Inbox(ctx, w.owner.key.Public().Address().String(), api.ListOptions{})
		return err == nil && len(inbox.Items) == 1 && inbox.Items[0].Kind == "command-result"
	})

	// Revoked: the device can no longer connect.
	s, _ := submit(t, w.net.API(0), w.owner.tx(t, nil, &txn.DeviceRevoke{Device: w.devID}), "commit")
	if s.Result.Code != 0 {
		t.Fatalf("revoke: %+v", s)
	}
	w.net.WaitHeight(s.Height, 10*time.Second)
	if _, ca, err := dialDevice(t, w.net.MQTT(1), w.dev, w.devID); err == nil || ca == nil || ca.ReasonCode != 0x87 {
		t.Fatalf("revoked device connected: %v %+v", err, ca)
	}
}

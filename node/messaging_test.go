package node_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/hypha-iot/hypha/api"
	"github.com/hypha-iot/hypha/internal/testnet"
	"github.com/hypha-iot/hypha/keys"
	"github.com/hypha-iot/hypha/seal"
	"github.com/hypha-iot/hypha/txn"
)

// msgWorld is a 4-validator network with an owner (the dev key) and a lock
// device it registered, both with seal keys.
type msgWorld struct {
	net       *testnet.Network
	owner     *signer
	ownerSeal keys.SealKey
	dev       keys.PrivateKey
	devSeal   keys.SealKey
	devID     keys.Address
	counter   uint64
}

func newMsgWorld(t testing.TB, blockTime time.Duration) *msgWorld {
	t.Helper()
	net := testnet.New(t, testnet.Options{Validators: 4, BlockTime: blockTime})
	w := &msgWorld{net: net, owner: &signer{key: devKey(t, net.Homes[0]), chain: "hypha-it"}}
	var err error
	if w.ownerSeal, err = keys.GenerateSealKey(nil); err != nil {
		t.Fatal(err)
	}
	if w.devSeal, err = keys.GenerateSealKey(nil); err != nil {
		t.Fatal(err)
	}
	if w.dev, err = keys.Generate(keys.Ed25519, nil); err != nil {
		t.Fatal(err)
	}
	w.devID = w.dev.Public().Address()
	s, _ := submit(t, net.API(0), w.owner.tx(t, []keys.PrivateKey{w.dev},
		&txn.DeviceRegister{PubKey: w.dev.Public().Bytes(), Model: "lock-v1", SealKey: w.devSeal.PublicBytes()},
		&txn.Send{To: w.devID, Amount: 10_000_000},
		&txn.SetSealKey{SealKey: w.ownerSeal.PublicBytes()}), "commit")
	if s.Result == nil || s.Result.Code != 0 {
		t.Fatalf("setup: %+v", s)
	}
	// Every gateway knows the device before anyone talks to it.
	net.WaitHeight(s.Height, 30*time.Second)
	return w
}

func newID(t testing.TB) []byte {
	id := make([]byte, txn.MsgIDSize)
	if _, err := rand.Read(id); err != nil {
		t.Fatal(err)
	}
	return id
}

// command seals text from the owner to the device.
func (w *msgWorld) command(t testing.TB, id []byte, text string) []byte {
	t.Helper()
	h := seal.Header{Sender: w.owner.key.Public().Address(), Recipient: w.devID, Kind: txn.KindCommand, MsgID: [16]byte(id), ChainID: "hypha-it"}
	box, err := seal.Seal(nil, h, []byte(text), w.devSeal.PublicBytes())
	if err != nil {
		t.Fatal(err)
	}
	return w.owner.tx(t, nil, &txn.MessageSend{To: w.devID, Kind: txn.KindCommand, ID: id, Box: box})
}

// open decrypts an inbox entry with key, rebuilding the header from it.
func open(t testing.TB, e api.InboxEntry, to keys.Address, key keys.SealKey) string {
	t.Helper()
	from, _, err := keys.ParseAddress(e.From)
	if err != nil {
		t.Fatal(err)
	}
	kind := map[string]uint8{"data": txn.KindData, "command": txn.KindCommand, "command-result": txn.KindCommandResult}[e.Kind]
	h := seal.Header{Sender: from, Recipient: to, Kind: kind, MsgID: [16]byte(e.ID), ChainID: "hypha-it"}
	pt, err := seal.Open(h, e.Box, key)
	if err != nil {
		t.Fatalf("open %s: %v", e.Cursor, err)
	}
	return string(pt)
}

// TestCommandAcrossGateways is the README's worked example: the owner sends
// a command through gateway A (node 0) to a device listening on gateway B
// (node 1); the device gets it within the next block, answers with a
// command-result through B, and the owner reads the answer through A.
func TestCommandAcrossGateways(t *testing.T) {
	w := newMsgWorld(t, 200*time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	gwA, gwB := api.NewClient(w.net.API(0), nil), api.NewClient(w.net.API(1), nil)
	devInbox, err := gwB.InboxStream(ctx, w.devID.Device(), "")
	if err != nil {
		t.Fatal(err)
	}
	ownerInbox, err := gwA.InboxStream(ctx, w.owner.key.Public().Address().String(), "")
	if err != nil {
		t.Fatal(err)
	}
	id := newID(t)
	sub, err := gwA.SubmitTx(ctx, w.command(t, id, "unlock door 3"), api.ModeSync)
	if err != nil {
		t.Fatal(err)
	}
	sentAt := w.net.Height(0)
	var got api.InboxEntry
	select {
	case got = <-devInbox:
	case <-ctx.Done():
		t.Fatal("device got no command")
	}
	if text := open(t, got, w.devID, w.devSeal); text != "unlock door 3" {
		t.Fatalf("device read %q", text)
	}
	var h int64
	fmt.Sscanf(got.Cursor, "%d.", &h)
	if h > sentAt+2 {
		t.Fatalf("command committed at %d, submitted around %d", h, sentAt)
	}
	t.Logf("command %x submitted (sync) %s, delivered at cursor %s", id, sub.Hash, got.Cursor)

	// The device answers through gateway B.
	w.counter++
	rid := newID(t)
	hdr := seal.Header{Sender: w.devID, Recipient: w.owner.key.Public().Address(), Kind: txn.KindCommandResult, MsgID: [16]byte(rid), ChainID: "hypha-it"}
	box, err := seal.Seal(nil, hdr, []byte("door 3 unlocked"), w.ownerSeal.PublicBytes())
	if err != nil {
		t.Fatal(err)
	}
	res, err := txn.New("hypha-it", w.devID, w.counter).WithFee(2_000, 1_000_000).
		Add(&txn.MessageSend{To: w.owner.key.Public().Address(), Kind: txn.KindCommandResult, ID: rid, Box: box, ReplyTo: id},
			&txn.MessageReceipt{Sender: w.owner.key.Public().Address(), IDs: [][]byte{id}, State: txn.StateRead}).Sign(w.dev)
	if err != nil {
		t.Fatal(err)
	}
	if s, err := gwB.SubmitTx(ctx, res.Bytes(), api.ModeCommit); err != nil || s.Result.Code != 0 {
		t.Fatalf("result: %v %+v", err, s)
	}
	select {
	case e := <-ownerInbox:
		if text := open(t, e, w.owner.key.Public().Address(), w.ownerSeal); text != "door 3 unlocked" || e.Kind != "command-result" {
			t.Fatalf("owner read %q (%s)", text, e.Kind)
		}
	case <-ctx.Done():
		t.Fatal("owner got no result")
	}
	m, err := gwA.Message(ctx, w.owner.key.Public().Address().String(), id, nil)
	if err != nil || m.State != "read" {
		t.Fatalf("command state: %v %+v", err, m)
	}
}

// BenchmarkCommandDelivery measures end-to-end delivery across gateways in a
// 4-validator network with 1 s blocks (the default): the time from a
// message.send submitted (sync) at gateway A to its arrival on an inbox
// stream at gateway B, as a multiple of the block interval.
//
//	go test ./node -run X -bench CommandDelivery -benchtime 30x
func BenchmarkCommandDelivery(b *testing.B) {
	const blockTime = time.Second
	w := newMsgWorld(b, blockTime)
	ctx := context.Background()
	gwA, gwB := api.NewClient(w.net.API(0), nil), api.NewClient(w.net.API(1), nil)
	inbox, err := gwB.InboxStream(ctx, w.devID.Device(), "")
	if err != nil {
		b.Fatal(err)
	}
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		raw := w.command(b, newID(b), fmt.Sprintf("cmd %d", i))
		t0 := time.Now()
		if _, err := gwA.SubmitTx(ctx, raw, api.ModeSync); err != nil {
			b.Fatal(err)
		}
		select {
		case <-inbox:
			lat = append(lat, time.Since(t0))
		case <-time.After(30 * time.Second):
			b.Fatal("not delivered")
		}
	}
	b.StopTimer()
	slices.Sort(lat)
	p50, p99 := lat[len(lat)/2], lat[min(len(lat)-1, len(lat)*99/100)]
	b.ReportMetric(p50.Seconds()/blockTime.Seconds(), "p50-blocks")
	b.ReportMetric(p99.Seconds()/blockTime.Seconds(), "p99-blocks")
	b.ReportMetric(float64(p50.Milliseconds()), "p50-ms")
}

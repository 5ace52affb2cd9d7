package node_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/hypha-iot/hypha/internal/testnet"
	"github.com/hypha-iot/hypha/keys"
	"github.com/hypha-iot/hypha/ledger"
	"github.com/hypha-iot/hypha/ledger/contract"
	"github.com/hypha-iot/hypha/mqtt"
	"github.com/hypha-iot/hypha/txn"
	"github.com/hypha-iot/hypha/vm/sdk"
	"github.com/hypha-iot/hypha/vm/vmtest"
)

// A contract on two real validators: its code uploaded in chunks through
// one gateway's API, instantiated and called through the other's; both
// nodes hold the same contract state and app hash.
func TestContractOnNodes(t *testing.T) {
	code := vmtest.Build(t, "../vm/sdk/examples/counter")
	net := testnet.New(t, testnet.Options{Validators: 2, NoBlobs: true})
	owner := &signer{key: devKey(t, net.Homes[0]), chain: "hypha-it"}
	hash := sha256.Sum256(code)
	const chunk = 48 << 10
	var height int64
	for i := 0; i*chunk < len(code); i++ {
		end := min((i+1)*chunk, len(code))
		msg := &txn.ContractStore{CodeHash: hash[:], TotalSize: uint64(len(code)), Index: uint32(i), Chunk: code[i*chunk : end]}
		// The last chunk deploys: validation, instrumentation and the Go
		// runtime's initialisation are paid in gas.
		tx, err := txn.New(owner.chain, owner.key.Public().Address(), owner.nonce).WithPubKey(owner.key.Public()).
			WithFee(10_000, 10_000_000).Add(msg).Sign(owner.key)
		if err != nil {
			t.Fatal(err)
		}
		owner.nonce++
		s, code := submit(t, net.API(0), tx.Bytes(), "commit")
		if s.Result == nil || s.Result.Code != 0 {
			t.Fatalf("chunk %d: HTTP %d %+v", i, code, s.Result)
		}
		height = s.Height
	}
	addr := contract.Address(owner.key.Public().Address(), owner.nonce, 0)
	s, _ := submit(t, net.API(1), owner.tx(t, nil, &txn.ContractInstantiate{CodeHash: hash[:], Label: "counter"}), "commit")
	if s.Result == nil || s.Result.Code != 0 {
		t.Fatalf("instantiate: %+v", s.Result)
	}
	for _, by := range []uint64{5, 7} {
		args := sdk.NewEncoder().String("increment").Uint(by).Encoded()
		tx, err := txn.New(owner.chain, owner.key.Public().Address(), owner.nonce).WithPubKey(owner.key.Public()).
			WithFee(2_000, 2_000_000).Add(&txn.ContractCall{Contract: addr, Args: args}).Sign(owner.key)
		if err != nil {
			t.Fatal(err)
		}
		owner.nonce++
		s, _ = submit(t, net.API(1), tx.Bytes(), "commit")
		if s.Result == nil || s.Result.Code != 0 {
			t.Fatalf("call: %+v", s.Result)
		}
		height = s.Height
	}
	net.WaitHeight(height, 30*time.Second)
	path := "/contract/" + addr.String() + "/state/" + hex.EncodeToString([]byte("count"))
	for k := range net.Nodes {
		r := net.Nodes[k].Ledger().Query(ledger.QueryRequest{Path: path, Height: height, Prove: true})
		if r.Code != 0 || r.Proof == nil {
			t.Fatalf("node %d: %s %s", k, r.Name, r.Log)
		}
		if got := sdk.NewDecoder(r.Value[1:]).Uint(); got != 12 {
			t.Fatalf("node %d: count %d, want 12 (value %x)", k, got, r.Value)
		}
	}
	sameState(t, net)
}

// deploy uploads code through gateway k in chunks, instantiates it with
// funds for its triggers, and returns the contract's address.
func deploy(t *testing.T, net *testnet.Network, k int, owner *signer, code []byte, funds txn.Amount) keys.Address {
	t.Helper()
	hash := sha256.Sum256(code)
	const chunk = 48 << 10
	for i := 0; i*chunk < len(code); i++ {
		msg := &txn.ContractStore{CodeHash: hash[:], TotalSize: uint64(len(code)), Index: uint32(i),
			Chunk: code[i*chunk : min((i+1)*chunk, len(code))]}
		tx, err := txn.New(owner.chain, owner.key.Public().Address(), owner.nonce).WithPubKey(owner.key.Public()).
			WithFee(10_000, 10_000_000).Add(msg).Sign(owner.key)
		if err != nil {
			t.Fatal(err)
		}
		owner.nonce++
		if s, code := submit(t, net.API(k), tx.Bytes(), "commit"); s.Result == nil || s.Result.Code != 0 {
			t.Fatalf("chunk %d: HTTP %d %+v", i, code, s.Result)
		}
	}
	addr := contract.Address(owner.key.Public().Address(), owner.nonce, 0)
	if s, _ := submit(t, net.API(k), owner.tx(t, nil, &txn.ContractInstantiate{CodeHash: hash[:], Funds: funds}), "commit"); s.Result == nil || s.Result.Code != 0 {
		t.Fatalf("instantiate: %+v", s.Result)
	}
	return addr
}

// A contract commands a device by itself, across gateways: the device's
// owner grants the contract commands and subscribes it to the device's
// readings; the device, connected over MQTT to gateway B, submits a
// reading through gateway A; the contract's on_reading (run at the end of
// the block, on every gateway) sends the device a command, which reaches
// it on B's broker as a contract-command entry in the clear.
func TestContractCommandsDeviceOverMQTT(t *testing.T) {
	w := newMsgWorld(t, 200*time.Millisecond)
	ctx := context.Background()
	c := deploy(t, w.net, 0, w.owner, vmtest.Build(t, "../ledger/contract/testdata/watcher"), 100_000_000)
	for _, m := range []txn.Msg{
		&txn.MessageGrant{Grantee: c, Device: w.devID, Kinds: []uint8{txn.KindCommand}},
		&txn.ContractSubscribe{Contract: c, Kind: txn.TriggerReading, Devices: []keys.Address{w.devID}},
		&txn.ContractCall{Contract: c, Args: sdk.NewEncoder().String("command").Encoded()},
	} {
		if s, _ := submit(t, w.net.API(0), w.owner.tx(t, nil, m), "commit"); s.Result == nil || s.Result.Code != 0 {
			t.Fatalf("%T: %+v", m, s.Result)
		}
	}
	dev, _, err := dialDevice(t, w.net.MQTT(1), w.dev, w.devID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dev.c.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{
		{Topic: mqtt.InboxTopic(w.devID), QoS: 1}}}); err != nil {
		t.Fatal(err)
	}
	payload := txn.MustMarshal([]map[int]any{{0: "temp", 2: 21}})
	rd, err := txn.New("hypha-it", w.devID, 7).WithFee(2_000, 1_000_000).Add(&txn.ReadingSubmit{Payload: payload}).Sign(w.dev)
	if err != nil {
		t.Fatal(err)
	}
	if s, _ := submit(t, w.net.API(0), rd.Bytes(), "commit"); s.Result == nil || s.Result.Code != 0 {
		t.Fatalf("reading: %+v", s.Result)
	}
	p := dev.next(t, mqtt.InboxTopic(w.devID))
	e, err := mqtt.DecodeEntry(p.Payload)
	if err != nil {
		t.Fatal(err)
	}
	var cmd contract.Command
	if e.Sender != c || e.Kind != txn.KindName(txn.KindContractCommand) || txn.Unmarshal(e.Box, &cmd) != nil ||
		cmd.Kind != "seen" || sdk.NewDecoder(cmd.Payload).Uint() != 7 {
		t.Fatalf("entry on B's broker: %+v (command %+v)", e, cmd)
	}
	sameState(t, w.net)
}

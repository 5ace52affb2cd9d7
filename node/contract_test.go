package node_test

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"
	"time"

	"github.com/hypha-iot/hypha/internal/testnet"
	"github.com/hypha-iot/hypha/ledger"
	"github.com/hypha-iot/hypha/ledger/contract"
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

package bench

import (
	"context"
	"crypto/sha256"
	"fmt"

	"github.com/hypha-iot/hypha/keys"
	"github.com/hypha-iot/hypha/ledger"
	"github.com/hypha-iot/hypha/ledger/contract"
	"github.com/hypha-iot/hypha/txn"
	"github.com/hypha-iot/hypha/vm/gobuild"
	"github.com/hypha-iot/hypha/vm/sdk"
)

// counterPkg is the example contract the Contract app calls.
const counterPkg = "github.com/hypha-iot/hypha/vm/sdk/examples/counter"

// contractCalls: sender i%S calls increment(1) on one counter contract
// (vm/sdk/examples/counter), built from source and deployed by account 0
// during setup: each call runs the metered Go contract on a fresh instance
// and writes its storage.
type contractCalls struct {
	*transfers
	addr keys.Address
}

func newContractCalls(n, nodes, lanes int) *contractCalls {
	return &contractCalls{transfers: newTransfers(n, nodes, lanes)}
}

// setup builds the counter, stores it in chunks, instantiates it, and
// checks that everything committed.
func (c *contractCalls) setup(ctx context.Context, run *runner) error {
	run.p.phase("setup", 0)
	code, err := gobuild.Build(ctx, counterPkg)
	if err != nil {
		return fmt.Errorf("%w\n(the contract app builds the counter from source: run hypha bench inside the Hypha module)", err)
	}
	hash := sha256.Sum256(code)
	const chunk = 48 << 10
	chunks := (len(code) + chunk - 1) / chunk
	b := newBatch(chunks + 1)
	a := c.acc
	err = sign(b, func(i int) (txn.Body, keys.PrivateKey, []keys.PrivateKey) {
		body := txn.Body{ChainID: chainID, Signer: a.addrs[0], Nonce: uint64(i), Fee: txn.Fee{Amount: 10_000, GasLimit: 10_000_000}}
		if i == 0 {
			body.PubKey = a.keys[0].Public().Bytes()
		}
		if i < chunks {
			body.Msgs = []txn.AnyMsg{{Msg: &txn.ContractStore{CodeHash: hash[:], TotalSize: uint64(len(code)), Index: uint32(i),
				Chunk: code[i*chunk : min((i+1)*chunk, len(code))]}}}
		} else {
			body.Msgs = []txn.AnyMsg{{Msg: &txn.ContractInstantiate{CodeHash: hash[:], Label: "bench counter"}}}
		}
		return body, a.keys[0], nil
	})
	if err != nil {
		return err
	}
	// One sender: one lane and one node, so the nonces arrive in order.
	st, err := run.step(ctx, b, 50, 0, run.o.BlockTime+timeFor(len(b.txs), 50))
	if err != nil {
		return err
	}
	if st.Refused > 0 || st.FailedInBlock > 0 || st.Uncommitted > 0 {
		return fmt.Errorf("deploying the counter: %d refused (%s), %d failed in block, %d not committed",
			st.Refused, st.FirstRefusal, st.FailedInBlock, st.Uncommitted)
	}
	c.addr = contract.Address(a.addrs[0], uint64(chunks), 0)
	r := run.net.members[0].ledger.Query(ledger.QueryRequest{Path: "/contract/" + c.addr.String()})
	if r.Code != 0 {
		return fmt.Errorf("the counter is not at %s: %s", c.addr, r.Log)
	}
	return nil
}

var incrementArgs = sdk.NewEncoder().String("increment").Uint(1).Encoded()

func (c *contractCalls) next(n int) (*batch, error) {
	b := newBatch(n)
	a := c.acc
	s := len(a.addrs)
	sender := make([]int, n)
	nonce := make([]uint64, n)
	for i := range n {
		k := (c.seq + i) % s
		sender[i], nonce[i] = k, a.nonces[k]
		a.nonces[k]++
		b.node[i], b.lane[i] = uint16(k%c.nodes), uint16(k%c.lanes)
	}
	c.seq += n
	err := sign(b, func(i int) (txn.Body, keys.PrivateKey, []keys.PrivateKey) {
		k := sender[i]
		body := txn.Body{ChainID: chainID, Signer: a.addrs[k], Nonce: nonce[i],
			Fee:  txn.Fee{Amount: txFee, GasLimit: txGasLimit},
			Msgs: []txn.AnyMsg{{Msg: &txn.ContractCall{Contract: c.addr, Args: incrementArgs}}}}
		if nonce[i] == 0 {
			body.PubKey = a.keys[k].Public().Bytes()
		}
		return body, a.keys[k], nil
	})
	return b, err
}

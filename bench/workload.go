package bench

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"runtime"
	"strconv"
	"sync"

	"github.com/hypha-iot/hypha/keys"
	"github.com/hypha-iot/hypha/ledger"
	"github.com/hypha-iot/hypha/ledger/account"
	"github.com/hypha-iot/hypha/txn"
)

// Every Hypha tx pays this fee for this gas limit (the chain's default
// minimum price is 1 uhyp per 1000 gas).
const (
	txFee      = 1_000
	txGasLimit = 1_000_000
	// funds is each genesis account's balance: enough for 10^9 txs.
	funds = txn.Amount(1_000_000_000_000_000)
)

// batch is a sequence of txs to offer in order. Each tx goes to one node
// and one lane; a lane is served by one worker, so txs of one lane are
// broadcast in order (txs of one sender share a lane and a node, so their
// nonces or counters reach the mempool in order).
type batch struct {
	txs    [][]byte
	hashes [][32]byte
	node   []uint16
	lane   []uint16
}

func newBatch(n int) *batch {
	return &batch{txs: make([][]byte, n), hashes: make([][32]byte, n), node: make([]uint16, n), lane: make([]uint16, n)}
}

// workload makes the txs of one app.
type workload interface {
	// genesis is the accounts to fund.
	genesis() []ledger.GenesisAccount
	// setup prepares a fresh network (registers devices).
	setup(ctx context.Context, r *runner) error
	// resync re-reads from committed state what next depends on (nonces).
	resync(net *network) error
	// next returns the next n txs.
	next(n int) (*batch, error)
}

func newWorkload(app App, accounts, nodes, lanes int) (workload, error) {
	switch app {
	case Transfer:
		return newTransfers(accounts, nodes, lanes), nil
	case Reading:
		return newReadings(accounts, nodes, lanes), nil
	case KVStore:
		return newKVTxs(nodes, lanes)
	case Contract:
		return newContractCalls(accounts, nodes, lanes), nil
	}
	return nil, fmt.Errorf("bench: unknown app %q", app)
}

// benchKey is the fixed ed25519 key of a bench account or device.
func benchKey(kind string, i int) keys.PrivateKey {
	return keys.Ed25519FromSeed(sha256.Sum256([]byte("hypha/bench/" + kind + "/" + strconv.Itoa(i))))
}

func benchKeys(kind string, n int) []keys.PrivateKey {
	out := make([]keys.PrivateKey, n)
	parallel(n, func(i int) { out[i] = benchKey(kind, i) })
	return out
}

// parallel runs f(0..n-1) on every CPU.
func parallel(n int, f func(i int)) {
	workers := min(runtime.GOMAXPROCS(0), n)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += workers {
				f(i)
			}
		}()
	}
	wg.Wait()
}

// sign builds and signs each tx of b in parallel; body(i) gives the body
// and key of tx i.
func sign(b *batch, body func(i int) (txn.Body, keys.PrivateKey, []keys.PrivateKey)) error {
	var mu sync.Mutex
	var first error
	parallel(len(b.txs), func(i int) {
		bd, k, co := body(i)
		tx, err := txn.Sign(bd, k, co...)
		if err != nil {
			mu.Lock()
			if first == nil {
				first = err
			}
			mu.Unlock()
			return
		}
		b.txs[i], b.hashes[i] = tx.Bytes(), tx.Hash()
	})
	return first
}

// accounts is a set of funded senders whose nonces are tracked.
type accounts struct {
	keys   []keys.PrivateKey
	addrs  []keys.Address
	nonces []uint64
}

func newAccounts(n int) *accounts {
	a := &accounts{keys: benchKeys("account", n), nonces: make([]uint64, n)}
	a.addrs = make([]keys.Address, n)
	for i, k := range a.keys {
		a.addrs[i] = k.Public().Address()
	}
	return a
}

// resync reads every account's next nonce from node 0's committed state.
func (a *accounts) resync(net *network) error {
	l := net.members[0].ledger
	for i, addr := range a.addrs {
		r := l.Query(ledger.QueryRequest{Path: "/account/" + addr.String()})
		if r.Code != 0 {
			return fmt.Errorf("query account %s: %s", addr, r.Log)
		}
		var acct account.Account
		if err := txn.Unmarshal(r.Value, &acct); err != nil {
			return fmt.Errorf("decode account %s: %w", addr, err)
		}
		a.nonces[i] = acct.Nonce
	}
	return nil
}

// transfers: sender i%S sends 1 uhyp to the next account, round robin.
type transfers struct {
	acc          *accounts
	nodes, lanes int
	seq          int
}

func newTransfers(n, nodes, lanes int) *transfers {
	return &transfers{acc: newAccounts(n), nodes: nodes, lanes: lanes}
}

func (t *transfers) genesis() []ledger.GenesisAccount {
	g := make([]ledger.GenesisAccount, len(t.acc.addrs))
	for i, a := range t.acc.addrs {
		g[i] = ledger.GenesisAccount{Address: a, Balance: funds}
	}
	return g
}

func (t *transfers) setup(context.Context, *runner) error { return nil }

func (t *transfers) resync(net *network) error { return t.acc.resync(net) }

func (t *transfers) next(n int) (*batch, error) {
	b := newBatch(n)
	s := len(t.acc.addrs)
	sender := make([]int, n)
	nonce := make([]uint64, n)
	for i := range n {
		k := (t.seq + i) % s
		sender[i], nonce[i] = k, t.acc.nonces[k]
		t.acc.nonces[k]++
		b.node[i], b.lane[i] = uint16(k%t.nodes), uint16(k%t.lanes)
	}
	t.seq += n
	err := sign(b, func(i int) (txn.Body, keys.PrivateKey, []keys.PrivateKey) {
		k := sender[i]
		body := txn.Body{ChainID: chainID, Signer: t.acc.addrs[k], Nonce: nonce[i],
			Fee:  txn.Fee{Amount: txFee, GasLimit: txGasLimit},
			Msgs: []txn.AnyMsg{{Msg: &txn.Send{To: t.acc.addrs[(k+1)%s], Amount: 1}}}}
		if nonce[i] == 0 { // an account's first tx proves its key
			body.PubKey = t.acc.keys[k].Public().Bytes()
		}
		return body, t.acc.keys[k], nil
	})
	return b, err
}

// readings: device i%D submits a reading with its next counter. Device d is
// owned and registered by account d during setup, and funded in genesis to
// pay its own fees.
type readings struct {
	acc          *accounts
	devs         []keys.PrivateKey
	ids          []keys.Address
	counters     []uint64 // last counter used
	nodes, lanes int
	seq          int
}

func newReadings(n, nodes, lanes int) *readings {
	r := &readings{acc: newAccounts(n), devs: benchKeys("device", n), counters: make([]uint64, n), nodes: nodes, lanes: lanes}
	r.ids = make([]keys.Address, n)
	for i, k := range r.devs {
		r.ids[i] = k.Public().Address()
	}
	return r
}

func (r *readings) genesis() []ledger.GenesisAccount {
	g := make([]ledger.GenesisAccount, 0, 2*len(r.ids))
	for i := range r.ids {
		g = append(g, ledger.GenesisAccount{Address: r.acc.addrs[i], Balance: funds},
			ledger.GenesisAccount{Address: r.ids[i], Balance: funds})
	}
	return g
}

// setup registers every device (owner-signed, device co-signed) and waits
// until all registrations have committed.
func (r *readings) setup(ctx context.Context, run *runner) error {
	run.p.phase("setup", 0)
	n := len(r.ids)
	b := newBatch(n)
	for i := range n {
		b.node[i], b.lane[i] = uint16(i%r.nodes), uint16(i%r.lanes)
	}
	err := sign(b, func(i int) (txn.Body, keys.PrivateKey, []keys.PrivateKey) {
		return txn.Body{ChainID: chainID, Signer: r.acc.addrs[i], Nonce: 0, PubKey: r.acc.keys[i].Public().Bytes(),
				Fee:  txn.Fee{Amount: txFee, GasLimit: txGasLimit},
				Msgs: []txn.AnyMsg{{Msg: &txn.DeviceRegister{PubKey: r.devs[i].Public().Bytes(), Model: "bench-sensor"}}}},
			r.acc.keys[i], []keys.PrivateKey{r.devs[i]}
	})
	if err != nil {
		return err
	}
	rate := max(run.o.StartRate, 1000)
	st, err := run.step(ctx, b, rate, 0, run.o.BlockTime+timeFor(n, rate))
	if err != nil {
		return err
	}
	if st.Refused > 0 || st.FailedInBlock > 0 || st.Uncommitted > 0 {
		return fmt.Errorf("registering %d devices: %d refused (%s), %d failed in block, %d not committed",
			n, st.Refused, st.FirstRefusal, st.FailedInBlock, st.Uncommitted)
	}
	return nil
}

func (r *readings) resync(*network) error { return nil }

func (r *readings) next(n int) (*batch, error) {
	b := newBatch(n)
	d := len(r.ids)
	dev := make([]int, n)
	ctr := make([]uint64, n)
	for i := range n {
		k := (r.seq + i) % d
		r.counters[k]++
		dev[i], ctr[i] = k, r.counters[k]
		b.node[i], b.lane[i] = uint16(k%r.nodes), uint16(k%r.lanes)
	}
	r.seq += n
	err := sign(b, func(i int) (txn.Body, keys.PrivateKey, []keys.PrivateKey) {
		k := dev[i]
		payload := txn.MustMarshal([]map[int]any{{0: "temp", 1: "Cel", 2: int64(ctr[i] % 40)}})
		return txn.Body{ChainID: chainID, Signer: r.ids[k], Nonce: ctr[i], Fee: txn.Fee{Amount: txFee, GasLimit: txGasLimit},
			Msgs: []txn.AnyMsg{{Msg: &txn.ReadingSubmit{Payload: payload}}}}, r.devs[k], nil
	})
	return b, err
}

// kvTxs are unique "k<run><seq>=v" txs for the kvstore baseline.
type kvTxs struct {
	prefix       string
	nodes, lanes int
	seq          int
}

func newKVTxs(nodes, lanes int) (*kvTxs, error) {
	var r [8]byte
	if _, err := rand.Read(r[:]); err != nil {
		return nil, err
	}
	return &kvTxs{prefix: "k" + hex.EncodeToString(r[:]), nodes: nodes, lanes: lanes}, nil
}

func (*kvTxs) genesis() []ledger.GenesisAccount     { return nil }
func (*kvTxs) setup(context.Context, *runner) error { return nil }
func (*kvTxs) resync(*network) error                { return nil }

func (k *kvTxs) next(n int) (*batch, error) {
	b := newBatch(n)
	for i := range n {
		j := k.seq + i
		b.txs[i] = fmt.Appendf(nil, "%s%012x=v", k.prefix, j)
		b.hashes[i] = sha256.Sum256(b.txs[i])
		b.node[i], b.lane[i] = uint16(j%k.nodes), uint16(j%k.lanes)
	}
	k.seq += n
	return b, nil
}

// Package apitest is a test twin of api.Backend over a real in-process
// ledger (ledgertest.Chain): CheckTx is the ledger's, a commit-mode
// submission runs the next block at once, txs and blocks are kept in memory
// as they execute, and subscriptions are fed by those blocks. It is for the
// api package's own tests; the real node is tested elsewhere.
package apitest

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"sync"
	"testing"

	"github.com/hypha-iot/hypha/api"
	"github.com/hypha-iot/hypha/errs"
	"github.com/hypha-iot/hypha/keys"
	"github.com/hypha-iot/hypha/ledger"
	"github.com/hypha-iot/hypha/ledger/ledgertest"
	"github.com/hypha-iot/hypha/txn"
)

// SubscriberBuffer is the channel buffer of a subscription; a subscriber
// that falls this far behind is dropped (its channel closes), as a node
// drops a lagging one.
const SubscriberBuffer = 1024

// Backend implements api.Backend over a ledgertest chain. All methods are
// safe for concurrent use; blocks are serialised.
type Backend struct {
	mu      sync.Mutex
	chain   *ledgertest.Chain
	mempool [][]byte
	txs     map[[32]byte]api.TxInfo
	blocks  []api.BlockInfo // blocks[h-1] is block h
	appHash map[int64][]byte
	subs    map[int]chan api.TxEvent
	nextSub int
	hold    bool
	down    error
}

var _ api.Backend = (*Backend)(nil)

// New starts a chain with the named accounts funded (ledgertest.New).
func New(tb testing.TB, funded ...string) *Backend {
	tb.Helper()
	return &Backend{
		chain:   ledgertest.New(tb, funded...),
		txs:     map[[32]byte]api.TxInfo{},
		appHash: map[int64][]byte{},
		subs:    map[int]chan api.TxEvent{},
	}
}

// BuildTx builds a tx signed by signer with its next nonce (ledgertest.Chain.Tx).
func (b *Backend) BuildTx(signer keys.PrivateKey, msgs ...txn.Msg) []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.chain.Tx(signer, msgs...)
}

// BuildTxCo is BuildTx with co-signers.
func (b *Backend) BuildTxCo(signer keys.PrivateKey, cosigners []keys.PrivateKey, msgs ...txn.Msg) []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.chain.TxCo(signer, cosigners, msgs...)
}

// BuildDeviceTx builds a tx signed by device id's current key with counter
// as its nonce (ledgertest.Chain.DeviceTx).
func (b *Backend) BuildDeviceTx(key keys.PrivateKey, id keys.Address, counter uint64, msgs ...txn.Msg) []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.chain.DeviceTx(key, id, counter, nil, msgs...)
}

// BuildReading builds a device-signed reading tx (ledgertest.Chain.Reading).
func (b *Backend) BuildReading(key keys.PrivateKey, id keys.Address, counter uint64, name string, value int64) []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.chain.Reading(key, id, counter, name, value)
}

// AppHash returns the state root of version height: what proofs at height
// verify against (it is in the header of block height+1).
func (b *Backend) AppHash(height int64) []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.appHash[height]
}

// Height is the latest committed height.
func (b *Backend) Height() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return int64(len(b.blocks))
}

// HoldCommits makes commit-mode submissions wait (after CheckTx) until
// their context ends, then fail with api.ErrTimeout; the txs stay in the
// mempool for the next block.
func (b *Backend) HoldCommits(on bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.hold = on
}

// SetUnavailable makes every method fail with err (nil restores service);
// pass an api.ErrUnavailable error to look like a node that is starting.
func (b *Backend) SetUnavailable(err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.down = err
}

// Commit runs the mempool (txs accepted by SubmitSync) as the next block,
// even if it is empty, and returns its height.
func (b *Backend) Commit() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	txs := b.mempool
	b.mempool = nil
	b.block(txs)
	return int64(len(b.blocks))
}

// block runs txs as the next block; b.mu is held.
func (b *Backend) block(txs [][]byte) {
	results, appHash := b.chain.BlockHash(txs...)
	h := b.chain.Height
	b.appHash[h] = appHash
	info := api.BlockInfo{Height: h, Time: b.chain.Time, Proposer: []byte("apitest-proposer-0000"),
		AppHash: b.appHash[h-1], TxCount: len(txs)}
	bh := sha256.New()
	bh.Write(binary.BigEndian.AppendUint64(nil, uint64(h)))
	evs := make([]api.TxEvent, 0, len(txs))
	for i, raw := range txs {
		hash := txn.Hash(raw)
		bh.Write(hash[:])
		info.TxHashes = append(info.TxHashes, hash[:])
		b.txs[hash] = api.TxInfo{Hash: hash[:], Height: h, Index: uint32(i), Tx: raw, Result: results[i]}
		evs = append(evs, api.TxEvent{Height: h, Index: uint32(i), Hash: hash[:], Code: results[i].Code,
			Name: results[i].Name, Events: results[i].Events})
	}
	info.Hash = bh.Sum(nil)
	b.blocks = append(b.blocks, info)
subs:
	for id, ch := range b.subs {
		for _, ev := range evs {
			select {
			case ch <- ev:
			default:
				close(ch)
				delete(b.subs, id)
				continue subs
			}
		}
	}
}

func (b *Backend) check() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.down
}

// SubmitSync runs CheckTx and keeps an accepted tx for the next block.
func (b *Backend) SubmitSync(ctx context.Context, tx []byte) (api.Submitted, error) {
	if err := b.check(); err != nil {
		return api.Submitted{}, err
	}
	res := b.chain.L.CheckTx(tx)
	hash := txn.Hash(tx)
	if res.Code == 0 {
		b.mu.Lock()
		b.mempool = append(b.mempool, tx)
		b.mu.Unlock()
	}
	return api.Submitted{Hash: hash[:], Result: res}, nil
}

// SubmitCommit runs CheckTx and, if it passes, the next block with the
// mempool and this tx.
func (b *Backend) SubmitCommit(ctx context.Context, tx []byte) (api.Submitted, error) {
	if err := b.check(); err != nil {
		return api.Submitted{}, err
	}
	hash := txn.Hash(tx)
	res := b.chain.L.CheckTx(tx)
	if res.Code != 0 {
		return api.Submitted{Hash: hash[:], Result: res}, nil
	}
	b.mu.Lock()
	b.mempool = append(b.mempool, tx)
	if b.hold {
		b.mu.Unlock()
		<-ctx.Done()
		return api.Submitted{}, api.ErrTimeout.Wrap("tx %x not committed: %v", hash, ctx.Err())
	}
	txs := b.mempool
	b.mempool = nil
	b.block(txs)
	info := b.txs[hash]
	b.mu.Unlock()
	return api.Submitted{Hash: hash[:], Height: info.Height, Index: info.Index, Result: info.Result}, nil
}

// Query runs a ledger query.
func (b *Backend) Query(ctx context.Context, req ledger.QueryRequest) (ledger.QueryResponse, error) {
	if err := b.check(); err != nil {
		return ledger.QueryResponse{}, err
	}
	return b.chain.L.Query(req), nil
}

// Tx returns a tx this backend committed.
func (b *Backend) Tx(ctx context.Context, hash []byte) (api.TxInfo, error) {
	if err := b.check(); err != nil {
		return api.TxInfo{}, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(hash) == 32 {
		if t, ok := b.txs[[32]byte(hash)]; ok {
			return t, nil
		}
	}
	return api.TxInfo{}, errs.ErrNotFound.Wrap("tx %x", hash)
}

// Block returns a committed block (0 = latest).
func (b *Backend) Block(ctx context.Context, height int64) (api.BlockInfo, error) {
	if err := b.check(); err != nil {
		return api.BlockInfo{}, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if height == 0 {
		height = int64(len(b.blocks))
	}
	if height < 1 || height > int64(len(b.blocks)) {
		return api.BlockInfo{}, errs.ErrHeight.Wrap("block %d; latest is %d", height, len(b.blocks))
	}
	return b.blocks[height-1], nil
}

// Status describes the twin.
func (b *Backend) Status(ctx context.Context) (api.Status, error) {
	if err := b.check(); err != nil {
		return api.Status{}, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	st := api.Status{ChainID: ledgertest.ChainID, NodeID: "apitest", Moniker: "apitest", Validator: true}
	if n := len(b.blocks); n > 0 {
		st.LatestHeight = int64(n)
		st.LatestAppHash = b.appHash[int64(n)]
		st.LatestBlockTime = b.blocks[n-1].Time
	}
	return st, nil
}

// Subscribe streams the tx events of the blocks after this call until ctx
// ends; the channel then closes.
func (b *Backend) Subscribe(ctx context.Context) (<-chan api.TxEvent, error) {
	if err := b.check(); err != nil {
		return nil, err
	}
	b.mu.Lock()
	id := b.nextSub
	b.nextSub++
	ch := make(chan api.TxEvent, SubscriberBuffer)
	b.subs[id] = ch
	b.mu.Unlock()
	go func() {
		<-ctx.Done()
		b.mu.Lock()
		defer b.mu.Unlock()
		if c, ok := b.subs[id]; ok {
			close(c)
			delete(b.subs, id)
		}
	}()
	return ch, nil
}

// Subscribers is the number of live subscriptions (tests wait on it).
func (b *Backend) Subscribers() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.subs)
}

func (b *Backend) String() string { return fmt.Sprintf("apitest.Backend(height %d)", b.Height()) }

// Package ledger is Hypha's deterministic state machine. The node drives it
// through a small surface (InitChain, CheckTx, FinalizeBlock, Commit, Query,
// Info); it decides what the ledger holds and returns results; the ABCI
// adapter persists and reports.
//
// Determinism: the ledger does no I/O, reads no wall clock or randomness,
// starts no goroutines, logs nothing and iterates no map in an order that
// reaches its results. Block time and height come in with the block. A test
// (imports_test.go) guards the import rules.
//
// Concurrency: InitChain, FinalizeBlock and Commit run on the consensus
// connection and are serialised by one mutex; CheckTx runs beside them on
// the mempool connection against its own pending view (committed state plus
// the txs it accepted since), guarded by another; Query and Info read
// committed versions and may run from any goroutine.
package ledger

import (
	"fmt"
	"sync"

	"github.com/hypha-iot/hypha/errs"
	"github.com/hypha-iot/hypha/ledger/account"
	"github.com/hypha-iot/hypha/ledger/contract"
	"github.com/hypha-iot/hypha/ledger/exec"
	"github.com/hypha-iot/hypha/ledger/gateway"
	"github.com/hypha-iot/hypha/ledger/message"
	"github.com/hypha-iot/hypha/store"
	"github.com/hypha-iot/hypha/txn"
)

// State keys outside the domains.
var (
	keyChainID = []byte("params/chain_id")
	keyParams  = []byte("params/params")
	// FeePoolKey holds the fees collected so far (a txn.Amount).
	FeePoolKey = []byte("params/fee_pool")
)

// Config is the gateway's local configuration of the ledger; nothing in it
// may change a block's outcome, except Contracts, which every node of a
// network must set alike.
type Config struct {
	// LocalMinGasPriceMilli lets a gateway ask more than the chain minimum
	// before it admits a tx to its mempool (CheckTx only).
	LocalMinGasPriceMilli uint64
	// SigCacheSize bounds the verified-signature cache (default 200,000).
	SigCacheSize int
	// Contracts runs contract code (package vm/vmledger adapts the vm
	// package). It decides what code is admitted and what calls do and
	// cost, so every node must run the same runtime with the same limits.
	// Nil refuses every contract msg (ErrUnknownMsg): fine for tools and
	// tests, never for a node of a network that uses contracts.
	Contracts contract.Runtime
}

// Info is the last committed state.
type Info struct {
	Height  int64
	AppHash []byte
}

// Ledger is the state machine over an authenticated store.
type Ledger struct {
	st   *store.Store
	cfg  Config
	sigs *sigCache

	mu      sync.Mutex // InitChain, FinalizeBlock, Commit
	chainID string
	params  Params
	staged  bool // writes staged in the store since the last commit
	// blockView serves contract storage iteration in the block being
	// executed.
	blockView *contract.View

	checkMu     sync.Mutex // CheckTx's pending view
	check       *exec.Cache
	checkParams Params
	checkChain  string
	checkHeight int64
	checkView   *contract.View
}

// New opens a ledger over st, at st's last committed version.
func New(st *store.Store, cfg Config) (*Ledger, error) {
	if cfg.SigCacheSize <= 0 {
		cfg.SigCacheSize = 200_000
	}
	l := &Ledger{st: st, cfg: cfg, sigs: newSigCache(cfg.SigCacheSize), params: DefaultParams()}
	if st.Version() > 0 {
		r, err := st.At(st.Version())
		if err != nil {
			return nil, fmt.Errorf("ledger: open: %w", err)
		}
		if err := l.loadParams(r); err != nil {
			return nil, err
		}
	}
	if err := l.resetCheck(); err != nil {
		return nil, err
	}
	return l, nil
}

func (l *Ledger) loadParams(r store.Reader) error {
	id, err := r.Get(keyChainID)
	if err != nil {
		return fmt.Errorf("ledger: read chain id: %w", err)
	}
	raw, err := r.Get(keyParams)
	if err != nil {
		return fmt.Errorf("ledger: read params: %w", err)
	}
	var p Params
	if err := txn.Unmarshal(raw, &p); err != nil {
		return fmt.Errorf("ledger: decode params: %w", err)
	}
	l.chainID, l.params = string(id), p
	return nil
}

// Info reports the last committed height and app hash. At height 0 (nothing
// committed) the app hash is nil.
func (l *Ledger) Info() Info {
	v := l.st.Version()
	if v == 0 {
		return Info{}
	}
	return Info{Height: v, AppHash: l.st.Hash()}
}

// ChainID is the chain id set at InitChain ("" before).
func (l *Ledger) ChainID() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.chainID
}

// Params returns the chain parameters in force for the next block.
func (l *Ledger) Params() Params {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.params
}

// InitChain writes the genesis state and returns the initial app hash. The
// writes are staged, and committed with the first block.
func (l *Ledger) InitChain(chainID string, g Genesis) (appHash []byte, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.st.Version() != 0 {
		return nil, fmt.Errorf("ledger: InitChain on a store at version %d", l.st.Version())
	}
	if chainID == "" {
		return nil, fmt.Errorf("ledger: InitChain: empty chain id")
	}
	p := DefaultParams()
	if g.Params != nil {
		p = *g.Params
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	defer recoverFault(&err)
	l.st.Rollback()
	kv := exec.NewCache(l.st.Working())
	ctx := exec.NewContext(exec.Header{ChainID: chainID}, &p.Gas, &exec.Meter{Limit: ^uint64(0)}, kv)
	ctx.Set(keyChainID, []byte(chainID))
	ctx.SetRecord(keyParams, &p)
	var supply txn.Amount
	for _, a := range g.Accounts {
		if supply, err = supply.Add(a.Balance); err != nil {
			return nil, fmt.Errorf("ledger: genesis supply: %w", err)
		}
		if a.Address.IsZero() {
			return nil, fmt.Errorf("ledger: genesis account with an empty address")
		}
		if err := account.Credit(ctx, a.Address, a.Balance); err != nil {
			return nil, fmt.Errorf("ledger: genesis %s: %w", a.Address, err)
		}
	}
	for i := range g.Gateways {
		if err := gateway.Put(ctx, &g.Gateways[i]); err != nil {
			return nil, fmt.Errorf("ledger: genesis: %w", err)
		}
	}
	hash, err := l.st.Stage(kv.Batch())
	if err != nil {
		return nil, fmt.Errorf("ledger: stage genesis: %w", err)
	}
	l.chainID, l.params, l.staged = chainID, p, true
	// Until block 1 commits, CheckTx sees the genesis state.
	empty, err := l.st.At(0)
	if err != nil {
		return nil, fmt.Errorf("ledger: check state: %w", err)
	}
	genesis := exec.NewCache(empty)
	kv.WriteTo(genesis)
	l.checkMu.Lock()
	l.check = exec.NewCache(genesis)
	l.checkParams, l.checkChain, l.checkHeight = p, chainID, 1
	l.checkView = contract.NewView(empty) // the genesis holds no contract storage
	l.checkMu.Unlock()
	return hash, nil
}

// BlockResult is the outcome of FinalizeBlock.
type BlockResult struct {
	TxResults []Result
	// Events are those of the contract triggers run after the txs.
	Events []exec.Event
	// AppHash is the root over all state after this block: it goes into the
	// next block's header.
	AppHash []byte
}

// FinalizeBlock executes a block's txs in order and stages their writes.
// Every tx gets a result; bad txs fail with their error class and change
// nothing beyond the fee rules. An error return is a storage fault or a
// block out of sequence: the node must stop.
func (l *Ledger) FinalizeBlock(h exec.Header, txs [][]byte) (res *BlockResult, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if want := l.st.Version() + 1; h.Height != want {
		return nil, fmt.Errorf("ledger: FinalizeBlock height %d, want %d", h.Height, want)
	}
	if l.chainID == "" {
		return nil, fmt.Errorf("ledger: FinalizeBlock before InitChain")
	}
	h.ChainID = l.chainID
	defer recoverFault(&err)
	block := exec.NewCache(l.st.Working())
	l.blockView = contract.NewView(l.st.Working())
	p := l.params
	res = &BlockResult{TxResults: make([]Result, len(txs))}
	decoded := l.preverify(block, txs, &p)
	var fees txn.Amount
	for i, raw := range txs {
		r, fee := l.runTx(modeDeliver, block, h, &p, l.chainID, raw, decoded[i], uint32(i))
		res.TxResults[i] = r
		if fees, err = fees.Add(fee); err != nil {
			return nil, fmt.Errorf("ledger: fee total: %w", err)
		}
	}
	if l.cfg.Contracts != nil {
		env := &contract.Env{Runtime: l.cfg.Contracts, Limits: p.contractLimits(), KV: block, View: l.blockView}
		tr, err := contract.RunTriggers(block, env, h, &p.Gas, uint32(len(txs)), p.MinGasPriceMilli)
		if err != nil {
			return nil, fmt.Errorf("ledger: triggers at %d: %w", h.Height, err)
		}
		res.Events = tr.Events
		if fees, err = fees.Add(tr.Fees); err != nil {
			return nil, fmt.Errorf("ledger: fee total: %w", err)
		}
	}
	if fees > 0 {
		if err := creditPool(block, fees); err != nil {
			return nil, err
		}
	}
	if _, err := message.Expire(l.st.Working(), block, h.Height, int(p.MaxExpiriesPerBlock)); err != nil {
		return nil, fmt.Errorf("ledger: expire messages at %d: %w", h.Height, err)
	}
	if res.AppHash, err = l.st.Stage(block.Batch()); err != nil {
		l.st.Rollback()
		return nil, fmt.Errorf("ledger: stage block %d: %w", h.Height, err)
	}
	l.staged = true
	return res, nil
}

func creditPool(kv *exec.Cache, fees txn.Amount) error {
	var pool txn.Amount
	if b := kv.MustGet(FeePoolKey); b != nil {
		if err := txn.UnmarshalRecord(b, &pool); err != nil {
			return fmt.Errorf("ledger: fee pool: %w", err)
		}
	}
	sum, err := pool.Add(fees)
	if err != nil {
		return fmt.Errorf("ledger: fee pool: %w", err)
	}
	kv.Set(FeePoolKey, txn.MustMarshal(sum))
	return nil
}

// Commit persists the staged block and returns the new committed state.
func (l *Ledger) Commit() (Info, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.staged {
		return Info{}, fmt.Errorf("ledger: Commit with no block")
	}
	hash, v, err := l.st.Commit()
	if err != nil {
		return Info{}, fmt.Errorf("ledger: commit: %w", err)
	}
	l.staged = false
	if err := l.resetCheck(); err != nil {
		return Info{}, err
	}
	return Info{Height: v, AppHash: hash}, nil
}

// resetCheck points CheckTx's pending view at the last committed state.
// Called with l.mu held (or before the ledger is shared).
func (l *Ledger) resetCheck() error {
	r, err := l.st.At(l.st.Version())
	if err != nil {
		return fmt.Errorf("ledger: check state: %w", err)
	}
	l.checkMu.Lock()
	defer l.checkMu.Unlock()
	l.check = exec.NewCache(r)
	l.checkParams, l.checkChain, l.checkHeight = l.params, l.chainID, l.st.Version()+1
	l.checkView = contract.NewView(r)
	return nil
}

// CheckTx decides whether a tx may enter the mempool: decoding, limits,
// signatures, nonce, fee and the full execution of its msgs against the
// pending view. An accepted tx updates the pending view (nonce, balances),
// so a client may send several txs per block. CometBFT's recheck after a
// commit uses the same path.
func (l *Ledger) CheckTx(raw []byte) Result {
	l.checkMu.Lock()
	defer l.checkMu.Unlock()
	if l.checkChain == "" {
		return resultOf(errs.ErrWrongChain.Wrap("chain not initialised"), nil)
	}
	h := exec.Header{ChainID: l.checkChain, Height: l.checkHeight}
	r, _ := l.runTx(modeCheck, l.check, h, &l.checkParams, l.checkChain, raw, nil, 0)
	return r
}

// recoverFault turns a storage fault panic into an error.
func recoverFault(err *error) {
	if r := recover(); r != nil {
		f, ok := r.(exec.StorageFault)
		if !ok {
			panic(r)
		}
		*err = fmt.Errorf("ledger: storage fault: %w", f.Err)
	}
}

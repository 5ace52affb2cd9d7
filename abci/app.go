// Package abci is the edge between CometBFT and the ledger: it implements
// CometBFT's ABCI 2.0 Application over a *ledger.Ledger. It is the one place
// ABCI types appear; it translates requests in and results out (error codes,
// events, proofs) and decides nothing itself.
//
// Concurrency: CometBFT calls the consensus methods (InitChain,
// FinalizeBlock, Commit) from its consensus connection and CheckTx from its
// mempool connection, possibly at the same time (the node uses
// proxy.NewConnSyncLocalClientCreator); the ledger guards its block state and
// its pending CheckTx view separately. Query and Info may come from any
// goroutine.
package abci

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"

	abcitypes "github.com/cometbft/cometbft/abci/types"
	cmtcrypto "github.com/cometbft/cometbft/proto/tendermint/crypto"

	"github.com/hypha-iot/hypha/ledger"
	"github.com/hypha-iot/hypha/ledger/exec"
)

// Codespace tags every non-zero code Hypha returns.
const Codespace = "hypha"

// AppVersion is the ABCI application protocol version.
const AppVersion = 1

// ProofOpType is the proof op type of a state proof (the Cosmos convention,
// read by existing light-client tooling).
const ProofOpType = "ics23:iavl"

// Config tunes the edge.
type Config struct {
	// RetainBlocks keeps this many recent blocks in CometBFT's block store
	// (0 keeps all): Commit returns RetainHeight = height - RetainBlocks + 1.
	RetainBlocks int64
	// Version is reported in Info.
	Version string
}

// App is the ABCI application.
type App struct {
	abcitypes.BaseApplication
	l   *ledger.Ledger
	cfg Config
	log *slog.Logger
}

var _ abcitypes.Application = (*App)(nil)

// New returns the application over l.
func New(l *ledger.Ledger, cfg Config, log *slog.Logger) *App {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &App{l: l, cfg: cfg, log: log}
}

// Info reports the last committed height and app hash, so that CometBFT's
// handshake replays any block the app has not committed.
func (a *App) Info(_ context.Context, _ *abcitypes.RequestInfo) (*abcitypes.ResponseInfo, error) {
	info := a.l.Info()
	return &abcitypes.ResponseInfo{
		Data:             "hypha",
		Version:          a.cfg.Version,
		AppVersion:       AppVersion,
		LastBlockHeight:  info.Height,
		LastBlockAppHash: info.AppHash,
	}, nil
}

// InitChain writes the genesis state from the genesis document's app_state
// (JSON ledger.Genesis; empty means defaults and no accounts).
func (a *App) InitChain(_ context.Context, req *abcitypes.RequestInitChain) (*abcitypes.ResponseInitChain, error) {
	if req.InitialHeight > 1 {
		return nil, fmt.Errorf("abci: initial height %d: only 1 is supported", req.InitialHeight)
	}
	var g ledger.Genesis
	if len(req.AppStateBytes) > 0 {
		if err := json.Unmarshal(req.AppStateBytes, &g); err != nil {
			return nil, fmt.Errorf("abci: genesis app_state: %w", err)
		}
	}
	hash, err := a.l.InitChain(req.ChainId, g)
	if err != nil {
		return nil, err
	}
	a.log.Info("genesis", "chain_id", req.ChainId, "accounts", len(g.Accounts), "app_hash", fmt.Sprintf("%X", hash))
	return &abcitypes.ResponseInitChain{AppHash: hash}, nil
}

// CheckTx admits a tx to the mempool or refuses it with its error class.
// Recheck after a commit goes through the same path.
func (a *App) CheckTx(_ context.Context, req *abcitypes.RequestCheckTx) (*abcitypes.ResponseCheckTx, error) {
	r := a.l.CheckTx(req.Tx)
	return &abcitypes.ResponseCheckTx{
		Code:      r.Code,
		Log:       r.Log,
		Info:      r.Name,
		GasWanted: int64(r.GasWanted),
		GasUsed:   int64(r.GasUsed),
		Codespace: codespace(r.Code),
	}, nil
}

// ProcessProposal accepts every proposal: a tx that fails in a block fails
// with its own result and changes nothing beyond the fee rules, so a block
// with bad txs is valid, and rejecting it would only cost liveness.
func (a *App) ProcessProposal(_ context.Context, _ *abcitypes.RequestProcessProposal) (*abcitypes.ResponseProcessProposal, error) {
	return &abcitypes.ResponseProcessProposal{Status: abcitypes.ResponseProcessProposal_ACCEPT}, nil
}

// FinalizeBlock executes the block. An error here (a storage fault) makes
// CometBFT stop the node rather than commit a wrong state.
func (a *App) FinalizeBlock(_ context.Context, req *abcitypes.RequestFinalizeBlock) (*abcitypes.ResponseFinalizeBlock, error) {
	h := exec.Header{Height: req.Height, Time: req.Time, Proposer: req.ProposerAddress}
	res, err := a.l.FinalizeBlock(h, req.Txs)
	if err != nil {
		a.log.Error("finalize block", "height", req.Height, "err", err)
		return nil, err
	}
	out := &abcitypes.ResponseFinalizeBlock{TxResults: make([]*abcitypes.ExecTxResult, len(res.TxResults)), AppHash: res.AppHash}
	for i, r := range res.TxResults {
		out.TxResults[i] = ExecResult(r)
	}
	// The contract triggers run after the txs: their events (and the
	// commands they sent) are the block's own.
	out.Events = Events(res.Events)
	return out, nil
}

// ExecResult converts a ledger result.
func ExecResult(r ledger.Result) *abcitypes.ExecTxResult {
	return &abcitypes.ExecTxResult{
		Code:      r.Code,
		Log:       r.Log,
		Info:      r.Name,
		GasWanted: int64(r.GasWanted),
		GasUsed:   int64(r.GasUsed),
		Events:    Events(r.Events),
		Codespace: codespace(r.Code),
	}
}

// Events converts ledger events; attributes marked Index are the only ones
// the tx indexer stores.
func Events(evs []exec.Event) []abcitypes.Event {
	out := make([]abcitypes.Event, len(evs))
	for i, e := range evs {
		attrs := make([]abcitypes.EventAttribute, len(e.Attrs))
		for j, at := range e.Attrs {
			attrs[j] = abcitypes.EventAttribute{Key: at.Key, Value: at.Value, Index: at.Index}
		}
		out[i] = abcitypes.Event{Type: e.Type, Attributes: attrs}
	}
	return out
}

// Commit persists the block staged by FinalizeBlock.
func (a *App) Commit(_ context.Context, _ *abcitypes.RequestCommit) (*abcitypes.ResponseCommit, error) {
	info, err := a.l.Commit()
	if err != nil {
		a.log.Error("commit", "err", err)
		return nil, err
	}
	resp := &abcitypes.ResponseCommit{}
	if a.cfg.RetainBlocks > 0 && info.Height > a.cfg.RetainBlocks {
		resp.RetainHeight = info.Height - a.cfg.RetainBlocks + 1
	}
	return resp, nil
}

// Query answers state queries (see ledger.Query for paths). With Prove, the
// proof is one ICS23 op over the app hash of version Height, which is in the
// header of block Height+1.
func (a *App) Query(_ context.Context, req *abcitypes.RequestQuery) (*abcitypes.ResponseQuery, error) {
	r := a.l.Query(ledger.QueryRequest{Path: req.Path, Height: req.Height, Prove: req.Prove})
	resp := &abcitypes.ResponseQuery{
		Code:      r.Code,
		Log:       r.Log,
		Info:      r.Name,
		Key:       r.Key,
		Value:     r.Value,
		Height:    r.Height,
		Codespace: codespace(r.Code),
	}
	if r.Proof != nil {
		data, err := r.Proof.Marshal()
		if err != nil {
			return nil, fmt.Errorf("abci: encode proof: %w", err)
		}
		resp.ProofOps = &cmtcrypto.ProofOps{Ops: []cmtcrypto.ProofOp{{Type: ProofOpType, Key: r.Key, Data: data}}}
	}
	return resp, nil
}

func codespace(code uint32) string {
	if code == 0 {
		return ""
	}
	return Codespace
}

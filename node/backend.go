package node

import (
	"context"
	"crypto/sha256"
	"errors"
	"strings"

	"github.com/cometbft/cometbft/mempool"

	"github.com/hypha-iot/hypha/api"
	"github.com/hypha-iot/hypha/errs"
	"github.com/hypha-iot/hypha/ledger"
)

// backend implements api.Backend over the node: submissions go through
// CometBFT's mempool (so they gossip to every gateway), queries go straight
// to the ledger, txs and blocks come from CometBFT's stores.
type backend struct{ n *Node }

var _ api.Backend = (*backend)(nil)

func (b *backend) SubmitSync(ctx context.Context, tx []byte) (api.Submitted, error) {
	hash := sha256.Sum256(tx)
	res, err := b.n.rpc.BroadcastTxSync(ctx, tx)
	if err != nil {
		return api.Submitted{Hash: hash[:]}, mempoolErr(err)
	}
	r := ledger.Result{Code: res.Code, Log: res.Log}
	if res.Code != 0 {
		if c := errs.ByCode(res.Code); c != nil {
			r.Name = c.Name
		}
	}
	copy(r.TxHash[:], hash[:])
	return api.Submitted{Hash: hash[:], Result: r}, nil
}

func (b *backend) SubmitCommit(ctx context.Context, tx []byte) (api.Submitted, error) {
	hash := sha256.Sum256(tx)
	ch, cancel := b.n.events.wait(hash)
	defer cancel()
	sub, err := b.SubmitSync(ctx, tx)
	if err != nil || sub.Result.Code != 0 {
		return sub, err
	}
	select {
	case c := <-ch:
		return api.Submitted{Hash: hash[:], Height: c.ev.Height, Index: c.ev.Index, Result: c.res}, nil
	case <-ctx.Done():
		// The event may have been missed (a dropped subscription): look
		// the tx up once before giving up.
		if info, err := b.Tx(context.Background(), hash[:]); err == nil {
			return api.Submitted{Hash: hash[:], Height: info.Height, Index: info.Index, Result: info.Result}, nil
		}
		return sub, errs.ErrTimeout.Wrap("tx %X not committed yet; it may still be", hash)
	}
}

// mempoolErr classifies CometBFT's refusals.
func mempoolErr(err error) error {
	var full mempool.ErrMempoolIsFull
	var large mempool.ErrTxTooLarge
	switch {
	case errors.Is(err, mempool.ErrTxInCache) || strings.Contains(err.Error(), mempool.ErrTxInCache.Error()):
		return errs.ErrDuplicateTx.Wrap("the same tx was already submitted")
	case errors.As(err, &full):
		return errs.ErrUnavailable.WithCause(err, "mempool full")
	case errors.As(err, &large):
		return errs.ErrTxTooLarge.WithCause(err, "mempool")
	}
	return errs.ErrUnavailable.WithCause(err, "broadcast")
}

func (b *backend) Query(_ context.Context, req ledger.QueryRequest) (ledger.QueryResponse, error) {
	return b.n.ledger.Query(req), nil
}

func (b *backend) Tx(ctx context.Context, hash []byte) (api.TxInfo, error) {
	res, err := b.n.rpc.Tx(ctx, hash, false)
	if err != nil {
		if strings.Contains(err.Error(), "not found") {
			return api.TxInfo{}, errs.ErrNotFound.Wrap("tx %X", hash)
		}
		if strings.Contains(err.Error(), "indexing is disabled") {
			return api.TxInfo{}, errs.ErrUnavailable.Wrap("this node does not index txs (tx_index.indexer = \"null\")")
		}
		return api.TxInfo{}, errs.ErrUnavailable.WithCause(err, "tx lookup")
	}
	r := res.TxResult
	lr := ledger.Result{Code: r.Code, Name: r.Info, Log: r.Log, GasWanted: uint64(r.GasWanted), GasUsed: uint64(r.GasUsed)}
	lr.Events = txCommitted(eventDataTx(res)).ev.Events
	copy(lr.TxHash[:], res.Hash)
	return api.TxInfo{Hash: res.Hash, Height: res.Height, Index: res.Index, Tx: res.Tx, Result: lr}, nil
}

func (b *backend) Block(ctx context.Context, height int64) (api.BlockInfo, error) {
	if height <= 0 {
		// The latest block the ledger has committed: the block store may
		// already hold the next one, whose results do not exist yet.
		height = b.n.ledger.Info().Height
		if height == 0 {
			return api.BlockInfo{}, errs.ErrNotFound.Wrap("no block committed yet")
		}
	}
	res, err := b.n.rpc.Block(ctx, &height)
	if err != nil {
		if strings.Contains(err.Error(), "must be less than or equal") || strings.Contains(err.Error(), "is not available") {
			return api.BlockInfo{}, errs.ErrNotFound.Wrap("block %d", height)
		}
		return api.BlockInfo{}, errs.ErrUnavailable.WithCause(err, "block")
	}
	if res.Block == nil {
		return api.BlockInfo{}, errs.ErrNotFound.Wrap("block %d", height)
	}
	blk := res.Block
	info := api.BlockInfo{Height: blk.Height, Hash: res.BlockID.Hash, Time: blk.Time, Proposer: blk.ProposerAddress,
		AppHash: blk.AppHash, TxCount: len(blk.Txs)}
	for _, tx := range blk.Txs {
		h := sha256.Sum256(tx)
		info.TxHashes = append(info.TxHashes, h[:])
	}
	br, err := b.n.rpc.BlockResults(ctx, &blk.Height)
	if err != nil {
		return api.BlockInfo{}, errs.ErrUnavailable.WithCause(err, "block results")
	}
	info.Events = execEvents(br.FinalizeBlockEvents)
	return info, nil
}

func (b *backend) Status(ctx context.Context) (api.Status, error) {
	st, err := b.n.rpc.Status(ctx)
	if err != nil {
		return api.Status{}, errs.ErrUnavailable.WithCause(err, "status")
	}
	net, _ := b.n.rpc.NetInfo(ctx)
	// Height and app hash come from the ledger: the app hash is the state
	// root after that height (the one proofs at that height verify
	// against), which CometBFT puts in the next block's header.
	info := b.n.ledger.Info()
	s := api.Status{ChainID: st.NodeInfo.Network, NodeID: string(st.NodeInfo.DefaultNodeID), Moniker: st.NodeInfo.Moniker,
		LatestHeight: info.Height, LatestAppHash: info.AppHash,
		LatestBlockTime: st.SyncInfo.LatestBlockTime, CatchingUp: st.SyncInfo.CatchingUp,
		Validator: st.ValidatorInfo.VotingPower > 0}
	if net != nil {
		s.Peers = net.NPeers
	}
	return s, nil
}

func (b *backend) Subscribe(ctx context.Context) (<-chan api.TxEvent, error) {
	return b.n.events.subscribe(ctx), nil
}

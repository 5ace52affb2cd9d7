package node

import (
	"fmt"

	abcitypes "github.com/cometbft/cometbft/abci/types"
	"github.com/cometbft/cometbft/state/txindex"
	cmttypes "github.com/cometbft/cometbft/types"
)

// reindexTail is how many of the newest blocks are always indexed again at
// start.
const reindexTail = 16

// reindexTail repairs the tx and block indexes after a crash. CometBFT
// indexes committed blocks asynchronously, after Commit: a process killed
// in between restarts with the block and the state committed but its txs
// missing from the index, so a client that was told "committed" would get
// "not found" for its tx. Before consensus starts, the newest blocks (and
// any older ones the block index lacks, up to a bound) are indexed again
// from the block store and the stored FinalizeBlock responses. Indexing is
// idempotent.
func (n *Node) reindexTail() error {
	if n.cfg.Comet.TxIndex.Indexer == "null" {
		return nil
	}
	env, err := n.comet.ConfigureRPC()
	if err != nil {
		return fmt.Errorf("reindex: %w", err)
	}
	top := env.BlockStore.Height()
	if top == 0 {
		return nil
	}
	from := max(env.BlockStore.Base(), top-reindexTail+1, 1)
	for h := from - 1; h >= env.BlockStore.Base() && h > 0 && top-h < 10_000; h-- {
		ok, err := env.BlockIndexer.Has(h)
		if err != nil {
			return fmt.Errorf("reindex: block index at %d: %w", h, err)
		}
		if ok {
			break
		}
		from = h
	}
	for h := from; h <= top; h++ {
		block := env.BlockStore.LoadBlock(h)
		if block == nil {
			continue // pruned
		}
		resp, err := env.StateStore.LoadFinalizeBlockResponse(h)
		if err != nil {
			// The block is stored but not yet executed: the handshake
			// replays it and the indexer service indexes it then.
			continue
		}
		if len(resp.TxResults) > 0 {
			batch := txindex.NewBatch(int64(len(resp.TxResults)))
			for i, r := range resp.TxResults {
				if err := batch.Add(&abcitypes.TxResult{Height: h, Index: uint32(i), Tx: block.Txs[i], Result: *r}); err != nil {
					return fmt.Errorf("reindex %d: %w", h, err)
				}
			}
			if err := env.TxIndexer.AddBatch(batch); err != nil {
				return fmt.Errorf("reindex txs at %d: %w", h, err)
			}
		}
		if err := env.BlockIndexer.Index(cmttypes.EventDataNewBlockEvents{Height: h, Events: resp.Events, NumTxs: int64(len(resp.TxResults))}); err != nil {
			return fmt.Errorf("reindex block %d: %w", h, err)
		}
	}
	n.log.Debug("reindexed tail", "from", from, "to", top)
	return nil
}

package api

import (
	"encoding/hex"
	"net/http"

	"github.com/hypha-iot/hypha/errs"
	"github.com/hypha-iot/hypha/ledger/exec"
)

// This file serves the chain routes: txs, blocks and status.

func attr(k, v string) exec.Attr { return exec.Attr{Key: k, Value: v} }

func (s *Server) getTx(w http.ResponseWriter, r *http.Request) error {
	hs := r.PathValue("hash")
	hash, err := hex.DecodeString(hs)
	if err != nil || len(hash) != 32 {
		return errs.ErrInvalidQuery.Wrap("tx hash %q: want 64 hex digits", hs)
	}
	ctx, cancel := s.backendCtx(r)
	defer cancel()
	info, err := s.b.Tx(ctx, hash)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, &Tx{Hash: Hex(info.Hash), Height: info.Height, Index: info.Index, Raw: Hex(info.Tx),
		Body: renderTxBody(info.Tx), Result: info.Result})
	return nil
}

func (s *Server) getLatestBlock(w http.ResponseWriter, r *http.Request) error {
	return s.block(w, r, 0)
}

func (s *Server) getBlock(w http.ResponseWriter, r *http.Request) error {
	h, err := pathUint(r, "height")
	if err != nil {
		return err
	}
	if h == 0 || h > 1<<62 {
		return errs.ErrInvalidQuery.Wrap("height %d: want 1 or more (or latest)", h)
	}
	return s.block(w, r, int64(h))
}

func (s *Server) block(w http.ResponseWriter, r *http.Request, height int64) error {
	ctx, cancel := s.backendCtx(r)
	defer cancel()
	b, err := s.b.Block(ctx, height)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, renderBlock(&b))
	return nil
}

func renderBlock(b *BlockInfo) *Block {
	out := &Block{Height: b.Height, Hash: Hex(b.Hash), Time: b.Time.UTC(), Proposer: Hex(b.Proposer),
		AppHash: Hex(b.AppHash), TxCount: b.TxCount, TxHashes: make([]Hex, 0, len(b.TxHashes))}
	for _, h := range b.TxHashes {
		out.TxHashes = append(out.TxHashes, Hex(h))
	}
	return out
}

func (s *Server) getStatus(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := s.backendCtx(r)
	defer cancel()
	st, err := s.b.Status(ctx)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, &NodeStatus{ChainID: st.ChainID, NodeID: st.NodeID, Moniker: st.Moniker,
		LatestHeight: st.LatestHeight, LatestAppHash: Hex(st.LatestAppHash), LatestBlockTime: st.LatestBlockTime.UTC(),
		CatchingUp: st.CatchingUp, Validator: st.Validator, Peers: st.Peers})
	return nil
}

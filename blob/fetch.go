package blob

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/hypha-iot/hypha/errs"
	"github.com/ipfs/boxo/exchange"
	"github.com/ipfs/boxo/verifcid"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
)

// Fetch window: fetchParallel batches of fetchBatch blocks in flight, so at
// most 32 MiB of 1 MiB blocks are requested and not yet stored.
const (
	fetchParallel = 4
	fetchBatch    = 8
)

// getter obtains blocks for one Fetch or one open File: from the local store
// when present (re-hashed on read), otherwise from peers through a bitswap
// session (bitswap derives a received block's CID from its bytes, so a
// block that does not match the CID we asked for is never delivered).
type getter struct {
	s   *Store
	ses exchange.Fetcher
	// store writes blocks fetched from peers to the block store (Fetch);
	// readers (Open) only stream them.
	store bool
	// repair deletes a stored block that fails its hash check and fetches it
	// again; otherwise the check fails with errs.ErrContentMismatch.
	repair bool
}

// each obtains the blocks of cs and calls fn for each, in any order, from
// the calling goroutine. Blocks missing locally are requested from peers;
// if none arrives for FindTimeout the search ends with errs.ErrBlobNotFound.
func (g *getter) each(ctx context.Context, cs []cid.Cid, fn func(blocks.Block) error) error {
	if err := g.s.enter(); err != nil {
		return err
	}
	defer g.s.leave()
	var missing []cid.Cid
	for _, c := range cs {
		if err := validCID(c); err != nil {
			return err
		}
		b, err := g.s.blocks.Get(ctx, c)
		switch {
		case err == nil:
			if err := fn(b); err != nil {
				return err
			}
		case ipld.IsNotFound(err):
			missing = append(missing, c)
		case g.repair && errs.Of(err) == errs.ErrContentMismatch:
			g.s.log.Warn("stored block is corrupt; fetching it again", "cid", c, "err", err)
			if err := g.s.blocks.DeleteBlock(ctx, c); err != nil {
				return err
			}
			missing = append(missing, c)
		default:
			return err
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return g.fetch(ctx, missing, fn)
}

func (g *getter) fetch(ctx context.Context, missing []cid.Cid, fn func(blocks.Block) error) error {
	fctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pending := make(map[string]struct{}, len(missing))
	for _, c := range missing {
		pending[string(c.Hash())] = struct{}{}
	}
	ch, err := g.ses.GetBlocks(fctx, missing)
	if err != nil {
		return errs.ErrBlobNotFound.WithCause(err, "request %s", missing[0])
	}
	timeout := g.s.cfg.FindTimeout
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for len(pending) > 0 {
		select {
		case b, ok := <-ch:
			if !ok {
				if err := ctx.Err(); err != nil {
					return err
				}
				if err := g.s.ctx.Err(); err != nil {
					return errs.ErrUnavailable.WithCause(err, "blob store closed")
				}
				return errs.ErrBlobNotFound.Wrap("%s: search ended with %d blocks not found", missing[0], len(pending))
			}
			if _, ok := pending[string(b.Cid().Hash())]; !ok {
				continue
			}
			delete(pending, string(b.Cid().Hash()))
			if err := g.keep(ctx, b); err != nil {
				return err
			}
			if err := fn(b); err != nil {
				return err
			}
			timer.Reset(timeout)
		case <-timer.C:
			return errs.ErrBlobNotFound.Wrap("no peer sent block %s within %v (%d of %d blocks still missing)",
				anyPending(missing, pending), timeout, len(pending), len(missing))
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

func anyPending(cs []cid.Cid, pending map[string]struct{}) cid.Cid {
	for _, c := range cs {
		if _, ok := pending[string(c.Hash())]; ok {
			return c
		}
	}
	return cid.Undef
}

// keep stores a block received from a peer, if this getter stores, and lets
// bitswap serve it.
func (g *getter) keep(ctx context.Context, b blocks.Block) error {
	if !g.store {
		return nil
	}
	if err := g.s.blocks.Put(ctx, b); err != nil {
		return err
	}
	if err := g.s.bswap.NotifyNewBlocks(ctx, b); err != nil {
		g.s.log.Debug("bitswap notify", "cid", b.Cid(), "err", err)
	}
	return nil
}

// validCID accepts CIDs a UnixFS file can be made of: dag-pb or raw, with a
// hash function the IPFS stack considers secure.
func validCID(c cid.Cid) error {
	if !c.Defined() {
		return errs.ErrInvalidCID.Wrap("empty CID")
	}
	if t := c.Type(); t != cid.DagProtobuf && t != cid.Raw {
		return errs.ErrInvalidCID.Wrap("%s: codec 0x%x is not a UnixFS file block", c, t)
	}
	if err := verifcid.ValidateCid(verifcid.DefaultAllowlist, c); err != nil {
		return errs.ErrInvalidCID.WithCause(err, "%s", c)
	}
	return nil
}

// Fetch makes the file c local: blocks already stored are re-hashed (a
// corrupt one is deleted and fetched again), missing ones come from peers
// (members connected now and providers found through the DHT), each checked
// against its CID before it is stored. Then c is pinned and announced.
//
// progress, if not nil, is called as blocks arrive with the running total
// of file bytes obtained (ending at the file size); calls never overlap and
// totals never decrease.
//
// Errors: errs.ErrBlobNotFound when no peer sends a needed block within
// FindTimeout (for an unknown CID: after a FindTimeout search);
// errs.ErrStorage when blocks cannot be stored; errs.ErrFileTooLarge for a
// file over MaxFileSize; errs.ErrInvalidCID for a CID that does not name a
// file (a directory, say); errs.ErrUnavailable if the store closes; ctx's
// error if it ends first. Blocks fetched before a failure stay, unpinned,
// until GC.
func (s *Store) Fetch(ctx context.Context, c cid.Cid, progress func(bytesFetched int64)) error {
	if err := validCID(c); err != nil {
		return err
	}
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	s.gcMu.RLock()
	defer s.gcMu.RUnlock()

	fctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(s.ctx, cancel)() // Close ends the search
	g := &getter{s: s, ses: s.bswap.NewSession(fctx), store: true, repair: true}

	var (
		mu    sync.Mutex
		total int64 // file bytes obtained
	)
	visit := func(b blocks.Block, kids *[]cid.Cid) error {
		n, err := asFileNode(b)
		if err != nil {
			return err
		}
		if b.Cid().Equals(c) && n.size > uint64(s.cfg.MaxFileSize) {
			return errs.ErrFileTooLarge.Wrap("%s holds %d bytes; the limit is %d", c, n.size, s.cfg.MaxFileSize)
		}
		*kids = append(*kids, n.links...)
		mu.Lock()
		defer mu.Unlock()
		total += int64(len(n.data))
		if total > s.cfg.MaxFileSize {
			return errs.ErrFileTooLarge.Wrap("%s: more than %d bytes", c, s.cfg.MaxFileSize)
		}
		if progress != nil {
			progress(total)
		}
		return nil
	}

	type result struct {
		kids []cid.Cid
		err  error
	}
	results := make(chan result)
	queue := []cid.Cid{c}
	inflight := 0
	var firstErr error
	for len(queue) > 0 || inflight > 0 {
		for firstErr == nil && len(queue) > 0 && inflight < fetchParallel {
			n := min(fetchBatch, len(queue))
			batch := slices.Clone(queue[:n])
			queue = queue[n:]
			inflight++
			go func() {
				var kids []cid.Cid
				err := g.each(fctx, batch, func(b blocks.Block) error { return visit(b, &kids) })
				results <- result{kids, err}
			}()
		}
		if inflight == 0 {
			break
		}
		r := <-results
		inflight--
		if r.err != nil && firstErr == nil {
			firstErr = r.err
			cancel()
		}
		queue = append(queue, r.kids...)
	}
	if firstErr != nil {
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case s.ctx.Err() != nil:
			return errs.ErrUnavailable.WithCause(firstErr, "blob store closed during fetch of %s", c)
		}
		return firstErr
	}
	if err := s.writePin(ctx, c); err != nil {
		return err
	}
	s.announce(c)
	return nil
}

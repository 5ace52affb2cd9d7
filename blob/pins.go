package blob

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/hypha-iot/hypha/errs"
	"github.com/ipfs/boxo/ipld/merkledag"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	ds "github.com/ipfs/go-datastore"
	dsq "github.com/ipfs/go-datastore/query"
	ipld "github.com/ipfs/go-ipld-format"
)

func pinKey(c cid.Cid) ds.Key { return ds.RawKey(pinPrefix + "/" + c.String()) }

// writePin records a pin of c. The caller holds gcMu (shared) and has
// stored c's whole DAG.
func (s *Store) writePin(ctx context.Context, c cid.Cid) error {
	return s.guard.write("pin "+c.String(), 64, func() error {
		return s.dstore.Put(ctx, pinKey(c), nil)
	})
}

// Pin pins c locally so GC keeps its DAG. The whole DAG must already be
// stored (Add or Fetch it first); otherwise errs.ErrBlobNotFound. Pinning
// a pinned CID is a no-op.
func (s *Store) Pin(ctx context.Context, c cid.Cid) error {
	if err := validCID(c); err != nil {
		return err
	}
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	s.gcMu.RLock()
	defer s.gcMu.RUnlock()
	ok, err := s.hasDAG(ctx, c)
	if err != nil {
		return err
	}
	if !ok {
		return errs.ErrBlobNotFound.Wrap("pin %s: not all of its blocks are stored here; fetch it first", c)
	}
	return s.writePin(ctx, c)
}

// Unpin removes the pin of c; its blocks stay until GC. Unpinning a CID that
// is not pinned is a no-op.
func (s *Store) Unpin(ctx context.Context, c cid.Cid) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	return s.guard.remove("unpin "+c.String(), func() error {
		return s.dstore.Delete(ctx, pinKey(c))
	})
}

// Pins returns the pinned roots, sorted by their string form.
func (s *Store) Pins(ctx context.Context) ([]cid.Cid, error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.leave()
	res, err := s.dstore.Query(ctx, dsq.Query{Prefix: pinPrefix, KeysOnly: true})
	if err != nil {
		return nil, errs.ErrStorage.WithCause(err, "list pins")
	}
	entries, err := res.Rest()
	if err != nil {
		return nil, errs.ErrStorage.WithCause(err, "list pins")
	}
	out := make([]cid.Cid, 0, len(entries))
	for _, e := range entries {
		c, err := cid.Decode(strings.TrimPrefix(e.Key, pinPrefix+"/"))
		if err != nil {
			s.log.Warn("ignoring malformed pin record", "key", e.Key)
			continue
		}
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b cid.Cid) int { return strings.Compare(a.String(), b.String()) })
	return out, nil
}

// Has reports whether c's whole DAG is stored locally. Internal nodes are
// read and re-hashed; leaves are only looked up. A stored node that fails
// its hash check is an errs.ErrContentMismatch error.
func (s *Store) Has(ctx context.Context, c cid.Cid) (bool, error) {
	if err := validCID(c); err != nil {
		return false, err
	}
	if err := s.enter(); err != nil {
		return false, err
	}
	defer s.leave()
	return s.hasDAG(ctx, c)
}

func (s *Store) hasDAG(ctx context.Context, c cid.Cid) (bool, error) {
	err := s.walkLocal(ctx, c, func(cid.Cid) {})
	if ipld.IsNotFound(err) {
		return false, nil
	}
	return err == nil, err
}

// walkLocal calls visit for every block of the DAG under root, using only
// the local store. Raw leaves are looked up, not read. It fails with
// ipld.ErrNotFound if a block is missing.
func (s *Store) walkLocal(ctx context.Context, root cid.Cid, visit func(cid.Cid)) error {
	stack := []cid.Cid{root}
	for len(stack) > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		c := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if c.Type() == cid.Raw {
			ok, err := s.blocks.Has(ctx, c)
			if err != nil {
				return err
			}
			if !ok {
				return ipld.ErrNotFound{Cid: c}
			}
			visit(c)
			continue
		}
		links, err := s.localLinks(ctx, c)
		if err != nil {
			return err
		}
		visit(c)
		for _, l := range slices.Backward(links) {
			stack = append(stack, l.Cid)
		}
	}
	return nil
}

// localLinks reads (and verifies) the stored node c and returns its links.
func (s *Store) localLinks(ctx context.Context, c cid.Cid) ([]*ipld.Link, error) {
	b, err := s.blocks.Get(ctx, c)
	if err != nil {
		return nil, err
	}
	n, err := decodeNode(b)
	if err != nil {
		return nil, err
	}
	return n.Links(), nil
}

// markPinned returns the multihashes (as strings) of every block reachable
// from a pin. It fails rather than return a partial set.
func (s *Store) markPinned(ctx context.Context) (map[string]struct{}, error) {
	pins, err := s.Pins(ctx)
	if err != nil {
		return nil, err
	}
	live := make(map[string]struct{})
	for _, p := range pins {
		err := s.walkLocal(ctx, p, func(c cid.Cid) { live[string(c.Hash())] = struct{}{} })
		if err != nil {
			return nil, fmt.Errorf("walk pinned %s: %w", p, err)
		}
	}
	return live, nil
}

// GC deletes every stored block that no pin reaches: blocks of unpinned
// files and those left by failed uploads or fetches. It waits for running Add and Fetch calls and blocks new ones while
// it runs. If a pinned DAG cannot be walked (a block missing or corrupt), GC
// deletes nothing and returns the error.
func (s *Store) GC(ctx context.Context) (removed int, err error) {
	if err := s.enter(); err != nil {
		return 0, err
	}
	defer s.leave()
	s.gcMu.Lock()
	defer s.gcMu.Unlock()
	live, err := s.markPinned(ctx)
	if err != nil {
		return 0, fmt.Errorf("gc: %w", err)
	}
	all, err := s.blocks.allHashes(ctx)
	if err != nil {
		return 0, fmt.Errorf("gc: %w", err)
	}
	for _, h := range all {
		if _, ok := live[string(h)]; ok {
			continue
		}
		if err := s.blocks.DeleteBlock(ctx, cid.NewCidV1(cid.Raw, h)); err != nil {
			return removed, fmt.Errorf("gc: %w", err)
		}
		removed++
	}
	s.log.Info("gc done", "removed", removed, "kept", len(live))
	return removed, nil
}

// decodeNode decodes a block of a UnixFS DAG, dag-pb or raw, for its
// links. Other codecs are not files.
func decodeNode(b blocks.Block) (ipld.Node, error) {
	switch b.Cid().Type() {
	case cid.DagProtobuf:
		n, err := merkledag.DecodeProtobufBlock(b)
		if err != nil {
			return nil, errs.ErrContentMismatch.WithCause(err, "decode dag-pb node %s", b.Cid())
		}
		return n, nil
	case cid.Raw:
		return merkledag.DecodeRawBlock(b)
	default:
		return nil, errs.ErrInvalidCID.Wrap("%s: codec 0x%x is not a UnixFS file block", b.Cid(), b.Cid().Type())
	}
}

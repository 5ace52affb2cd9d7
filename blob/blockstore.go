package blob

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/hypha-iot/hypha/errs"
	"github.com/ipfs/boxo/blockstore"
	"github.com/ipfs/boxo/datastore/dshelp"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	ds "github.com/ipfs/go-datastore"
	dsq "github.com/ipfs/go-datastore/query"
	ipld "github.com/ipfs/go-ipld-format"
	mh "github.com/multiformats/go-multihash"
)

// Datastore layout. Blocks are keyed by multihash (so a raw and a dag-pb CID
// of the same bytes share one entry):
//
//	/blk/<base32 multihash>  block bytes
//	/idx/<base32 multihash>  uvarint block size, written in the same batch
//	/pin/<cid>               empty; a recursive pin of a file root
//
// The /idx records make Has, GetSize and listing cheap: pebble reads a value
// to answer Has, and a block value is up to 1 MiB.
const (
	blkPrefix = "/blk"
	idxPrefix = "/idx"
	pinPrefix = "/pin"
)

func blkKey(h mh.Multihash) ds.Key { return ds.RawKey(blkPrefix + dshelp.MultihashToDsKey(h).String()) }
func idxKey(h mh.Multihash) ds.Key { return ds.RawKey(idxPrefix + dshelp.MultihashToDsKey(h).String()) }

// blockStore is the boxo Blockstore used by the importer, bitswap and the
// readers. Every Get re-hashes the stored bytes and fails with
// errs.ErrContentMismatch when they do not match the CID; writes go through
// the diskGuard, so their failures are errs.ErrStorage. Identity CIDs are
// answered from the CID itself and never stored. Safe for concurrent use.
type blockStore struct {
	d     ds.Batching
	guard *diskGuard

	// Approximate usage, kept up to date by Put and Delete.
	count atomic.Int64
	bytes atomic.Int64
}

var _ blockstore.Blockstore = (*blockStore)(nil)

func newBlockStore(ctx context.Context, d ds.Batching, g *diskGuard) (*blockStore, error) {
	bs := &blockStore{d: d, guard: g}
	res, err := d.Query(ctx, dsq.Query{Prefix: idxPrefix})
	if err != nil {
		return nil, errs.ErrStorage.WithCause(err, "scan block index")
	}
	defer res.Close()
	for r := range res.Next() {
		if r.Error != nil {
			return nil, errs.ErrStorage.WithCause(r.Error, "scan block index")
		}
		size, _ := binary.Uvarint(r.Value)
		bs.count.Add(1)
		bs.bytes.Add(int64(size))
	}
	return bs, nil
}

func identityData(c cid.Cid) ([]byte, bool) {
	if c.Prefix().MhType != mh.IDENTITY {
		return nil, false
	}
	dh, err := mh.Decode(c.Hash())
	if err != nil {
		return nil, false
	}
	return dh.Digest, true
}

// Get returns the block for c after checking that its bytes hash to c.
func (bs *blockStore) Get(ctx context.Context, c cid.Cid) (blocks.Block, error) {
	if !c.Defined() {
		return nil, ipld.ErrNotFound{Cid: c}
	}
	if data, ok := identityData(c); ok {
		return blocks.NewBlockWithCid(data, c)
	}
	data, err := bs.d.Get(ctx, blkKey(c.Hash()))
	if errors.Is(err, ds.ErrNotFound) {
		return nil, ipld.ErrNotFound{Cid: c}
	}
	if err != nil {
		return nil, errs.ErrStorage.WithCause(err, "read block %s", c)
	}
	got, err := c.Prefix().Sum(data)
	if err != nil {
		return nil, errs.ErrContentMismatch.WithCause(err, "hash block %s", c)
	}
	if !got.Equals(c) {
		return nil, errs.ErrContentMismatch.Wrap("stored block %s hashes to %s", c, got)
	}
	return blocks.NewBlockWithCid(data, c)
}

// Has reports whether a block for c is stored (without reading or checking it).
func (bs *blockStore) Has(ctx context.Context, c cid.Cid) (bool, error) {
	if _, ok := identityData(c); ok {
		return true, nil
	}
	ok, err := bs.d.Has(ctx, idxKey(c.Hash()))
	if err != nil {
		return false, errs.ErrStorage.WithCause(err, "look up block %s", c)
	}
	return ok, nil
}

// GetSize returns the stored size of c's block.
func (bs *blockStore) GetSize(ctx context.Context, c cid.Cid) (int, error) {
	if data, ok := identityData(c); ok {
		return len(data), nil
	}
	v, err := bs.d.Get(ctx, idxKey(c.Hash()))
	if errors.Is(err, ds.ErrNotFound) {
		return -1, ipld.ErrNotFound{Cid: c}
	}
	if err != nil {
		return -1, errs.ErrStorage.WithCause(err, "look up block %s", c)
	}
	size, n := binary.Uvarint(v)
	if n <= 0 {
		return -1, errs.ErrStorage.Wrap("corrupt size record for block %s", c)
	}
	return int(size), nil
}

// Put stores b unless a block with its multihash is already stored. The
// caller vouches that b's bytes hash to its CID (the importer computed it;
// bitswap derives received CIDs from the bytes).
func (bs *blockStore) Put(ctx context.Context, b blocks.Block) error {
	_, err := bs.putNew(ctx, []blocks.Block{b})
	return err
}

// PutMany stores the blocks not already stored, in one atomic batch.
func (bs *blockStore) PutMany(ctx context.Context, bl []blocks.Block) error {
	_, err := bs.putNew(ctx, bl)
	return err
}

// putNew is PutMany that also returns the blocks it actually wrote.
func (bs *blockStore) putNew(ctx context.Context, bl []blocks.Block) ([]blocks.Block, error) {
	var fresh []blocks.Block
	var size int64
	for _, b := range bl {
		if _, ok := identityData(b.Cid()); ok {
			continue
		}
		have, err := bs.Has(ctx, b.Cid())
		if err != nil {
			return nil, err
		}
		if !have {
			fresh = append(fresh, b)
			size += int64(len(b.RawData()))
		}
	}
	if len(fresh) == 0 {
		return nil, nil
	}
	err := bs.guard.write(fmt.Sprintf("store %d blocks", len(fresh)), size, func() error {
		batch, err := bs.d.Batch(ctx)
		if err != nil {
			return err
		}
		var sz [binary.MaxVarintLen64]byte
		for _, b := range fresh {
			h := b.Cid().Hash()
			if err := batch.Put(ctx, blkKey(h), b.RawData()); err != nil {
				return err
			}
			n := binary.PutUvarint(sz[:], uint64(len(b.RawData())))
			if err := batch.Put(ctx, idxKey(h), sz[:n]); err != nil {
				return err
			}
		}
		return batch.Commit(ctx)
	})
	if err != nil {
		return nil, err
	}
	bs.count.Add(int64(len(fresh)))
	bs.bytes.Add(size)
	return fresh, nil
}

// DeleteBlock removes c's block; removing an absent block is not an error.
func (bs *blockStore) DeleteBlock(ctx context.Context, c cid.Cid) error {
	size, err := bs.GetSize(ctx, c)
	if ipld.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	err = bs.guard.remove("delete block "+c.String(), func() error {
		batch, err := bs.d.Batch(ctx)
		if err != nil {
			return err
		}
		if err := batch.Delete(ctx, blkKey(c.Hash())); err != nil {
			return err
		}
		if err := batch.Delete(ctx, idxKey(c.Hash())); err != nil {
			return err
		}
		return batch.Commit(ctx)
	})
	if err != nil {
		return err
	}
	bs.count.Add(-1)
	bs.bytes.Add(-int64(size))
	return nil
}

// AllKeysChan lists the stored blocks as raw CIDv1s (only multihashes are
// kept). The channel closes early if listing fails or ctx ends.
func (bs *blockStore) AllKeysChan(ctx context.Context) (<-chan cid.Cid, error) {
	res, err := bs.d.Query(ctx, dsq.Query{Prefix: idxPrefix, KeysOnly: true})
	if err != nil {
		return nil, errs.ErrStorage.WithCause(err, "list blocks")
	}
	out := make(chan cid.Cid, 64)
	go func() {
		defer close(out)
		defer res.Close()
		for r := range res.Next() {
			if r.Error != nil {
				return
			}
			h, err := dshelp.DsKeyToMultihash(ds.RawKey(r.Key[len(idxPrefix):]))
			if err != nil {
				continue
			}
			select {
			case out <- cid.NewCidV1(cid.Raw, h):
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, nil
}

// allHashes returns the multihashes of every stored block, failing if the
// listing does not complete (GC must not act on a partial list).
func (bs *blockStore) allHashes(ctx context.Context) ([]mh.Multihash, error) {
	res, err := bs.d.Query(ctx, dsq.Query{Prefix: idxPrefix, KeysOnly: true})
	if err != nil {
		return nil, errs.ErrStorage.WithCause(err, "list blocks")
	}
	defer res.Close()
	var out []mh.Multihash
	for r := range res.Next() {
		if r.Error != nil {
			return nil, errs.ErrStorage.WithCause(r.Error, "list blocks")
		}
		h, err := dshelp.DsKeyToMultihash(ds.RawKey(r.Key[len(idxPrefix):]))
		if err != nil {
			continue
		}
		out = append(out, h)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

func (bs *blockStore) usage() (int, int64) { return int(bs.count.Load()), bs.bytes.Load() }

package blob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/hypha-iot/hypha/errs"
	"github.com/ipfs/boxo/bitswap"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	ds "github.com/ipfs/go-datastore"
	pebbleds "github.com/ipfs/go-ds-pebble"
	ipld "github.com/ipfs/go-ipld-format"
	dht "github.com/libp2p/go-libp2p-kad-dht"
	"github.com/libp2p/go-libp2p/core/host"
)

// Store is a content-addressed file store that shares its files with the
// other members of a private libp2p network. Create it with Open; all methods
// are safe for concurrent use; Close releases it.
type Store struct {
	cfg Config
	log *slog.Logger

	pdb    *pebbleds.Datastore // the datastore under dstore
	dstore ds.Batching         // pdb, or a test's wrapper of it
	closeD func() error
	guard  *diskGuard
	blocks *blockStore

	host  host.Host
	gater *allowList
	dht   *dht.IpfsDHT
	bswap *bitswap.Bitswap

	// gcMu orders garbage collection against writers: Add and Fetch hold it
	// shared from their first block write until their pin is written; GC
	// and the cleanup of a failed Add hold it exclusively.
	gcMu sync.RWMutex

	ctx    context.Context // cancelled by Close; ends background work and searches
	cancel context.CancelFunc
	wg     sync.WaitGroup // background goroutines

	// Operations that touch the datastore register in ops (enter/leave), so
	// Close can wait for them before closing pebble, which panics when used
	// after Close.
	opsMu   sync.Mutex
	closing bool
	ops     sync.WaitGroup

	closeOnce sync.Once
	closeErr  error
}

// enter registers an operation; it fails once Close has begun. Nested
// calls are fine: a nested enter during Close fails instead of waiting.
func (s *Store) enter() error {
	s.opsMu.Lock()
	defer s.opsMu.Unlock()
	if s.closing {
		return errs.ErrUnavailable.Wrap("blob store closed")
	}
	s.ops.Add(1)
	return nil
}

func (s *Store) leave() { s.ops.Done() }

// Open opens the datastore in cfg.Dir, starts the libp2p host, the DHT and
// bitswap, and returns the store. The allow-list starts empty: call SetPeers
// to admit members. ctx bounds only the start-up.
func Open(ctx context.Context, cfg Config) (_ *Store, err error) {
	cfg, err = cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Store{cfg: cfg, log: cfg.Logger}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	defer func() {
		if err != nil {
			_ = s.Close()
		}
	}()

	pdb, err := openPebble(cfg.Dir, s.log)
	if err != nil {
		return nil, errs.ErrStorage.WithCause(err, "open blob store")
	}
	s.pdb, s.dstore = pdb, pdb
	s.closeD = func() error { return closePebble(pdb, cfg.Dir, cfg.MinFreeBytes) }
	if cfg.wrapDatastore != nil {
		s.dstore = cfg.wrapDatastore(pdb)
	}
	s.guard = &diskGuard{dir: cfg.Dir, minFree: cfg.MinFreeBytes, log: s.log}
	if s.blocks, err = newBlockStore(ctx, s.dstore, s.guard); err != nil {
		return nil, err
	}

	self, err := peerIDFromKey(cfg.Identity)
	if err != nil {
		return nil, err
	}
	s.gater = newAllowList(self)
	if s.host, err = newHost(cfg, s.gater); err != nil {
		return nil, err
	}
	if s.dht, err = newDHT(s.host, cfg.Protocol); err != nil {
		return nil, err
	}
	s.bswap = newBitswap(s.ctx, s.host, cfg.Protocol, s.dht, s.blocks)

	if cfg.ReprovideInterval > 0 {
		s.wg.Go(s.reprovideLoop)
	}
	s.log.Info("blob store open", "dir", cfg.Dir, "peer", s.host.ID(), "addrs", s.host.Addrs())
	return s, nil
}

// Close stops searches and background work, waits for running operations
// to return, stops networking and closes the datastore. Operations and
// reads of open Files fail with errs.ErrUnavailable afterwards. Calling
// Close again returns the first result.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.opsMu.Lock()
		s.closing = true
		s.opsMu.Unlock()
		s.cancel()
		s.ops.Wait()
		s.wg.Wait()
		var es []error
		if s.bswap != nil {
			es = append(es, s.bswap.Close())
		}
		if s.dht != nil {
			es = append(es, s.dht.Close())
		}
		if s.host != nil {
			es = append(es, s.host.Close())
		}
		if s.closeD != nil {
			es = append(es, s.closeD())
		}
		s.closeErr = errors.Join(es...)
	})
	return s.closeErr
}

// Usage returns the number and total size of stored blocks (pinned or not).
// It is a cheap running count: approximate under concurrent writes.
func (s *Store) Usage() (blocks int, bytes int64) { return s.blocks.usage() }

// Add imports r as a UnixFS file (profile unixfs-v1-2025), stores its blocks,
// pins its root and announces it to the DHT in the background. It returns
// the root CID and the file size; the CID equals kubo's for the same bytes.
// r is streamed: memory stays at a few 1 MiB chunks whatever the size.
//
// Errors: errs.ErrFileTooLarge as soon as more than MaxFileSize bytes are
// read; errs.ErrUploadIncomplete if r fails (for example with
// io.ErrUnexpectedEOF) or ctx ends; errs.ErrStorage if the datastore cannot
// be written. On any error nothing is pinned and the blocks this call wrote
// are removed again (those shared with pinned files stay). A storage
// failure leaves the store serving reads.
func (s *Store) Add(ctx context.Context, r io.Reader) (cid.Cid, int64, error) {
	if err := s.enter(); err != nil {
		return cid.Undef, 0, err
	}
	defer s.leave()
	s.gcMu.RLock()
	dst := &storeDAG{ctx: ctx, bs: s.blocks}
	root, size, err := importDAG(ctx, r, s.cfg.MaxFileSize, dst)
	if err == nil {
		err = s.writePin(ctx, root)
	}
	s.gcMu.RUnlock()
	if err != nil {
		s.discard(dst.fresh)
		return cid.Undef, size, err
	}
	s.log.Debug("added file", "cid", root, "size", size, "new_blocks", len(dst.fresh))
	s.announce(root)
	return root, size, nil
}

// storeDAG is the importer's DAGService: it writes nodes to the block store
// and remembers which blocks were new, so a failed import can remove them.
type storeDAG struct {
	discardDAG
	ctx   context.Context
	bs    *blockStore
	fresh []cid.Cid
}

func (d *storeDAG) Add(_ context.Context, n ipld.Node) error {
	// The importer passes context.TODO; use the Add call's context.
	fresh, err := d.bs.putNew(d.ctx, []blocks.Block{n})
	for _, b := range fresh {
		d.fresh = append(d.fresh, b.Cid())
	}
	return err
}

// discard removes the given blocks, written by a failed Add, except those
// that a pinned file references (another Add may have pinned the same block
// meanwhile). Best effort: whatever stays is garbage for GC.
func (s *Store) discard(cs []cid.Cid) {
	if len(cs) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(s.ctx, time.Minute)
	defer cancel()
	s.gcMu.Lock()
	defer s.gcMu.Unlock()
	live, err := s.markPinned(ctx)
	if err != nil {
		s.log.Warn("failed upload: blocks left for GC", "blocks", len(cs), "err", err)
		return
	}
	for _, c := range cs {
		if _, ok := live[string(c.Hash())]; ok {
			continue
		}
		if err := s.blocks.DeleteBlock(ctx, c); err != nil {
			s.log.Warn("failed upload: block left for GC", "cid", c, "err", err)
		}
	}
}

// announce tells the DHT, in the background, that this store provides c.
func (s *Store) announce(c cid.Cid) {
	s.wg.Go(func() {
		ctx, cancel := context.WithTimeout(s.ctx, time.Minute)
		defer cancel()
		if err := s.dht.Provide(ctx, c, true); err != nil {
			s.log.Debug("announce to DHT failed", "cid", c, "err", err)
		}
	})
}

// Reprovide announces every pinned root to the DHT again, synchronously.
// The background loop calls it every ReprovideInterval.
func (s *Store) Reprovide(ctx context.Context) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	pins, err := s.Pins(ctx)
	if err != nil {
		return err
	}
	var failed int
	for _, c := range pins {
		if err := s.dht.Provide(ctx, c, true); err != nil {
			failed++
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	if failed > 0 {
		return fmt.Errorf("reprovide: %d of %d announcements failed", failed, len(pins))
	}
	return nil
}

func (s *Store) reprovideLoop() {
	t := time.NewTicker(s.cfg.ReprovideInterval)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
			if err := s.Reprovide(s.ctx); err != nil {
				s.log.Info("reprovide", "err", err)
			}
		}
	}
}

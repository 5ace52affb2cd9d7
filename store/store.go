// Package store is the authenticated key-value store the ledger writes
// through. Its root hash is the app hash that CometBFT puts in block headers.
//
// State is one IAVL tree (github.com/cosmos/iavl v1.3.6); each ledger domain
// owns a key prefix, which the ledger, not this package, manages. Proofs are in
// ICS23 format (ics23.IavlSpec), so existing light-client tooling verifies
// them against the app hash.
//
// # Life cycle of a block
//
// The block executor (one goroutine) calls Stage one or more times (InitChain,
// then the block's writes), may read its own staged writes through Working,
// and then calls Commit, which persists the working tree as version
// Version()+1. Rollback discards staged writes instead. Nothing staged is
// visible to At, Prove, Version or Hash before Commit returns.
//
// # Concurrency
//
// Stage, Commit, Rollback and Working belong to the block executor and must
// not be called concurrently with each other. At, Prove, Version and Hash may
// be called from any number of query goroutines at any time, including while
// the executor stages and commits. Readers returned by At read through a tree
// handle of their own (a second iavl node cache over the same database), so
// they share no mutable memory with the working tree.
//
// Working().Get serves repeated point reads from a value cache
// (Config.ValueCache) that Stage writes through and Rollback empties, so the
// executor's hot keys skip the walk down the tree; see valuecache.go.
//
// # Durability
//
// On disk the tree lives in goleveldb (iavl's own db package) under
// Config.Dir. Writes are not fsynced: a process crash loses nothing committed,
// a power loss may lose the last versions, which CometBFT's handshake replays.
// iavl writes a version's root last, so a crash in the middle of Commit leaves
// the previous version as the latest one.
//
// # Values
//
// Values must be non-empty: ICS23 cannot prove an empty value, and nil is the
// answer for an absent key. A key used as a set member should store a marker
// byte such as 0x01.
package store

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/cosmos/iavl"
	dbm "github.com/cosmos/iavl/db"
	"github.com/syndtr/goleveldb/leveldb/filter"
	"github.com/syndtr/goleveldb/leveldb/opt"
)

// Sentinel errors for callers that branch on the class of a failure.
var (
	// ErrVersionNotFound: the version was never committed (negative, or above
	// Version()).
	ErrVersionNotFound = errors.New("store: version not found")
	// ErrVersionPruned: the version was committed but has been pruned
	// (Config.KeepRecent).
	ErrVersionPruned = errors.New("store: version pruned")
)

// DefaultCacheSize is the iavl node cache size used when Config.CacheSize is
// 0. Small on purpose: iavl's cache is an LRU of pointer-rich nodes, and with
// 100,000 of them the collector's work and the cache upkeep cost more than
// the misses, which goleveldb's block cache serves (ledger BenchmarkApply,
// docs/benchmarks.md).
const DefaultCacheSize = 20_000

// dbName is the goleveldb database name under Config.Dir ("state.db").
const dbName = "state"

// Config configures a Store. CacheSize applies twice: to the working tree
// and to the separate tree that serves At and Prove (see Store), so the node
// caches hold up to 2*CacheSize nodes.
type Config struct {
	Dir        string // "" = in memory (the test twin: iavl on its in-memory db)
	KeepRecent int64  // versions kept for queries/proofs; 0 = keep all. Older versions pruned at commit (bounded storage).
	CacheSize  int    // iavl node cache, default DefaultCacheSize
	// ValueCache is the number of keys whose latest value the block
	// executor's reads (Working) keep in memory, between ValueCache and
	// twice that; default DefaultValueCache, negative = none.
	ValueCache int
}

// DefaultValueCache is the value cache size used when Config.ValueCache is 0.
const DefaultValueCache = 65_536

func (c *Config) validate() error {
	if c.KeepRecent < 0 {
		return fmt.Errorf("store: config: KeepRecent %d < 0", c.KeepRecent)
	}
	if c.CacheSize < 0 {
		return fmt.Errorf("store: config: CacheSize %d < 0", c.CacheSize)
	}
	if c.CacheSize == 0 {
		c.CacheSize = DefaultCacheSize
	}
	if c.ValueCache == 0 {
		c.ValueCache = DefaultValueCache
	}
	return nil
}

// Write is one change staged into the tree: set Key to Value, or delete Key
// when Delete is true (Value is then ignored).
type Write struct {
	Key, Value []byte
	Delete     bool
}

// Store is the versioned, authenticated key-value store. See the package
// documentation for which goroutine may call what.
type Store struct {
	cfg Config
	db  dbm.DB

	// tree is the working tree; touched only by the block executor (Stage,
	// Commit, Rollback, Working) and by Open/Close.
	tree *iavl.MutableTree
	// values caches the working tree's values for Working().Get; same owner
	// as tree.
	values *valueCache
	// views hands out immutable trees of committed versions to At and Prove.
	// It never writes; its node cache is separate from tree's, so readers
	// never touch nodes the working tree mutates.
	views *iavl.MutableTree

	mu       sync.RWMutex // guards the fields below
	version  int64        // last committed version (0 = nothing committed)
	hash     []byte       // root hash of version
	earliest int64        // oldest version not pruned (0 when version == 0)
	closed   bool
}

// Open opens the store described by cfg and loads its latest saved version.
// With cfg.Dir == "" the store is in memory and starts empty.
func Open(cfg Config) (*Store, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	var db dbm.DB
	if cfg.Dir == "" {
		db = dbm.NewMemDB()
	} else {
		if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
			return nil, fmt.Errorf("store: open: %w", err)
		}
		// iavl's own defaults (a bloom filter), plus a 32 MiB memtable and
		// block cache (goleveldb: 4 and 8 MiB): every block writes a few
		// thousand new nodes, and the small memtable spent the time in
		// flushes and level-0 compactions. Applying txs on disk went 12-15%
		// faster (BenchmarkApply, docs/benchmarks.md); about 100 MiB more
		// memory at most. Contents and durability are unchanged.
		ldb, err := dbm.NewGoLevelDBWithOpts(dbName, cfg.Dir, &opt.Options{
			Filter:             filter.NewBloomFilter(10),
			WriteBuffer:        32 << 20,
			BlockCacheCapacity: 32 << 20,
		})
		if err != nil {
			return nil, fmt.Errorf("store: open goleveldb in %s: %w", cfg.Dir, err)
		}
		db = ldb
	}
	s, err := open(cfg, db)
	if err != nil {
		_ = db.Close()
		return nil, err
	}
	return s, nil
}

func open(cfg Config, db dbm.DB) (*Store, error) {
	// Fast storage (iavl's flat index of the latest values) is skipped: it is
	// shared mutable state between the working tree and readers of the latest
	// version, which breaks the isolation At promises, and it does not affect
	// the root hash.
	const skipFastStorage = true
	logger := iavl.NewNopLogger()
	tree := iavl.NewMutableTree(db, cfg.CacheSize, skipFastStorage, logger)
	latest, err := tree.Load()
	if err != nil {
		return nil, fmt.Errorf("store: load latest version: %w", err)
	}
	s := &Store{
		cfg:     cfg,
		db:      db,
		tree:    tree,
		values:  newValueCache(cfg.ValueCache),
		views:   iavl.NewMutableTree(db, cfg.CacheSize, skipFastStorage, logger),
		version: latest,
		hash:    tree.Hash(),
	}
	if latest > 0 {
		s.earliest = earliestVersion(tree, latest)
	}
	return s, nil
}

// earliestVersion finds the oldest saved version; saved versions form the
// contiguous range [earliest, latest].
func earliestVersion(tree *iavl.MutableTree, latest int64) int64 {
	lo, hi := int64(1), latest
	for lo < hi {
		mid := lo + (hi-lo)/2
		if tree.VersionExists(mid) {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo
}

// Version returns the last committed version (0 = nothing committed yet).
// Safe for concurrent use.
func (s *Store) Version() int64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.version
}

// Hash returns the app hash of the last committed version: the iavl root hash.
// Before the first commit, and for any version whose tree is empty, it is
// iavl's empty hash, SHA-256 of no input (e3b0c442...b855). Safe for
// concurrent use; the caller owns the returned slice.
func (s *Store) Hash() []byte {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return bytes.Clone(s.hash)
}

// Stage applies writes to the working tree and returns the working root hash,
// without persisting anything. writes must be sorted by key in strictly
// ascending byte order (so each key appears once), keys must be non-empty and
// values of non-delete writes non-empty; otherwise Stage returns an error and
// the working tree is unchanged. Deleting an absent key is not an error.
// Stage may be called several times before Commit (InitChain, then a block).
// Stage copies keys and values; the caller may reuse its buffers.
//
// Called by the block executor only. If Stage fails while applying (a storage
// error), the working tree may hold part of the batch; call Rollback.
func (s *Store) Stage(writes []Write) ([]byte, error) {
	if err := checkWrites(writes); err != nil {
		return nil, err
	}
	for _, w := range writes {
		key := bytes.Clone(w.Key)
		if w.Delete {
			if _, _, err := s.tree.Remove(key); err != nil {
				// The tree is unknown until Rollback; so is the cache.
				s.values.reset()
				return nil, fmt.Errorf("store: stage delete %x: %w", w.Key, err)
			}
			s.values.put(key, cached{absent: true})
			continue
		}
		value := bytes.Clone(w.Value)
		if _, err := s.tree.Set(key, value); err != nil {
			s.values.reset()
			return nil, fmt.Errorf("store: stage set %x: %w", w.Key, err)
		}
		s.values.put(key, cached{value: value})
	}
	return s.tree.WorkingHash(), nil
}

func checkWrites(writes []Write) error {
	for i, w := range writes {
		if len(w.Key) == 0 {
			return fmt.Errorf("store: stage: write %d: empty key", i)
		}
		if !w.Delete && len(w.Value) == 0 {
			return fmt.Errorf("store: stage: write %d (key %x): empty value; use Delete", i, w.Key)
		}
		if i > 0 {
			switch c := bytes.Compare(writes[i-1].Key, w.Key); {
			case c == 0:
				return fmt.Errorf("store: stage: write %d: duplicate key %x", i, w.Key)
			case c > 0:
				return fmt.Errorf("store: stage: write %d: key %x not after %x (writes must be sorted)", i, w.Key, writes[i-1].Key)
			}
		}
	}
	return nil
}

// Commit persists the working tree as version Version()+1 (iavl SaveVersion)
// and returns its root hash and number. Committing with nothing staged is
// allowed and yields the previous hash under the new version. Afterwards, if
// Config.KeepRecent > 0, versions older than the newest KeepRecent are pruned.
//
// If saving fails, Commit returns (nil, 0, err); the working tree is then in
// an unknown state and the store should be closed and reopened, which loads
// the previous version (on disk). If only pruning fails, the version is
// committed and durable: Commit returns its hash and number with the error.
//
// Called by the block executor only; At, Prove, Version and Hash may run
// concurrently and see the new version once Commit has saved it.
func (s *Store) Commit() (hash []byte, version int64, err error) {
	hash, version, err = s.tree.SaveVersion()
	if err != nil {
		return nil, 0, fmt.Errorf("store: save version %d: %w", s.tree.WorkingVersion(), err)
	}
	hash = bytes.Clone(hash) // iavl's slice is shared with its nodes

	prune := int64(0)
	if k := s.cfg.KeepRecent; k > 0 && version > k {
		prune = version - k
	}
	s.mu.Lock()
	s.version, s.hash = version, hash
	if s.earliest == 0 {
		s.earliest = version
	}
	// Readers for pruned versions are refused before their nodes go away.
	if prune >= s.earliest {
		s.earliest = prune + 1
	} else {
		prune = 0
	}
	s.mu.Unlock()

	if prune > 0 {
		if err := s.tree.DeleteVersionsTo(prune); err != nil {
			return bytes.Clone(hash), version, fmt.Errorf("store: prune versions up to %d: %w", prune, err)
		}
	}
	return bytes.Clone(hash), version, nil // s.hash stays private
}

// Rollback discards all writes staged since the last Commit. Called by the
// block executor only.
func (s *Store) Rollback() {
	s.tree.Rollback()
	s.values.reset()
}

// Working returns a Reader over the working tree: the last committed version
// plus everything staged since. It stays valid across Commit and Rollback and
// always reads the current working tree. Only the block executor may use it,
// and Stage must not be called from inside its Iterate callback.
func (s *Store) Working() Reader {
	return workingReader{tree: s.tree, values: s.values}
}

// At returns an immutable view of committed version v; v == 0 means the
// latest committed version (an empty view before the first commit). It
// returns an error wrapping ErrVersionNotFound for a version never committed
// and ErrVersionPruned for a pruned one.
//
// The view is safe for concurrent use and unaffected by later Stage and
// Commit calls. If its version is pruned while the view is held, reads that
// need nodes no longer on disk fail with an error wrapping ErrVersionPruned
// (reads served from the node cache may still succeed; any value returned is
// correct for that version).
func (s *Store) At(version int64) (Reader, error) {
	v, err := s.resolve(version)
	if err != nil {
		return nil, err
	}
	return s.view(v)
}

// resolve maps 0 to the latest version and classifies unavailable versions.
func (s *Store) resolve(version int64) (int64, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	switch {
	case s.closed:
		return 0, errors.New("store: closed")
	case version == 0:
		return s.version, nil
	case version < 0 || version > s.version:
		return 0, fmt.Errorf("store: version %d (latest %d): %w", version, s.version, ErrVersionNotFound)
	case version < s.earliest:
		return 0, fmt.Errorf("store: version %d (earliest kept %d): %w", version, s.earliest, ErrVersionPruned)
	}
	return version, nil
}

// pruned reports whether version has been pruned (or is being pruned).
func (s *Store) pruned(version int64) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return version < s.earliest
}

func (s *Store) view(version int64) (*versionReader, error) {
	if version == 0 {
		return &versionReader{s: s}, nil // nothing committed: the empty tree
	}
	t, err := s.views.GetImmutable(version)
	if err != nil {
		if s.pruned(version) || errors.Is(err, iavl.ErrVersionDoesNotExist) {
			return nil, fmt.Errorf("store: load version %d: %w: %w", version, ErrVersionPruned, err)
		}
		return nil, fmt.Errorf("store: load version %d: %w", version, err)
	}
	return &versionReader{s: s, version: version, tree: t}, nil
}

// Close releases the tree and the database. The caller must first stop the
// block executor and all users of Readers obtained from this Store. Close is
// idempotent.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	// iavl closes the node databases (pending batches) but not the shared db.
	return errors.Join(s.tree.Close(), s.views.Close(), s.db.Close())
}

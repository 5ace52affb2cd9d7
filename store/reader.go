package store

import (
	"bytes"
	"fmt"

	"github.com/cosmos/iavl"
)

// Reader reads one consistent version of state. Safe for concurrent use when obtained from At().
//
// Keys and values handed to an Iterate callback belong to the tree: the
// callback must not modify them (it may keep them). Get returns a copy.
type Reader interface {
	Get(key []byte) ([]byte, error)                                                 // nil, nil when absent
	Iterate(start, end []byte, reverse bool, fn func(key, value []byte) bool) error // [start,end), nil = unbounded; fn returns false to stop; keys ascending (or descending if reverse)
}

// versionReader is an immutable view of one committed version (see At).
// tree is nil for version 0, the empty tree before the first commit.
type versionReader struct {
	s       *Store
	version int64
	tree    *iavl.ImmutableTree
}

func (r *versionReader) Get(key []byte) ([]byte, error) {
	if r.tree == nil {
		return nil, nil
	}
	v, err := r.tree.Get(key)
	if err != nil {
		return nil, r.wrap("get", key, err)
	}
	return bytes.Clone(v), nil
}

func (r *versionReader) Iterate(start, end []byte, reverse bool, fn func(key, value []byte) bool) error {
	if r.tree == nil {
		return nil
	}
	if err := iterate(r.tree, start, end, reverse, fn); err != nil {
		return r.wrap("iterate from", start, err)
	}
	return nil
}

// wrap adds context and, when the version has been pruned under the reader,
// ErrVersionPruned.
func (r *versionReader) wrap(op string, key []byte, err error) error {
	if r.s.pruned(r.version) {
		return fmt.Errorf("store: %s %x at version %d: %w: %w", op, key, r.version, ErrVersionPruned, err)
	}
	return fmt.Errorf("store: %s %x at version %d: %w", op, key, r.version, err)
}

// workingReader reads the working tree (see Store.Working).
type workingReader struct {
	tree   *iavl.MutableTree
	values *valueCache
}

func (r workingReader) Get(key []byte) ([]byte, error) {
	if e, ok := r.values.get(key); ok {
		if e.absent {
			return nil, nil
		}
		return bytes.Clone(e.value), nil
	}
	v, err := r.tree.Get(key)
	if err != nil {
		return nil, fmt.Errorf("store: get %x in working tree: %w", key, err)
	}
	r.values.put(bytes.Clone(key), cached{value: bytes.Clone(v), absent: v == nil})
	return bytes.Clone(v), nil
}

func (r workingReader) Iterate(start, end []byte, reverse bool, fn func(key, value []byte) bool) error {
	if err := iterate(r.tree.ImmutableTree, start, end, reverse, fn); err != nil {
		return fmt.Errorf("store: iterate from %x in working tree: %w", start, err)
	}
	return nil
}

// iterate feeds the pairs of t in [start, end) to fn in order until fn
// returns false.
//
// iavl's iterator ends silently when it cannot load a node (a storage error,
// or a version pruned under a held reader), which would look like a shorter
// range. Delivered pairs are always a correct, in-order prefix, so iterate
// counts them against the number of keys in the range, computed from leaf
// indexes (two O(log n) lookups that do report errors), and fails on a
// shortfall.
func iterate(t *iavl.ImmutableTree, start, end []byte, reverse bool, fn func(key, value []byte) bool) error {
	if t.Size() == 0 {
		return nil
	}
	lo, hi := int64(0), t.Size()
	var err error
	if start != nil {
		if lo, _, err = t.GetWithIndex(start); err != nil {
			return err
		}
	}
	if end != nil {
		if hi, _, err = t.GetWithIndex(end); err != nil {
			return err
		}
	}
	want := max(hi-lo, 0)
	it, err := t.Iterator(start, end, !reverse)
	if err != nil {
		return err
	}
	defer it.Close()
	var n int64
	for ; it.Valid(); it.Next() {
		n++
		if !fn(it.Key(), it.Value()) {
			return nil
		}
	}
	if err := it.Error(); err != nil {
		return err
	}
	if n != want {
		return fmt.Errorf("tree traversal stopped after %d of %d keys: a node is missing or unreadable", n, want)
	}
	return nil
}

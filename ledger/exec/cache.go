package exec

import (
	"sort"

	"github.com/hypha-iot/hypha/store"
)

// Getter reads one key; nil, nil when absent.
type Getter interface {
	Get(key []byte) ([]byte, error)
}

// Cache stages writes over a parent Getter. Transaction execution writes into
// a Cache per tx (discarded on failure), which writes into a Cache per block,
// which becomes one sorted batch for the store at the end of the block, so
// each key is written to the tree once per block.
//
// A Cache is not safe for concurrent use. A read error from the parent is a
// storage fault, not a tx outcome: Get panics with a StorageFault, which the
// ledger recovers at the block boundary and reports to the node.
type Cache struct {
	parent Getter
	writes map[string]entry
}

type entry struct {
	value   []byte
	deleted bool
}

// StorageFault is the panic value for a failed read of committed state.
type StorageFault struct{ Err error }

// NewCache returns an empty cache over parent.
func NewCache(parent Getter) *Cache {
	return &Cache{parent: parent, writes: make(map[string]entry)}
}

// Get returns the staged value of key, else the parent's. The result must not
// be modified.
func (c *Cache) Get(key []byte) ([]byte, error) {
	if e, ok := c.writes[string(key)]; ok {
		if e.deleted {
			return nil, nil
		}
		return e.value, nil
	}
	return c.parent.Get(key)
}

// MustGet is Get that panics with a StorageFault on a parent read error.
func (c *Cache) MustGet(key []byte) []byte {
	v, err := c.Get(key)
	if err != nil {
		panic(StorageFault{Err: err})
	}
	return v
}

// Set stages key=value. value must be non-nil.
func (c *Cache) Set(key, value []byte) {
	c.writes[string(key)] = entry{value: value}
}

// Delete stages the removal of key.
func (c *Cache) Delete(key []byte) {
	c.writes[string(key)] = entry{deleted: true}
}

// Len is the number of staged keys.
func (c *Cache) Len() int { return len(c.writes) }

// WriteTo applies every staged write to parent, a Cache this one was made
// over. The result does not depend on iteration order: each key is set once.
func (c *Cache) WriteTo(parent *Cache) {
	for k, e := range c.writes {
		parent.writes[k] = e
	}
}

// Reset drops every staged write.
func (c *Cache) Reset() { clear(c.writes) }

// Batch returns the staged writes sorted by key, for store.Stage.
func (c *Cache) Batch() []store.Write {
	ks := make([]string, 0, len(c.writes))
	for k := range c.writes {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	out := make([]store.Write, len(ks))
	for i, k := range ks {
		e := c.writes[k]
		out[i] = store.Write{Key: []byte(k), Value: e.value, Delete: e.deleted}
	}
	return out
}

package store

// valueCache holds recent values of the working tree, by key, so that the
// block executor's repeated point reads (a signer's account and device record,
// read at block start and again by its txs, block after block) skip the
// O(log n) walk through iavl's node cache. It plays the part of iavl's fast
// storage, which this store leaves off (see open), and lives in memory only.
//
// Entries are exact: Stage writes every staged value (or its absence) through
// the cache and Rollback (or a failed Stage) empties it, so a hit always equals what the working
// tree would return. The cache holds between limit and 2*limit keys: when the
// current generation reaches limit entries it becomes the old one and the
// older one is dropped; a hit in the old generation moves the key to the
// current one. Eviction therefore never walks a map, and what is evicted
// affects speed only, never a result.
//
// Used by the block executor only (Working, Stage, Rollback), like the
// working tree itself; not safe for concurrent use.
type valueCache struct {
	limit    int
	cur, old map[string]cached
}

// cached is one entry: the value, or absent when the key has none.
type cached struct {
	value  []byte
	absent bool
}

func newValueCache(limit int) *valueCache {
	return &valueCache{limit: limit, cur: make(map[string]cached)}
}

func (c *valueCache) get(key []byte) (cached, bool) {
	if c.limit <= 0 {
		return cached{}, false
	}
	if e, ok := c.cur[string(key)]; ok {
		return e, true
	}
	if e, ok := c.old[string(key)]; ok {
		delete(c.old, string(key))
		c.put(key, e)
		return e, true
	}
	return cached{}, false
}

// put records key's value; the caller must not modify e.value afterwards.
func (c *valueCache) put(key []byte, e cached) {
	if c.limit <= 0 {
		return
	}
	if _, ok := c.cur[string(key)]; !ok && len(c.cur) >= c.limit {
		c.old, c.cur = c.cur, make(map[string]cached, c.limit)
	}
	c.cur[string(key)] = e
}

// reset empties the cache.
func (c *valueCache) reset() {
	if c.limit <= 0 {
		return
	}
	c.cur, c.old = make(map[string]cached), nil
}

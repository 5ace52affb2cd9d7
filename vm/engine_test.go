package vm

import (
	"context"
	"fmt"
	"sync"
	"testing"
)

// TestCacheEviction alternates more modules than the cache holds, from
// many goroutines, so that entries are evicted while calls use them.
func TestCacheEviction(t *testing.T) {
	lim := DefaultLimits()
	e, err := NewEngine(context.Background(), Config{Limits: lim, CacheSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close(context.Background())
	var mods []*Module
	for i := range 5 {
		w := newWmod()
		ret := w.hostImp(ABIModule, "set_return")
		w.m.DataSection = append(w.m.DataSection, dataAt(0, fmt.Sprint(i)))
		w.entry(EntryCall, nil, i32c(0), i32c(1), call(ret))
		mods = append(mods, mustValidate(t, w.bytes(), lim))
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for n := range 40 {
				i := (g + n) % len(mods)
				res, err := e.Call(context.Background(), mods[i], inv(EntryCall, nil, 100_000), newHost())
				if err != nil || string(res.Return) != fmt.Sprint(i) {
					t.Errorf("module %d: return %q err %v", i, res.Return, err)
					return
				}
			}
		})
	}
	wg.Wait()
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.cache) > 2 || len(e.lru) > 2 {
		t.Errorf("cache holds %d entries (%d in the LRU list), want at most 2", len(e.cache), len(e.lru))
	}
}

// TestConcurrentCalls runs the counter from several goroutines, each with
// its own host: calls share only the compiled code.
func TestConcurrentCalls(t *testing.T) {
	mod := mustValidate(t, mustContract(t, "counter"), DefaultLimits())
	e := engines(t, DefaultLimits())["compiler"]
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			h := newHost()
			for n := 1; n <= 10; n++ {
				res, err := e.Call(context.Background(), mod, inv(EntryCall, encode("increment", 1), 1_000_000), h)
				if err != nil || decodeUint(t, res.Return) != uint64(n) {
					t.Errorf("increment %d: return %x err %v", n, res.Return, err)
					return
				}
			}
		})
	}
	wg.Wait()
}

package store

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestWorkingReadsThroughValueCache drives Working().Get, Stage, Commit and
// Rollback at random and checks every read against a model of the working
// tree and against the tree itself (a second store without the cache). A
// tiny cache makes entries move between and fall out of its generations
// all the time.
func TestWorkingReadsThroughValueCache(t *testing.T) {
	for _, b := range backends {
		for _, limit := range []int{1, 3, 64} {
			t.Run(fmt.Sprintf("%s/limit=%d", b.name, limit), func(t *testing.T) {
				cfg := b.cfg(t)
				cfg.ValueCache = limit
				s := mustOpen(t, cfg)
				plain := mustOpen(t, Config{ValueCache: -1})
				committed := map[string]string{}
				working := map[string]string{}
				rng := rand.New(rand.NewPCG(1, uint64(limit)))
				key := func() string { return fmt.Sprintf("k%02d", rng.IntN(20)) }
				check := func(step int, k string) {
					t.Helper()
					want, ok := working[k]
					if !ok {
						want = "<nil>"
					}
					if got := get(t, s.Working(), k); got != want {
						t.Fatalf("step %d: Working().Get(%q) = %q, want %q", step, k, got, want)
					}
					if got := get(t, plain.Working(), k); got != want {
						t.Fatalf("step %d: uncached Get(%q) = %q, want %q (model wrong)", step, k, got, want)
					}
				}
				for step := range 3000 {
					switch op := rng.IntN(10); {
					case op < 5:
						check(step, key())
					case op < 8:
						// A batch of sorted, distinct writes.
						ks := map[string]bool{}
						for range 1 + rng.IntN(4) {
							ks[key()] = true
						}
						var writes []Write
						for _, k := range slices.Sorted(maps.Keys(ks)) {
							if rng.IntN(3) == 0 {
								writes = append(writes, del(k))
								delete(working, k)
							} else {
								v := fmt.Sprintf("v%d", step)
								writes = append(writes, set(k, v))
								working[k] = v
							}
						}
						mustStage(t, s, writes...)
						mustStage(t, plain, writes...)
					case op < 9:
						mustCommit(t, s)
						mustCommit(t, plain)
						committed = maps.Clone(working)
					default:
						s.Rollback()
						plain.Rollback()
						working = maps.Clone(committed)
					}
				}
				for k := range 20 {
					check(-1, fmt.Sprintf("k%02d", k))
				}
			})
		}
	}
}

// TestWorkingGetResultIsACopy: changing a value Get returned must not change
// what the next Get returns (the cache hands out copies).
func TestWorkingGetResultIsACopy(t *testing.T) {
	s := mustOpen(t, Config{})
	mustStage(t, s, set("a", "1"))
	mustCommit(t, s)
	for range 2 { // a miss, then a hit
		v, err := s.Working().Get([]byte("a"))
		if err != nil {
			t.Fatal(err)
		}
		v[0] = 'x'
	}
	if got := get(t, s.Working(), "a"); got != "1" {
		t.Fatalf("Get after modifying an earlier result = %q", got)
	}
}

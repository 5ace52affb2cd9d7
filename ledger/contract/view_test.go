package contract

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"sort"
	"testing"

	"github.com/hypha-iot/hypha/ledger/exec"
)

// mapBase is committed state as a map, ranged in key order.
type mapBase map[string][]byte

func (m mapBase) Get(k []byte) ([]byte, error) { return m[string(k)], nil }

func (m mapBase) Iterate(start, end []byte, _ bool, fn func(k, v []byte) bool) error {
	keys := make([]string, 0, len(m))
	for k := range m {
		if k >= string(start) && (end == nil || k < string(end)) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !fn([]byte(k), m[k]) {
			break
		}
	}
	return nil
}

// TestViewMatchesModel checks View.first against a naive model through
// random writes, deletes, reverted tx caches and commits; the dirty set
// outgrows its small run, so merges happen too.
func TestViewMatchesModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	key := func() []byte { return fmt.Appendf(nil, "k%04d", rng.IntN(3000)) }
	base := mapBase{}
	for range 500 {
		base[string(key())] = []byte("b")
	}
	block := exec.NewCache(base)
	v := NewView(base)
	merged := false
	for step := range 2500 {
		txc := exec.NewCache(block)
		for range rng.IntN(4) + 1 {
			k := key()
			if rng.IntN(3) == 0 {
				txc.Delete(k)
			} else {
				txc.Set(k, fmt.Appendf(nil, "v%d", step))
				v.written(k)
			}
		}
		if rng.IntN(4) > 0 { // else the tx fails: its writes are dropped, its keys stay candidates
			txc.WriteTo(block)
		}
		start := key()
		end := append(bytes.Clone(start), 0xff) // about 1 key in 4 from start: short ranges, many misses
		if rng.IntN(2) == 0 {
			end = key()
		}
		gotK, gotV := v.first(block, start, end)
		wantK, wantV := model(base, v, block, start, end)
		if !bytes.Equal(gotK, wantK) || !bytes.Equal(gotV, wantV) {
			t.Fatalf("step %d: first in [%s, %s) = %s=%s, want %s=%s", step, start, end, gotK, gotV, wantK, wantV)
		}
		if len(v.large) > 0 {
			merged = true
		}
		if rng.IntN(1500) == 0 { // commit: the block's writes become base; a fresh view
			for _, w := range block.Batch() {
				if w.Delete {
					delete(base, string(w.Key))
				} else {
					base[string(w.Key)] = w.Value
				}
			}
			block, v = exec.NewCache(base), NewView(base)
		}
	}
	if !merged {
		t.Error("the dirty set never outgrew its small run")
	}
}

// model scans every key that exists in base or was ever written.
func model(base mapBase, v *View, kv *exec.Cache, start, end []byte) ([]byte, []byte) {
	all := map[string]bool{}
	for k := range base {
		all[k] = true
	}
	for _, k := range append(append([]string(nil), v.large...), v.small...) {
		all[k] = true
	}
	keys := make([]string, 0, len(all))
	for k := range all {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if k >= string(start) && k < string(end) {
			if val := kv.MustGet([]byte(k)); val != nil {
				return []byte(k), val
			}
		}
	}
	return nil, nil
}

func TestViewMergesRuns(t *testing.T) {
	v := NewView(nil)
	for i := range 3 * smallRun {
		v.written(fmt.Appendf(nil, "%06d", (i*7919)%(3*smallRun)))
	}
	v.written([]byte("000001")) // again
	if n := len(v.large) + len(v.small); n != 3*smallRun {
		t.Fatalf("%d keys, want %d", n, 3*smallRun)
	}
	if !sort.StringsAreSorted(v.large) || !sort.StringsAreSorted(v.small) || len(v.large) == 0 {
		t.Fatalf("runs not sorted or never merged: %d large, %d small", len(v.large), len(v.small))
	}
}

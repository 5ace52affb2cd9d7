package store

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// backends lists the two configurations every behavioural test runs on.
var backends = []struct {
	name string
	cfg  func(t *testing.T) Config
}{
	{"memory", func(*testing.T) Config { return Config{} }},
	{"disk", func(t *testing.T) Config { return Config{Dir: t.TempDir()} }},
}

func mustOpen(tb testing.TB, cfg Config) *Store {
	tb.Helper()
	s, err := Open(cfg)
	if err != nil {
		tb.Fatalf("Open(%+v): %v", cfg, err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	return s
}

func mustStage(tb testing.TB, s *Store, writes ...Write) []byte {
	tb.Helper()
	h, err := s.Stage(writes)
	if err != nil {
		tb.Fatalf("Stage: %v", err)
	}
	return h
}

func mustCommit(tb testing.TB, s *Store) ([]byte, int64) {
	tb.Helper()
	h, v, err := s.Commit()
	if err != nil {
		tb.Fatalf("Commit: %v", err)
	}
	return h, v
}

func mustAt(tb testing.TB, s *Store, version int64) Reader {
	tb.Helper()
	r, err := s.At(version)
	if err != nil {
		tb.Fatalf("At(%d): %v", version, err)
	}
	return r
}

// get returns the value of key as a string, "<nil>" when absent.
func get(tb testing.TB, r Reader, key string) string {
	tb.Helper()
	v, err := r.Get([]byte(key))
	if err != nil {
		tb.Fatalf("Get(%q): %v", key, err)
	}
	if v == nil {
		return "<nil>"
	}
	return string(v)
}

// dump returns all pairs of r as "k=v" strings in iteration order.
func dump(tb testing.TB, r Reader, start, end []byte, reverse bool) []string {
	tb.Helper()
	var out []string
	err := r.Iterate(start, end, reverse, func(k, v []byte) bool {
		out = append(out, string(k)+"="+string(v))
		return true
	})
	if err != nil {
		tb.Fatalf("Iterate: %v", err)
	}
	return out
}

func set(k, v string) Write { return Write{Key: []byte(k), Value: []byte(v)} }
func del(k string) Write    { return Write{Key: []byte(k), Delete: true} }

var emptyHash = sha256.New().Sum(nil)

func TestEmptyStore(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			s := mustOpen(t, b.cfg(t))
			if v := s.Version(); v != 0 {
				t.Errorf("Version = %d, want 0", v)
			}
			if h := s.Hash(); !bytes.Equal(h, emptyHash) {
				t.Errorf("Hash = %x, want empty hash %x", h, emptyHash)
			}
			r := mustAt(t, s, 0)
			if got := get(t, r, "a"); got != "<nil>" {
				t.Errorf("Get on empty = %q", got)
			}
			if got := dump(t, r, nil, nil, false); len(got) != 0 {
				t.Errorf("Iterate on empty = %v", got)
			}
			if got := dump(t, s.Working(), nil, nil, true); len(got) != 0 {
				t.Errorf("Working Iterate on empty = %v", got)
			}
			if _, _, err := s.Prove([]byte("a"), 0); err == nil {
				t.Error("Prove on empty tree succeeded")
			}
			// Committing nothing is allowed and keeps the empty hash.
			h, v := mustCommit(t, s)
			if v != 1 || !bytes.Equal(h, emptyHash) {
				t.Errorf("Commit = %x, %d; want empty hash, 1", h, v)
			}
			if got := get(t, mustAt(t, s, 1), "a"); got != "<nil>" {
				t.Errorf("Get at 1 = %q", got)
			}
		})
	}
}

func TestStageCommitGet(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			s := mustOpen(t, b.cfg(t))
			staged := mustStage(t, s, set("a", "1"), set("b", "2"), set("c", "3"))
			if s.Version() != 0 || !bytes.Equal(s.Hash(), emptyHash) {
				t.Fatal("Stage changed the committed version or hash")
			}
			if got := get(t, s.Working(), "b"); got != "2" {
				t.Errorf("Working Get(b) = %q, want 2", got)
			}
			if got := get(t, mustAt(t, s, 0), "b"); got != "<nil>" {
				t.Errorf("At(0) sees staged write: %q", got)
			}
			// A second Stage before Commit (InitChain, then the block).
			staged2 := mustStage(t, s, set("b", "22"), del("c"), set("d", "4"))
			if bytes.Equal(staged, staged2) {
				t.Error("working hash did not change after second Stage")
			}
			h, v := mustCommit(t, s)
			if v != 1 || !bytes.Equal(h, staged2) || !bytes.Equal(s.Hash(), h) || s.Version() != 1 {
				t.Fatalf("Commit = %x, %d; staged %x; Hash %x, Version %d", h, v, staged2, s.Hash(), s.Version())
			}
			for _, r := range []struct {
				name string
				r    Reader
			}{{"At(0)", mustAt(t, s, 0)}, {"At(1)", mustAt(t, s, 1)}, {"Working", s.Working()}} {
				for key, want := range map[string]string{"a": "1", "b": "22", "c": "<nil>", "d": "4", "zz": "<nil>"} {
					if got := get(t, r.r, key); got != want {
						t.Errorf("%s Get(%q) = %q, want %q", r.name, key, got, want)
					}
				}
			}
			// An empty commit keeps the hash and advances the version.
			h2, v2 := mustCommit(t, s)
			if v2 != 2 || !bytes.Equal(h2, h) {
				t.Errorf("empty Commit = %x, %d; want %x, 2", h2, v2, h)
			}
		})
	}
}

func TestStageCopiesInput(t *testing.T) {
	s := mustOpen(t, Config{})
	k, v := []byte("key"), []byte("value")
	mustStage(t, s, Write{Key: k, Value: v})
	k[0], v[0] = 'X', 'X'
	mustCommit(t, s)
	if got := get(t, mustAt(t, s, 0), "key"); got != "value" {
		t.Errorf("Get(key) = %q after caller reused buffers", got)
	}
	got, _ := mustAt(t, s, 0).Get([]byte("key"))
	got[0] = 'Y'
	if got := get(t, mustAt(t, s, 0), "key"); got != "value" {
		t.Errorf("Get(key) = %q after caller modified a returned value", got)
	}
}

func TestStageRejects(t *testing.T) {
	tests := []struct {
		name   string
		writes []Write
		errHas string
	}{
		{"unsorted", []Write{set("b", "1"), set("a", "1")}, "sorted"},
		{"duplicate", []Write{set("a", "1"), set("b", "1"), set("b", "2")}, "duplicate"},
		{"duplicate set and delete", []Write{set("a", "1"), del("a")}, "duplicate"},
		{"unsorted deletes", []Write{del("c"), del("b")}, "sorted"},
		{"prefix after longer key", []Write{set("ab", "1"), set("a", "1")}, "sorted"},
		{"empty key", []Write{{Key: nil, Value: []byte("1")}}, "empty key"},
		{"empty value", []Write{{Key: []byte("a"), Value: []byte{}}}, "empty value"},
		{"nil value", []Write{set("a", "1"), {Key: []byte("b")}}, "empty value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := mustOpen(t, Config{})
			mustStage(t, s, set("0", "keep"))
			before := s.Working()
			wantHash := mustStage(t, s) // empty Stage returns the working hash
			_, err := s.Stage(tt.writes)
			if err == nil || !strings.Contains(err.Error(), tt.errHas) {
				t.Fatalf("Stage error = %v, want it to mention %q", err, tt.errHas)
			}
			if got := mustStage(t, s); !bytes.Equal(got, wantHash) {
				t.Error("rejected Stage changed the working tree")
			}
			if got := dump(t, before, nil, nil, false); !slices.Equal(got, []string{"0=keep"}) {
				t.Errorf("working tree = %v after rejected Stage", got)
			}
		})
	}
	t.Run("accepts delete with empty value", func(t *testing.T) {
		s := mustOpen(t, Config{})
		if _, err := s.Stage([]Write{del("a"), {Key: []byte("b"), Delete: true, Value: nil}}); err != nil {
			t.Fatalf("Stage: %v", err)
		}
	})
}

func TestRollback(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			s := mustOpen(t, b.cfg(t))
			t.Run("before first commit", func(t *testing.T) {
				mustStage(t, s, set("a", "1"))
				s.Rollback()
				if got := dump(t, s.Working(), nil, nil, false); len(got) != 0 {
					t.Errorf("Working after Rollback = %v", got)
				}
			})
			mustStage(t, s, set("a", "1"), set("b", "2"))
			h1, _ := mustCommit(t, s)
			t.Run("after commit", func(t *testing.T) {
				mustStage(t, s, set("a", "changed"), del("b"), set("c", "3"))
				s.Rollback()
				if got := dump(t, s.Working(), nil, nil, false); !slices.Equal(got, []string{"a=1", "b=2"}) {
					t.Errorf("Working after Rollback = %v", got)
				}
				if got := mustStage(t, s); !bytes.Equal(got, h1) {
					t.Errorf("working hash after Rollback = %x, want %x", got, h1)
				}
				h, v := mustCommit(t, s)
				if v != 2 || !bytes.Equal(h, h1) {
					t.Errorf("Commit after Rollback = %x, %d; want %x, 2", h, v, h1)
				}
			})
		})
	}
}

func TestVersionedReads(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			s := mustOpen(t, b.cfg(t))
			history := []struct {
				writes []Write
				want   []string
			}{
				{[]Write{set("a", "1"), set("b", "1")}, []string{"a=1", "b=1"}},
				{[]Write{set("a", "2"), set("c", "2")}, []string{"a=2", "b=1", "c=2"}},
				{[]Write{del("b")}, []string{"a=2", "c=2"}},
				{nil, []string{"a=2", "c=2"}},
				{[]Write{del("a"), del("c"), set("d", "5")}, []string{"d=5"}},
			}
			var held []Reader
			for i, h := range history {
				mustStage(t, s, h.writes...)
				if _, v := mustCommit(t, s); v != int64(i+1) {
					t.Fatalf("version = %d, want %d", v, i+1)
				}
				held = append(held, mustAt(t, s, 0))
			}
			for i, h := range history {
				v := int64(i + 1)
				t.Run(fmt.Sprint("version ", v), func(t *testing.T) {
					if got := dump(t, mustAt(t, s, v), nil, nil, false); !slices.Equal(got, h.want) {
						t.Errorf("At(%d) = %v, want %v", v, got, h.want)
					}
					if got := dump(t, held[i], nil, nil, false); !slices.Equal(got, h.want) {
						t.Errorf("reader taken at %d, read later = %v, want %v", v, got, h.want)
					}
				})
			}
			for _, v := range []int64{-1, 6, 100} {
				if _, err := s.At(v); !errors.Is(err, ErrVersionNotFound) {
					t.Errorf("At(%d) error = %v, want ErrVersionNotFound", v, err)
				}
			}
		})
	}
}

func TestIterate(t *testing.T) {
	s := mustOpen(t, Config{})
	var writes []Write
	for _, k := range []string{"a", "b", "b/1", "b/2", "b/3", "c", "d"} {
		writes = append(writes, set(k, strings.ToUpper(k)))
	}
	mustStage(t, s, writes...)
	mustCommit(t, s)
	all := []string{"a=A", "b=B", "b/1=B/1", "b/2=B/2", "b/3=B/3", "c=C", "d=D"}
	rev := slices.Clone(all)
	slices.Reverse(rev)

	tests := []struct {
		name       string
		start, end string // "" = nil
		reverse    bool
		limit      int // stop after this many (0 = all)
		want       []string
	}{
		{"all", "", "", false, 0, all},
		{"all reverse", "", "", true, 0, rev},
		{"prefix range", "b/", "b0", false, 0, []string{"b/1=B/1", "b/2=B/2", "b/3=B/3"}},
		{"prefix range reverse", "b/", "b0", true, 0, []string{"b/3=B/3", "b/2=B/2", "b/1=B/1"}},
		{"start inclusive end exclusive", "b", "c", false, 0, []string{"b=B", "b/1=B/1", "b/2=B/2", "b/3=B/3"}},
		{"start inclusive end exclusive reverse", "b", "c", true, 0, []string{"b/3=B/3", "b/2=B/2", "b/1=B/1", "b=B"}},
		{"open end", "c", "", false, 0, []string{"c=C", "d=D"}},
		{"open start reverse", "", "b/", true, 0, []string{"b=B", "a=A"}},
		{"start between keys", "bb", "", false, 0, []string{"c=C", "d=D"}},
		{"empty range", "x", "z", false, 0, nil},
		{"start equals end", "c", "c", false, 0, nil},
		{"early stop", "", "", false, 2, []string{"a=A", "b=B"}},
		{"early stop reverse", "", "", true, 1, []string{"d=D"}},
	}
	bs := func(s string) []byte {
		if s == "" {
			return nil
		}
		return []byte(s)
	}
	readers := []struct {
		name string
		r    Reader
	}{{"At", mustAt(t, s, 0)}, {"Working", s.Working()}}
	for _, rd := range readers {
		for _, tt := range tests {
			t.Run(rd.name+"/"+tt.name, func(t *testing.T) {
				var got []string
				err := rd.r.Iterate(bs(tt.start), bs(tt.end), tt.reverse, func(k, v []byte) bool {
					got = append(got, string(k)+"="+string(v))
					return tt.limit == 0 || len(got) < tt.limit
				})
				if err != nil {
					t.Fatalf("Iterate: %v", err)
				}
				if !slices.Equal(got, tt.want) {
					t.Errorf("got %v, want %v", got, tt.want)
				}
			})
		}
	}
	t.Run("Working sees staged writes", func(t *testing.T) {
		mustStage(t, s, set("b/15", "new"), del("b/2"))
		got := dump(t, s.Working(), []byte("b/"), []byte("b0"), false)
		if want := []string{"b/1=B/1", "b/15=new", "b/3=B/3"}; !slices.Equal(got, want) {
			t.Errorf("got %v, want %v", got, want)
		}
		s.Rollback()
	})
}

func TestPruning(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			cfg := b.cfg(t)
			cfg.KeepRecent = 3
			cfg.CacheSize = 1 // make readers of pruned versions go to the db
			s := mustOpen(t, cfg)
			var held Reader
			for v := int64(1); v <= 10; v++ {
				// Rewrite every key so each version's nodes are orphaned by the next.
				mustStage(t, s, set("a", fmt.Sprint(v)), set("b", fmt.Sprint(v)), set("c", fmt.Sprint(v)), set("d", fmt.Sprint(v)))
				mustCommit(t, s)
				if v == 1 {
					held = mustAt(t, s, 1)
				}
			}
			checkPruned := func(t *testing.T, s *Store) {
				t.Helper()
				for v := int64(1); v <= 10; v++ {
					r, err := s.At(v)
					_, _, perr := s.Prove([]byte("a"), v)
					if v <= 7 {
						if !errors.Is(err, ErrVersionPruned) || !errors.Is(perr, ErrVersionPruned) {
							t.Errorf("version %d: At error %v, Prove error %v; want ErrVersionPruned", v, err, perr)
						}
						continue
					}
					if err != nil || perr != nil {
						t.Errorf("version %d: At error %v, Prove error %v", v, err, perr)
						continue
					}
					if got := get(t, r, "a"); got != fmt.Sprint(v) {
						t.Errorf("At(%d) Get(a) = %q", v, got)
					}
				}
				if _, err := s.At(11); !errors.Is(err, ErrVersionNotFound) {
					t.Errorf("At(11) error = %v, want ErrVersionNotFound", err)
				}
			}
			checkPruned(t, s)

			// A reader held across pruning returns either the right value
			// (from cache) or an error wrapping ErrVersionPruned.
			got, err := held.Get([]byte("d"))
			if err != nil && !errors.Is(err, ErrVersionPruned) {
				t.Errorf("held reader Get error = %v, want ErrVersionPruned", err)
			}
			if err == nil && string(got) != "1" {
				t.Errorf("held reader Get = %q, want 1", got)
			}
			n := 0
			err = held.Iterate(nil, nil, false, func(k, v []byte) bool {
				n++
				if string(v) != "1" {
					t.Errorf("held reader Iterate %s = %q, want 1", k, v)
				}
				return true
			})
			if err != nil && !errors.Is(err, ErrVersionPruned) {
				t.Errorf("held reader Iterate error = %v, want ErrVersionPruned", err)
			}
			if err == nil && n != 4 {
				t.Errorf("held reader Iterate saw %d keys without error, want 4", n)
			}

			if cfg.Dir != "" {
				t.Run("after reopen", func(t *testing.T) {
					if err := s.Close(); err != nil {
						t.Fatal(err)
					}
					checkPruned(t, mustOpen(t, cfg))
				})
			}
		})
	}
}

// randomHistory returns n versions of deterministic pseudo-random writes
// (sets and deletes over a small key space, so keys are rewritten and deleted).
func randomHistory(seed uint64, n, perVersion int) [][]Write {
	rng := rand.New(rand.NewPCG(seed, seed))
	out := make([][]Write, n)
	for i := range out {
		byKey := map[string]Write{}
		for range perVersion {
			k := fmt.Sprintf("k/%04d", rng.IntN(4*perVersion))
			if rng.IntN(4) == 0 {
				byKey[k] = del(k)
			} else {
				byKey[k] = set(k, fmt.Sprintf("v%d.%d", i, rng.Uint32()))
			}
		}
		ws := make([]Write, 0, len(byKey))
		for _, w := range byKey {
			ws = append(ws, w)
		}
		slices.SortFunc(ws, func(a, b Write) int { return bytes.Compare(a.Key, b.Key) })
		out[i] = ws
	}
	return out
}

func TestRestart(t *testing.T) {
	cfg := Config{Dir: t.TempDir()}
	history := randomHistory(1, 8, 50)

	s, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var hashes [][]byte
	var contents [][]string
	for _, ws := range history {
		mustStage(t, s, ws...)
		h, _ := mustCommit(t, s)
		hashes = append(hashes, h)
		contents = append(contents, dump(t, mustAt(t, s, 0), nil, nil, false))
	}
	// Staged but uncommitted writes are lost on restart.
	mustStage(t, s, set("uncommitted", "x"))
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	s = mustOpen(t, cfg)
	if v := s.Version(); v != int64(len(history)) {
		t.Fatalf("Version after reopen = %d, want %d", v, len(history))
	}
	if h := s.Hash(); !bytes.Equal(h, hashes[len(hashes)-1]) {
		t.Fatalf("Hash after reopen = %x, want %x", h, hashes[len(hashes)-1])
	}
	if got := mustStage(t, s); !bytes.Equal(got, hashes[len(hashes)-1]) {
		t.Errorf("working hash after reopen = %x", got)
	}
	if got := get(t, s.Working(), "uncommitted"); got != "<nil>" {
		t.Errorf("uncommitted write survived restart: %q", got)
	}
	for i := range history {
		v := int64(i + 1)
		if got := dump(t, mustAt(t, s, v), nil, nil, false); !slices.Equal(got, contents[i]) {
			t.Errorf("At(%d) after reopen differs: %d pairs, want %d", v, len(got), len(contents[i]))
		}
	}

	// Continuing after the restart gives the same hash as a store that never stopped.
	twin := mustOpen(t, Config{})
	for _, ws := range history {
		mustStage(t, twin, ws...)
		mustCommit(t, twin)
	}
	more := randomHistory(2, 1, 50)[0]
	mustStage(t, s, more...)
	mustStage(t, twin, more...)
	h1, v1 := mustCommit(t, s)
	h2, v2 := mustCommit(t, twin)
	if v1 != v2 || !bytes.Equal(h1, h2) {
		t.Errorf("after restart: %x@%d, twin %x@%d", h1, v1, h2, v2)
	}
}

func TestDiskMatchesMemory(t *testing.T) {
	mem := mustOpen(t, Config{})
	disk := mustOpen(t, Config{Dir: t.TempDir(), KeepRecent: 2})
	for i, ws := range randomHistory(3, 20, 200) {
		wm := mustStage(t, mem, ws...)
		wd := mustStage(t, disk, ws...)
		if !bytes.Equal(wm, wd) {
			t.Fatalf("version %d: working hash memory %x, disk %x", i+1, wm, wd)
		}
		hm, vm := mustCommit(t, mem)
		hd, vd := mustCommit(t, disk)
		if vm != vd || !bytes.Equal(hm, hd) || !bytes.Equal(hm, wm) {
			t.Fatalf("version %d: memory %x@%d, disk %x@%d, staged %x", i+1, hm, vm, hd, vd, wm)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	for _, cfg := range []Config{{KeepRecent: -1}, {CacheSize: -1}} {
		if s, err := Open(cfg); err == nil {
			s.Close()
			t.Errorf("Open(%+v) succeeded", cfg)
		}
	}
}

func TestCloseIdempotent(t *testing.T) {
	s, err := Open(Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := s.At(0); err == nil {
		t.Error("At after Close succeeded")
	}
}

func be64(v int64) []byte { return binary.BigEndian.AppendUint64(nil, uint64(v)) }

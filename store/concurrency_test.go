package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
)

// TestConcurrentReaders runs query goroutines (At, Prove, Version, Hash)
// against a writer that stages, reads its working tree, commits and prunes.
// Run with -race.
func TestConcurrentReaders(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			cfg := b.cfg(t)
			cfg.KeepRecent = 5
			cfg.CacheSize = 1000
			s := mustOpen(t, cfg)

			const versions = 150
			var (
				mu     sync.Mutex
				hashes = map[int64][]byte{}
				done   atomic.Bool
				reads  atomic.Int64
			)
			hashOf := func(v int64) []byte {
				mu.Lock()
				defer mu.Unlock()
				return hashes[v]
			}

			var wg sync.WaitGroup
			for i := range 4 {
				wg.Go(func() {
					var old Reader // held across commits and pruning
					var oldVersion int64
					for !done.Load() {
						v := s.Version()
						if v == 0 {
							continue
						}
						if err := checkVersion(s, v, hashOf(v)); err != nil {
							if !errors.Is(err, ErrVersionPruned) {
								t.Errorf("reader %d: version %d: %v", i, v, err)
								return
							}
						}
						reads.Add(1)
						if old == nil {
							if r, err := s.At(v); err == nil {
								old, oldVersion = r, v
							}
							continue
						}
						got, err := old.Get([]byte("counter"))
						switch {
						case errors.Is(err, ErrVersionPruned):
							old = nil
						case err != nil:
							t.Errorf("reader %d: held version %d: %v", i, oldVersion, err)
							return
						case !bytes.Equal(got, be64(oldVersion)):
							t.Errorf("reader %d: held version %d: counter = %x", i, oldVersion, got)
							return
						}
						_ = s.Hash()
					}
				})
			}

			defer func() { // also on t.Fatal, before Cleanup closes the store
				done.Store(true)
				wg.Wait()
			}()
			for v := int64(1); v <= versions; v++ {
				// Stage in two calls, read the working tree in between.
				mustStage(t, s, Write{Key: []byte("counter"), Value: be64(v)})
				if got, err := s.Working().Get([]byte("counter")); err != nil || !bytes.Equal(got, be64(v)) {
					t.Fatalf("working counter = %x, %v", got, err)
				}
				var ws []Write
				for j := range 20 {
					ws = append(ws, Write{Key: fmt.Appendf(nil, "k/%06d/%02d", v, j), Value: be64(v)})
				}
				if v > 1 {
					ws = append(ws, Write{Key: fmt.Appendf(nil, "k/%06d/%02d", v, 99), Delete: true})
				}
				mustStage(t, s, ws...)
				if v%7 == 0 { // exercise Rollback under concurrent readers too
					s.Rollback()
					mustStage(t, s, Write{Key: []byte("counter"), Value: be64(v)})
					mustStage(t, s, ws...)
				}
				h, cv := mustCommit(t, s)
				if cv != v {
					t.Fatalf("committed version %d, want %d", cv, v)
				}
				mu.Lock()
				hashes[v] = h
				mu.Unlock()
			}
			done.Store(true)
			wg.Wait()
			if reads.Load() == 0 {
				t.Error("readers never read")
			}
			t.Logf("%d reads during %d commits", reads.Load(), versions)
		})
	}
}

// checkVersion verifies that version v as seen through At and Prove is
// exactly what the writer in TestConcurrentReaders committed.
func checkVersion(s *Store, v int64, hash []byte) error {
	r, err := s.At(v)
	if err != nil {
		return err
	}
	got, err := r.Get([]byte("counter"))
	if err != nil {
		return err
	}
	if !bytes.Equal(got, be64(v)) {
		return fmt.Errorf("counter = %x, want %x", got, be64(v))
	}
	n := 0
	var bad error
	err = r.Iterate([]byte("k/"), []byte("k0"), true, func(k, val []byte) bool {
		n++
		if w := binary.BigEndian.Uint64(val); int64(w) > v {
			bad = fmt.Errorf("key %s has value from version %d", k, w)
			return false
		}
		return n < 40 // the two newest versions' keys
	})
	if err != nil {
		return err
	}
	if bad != nil {
		return bad
	}
	if want := min(40, 20*int(v)); n != want {
		return fmt.Errorf("iterated %d keys, want %d", n, want)
	}
	value, proof, err := s.Prove([]byte("counter"), v)
	if err != nil {
		return err
	}
	if hash != nil {
		if err := VerifyProof(hash, []byte("counter"), value, proof); err != nil {
			return err
		}
	}
	return nil
}

package store

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"slices"
	"sync"
	"testing"
)

// benchKey returns the i-th benchmark key: 32 pseudo-random bytes behind a
// 2-byte domain prefix, like a hashed id under a ledger prefix.
func benchKey(i int) []byte {
	h := sha256.Sum256(binary.BigEndian.AppendUint64(nil, uint64(i)))
	return append([]byte("a/"), h[:]...)
}

// benchWrites returns n sorted writes of keys [first, first+n) with 100-byte values.
func benchWrites(first, n int) []Write {
	ws := make([]Write, n)
	for i := range ws {
		v := bytes.Repeat([]byte{byte(first + i)}, 100)
		ws[i] = Write{Key: benchKey(first + i), Value: v}
	}
	slices.SortFunc(ws, func(a, b Write) int { return bytes.Compare(a.Key, b.Key) })
	return ws
}

func benchConfig(b *testing.B, backend string) Config {
	if backend == "disk" {
		return Config{Dir: b.TempDir()}
	}
	return Config{}
}

// BenchmarkStageCommit measures one block: Stage n new keys, then Commit.
func BenchmarkStageCommit(b *testing.B) {
	for _, backend := range []string{"memory", "disk"} {
		for _, n := range []int{1000, 10000} {
			b.Run(fmt.Sprintf("%s/writes=%d", backend, n), func(b *testing.B) {
				s := mustOpen(b, benchConfig(b, backend))
				batches := make([][]Write, b.N)
				for i := range batches {
					batches[i] = benchWrites(i*n, n)
				}
				b.ReportAllocs()
				b.ResetTimer()
				for i := range b.N {
					if _, err := s.Stage(batches[i]); err != nil {
						b.Fatal(err)
					}
					if _, _, err := s.Commit(); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "writes/s")
			})
		}
	}
}

// benchTreeKeys is the size of the tree BenchmarkProve and BenchmarkGet read.
const benchTreeKeys = 100_000

// treeKeys returns the keys of the benchmark tree, in insertion order.
var treeKeys = sync.OnceValue(func() [][]byte {
	keys := make([][]byte, benchTreeKeys)
	for i := range keys {
		keys[i] = benchKey(i)
	}
	return keys
})

// openBenchTree returns a store holding benchTreeKeys keys, committed in
// batches of 10,000.
func openBenchTree(b *testing.B, backend string) *Store {
	b.Helper()
	s := mustOpen(b, benchConfig(b, backend))
	for first := 0; first < benchTreeKeys; first += 10_000 {
		mustStage(b, s, benchWrites(first, 10_000)...)
		mustCommit(b, s)
	}
	return s
}

func BenchmarkProve(b *testing.B) {
	s := openBenchTree(b, "memory")
	root := s.Hash()
	for _, kind := range []string{"existence", "non-existence"} {
		b.Run(kind, func(b *testing.B) {
			keys := treeKeys()
			if kind == "non-existence" {
				absent := make([][]byte, len(keys))
				for i, k := range keys {
					absent[i] = append(bytes.Clone(k), 0) // sorts right after a present key
				}
				keys = absent
			}
			key := func(i int) []byte { return keys[i%len(keys)] }
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if _, _, err := s.Prove(key(i), 0); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			// Proof size on the wire and a verification check, outside the timing.
			var total int
			const samples = 100
			for i := range samples {
				v, p, err := s.Prove(key(i), 0)
				if err != nil {
					b.Fatal(err)
				}
				bz, err := p.Marshal()
				if err != nil {
					b.Fatal(err)
				}
				if err := VerifyProof(root, key(i), v, p); err != nil {
					b.Fatal(err)
				}
				total += len(bz)
			}
			b.ReportMetric(float64(total)/samples, "proof-bytes")
		})
	}
	b.Run("verify", func(b *testing.B) {
		k := benchKey(42)
		v, p, err := s.Prove(k, 0)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if err := VerifyProof(root, k, v, p); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkGet(b *testing.B) {
	for _, backend := range []string{"memory", "disk"} {
		b.Run(backend, func(b *testing.B) {
			s := openBenchTree(b, backend)
			readers := []struct {
				name string
				r    Reader
			}{{"at", mustAt(b, s, 0)}, {"working", s.Working()}}
			for _, rd := range readers {
				b.Run(rd.name, func(b *testing.B) {
					b.ReportAllocs()
					keys := treeKeys()
					for i := 0; b.Loop(); i++ {
						if v, err := rd.r.Get(keys[i%len(keys)]); err != nil || v == nil {
							b.Fatal(v, err)
						}
					}
				})
			}
		})
	}
}

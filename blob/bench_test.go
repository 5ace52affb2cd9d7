package blob

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"testing"
)

var benchSizes = []int64{1 << 20, 64 << 20}

func sizeName(n int64) string { return fmt.Sprintf("%dMiB", n>>20) }

// BenchmarkSHA256 is the baseline for BenchmarkImport: hashing the same
// number of bytes, nothing else.
func BenchmarkSHA256(b *testing.B) {
	for _, size := range benchSizes {
		b.Run(sizeName(size), func(b *testing.B) {
			buf := uniqueBytes(1 << 20)
			b.SetBytes(size)
			for b.Loop() {
				h := sha256.New()
				for n := int64(0); n < size; n += int64(len(buf)) {
					h.Write(buf[:min(int64(len(buf)), size-n)])
				}
				h.Sum(nil)
			}
		})
	}
}

// BenchmarkImport measures Add into a store: chunking, hashing, encoding
// and datastore writes. Every iteration imports distinct bytes.
func BenchmarkImport(b *testing.B) {
	for _, size := range benchSizes {
		b.Run(sizeName(size), func(b *testing.B) {
			s := mustStore(b)
			gen := newPatterns()
			b.SetBytes(size)
			for b.Loop() {
				if _, _, err := s.Add(context.Background(), gen.reader(size)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkComputeCID is import without a datastore.
func BenchmarkComputeCID(b *testing.B) {
	for _, size := range benchSizes {
		b.Run(sizeName(size), func(b *testing.B) {
			gen := newPatterns()
			b.SetBytes(size)
			for b.Loop() {
				if _, _, err := ComputeCID(gen.reader(size)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkTCPCopy is the baseline for BenchmarkTransfer: io.Copy over a
// loopback TCP socket.
func BenchmarkTCPCopy(b *testing.B) {
	const size = 64 << 20
	gen := newPatterns()
	b.SetBytes(size)
	for b.Loop() {
		if _, err := measureTCPCopy(context.Background(), gen.reader(size), size); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTransfer measures a gateway streaming a 64 MiB file that only
// its peer holds: Open + io.Copy, blocks fetched on demand over loopback.
func BenchmarkTransfer(b *testing.B) {
	const size = 64 << 20
	src, dst := mustStore(b), mustStore(b)
	mustConnect(b, src, dst)
	gen := newPatterns()
	b.SetBytes(size)
	for b.Loop() {
		b.StopTimer()
		c, _, err := src.Add(context.Background(), gen.reader(size))
		if err != nil {
			b.Fatal(err)
		}
		settle(b, src) // measure the transfer, not pebble compacting the import
		b.StartTimer()
		f, err := dst.Open(context.Background(), c)
		if err != nil {
			b.Fatal(err)
		}
		if n, err := io.Copy(io.Discard, f); err != nil || n != size {
			b.Fatalf("copied %d bytes: %v", n, err)
		}
		f.Close()
	}
}

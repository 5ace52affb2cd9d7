package blob

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// testSeed seeds the deterministic content generator. The reference CIDs in
// cid_test.go were computed by kubo over files written by the same
// generator; changing the seed or the generator invalidates them.
var testSeed = func() (s [32]byte) {
	copy(s[:], "hypha blob test vectors v1")
	return s
}()

// content returns a stream of n deterministic bytes (ChaCha8, testSeed).
// Files of different sizes are prefixes of the same stream.
func content(n int64) io.Reader {
	return io.LimitReader(mrand.NewChaCha8(testSeed), n)
}

// contentBytes returns content(n) in memory (for small n).
func contentBytes(tb testing.TB, n int64) []byte {
	tb.Helper()
	b, err := io.ReadAll(content(n))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// uniqueBytes returns n random bytes, for files no other test shares.
func uniqueBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

var testPSK = bytes.Repeat([]byte{0x42}, 32)

const testProtocol = "/hypha/blob-test"

type storeOpt func(*Config)

func withPSK(psk []byte) storeOpt              { return func(c *Config) { c.PSK = psk } }
func withFindTimeout(d time.Duration) storeOpt { return func(c *Config) { c.FindTimeout = d } }
func withDir(dir string) storeOpt              { return func(c *Config) { c.Dir = dir } }

// testLogger logs warnings and errors to the test output.
func testLogger(tb testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tb.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// mustStore opens a Store in a fresh temporary directory with a fresh
// identity, on 127.0.0.1, closed at cleanup.
func mustStore(tb testing.TB, opts ...storeOpt) *Store {
	tb.Helper()
	key, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	cfg := Config{
		Dir:          tb.TempDir(),
		Identity:     key,
		PSK:          testPSK,
		Protocol:     testProtocol,
		FindTimeout:  3 * time.Second,
		Logger:       testLogger(tb),
		MinFreeBytes: 1 << 20,
	}
	for _, o := range opts {
		o(&cfg)
	}
	s, err := Open(context.Background(), cfg)
	if err != nil {
		tb.Fatalf("open store: %v", err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("close store: %v", err)
		}
	})
	return s
}

// mustConnect makes the stores members of one network (SetPeers on each)
// and waits until every pair is connected.
func mustConnect(tb testing.TB, stores ...*Store) {
	tb.Helper()
	var infos []peer.AddrInfo
	for _, s := range stores {
		infos = append(infos, s.AddrInfo())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, s := range stores {
		s.SetPeers(ctx, infos)
	}
	waitFor(tb, 10*time.Second, "all members connected", func() bool {
		for _, a := range stores {
			for _, b := range stores {
				if a != b && a.host.Network().Connectedness(b.ID()) != network.Connected {
					return false
				}
			}
		}
		return true
	})
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(tb testing.TB, d time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func mustAdd(tb testing.TB, s *Store, data []byte) cid.Cid {
	tb.Helper()
	c, n, err := s.Add(context.Background(), bytes.NewReader(data))
	if err != nil {
		tb.Fatalf("add: %v", err)
	}
	if n != int64(len(data)) {
		tb.Fatalf("add: size %d, want %d", n, len(data))
	}
	return c
}

// mustReadAll opens c on s and returns its bytes.
func mustReadAll(tb testing.TB, s *Store, c cid.Cid) []byte {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	f, err := s.Open(ctx, c)
	if err != nil {
		tb.Fatalf("open %s: %v", c, err)
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		tb.Fatalf("read %s: %v", c, err)
	}
	if int64(len(b)) != f.Size() {
		tb.Fatalf("read %d bytes, Size says %d", len(b), f.Size())
	}
	return b
}

// settle waits until pebble has flushed its memtable and finished its
// compactions, so that it writes nothing while the test measures.
func settle(tb testing.TB, s *Store) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.settle(ctx); err != nil {
		tb.Fatal(err)
	}
}

package blob

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	mrand "math/rand/v2"
	"slices"
	"testing"

	"github.com/hypha-iot/hypha/errs"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/crypto"
)

func TestRoundTripSeek(t *testing.T) {
	s := mustStore(t)
	ctx := context.Background()
	rng := mrand.New(mrand.NewPCG(1, 2))
	for _, size := range []int64{0, 1, 1 << 20, 3<<20 + 17, 9<<20 + 5} {
		data := contentBytes(t, size)
		c := mustAdd(t, s, data)
		if got := mustReadAll(t, s, c); !bytes.Equal(got, data) {
			t.Fatalf("size %d: read back %d bytes that differ", size, len(got))
		}

		f, err := s.Open(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		for range 40 {
			off := rng.Int64N(size + 1)
			n := rng.Int64N(min(size-off, 3<<20) + 1)
			whence, arg := io.SeekStart, off
			switch rng.IntN(3) {
			case 1:
				cur, _ := f.Seek(0, io.SeekCurrent)
				whence, arg = io.SeekCurrent, off-cur
			case 2:
				whence, arg = io.SeekEnd, off-size
			}
			pos, err := f.Seek(arg, whence)
			if err != nil || pos != off {
				t.Fatalf("size %d: Seek(%d, %d) = %d, %v; want %d", size, arg, whence, pos, err, off)
			}
			buf := make([]byte, n)
			if _, err := io.ReadFull(f, buf); err != nil {
				t.Fatalf("size %d: read %d at %d: %v", size, n, off, err)
			}
			if !bytes.Equal(buf, data[off:off+n]) {
				t.Fatalf("size %d: bytes at [%d,%d) differ", size, off, off+n)
			}
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestPinsAndGC(t *testing.T) {
	s := mustStore(t)
	ctx := context.Background()
	a := mustAdd(t, s, uniqueBytes(3<<20+1))
	b := mustAdd(t, s, uniqueBytes(2<<20))
	shared := uniqueBytes(1 << 20)
	// c and d share their first chunk.
	c := mustAdd(t, s, append(slices.Clone(shared), 'c'))
	d := mustAdd(t, s, append(slices.Clone(shared), 'd'))

	pins, err := s.Pins(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []cid.Cid{a, b, c, d}
	slices.SortFunc(want, func(x, y cid.Cid) int { return compareStrings(x.String(), y.String()) })
	if !slices.Equal(pins, want) {
		t.Fatalf("Pins = %v; want %v", pins, want)
	}
	for _, x := range want {
		if ok, err := s.Has(ctx, x); !ok || err != nil {
			t.Fatalf("Has(%s) = %v, %v", x, ok, err)
		}
	}

	blocksBefore, _ := s.Usage()
	// a: 4 leaves + root; c: 2 leaves (one shared with d) + root.
	if err := s.Unpin(ctx, a); err != nil {
		t.Fatal(err)
	}
	if err := s.Unpin(ctx, c); err != nil {
		t.Fatal(err)
	}
	if err := s.Unpin(ctx, c); err != nil {
		t.Fatalf("second Unpin: %v", err)
	}
	removed, err := s.GC(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if removed != 5+2 {
		t.Errorf("GC removed %d blocks; want 7", removed)
	}
	blocksAfter, _ := s.Usage()
	if blocksBefore-blocksAfter != removed {
		t.Errorf("Usage went from %d to %d blocks; GC said %d", blocksBefore, blocksAfter, removed)
	}
	if ok, _ := s.Has(ctx, a); ok {
		t.Errorf("Has(a) after unpin+GC")
	}
	if ok, _ := s.Has(ctx, c); ok {
		t.Errorf("Has(c) after unpin+GC")
	}
	for _, x := range []cid.Cid{b, d} {
		if ok, err := s.Has(ctx, x); !ok || err != nil {
			t.Fatalf("Has(%s) after GC = %v, %v", x, ok, err)
		}
	}
	if err := s.Pin(ctx, a); errs.Of(err) != errs.ErrBlobNotFound {
		t.Errorf("Pin of a collected file = %v; want ErrBlobNotFound", err)
	}
	if err := s.Pin(ctx, b); err != nil {
		t.Errorf("Pin of a pinned file: %v", err)
	}
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// failingReader yields n bytes of data, then fails with err.
type failingReader struct {
	r   io.Reader
	err error
}

func (f *failingReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err == io.EOF {
		return n, f.err
	}
	return n, err
}

func TestAddIncompleteUpload(t *testing.T) {
	s := mustStore(t)
	ctx := context.Background()
	keep := mustAdd(t, s, uniqueBytes(2<<20)) // a pinned file must survive the cleanup
	blocksBefore, _ := s.Usage()

	for _, cause := range []error{io.ErrUnexpectedEOF, errors.New("connection reset")} {
		data := uniqueBytes(3<<20 + 100)
		r := &failingReader{r: bytes.NewReader(data), err: cause}
		_, _, err := s.Add(ctx, r)
		if errs.Of(err) != errs.ErrUploadIncomplete || !errors.Is(err, cause) {
			t.Fatalf("Add of a reader failing with %v = %v; want ErrUploadIncomplete wrapping it", cause, err)
		}
	}
	// A cancelled upload is incomplete too.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, _, err := s.Add(cctx, bytes.NewReader(uniqueBytes(10))); errs.Of(err) != errs.ErrUploadIncomplete || !errors.Is(err, context.Canceled) {
		t.Fatalf("Add with a cancelled context = %v", err)
	}

	pins, _ := s.Pins(ctx)
	if len(pins) != 1 || !pins[0].Equals(keep) {
		t.Errorf("Pins after failed uploads = %v; want only %s", pins, keep)
	}
	if blocksAfter, _ := s.Usage(); blocksAfter != blocksBefore {
		t.Errorf("failed uploads left %d blocks behind", blocksAfter-blocksBefore)
	}
	if got := mustReadAll(t, s, keep); len(got) != 2<<20 {
		t.Errorf("pinned file damaged by cleanup")
	}
}

func TestAddTooLarge(t *testing.T) {
	s := mustStore(t, func(c *Config) { c.MaxFileSize = 2<<20 + 5 })
	ctx := context.Background()
	if _, n, err := s.Add(ctx, content(2<<20+5)); err != nil || n != 2<<20+5 {
		t.Fatalf("Add at the limit = %d, %v", n, err)
	}
	// An endless reader: Add must stop reading right after the limit.
	src := &countingReader{r: mrand.NewChaCha8(testSeed)}
	_, _, err := s.Add(ctx, src)
	if errs.Of(err) != errs.ErrFileTooLarge {
		t.Fatalf("Add over the limit = %v; want ErrFileTooLarge", err)
	}
	if src.n > 2<<20+5+1<<20 {
		t.Errorf("Add read %d bytes of an oversize upload; want it to stop at the limit", src.n)
	}
	if pins, _ := s.Pins(ctx); len(pins) != 1 {
		t.Errorf("oversize upload was pinned: %v", pins)
	}
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func TestComputeCIDReaderError(t *testing.T) {
	_, _, err := ComputeCID(&failingReader{r: content(1500), err: io.ErrUnexpectedEOF})
	if errs.Of(err) != errs.ErrUploadIncomplete {
		t.Fatalf("ComputeCID of a failing reader = %v; want ErrUploadIncomplete", err)
	}
}

func TestReopen(t *testing.T) {
	dir := t.TempDir()
	s := mustStore(t, withDir(dir))
	data := uniqueBytes(2<<20 + 3)
	c := mustAdd(t, s, data)
	blocks, size := s.Usage()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2 := mustStore(t, withDir(dir))
	if b2, sz2 := s2.Usage(); b2 != blocks || sz2 != size {
		t.Errorf("Usage after reopen = %d, %d; want %d, %d", b2, sz2, blocks, size)
	}
	if got := mustReadAll(t, s2, c); !bytes.Equal(got, data) {
		t.Errorf("content differs after reopen")
	}
}

func TestConfigRejects(t *testing.T) {
	ed, _, _ := crypto.GenerateEd25519Key(rand.Reader)
	secp, _, _ := crypto.GenerateSecp256k1Key(rand.Reader)
	good := Config{Dir: t.TempDir(), Identity: ed, PSK: testPSK, Protocol: testProtocol}
	for name, mutate := range map[string]func(*Config){
		"no dir":         func(c *Config) { c.Dir = "" },
		"no identity":    func(c *Config) { c.Identity = nil },
		"secp256k1 key":  func(c *Config) { c.Identity = secp },
		"short PSK":      func(c *Config) { c.PSK = c.PSK[:16] },
		"no protocol":    func(c *Config) { c.Protocol = "" },
		"QUIC address":   func(c *Config) { c.ListenAddrs = []string{"/ip4/127.0.0.1/udp/0/quic-v1"} },
		"bad address":    func(c *Config) { c.ListenAddrs = []string{"127.0.0.1:4001"} },
		"negative limit": func(c *Config) { c.MaxFileSize = -1 },
	} {
		cfg := good
		mutate(&cfg)
		if s, err := Open(context.Background(), cfg); err == nil {
			s.Close()
			t.Errorf("%s: Open succeeded", name)
		}
	}
}

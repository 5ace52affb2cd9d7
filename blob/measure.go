package blob

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// TransferReport is what MeasureTransfer found on this machine. Rates are
// MiB/s (2^20 bytes per second).
type TransferReport struct {
	Size int64 // bytes moved by each throughput measurement

	SHA256MiBps   float64 // SHA-256 over an in-memory buffer: the hashing ceiling
	ImportMiBps   float64 // Add into a fresh store: chunk, hash, write
	TCPMiBps      float64 // io.Copy over a loopback TCP socket: the network ceiling
	StreamMiBps   float64 // io.Copy over one libp2p stream (PSK, TLS, yamux) between the stores
	TransferMiBps float64 // gateway B streams the file added on A: Open + io.Copy

	ImportVsSHA256   float64 // ImportMiBps / SHA256MiBps
	TransferVsTCP    float64 // TransferMiBps / TCPMiBps
	TransferVsStream float64 // TransferMiBps / StreamMiBps: what bitswap and hashing cost

	// QUICTransferMiBps is the same transfer between two stores of an open
	// network (no PSK) over QUIC; QUICTransferVsTCP its ratio to TCPMiBps.
	QUICTransferMiBps float64
	QUICTransferVsTCP float64

	// TTFBP50 is the median time from Open to the first byte on B of a small
	// file that only A holds (TTFBSamples opens).
	TTFBP50     time.Duration
	TTFBSamples int

	// PeakHeapBytes is the most Go heap in use sampled during the transfer
	// (both gateways run in this process); BaseHeapBytes is the heap in use
	// just before it.
	PeakHeapBytes uint64
	BaseHeapBytes uint64
}

// MeasureTransfer measures, in one run, the figures of TransferReport for a
// file of size bytes (256 MiB takes well under a minute on two cores). It
// starts two stores on 127.0.0.1 with throw-away keys in fresh directories
// under dir and removes them when done. logf, if not nil, gets progress
// lines. For the `hypha bench files` command.
func MeasureTransfer(ctx context.Context, dir string, size int64, logf func(string, ...any)) (TransferReport, error) {
	if logf == nil {
		logf = func(string, ...any) {}
	}
	if size <= 0 {
		return TransferReport{}, fmt.Errorf("measure transfer: size must be positive, got %d", size)
	}
	rep := TransferReport{Size: size}
	work, err := os.MkdirTemp(dir, "blob-bench-")
	if err != nil {
		return rep, fmt.Errorf("measure transfer: %w", err)
	}
	defer os.RemoveAll(work)

	gen := newPatterns()
	rep.SHA256MiBps = measureSHA256(size)
	logf("sha256: %.0f MiB/s", rep.SHA256MiBps)

	if rep.TCPMiBps, err = measureTCPCopy(ctx, gen.reader(size), size); err != nil {
		return rep, fmt.Errorf("measure transfer: tcp: %w", err)
	}
	logf("loopback tcp io.Copy: %.0f MiB/s", rep.TCPMiBps)

	psk := make([]byte, 32)
	_, _ = rand.Read(psk)
	a, err := openBenchStore(ctx, filepath.Join(work, "a"), psk)
	if err != nil {
		return rep, err
	}
	defer a.Close()
	b, err := openBenchStore(ctx, filepath.Join(work, "b"), psk)
	if err != nil {
		return rep, err
	}
	defer b.Close()

	start := time.Now()
	c, _, err := a.Add(ctx, gen.reader(size))
	if err != nil {
		return rep, fmt.Errorf("measure transfer: import: %w", err)
	}
	rep.ImportMiBps = mibps(size, time.Since(start))
	logf("import (Add): %.0f MiB/s", rep.ImportMiBps)

	// Let pebble finish compacting the import: the transfer is measured
	// on its own.
	settleCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	err = a.settle(settleCtx)
	cancel()
	if err != nil {
		logf("datastore still compacting: %v", err)
	}

	infos := []peer.AddrInfo{a.AddrInfo(), b.AddrInfo()}
	a.SetPeers(ctx, infos)
	b.SetPeers(ctx, infos)

	if rep.StreamMiBps, err = measureStreamCopy(ctx, a, b, gen.reader(size), size); err != nil {
		return rep, fmt.Errorf("measure transfer: libp2p stream: %w", err)
	}
	logf("libp2p stream io.Copy: %.0f MiB/s", rep.StreamMiBps)

	runtime.GC()
	rep.BaseHeapBytes = heapInUse()
	stop := sampleHeap(&rep.PeakHeapBytes)
	start = time.Now()
	err = readAll(ctx, b, c)
	elapsed := time.Since(start)
	stop()
	if err != nil {
		return rep, fmt.Errorf("measure transfer: transfer: %w", err)
	}
	rep.TransferMiBps = mibps(size, elapsed)
	logf("gateway-to-gateway transfer: %.0f MiB/s, peak heap %d MiB", rep.TransferMiBps, rep.PeakHeapBytes>>20)

	if rep.TTFBP50, rep.TTFBSamples, err = measureTTFB(ctx, a, b, 20); err != nil {
		return rep, fmt.Errorf("measure transfer: ttfb: %w", err)
	}
	logf("time to first byte p50: %v over %d opens", rep.TTFBP50, rep.TTFBSamples)

	// The same transfer in an open network (no PSK): QUIC, whose TLS
	// cipher is the one the CPU accelerates.
	if rep.QUICTransferMiBps, err = measureOpenTransfer(ctx, work, gen.reader(size), size); err != nil {
		return rep, fmt.Errorf("measure transfer: quic: %w", err)
	}
	logf("gateway-to-gateway transfer, open network over QUIC: %.0f MiB/s", rep.QUICTransferMiBps)

	rep.ImportVsSHA256 = rep.ImportMiBps / rep.SHA256MiBps
	rep.TransferVsTCP = rep.TransferMiBps / rep.TCPMiBps
	rep.TransferVsStream = rep.TransferMiBps / rep.StreamMiBps
	rep.QUICTransferVsTCP = rep.QUICTransferMiBps / rep.TCPMiBps
	return rep, nil
}

// measureOpenTransfer imports r into one store of an open network (no PSK,
// QUIC only) and times another store reading it all.
func measureOpenTransfer(ctx context.Context, work string, r io.Reader, size int64) (float64, error) {
	var stores [2]*Store
	for i := range stores {
		key, _, err := crypto.GenerateEd25519Key(rand.Reader)
		if err != nil {
			return 0, err
		}
		s, err := Open(ctx, Config{Dir: filepath.Join(work, fmt.Sprintf("quic%d", i)), Identity: key, Protocol: "/hypha/bench",
			ListenAddrs: []string{"/ip4/127.0.0.1/udp/0/quic-v1"}, ReprovideInterval: -1, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			return 0, err
		}
		defer s.Close()
		stores[i] = s
	}
	c, _, err := stores[0].Add(ctx, r)
	if err != nil {
		return 0, err
	}
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	_ = stores[0].settle(sctx)
	cancel()
	infos := []peer.AddrInfo{stores[0].AddrInfo(), stores[1].AddrInfo()}
	stores[0].SetPeers(ctx, infos)
	stores[1].SetPeers(ctx, infos)
	start := time.Now()
	if err := readAll(ctx, stores[1], c); err != nil {
		return 0, err
	}
	return mibps(size, time.Since(start)), nil
}

func openBenchStore(ctx context.Context, dir string, psk []byte) (*Store, error) {
	key, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		return nil, err
	}
	s, err := Open(ctx, Config{
		Dir:               dir,
		Identity:          key,
		PSK:               psk,
		Protocol:          "/hypha/bench",
		ReprovideInterval: -1,
		Logger:            slog.New(slog.DiscardHandler),
	})
	if err != nil {
		return nil, fmt.Errorf("measure transfer: %w", err)
	}
	return s, nil
}

func mibps(n int64, d time.Duration) float64 {
	return float64(n) / (1 << 20) / d.Seconds()
}

func measureSHA256(size int64) float64 {
	buf := make([]byte, 1<<20)
	_, _ = rand.Read(buf)
	h := sha256.New()
	start := time.Now()
	for n := int64(0); n < size; n += int64(len(buf)) {
		h.Write(buf[:min(int64(len(buf)), size-n)])
	}
	h.Sum(nil)
	return mibps(size, time.Since(start))
}

// measureTCPCopy copies src's size bytes over a loopback TCP connection
// with io.Copy and returns the rate seen by the receiver.
func measureTCPCopy(ctx context.Context, src io.Reader, size int64) (float64, error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	type result struct {
		n   int64
		err error
	}
	done := make(chan result, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			done <- result{err: err}
			return
		}
		defer conn.Close()
		n, err := io.Copy(io.Discard, conn)
		done <- result{n, err}
	}()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", ln.Addr().String())
	if err != nil {
		return 0, err
	}
	start := time.Now()
	_, werr := io.Copy(conn, src)
	cerr := conn.Close()
	r := <-done
	elapsed := time.Since(start)
	if err := errors.Join(werr, cerr, r.err); err != nil {
		return 0, err
	}
	if r.n != size {
		return 0, fmt.Errorf("received %d of %d bytes", r.n, size)
	}
	return mibps(size, elapsed), nil
}

// measureStreamCopy copies src's size bytes from b to a over one libp2p
// stream and returns the rate seen by the receiver.
func measureStreamCopy(ctx context.Context, a, b *Store, src io.Reader, size int64) (float64, error) {
	const proto = "/hypha/bench/copy/1.0.0"
	type result struct {
		n   int64
		err error
	}
	done := make(chan result, 1)
	a.host.SetStreamHandler(proto, func(s network.Stream) {
		n, err := io.Copy(io.Discard, s)
		_ = s.Close()
		done <- result{n, err}
	})
	defer a.host.RemoveStreamHandler(proto)
	s, err := b.host.NewStream(ctx, a.ID(), proto)
	if err != nil {
		return 0, err
	}
	start := time.Now()
	_, werr := io.Copy(s, src)
	cerr := s.CloseWrite()
	var r result
	select {
	case r = <-done:
	case <-ctx.Done():
		_ = s.Reset()
		return 0, ctx.Err()
	}
	elapsed := time.Since(start)
	_ = s.Close()
	if err := errors.Join(werr, cerr, r.err); err != nil {
		return 0, err
	}
	if r.n != size {
		return 0, fmt.Errorf("received %d of %d bytes", r.n, size)
	}
	return mibps(size, elapsed), nil
}

func readAll(ctx context.Context, s *Store, c cid.Cid) error {
	f, err := s.Open(ctx, c)
	if err != nil {
		return err
	}
	defer f.Close()
	n, err := io.Copy(io.Discard, f)
	if err != nil {
		return err
	}
	if n != f.Size() {
		return fmt.Errorf("read %d of %d bytes", n, f.Size())
	}
	return nil
}

// measureTTFB adds n small distinct files on a and returns the median time
// b takes from Open to the first byte of each.
func measureTTFB(ctx context.Context, a, b *Store, n int) (time.Duration, int, error) {
	var times []time.Duration
	one := make([]byte, 1)
	for i := range n {
		data := make([]byte, 64<<10)
		_, _ = rand.Read(data)
		c, _, err := a.Add(ctx, bytesReader(data))
		if err != nil {
			return 0, 0, err
		}
		start := time.Now()
		f, err := b.Open(ctx, c)
		if err != nil {
			return 0, 0, fmt.Errorf("open %d: %w", i, err)
		}
		_, err = io.ReadFull(f, one)
		times = append(times, time.Since(start))
		f.Close()
		if err != nil {
			return 0, 0, fmt.Errorf("read %d: %w", i, err)
		}
	}
	slices.Sort(times)
	return times[len(times)/2], len(times), nil
}

func bytesReader(b []byte) io.Reader { return &sliceReader{b: b} }

type sliceReader struct{ b []byte }

func (r *sliceReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.b)
	r.b = r.b[n:]
	return n, nil
}

// patterns yields cheap distinct test contents: one random 1 MiB pattern,
// and in every reader's every 1 MiB chunk a header of chunk index and a
// per-reader salt, so that no two chunks anywhere make the same block.
type patterns struct {
	pattern []byte
	salt    atomic.Uint64
}

func newPatterns() *patterns {
	p := &patterns{pattern: make([]byte, 1<<20)}
	_, _ = rand.Read(p.pattern)
	var salt [8]byte
	_, _ = rand.Read(salt[:])
	p.salt.Store(binary.LittleEndian.Uint64(salt[:]))
	return p
}

// reader returns size bytes of content no other reader of p repeats.
func (p *patterns) reader(size int64) io.Reader {
	return &patternReader{pattern: p.pattern, salt: p.salt.Add(1), size: size}
}

type patternReader struct {
	pattern []byte
	salt    uint64
	size    int64
	off     int64
}

func (r *patternReader) Read(p []byte) (int, error) {
	if r.off >= r.size {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), r.size-r.off)]
	n := 0
	for n < len(p) {
		abs := r.off + int64(n)
		pos := abs % int64(len(r.pattern))
		if pos < 16 {
			var hdr [16]byte
			binary.LittleEndian.PutUint64(hdr[:], uint64(abs/int64(len(r.pattern))))
			binary.LittleEndian.PutUint64(hdr[8:], r.salt)
			n += copy(p[n:], hdr[pos:])
			continue
		}
		n += copy(p[n:], r.pattern[pos:])
	}
	r.off += int64(n)
	return n, nil
}

const heapMetric = "/memory/classes/heap/objects:bytes"

func heapInUse() uint64 {
	s := []metrics.Sample{{Name: heapMetric}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}

// sampleHeap records the peak of heapInUse into *peak every few
// milliseconds until the returned stop function is called.
func sampleHeap(peak *uint64) (stop func()) {
	var highest atomic.Uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			if h := heapInUse(); h > highest.Load() {
				highest.Store(h)
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	})
	return func() {
		close(done)
		wg.Wait()
		*peak = highest.Load()
	}
}

package seal_test

import (
	"bytes"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"
	"testing/iotest"

	"golang.org/x/crypto/chacha20poly1305"

	"github.com/hypha-iot/hypha/seal"
)

// The file stream layout as the package doc gives it, restated here so the
// tests check the doc rather than the code.
const (
	fsMagic   = "hypha-file/v1\n"
	fsHeader  = 14 + 16 + 32 // magic (len(fsMagic)), salt, key commitment
	fsSeg     = 64 << 10     // plaintext bytes per segment
	fsTag     = 16
	fsSegCT   = fsSeg + fsTag
	fsMaxSize = 1<<20 + 12345
)

// fsKey is the content key of the stream tests.
func fsKey(i byte) []byte { return bytes.Repeat([]byte{i}, seal.ContentKeySize) }

// fsSalt is a fixed 16-byte salt; fsRandom feeds it as the random source.
func fsSalt(i byte) []byte      { return bytes.Repeat([]byte{0x50 + i}, 16) }
func fsRandom(i byte) io.Reader { return bytes.NewReader(fsSalt(i)) }

// fsPlaintext returns n deterministic pseudo-random bytes.
func fsPlaintext(n int) []byte {
	p := make([]byte, n)
	rand.NewChaCha8([32]byte{byte(n), byte(n >> 8), byte(n >> 16)}).Read(p)
	return p
}

// fsSpecSeg is one segment of a stream built by fsSpec: its plaintext, the
// counter and last-segment flag of its nonce.
type fsSpecSeg struct {
	pt   []byte
	ctr  uint64
	last bool
}

// fsSpec builds a stream from the package doc's description alone, with
// crypto/hkdf and chacha20poly1305 directly: header magic || salt ||
// commitment, then each segment sealed under the payload key with nonce
// 11-byte big-endian counter || flag.
func fsSpec(tb testing.TB, key, salt []byte, segs []fsSpecSeg) []byte {
	tb.Helper()
	okm, err := hkdf.Key(sha256.New, key, salt, "hypha/file/v1", 64)
	if err != nil {
		tb.Fatal(err)
	}
	aead, err := chacha20poly1305.New(okm[:32])
	if err != nil {
		tb.Fatal(err)
	}
	out := append([]byte(fsMagic), salt...)
	out = append(out, okm[32:]...)
	for _, s := range segs {
		var nonce [12]byte
		for j := range 8 {
			nonce[10-j] = byte(s.ctr >> (8 * j))
		}
		if s.last {
			nonce[11] = 1
		}
		out = aead.Seal(out, nonce[:], s.pt, nil)
	}
	return out
}

// fsSpecSegments splits pt into the canonical segments: 64 KiB each, the last
// one flagged, empty only if pt is.
func fsSpecSegments(pt []byte) []fsSpecSeg {
	var segs []fsSpecSeg
	for i := 0; ; i++ {
		n := min(fsSeg, len(pt))
		last := n == len(pt)
		segs = append(segs, fsSpecSeg{pt: pt[:n], ctr: uint64(i), last: last})
		if last {
			return segs
		}
		pt = pt[n:]
	}
}

func fsSpecEncrypt(tb testing.TB, key, salt, pt []byte) []byte {
	tb.Helper()
	return fsSpec(tb, key, salt, fsSpecSegments(pt))
}

func fsEncryptWriter(tb testing.TB, random io.Reader, key, pt []byte, chunks []int) []byte {
	tb.Helper()
	var buf bytes.Buffer
	w, err := seal.EncryptWriter(random, &buf, key)
	if err != nil {
		tb.Fatalf("EncryptWriter: %v", err)
	}
	for i := 0; len(pt) > 0; i++ {
		n := len(pt)
		if len(chunks) > 0 {
			n = min(n, chunks[i%len(chunks)])
		}
		if m, err := w.Write(pt[:n]); err != nil || m != n {
			tb.Fatalf("Write(%d bytes) = %d, %v", n, m, err)
		}
		pt = pt[n:]
	}
	if err := w.Close(); err != nil {
		tb.Fatalf("Close: %v", err)
	}
	return buf.Bytes()
}

func fsEncrypt(tb testing.TB, pt []byte) []byte {
	tb.Helper()
	return fsEncryptWriter(tb, fsRandom(0), fsKey(1), pt, nil)
}

// fsReadChunks reads r to the end with Read calls of size bytes.
func fsReadChunks(r io.Reader, size int) ([]byte, error) {
	var out []byte
	buf := make([]byte, size)
	for {
		n, err := r.Read(buf)
		out = append(out, buf[:n]...)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
	}
}

// fsDecrypt decrypts ct under key, returning the plaintext released before
// any error and whether the error came from DecryptReader itself.
func fsDecrypt(ct, key []byte, wrap func(io.Reader) io.Reader) (pt []byte, atOpen bool, err error) {
	r, err := seal.DecryptReader(wrap(bytes.NewReader(ct)), key)
	if err != nil {
		return nil, true, err
	}
	pt, err = io.ReadAll(r)
	if err != nil {
		// Errors are sticky.
		if n, err2 := r.Read(make([]byte, 10)); n != 0 || err2 == nil || err2.Error() != err.Error() {
			return pt, false, fmt.Errorf("Read after error = %d, %v; first error %w", n, err2, err)
		}
	}
	return pt, false, err
}

var fsSizes = []int{0, 1, fsSeg - 1, fsSeg, fsSeg + 1, 2*fsSeg + 7, 3 * fsSeg, fsMaxSize}

// fsSources are the ways the tests feed a reader's source.
var fsSources = []struct {
	name string
	wrap func(io.Reader) io.Reader
}{
	{"plain", func(r io.Reader) io.Reader { return r }},
	{"one-byte", iotest.OneByteReader},
	{"half", iotest.HalfReader},
	{"data-err", iotest.DataErrReader},
}

func TestStreamRoundTrip(t *testing.T) {
	key := fsKey(1)
	for _, size := range fsSizes {
		t.Run(fmt.Sprintf("size=%d", size), func(t *testing.T) {
			pt := fsPlaintext(size)
			want := fsSpecEncrypt(t, key, fsSalt(0), pt)

			// Sizes.
			if got := seal.CiphertextSize(int64(size)); got != int64(len(want)) {
				t.Errorf("CiphertextSize(%d) = %d, stream is %d bytes", size, got, len(want))
			}
			if got, err := seal.PlaintextSize(int64(len(want))); err != nil || got != int64(size) {
				t.Errorf("PlaintextSize(%d) = %d, %v; want %d", len(want), got, err, size)
			}

			// EncryptWriter, whole and in odd chunks, agrees with the spec.
			for _, chunks := range [][]int{nil, {1}, {7, 4093, fsSeg, fsSeg + 1, 3}, {fsSeg}} {
				if len(chunks) == 1 && chunks[0] == 1 && size > 3*fsSeg {
					continue // one-byte writes of a MiB add nothing but time
				}
				if got := fsEncryptWriter(t, fsRandom(0), key, pt, chunks); !bytes.Equal(got, want) {
					t.Fatalf("EncryptWriter (writes of %v) differs from the spec stream", chunks)
				}
			}

			// EncryptReader agrees byte for byte, whatever its source does.
			for _, src := range fsSources {
				r, err := seal.EncryptReader(fsRandom(0), src.wrap(bytes.NewReader(pt)), key)
				if err != nil {
					t.Fatal(err)
				}
				got, err := io.ReadAll(r)
				if err != nil || !bytes.Equal(got, want) {
					t.Fatalf("EncryptReader (source %s): %d bytes, %v; differs from the spec stream", src.name, len(got), err)
				}
			}
			r, err := seal.EncryptReader(fsRandom(0), bytes.NewReader(pt), key)
			if err != nil {
				t.Fatal(err)
			}
			if err := iotest.TestReader(r, want); err != nil {
				t.Fatalf("EncryptReader: %v", err)
			}

			// DecryptReader, whatever its source does and however it is read.
			for _, src := range fsSources {
				got, _, err := fsDecrypt(want, key, src.wrap)
				if err != nil || !bytes.Equal(got, pt) {
					t.Fatalf("DecryptReader (source %s): %d bytes, %v", src.name, len(got), err)
				}
			}
			for _, bufSize := range []int{1, 3, 1000, fsSeg - 1, fsSeg + 1, 3 * fsSeg} {
				if bufSize == 1 && size > 3*fsSeg {
					continue
				}
				d, err := seal.DecryptReader(bytes.NewReader(want), key)
				if err != nil {
					t.Fatal(err)
				}
				got, err := fsReadChunks(d, bufSize)
				if err != nil || !bytes.Equal(got, pt) {
					t.Fatalf("DecryptReader read in %d-byte buffers: %d bytes, %v", bufSize, len(got), err)
				}
			}
			d, err := seal.DecryptReader(bytes.NewReader(want), key)
			if err != nil {
				t.Fatal(err)
			}
			if err := iotest.TestReader(d, pt); err != nil {
				t.Fatalf("DecryptReader: %v", err)
			}
		})
	}
}

// TestStreamChained pulls a plaintext through EncryptReader straight into
// DecryptReader: no pipe, no goroutine, no intermediate buffer.
func TestStreamChained(t *testing.T) {
	pt := fsPlaintext(fsMaxSize)
	enc, err := seal.EncryptReader(nil, iotest.HalfReader(bytes.NewReader(pt)), fsKey(3))
	if err != nil {
		t.Fatal(err)
	}
	dec, err := seal.DecryptReader(iotest.OneByteReader(enc), fsKey(3))
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(dec)
	if err != nil || !bytes.Equal(got, pt) {
		t.Fatalf("chained round trip: %d bytes, %v", len(got), err)
	}
}

// TestStreamFormat pins the header layout and a known answer, so an
// accidental format change fails here and not only in fsSpec.
func TestStreamFormat(t *testing.T) {
	ct := fsEncrypt(t, fsPlaintext(fsSeg+1))
	if !bytes.HasPrefix(ct, []byte(fsMagic)) {
		t.Fatalf("stream starts %q, want magic %q", ct[:len(fsMagic)], fsMagic)
	}
	if salt := ct[len(fsMagic) : len(fsMagic)+16]; !bytes.Equal(salt, fsSalt(0)) {
		t.Fatalf("salt %x, want the 16 bytes of the random source %x", salt, fsSalt(0))
	}
	if len(ct) != fsHeader+fsSegCT+1+fsTag {
		t.Fatalf("stream of %d bytes, want %d", len(ct), fsHeader+fsSegCT+1+fsTag)
	}
	sum := sha256.Sum256(ct)
	const want = "fdaa4986b26c5c638ab44e5e9c8864c5c186517b7fa622236b7b8f1f943a3249"
	if got := hex.EncodeToString(sum[:]); got != want {
		t.Fatalf("SHA-256 of the known-answer stream = %s, want %s", got, want)
	}
}

// TestStreamSalt: every stream draws a fresh salt, so one content key
// encrypting the same plaintext twice gives unrelated streams.
func TestStreamSalt(t *testing.T) {
	key, pt := fsKey(1), fsPlaintext(100)
	a := fsEncryptWriter(t, nil, key, pt, nil)
	b := fsEncryptWriter(t, nil, key, pt, nil)
	if bytes.Equal(a[len(fsMagic):len(fsMagic)+16], b[len(fsMagic):len(fsMagic)+16]) {
		t.Fatal("two streams share a salt")
	}
	if bytes.Equal(a[fsHeader:], b[fsHeader:]) {
		t.Fatal("two streams under one key share their segments")
	}
	for _, ct := range [][]byte{a, b} {
		if got, _, err := fsDecrypt(ct, key, func(r io.Reader) io.Reader { return r }); err != nil || !bytes.Equal(got, pt) {
			t.Fatalf("decrypt: %v", err)
		}
	}
}

func TestStreamTamper(t *testing.T) {
	key := fsKey(1)
	// Two streams: four segments with a short final one, and three full
	// segments, the last of them final.
	short := fsPlaintext(3*fsSeg + 100)
	full := fsPlaintext(3 * fsSeg)
	off := func(i int) int { return fsHeader + i*fsSegCT } // start of segment i
	flip := func(i int) func([]byte) []byte {
		return func(ct []byte) []byte { ct[i] ^= 0x10; return ct }
	}
	cut := func(n int) func([]byte) []byte { return func(ct []byte) []byte { return ct[:n] } }
	swap := func(i, j int) func([]byte) []byte {
		return func(ct []byte) []byte {
			a := bytes.Clone(ct[off(i):off(i+1)])
			copy(ct[off(i):], ct[off(j):off(j+1)])
			copy(ct[off(j):], a)
			return ct
		}
	}
	crafted := func(segs []fsSpecSeg) func([]byte) []byte {
		return func([]byte) []byte { return fsSpec(t, key, fsSalt(0), segs) }
	}
	seg := func(pt []byte, i int) []byte { return pt[i*fsSeg : min(len(pt), (i+1)*fsSeg)] }

	cases := []struct {
		name     string
		pt       []byte
		mutate   func([]byte) []byte
		key      []byte
		want     error
		atOpen   bool // the error comes from DecryptReader itself
		released int  // authentic plaintext bytes returned before the error
	}{
		{"magic first byte", short, flip(0), nil, seal.ErrMalformed, true, 0},
		{"magic newline", short, flip(len(fsMagic) - 1), nil, seal.ErrMalformed, true, 0},
		{"salt", short, flip(len(fsMagic) + 3), nil, seal.ErrWrongKey, true, 0},
		{"commitment", short, flip(fsHeader - 1), nil, seal.ErrWrongKey, true, 0},
		{"wrong key", short, nil, fsKey(2), seal.ErrWrongKey, true, 0},
		{"empty stream", short, cut(0), nil, seal.ErrTruncatedStream, true, 0},
		{"short header in magic", short, cut(5), nil, seal.ErrTruncatedStream, true, 0},
		{"short header in salt", short, cut(len(fsMagic) + 1), nil, seal.ErrTruncatedStream, true, 0},
		{"short header one byte", short, cut(fsHeader - 1), nil, seal.ErrTruncatedStream, true, 0},
		{"short header wrong magic", short, func(ct []byte) []byte { return []byte("hypha-fil!") }, nil, seal.ErrMalformed, true, 0},
		{"not a stream", short, func([]byte) []byte { return bytes.Repeat([]byte{'x'}, 1000) }, nil, seal.ErrMalformed, true, 0},
		{"header only", short, cut(fsHeader), nil, seal.ErrTruncatedStream, false, 0},
		{"segment 0 first byte", short, flip(off(0)), nil, seal.ErrTampered, false, 0},
		{"segment 0 tag", short, flip(off(1) - 1), nil, seal.ErrTampered, false, 0},
		{"segment 1 middle", short, flip(off(1) + 30000), nil, seal.ErrTampered, false, fsSeg},
		{"final segment body", short, flip(off(3) + 5), nil, seal.ErrTampered, false, 3 * fsSeg},
		{"final segment tag", short, func(ct []byte) []byte { ct[len(ct)-1] ^= 1; return ct }, nil, seal.ErrTampered, false, 3 * fsSeg},
		{"full final segment tag", full, func(ct []byte) []byte { ct[len(ct)-1] ^= 1; return ct }, nil, seal.ErrTampered, false, 2 * fsSeg},
		{"drop final segment", short, cut(off(3)), nil, seal.ErrTruncatedStream, false, 2 * fsSeg},
		{"drop full final segment", full, cut(off(2)), nil, seal.ErrTruncatedStream, false, fsSeg},
		{"drop two segments", short, cut(off(2)), nil, seal.ErrTruncatedStream, false, fsSeg},
		{"keep segment 0 only", short, cut(off(1)), nil, seal.ErrTruncatedStream, false, 0},
		{"cut in final segment", short, cut(off(3) + 50), nil, seal.ErrTampered, false, 3 * fsSeg},
		{"cut final segment's last byte", short, func(ct []byte) []byte { return ct[:len(ct)-1] }, nil, seal.ErrTampered, false, 3 * fsSeg},
		{"cut full final segment's last byte", full, func(ct []byte) []byte { return ct[:len(ct)-1] }, nil, seal.ErrTampered, false, 2 * fsSeg},
		{"cut in segment 1", short, cut(off(1) + 1000), nil, seal.ErrTampered, false, fsSeg},
		{"cut segment 1 to its tag size", short, cut(off(1) + fsTag), nil, seal.ErrTampered, false, fsSeg},
		{"cut segment 1 below its tag size", short, cut(off(1) + 3), nil, seal.ErrTampered, false, fsSeg},
		{"append a byte", short, func(ct []byte) []byte { return append(ct, 0) }, nil, seal.ErrTampered, false, 3 * fsSeg},
		{"append a byte after full final segment", full, func(ct []byte) []byte { return append(ct, 0) }, nil, seal.ErrTampered, false, 2 * fsSeg},
		{"append segment 0", full, func(ct []byte) []byte { return append(ct, ct[off(0):off(1)]...) }, nil, seal.ErrTampered, false, 2 * fsSeg},
		{"append the final segment again", short, func(ct []byte) []byte { return append(ct, ct[off(3):]...) }, nil, seal.ErrTampered, false, 3 * fsSeg},
		{"swap segments 0 and 1", short, swap(0, 1), nil, seal.ErrTampered, false, 0},
		{"swap segments 1 and 2", full, swap(1, 2), nil, seal.ErrTampered, false, fsSeg},
		{"repeat segment 0", short, func(ct []byte) []byte {
			return append(ct[:off(1):off(1)], ct[off(0):]...)
		}, nil, seal.ErrTampered, false, fsSeg},
		{"stream of another key", short, func([]byte) []byte { return fsSpecEncrypt(t, fsKey(2), fsSalt(0), short) }, nil, seal.ErrWrongKey, true, 0},
		{"header of another stream", short, func(ct []byte) []byte {
			other := fsSpecEncrypt(t, key, fsSalt(1), short)
			return append(other[:fsHeader], ct[fsHeader:]...)
		}, nil, seal.ErrTampered, false, 0},
		// Streams only a holder of the key can make, which the encryptor
		// never writes.
		{"empty final segment after full ones", full, crafted(append(fsSpecSegments(append(bytes.Clone(full), 0))[:3:3], fsSpecSeg{nil, 3, true})),
			nil, seal.ErrMalformed, false, 3 * fsSeg},
		{"final flag on segment 1 of 4", short, crafted([]fsSpecSeg{
			{seg(short, 0), 0, false}, {seg(short, 1), 1, true}, {seg(short, 2), 2, false}, {seg(short, 3), 3, true},
		}), nil, seal.ErrTampered, false, fsSeg},
		{"short segment without final flag", short, crafted([]fsSpecSeg{{seg(short, 0), 0, false}, {short[fsSeg : fsSeg+10], 1, false}}),
			nil, seal.ErrTruncatedStream, false, fsSeg},
		{"counter skips", short, crafted([]fsSpecSeg{{seg(short, 0), 0, false}, {seg(short, 1), 2, true}}), nil, seal.ErrTampered, false, fsSeg},
		{"high counter bytes set", short, crafted([]fsSpecSeg{{seg(short, 0), 1 << 63, true}}), nil, seal.ErrTampered, false, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ct := fsSpecEncrypt(t, key, fsSalt(0), c.pt)
			if c.mutate != nil {
				ct = c.mutate(bytes.Clone(ct))
			}
			k := key
			if c.key != nil {
				k = c.key
			}
			for _, src := range fsSources {
				got, atOpen, err := fsDecrypt(ct, k, src.wrap)
				if !errors.Is(err, c.want) {
					t.Fatalf("source %s: err = %v, want %v", src.name, err, c.want)
				}
				if atOpen != c.atOpen {
					t.Errorf("source %s: error from DecryptReader = %v, want %v (%v)", src.name, atOpen, c.atOpen, err)
				}
				if !bytes.Equal(got, c.pt[:c.released]) {
					t.Fatalf("source %s: released %d bytes, want the first %d bytes of the plaintext", src.name, len(got), c.released)
				}
				if src.name == "plain" {
					t.Logf("%v", err)
				}
			}
		})
	}
}

func TestStreamSizes(t *testing.T) {
	// Every plaintext size maps to a stream size that maps back.
	for p := int64(0); p <= 3*fsSeg+20; p++ {
		c := seal.CiphertextSize(p)
		if back, err := seal.PlaintextSize(c); err != nil || back != p {
			t.Fatalf("PlaintextSize(CiphertextSize(%d) = %d) = %d, %v", p, c, back, err)
		}
	}
	// Every stream size either is invalid or is the size of its plaintext's
	// stream.
	valid := 0
	for c := int64(-5); c <= fsHeader+3*fsSegCT+50; c++ {
		p, err := seal.PlaintextSize(c)
		if err != nil {
			if !errors.Is(err, seal.ErrMalformed) {
				t.Fatalf("PlaintextSize(%d): %v, want ErrMalformed", c, err)
			}
			continue
		}
		valid++
		if back := seal.CiphertextSize(p); back != c {
			t.Fatalf("CiphertextSize(PlaintextSize(%d) = %d) = %d", c, p, back)
		}
	}
	// The invalid sizes: below a header and tag, and final segments of 1 to
	// 16 bytes (shorter than a tag, or empty) after each of 3 full segments.
	if invalid := int(fsHeader+3*fsSegCT+50+6) - valid; invalid != 5+fsHeader+fsTag+3*fsTag {
		t.Fatalf("%d invalid stream sizes, want %d", invalid, 5+fsHeader+fsTag+3*fsTag)
	}
	for _, c := range []struct{ p, c int64 }{
		{0, fsHeader + fsTag},
		{1, fsHeader + 1 + fsTag},
		{fsSeg, fsHeader + fsSegCT},
		{fsSeg + 1, fsHeader + fsSegCT + 1 + fsTag},
		{1 << 30, fsHeader + 1<<30 + (1<<14)*fsTag},
		{1 << 40, fsHeader + 1<<40 + (1<<24)*fsTag},
		{-1, -1},
		{math.MinInt64, -1},
		{math.MaxInt64, -1},
		{math.MaxInt64 - fsHeader - fsTag, -1},
	} {
		if got := seal.CiphertextSize(c.p); got != c.c {
			t.Errorf("CiphertextSize(%d) = %d, want %d", c.p, got, c.c)
		}
	}
	// The largest sizes stay consistent and do not overflow.
	for _, c := range []int64{math.MaxInt64, math.MaxInt64 - 1, math.MaxInt64 - fsSegCT} {
		p, err := seal.PlaintextSize(c)
		if err != nil {
			continue
		}
		if back := seal.CiphertextSize(p); back != c {
			t.Errorf("CiphertextSize(PlaintextSize(%d) = %d) = %d", c, p, back)
		}
	}
	if _, err := seal.PlaintextSize(math.MinInt64); !errors.Is(err, seal.ErrMalformed) {
		t.Errorf("PlaintextSize(MinInt64): %v", err)
	}
}

func TestNewContentKey(t *testing.T) {
	a, err := seal.NewContentKey(nil)
	if err != nil || len(a) != seal.ContentKeySize {
		t.Fatalf("NewContentKey(nil) = %d bytes, %v", len(a), err)
	}
	b, err := seal.NewContentKey(nil)
	if err != nil || bytes.Equal(a, b) {
		t.Fatalf("two content keys are equal (%v)", err)
	}
	c, err := seal.NewContentKey(bytes.NewReader(fsKey(7)))
	if err != nil || !bytes.Equal(c, fsKey(7)) {
		t.Fatalf("NewContentKey(reader) = %x, %v", c, err)
	}
	if _, err := seal.NewContentKey(bytes.NewReader(make([]byte, 31))); err == nil {
		t.Fatal("NewContentKey succeeded on 31 random bytes")
	}
	if _, err := seal.NewContentKey(iotest.ErrReader(errors.New("no entropy"))); err == nil {
		t.Fatal("NewContentKey succeeded on a failing source")
	}
}

func TestStreamBadArguments(t *testing.T) {
	for _, n := range []int{0, 16, 31, 33, 64} {
		key := make([]byte, n)
		var dst bytes.Buffer
		if _, err := seal.EncryptWriter(nil, &dst, key); err == nil || dst.Len() != 0 {
			t.Errorf("EncryptWriter with a %d-byte key: %v, %d bytes written", n, err, dst.Len())
		}
		if _, err := seal.EncryptReader(nil, bytes.NewReader(nil), key); err == nil {
			t.Errorf("EncryptReader with a %d-byte key succeeded", n)
		}
		ct := fsEncrypt(t, []byte("x"))
		if _, err := seal.DecryptReader(bytes.NewReader(ct), key); err == nil {
			t.Errorf("DecryptReader with a %d-byte key succeeded", n)
		}
	}
	noEntropy := iotest.ErrReader(errors.New("no entropy"))
	var dst bytes.Buffer
	if _, err := seal.EncryptWriter(noEntropy, &dst, fsKey(1)); err == nil || dst.Len() != 0 {
		t.Errorf("EncryptWriter with a failing random source: %v", err)
	}
	if _, err := seal.EncryptReader(noEntropy, bytes.NewReader(nil), fsKey(1)); err == nil {
		t.Errorf("EncryptReader with a failing random source succeeded")
	}
	if _, err := seal.EncryptReader(bytes.NewReader(make([]byte, 15)), bytes.NewReader(nil), fsKey(1)); err == nil {
		t.Errorf("EncryptReader with 15 random bytes succeeded")
	}
}

// fsFailWriter accepts n bytes, then fails.
type fsFailWriter struct{ n int }

var errFsWrite = errors.New("disk full")

func (w *fsFailWriter) Write(p []byte) (int, error) {
	if len(p) > w.n {
		k := w.n
		w.n = 0
		return k, errFsWrite
	}
	w.n -= len(p)
	return len(p), nil
}

func TestEncryptWriterErrors(t *testing.T) {
	if _, err := seal.EncryptWriter(nil, &fsFailWriter{10}, fsKey(1)); !errors.Is(err, errFsWrite) {
		t.Fatalf("EncryptWriter with a failing header write: %v", err)
	}
	// dst fails on the first segment: Write reports it once the segment is
	// flushed, and every later call repeats it.
	w, err := seal.EncryptWriter(nil, &fsFailWriter{fsHeader + 100}, fsKey(1))
	if err != nil {
		t.Fatal(err)
	}
	pt := make([]byte, 3*fsSeg)
	if n, err := w.Write(pt); !errors.Is(err, errFsWrite) || n > fsSeg+1 {
		t.Fatalf("Write = %d, %v; want errFsWrite", n, err)
	}
	if _, err := w.Write([]byte{1}); !errors.Is(err, errFsWrite) {
		t.Fatalf("Write after a failure: %v", err)
	}
	if err := w.Close(); !errors.Is(err, errFsWrite) {
		t.Fatalf("Close after a failure: %v", err)
	}
	// The final segment's write fails in Close.
	w, err = seal.EncryptWriter(nil, &fsFailWriter{fsHeader}, fsKey(1))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("short")); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); !errors.Is(err, errFsWrite) {
		t.Fatalf("Close: %v, want errFsWrite", err)
	}
	// Close twice, write after Close.
	var buf bytes.Buffer
	w, err = seal.EncryptWriter(nil, &buf, fsKey(1))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	n := buf.Len()
	if err := w.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := w.Write([]byte("late")); err == nil {
		t.Fatal("Write after Close succeeded")
	}
	if buf.Len() != n || n != fsHeader+fsTag {
		t.Fatalf("stream of %d bytes after second Close and late Write, want %d", buf.Len(), fsHeader+fsTag)
	}
}

func TestStreamSourceErrors(t *testing.T) {
	errSrc := errors.New("connection reset")
	pt := fsPlaintext(2*fsSeg + 10)

	// EncryptReader: the error surfaces after the segments sealed before it
	// and sticks; it never ends the stream cleanly.
	r, err := seal.EncryptReader(nil, io.MultiReader(bytes.NewReader(pt[:fsSeg+5]), iotest.ErrReader(errSrc)), fsKey(1))
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	if !errors.Is(err, errSrc) {
		t.Fatalf("EncryptReader: %v, want the source error", err)
	}
	if len(got) != fsHeader+fsSegCT {
		t.Fatalf("EncryptReader released %d bytes before the error, want %d", len(got), fsHeader+fsSegCT)
	}
	if _, err := r.Read(make([]byte, 10)); !errors.Is(err, errSrc) {
		t.Fatalf("Read after error: %v", err)
	}

	// DecryptReader: a source error is an I/O error, not tampering.
	ct := fsEncrypt(t, pt)
	for _, at := range []int{10, fsHeader + 5, fsHeader + fsSegCT + 1, len(ct) - 1} {
		d, err := seal.DecryptReader(io.MultiReader(bytes.NewReader(ct[:at]), iotest.ErrReader(errSrc)), fsKey(1))
		if err == nil {
			_, err = io.ReadAll(d)
		}
		if !errors.Is(err, errSrc) || errors.Is(err, seal.ErrTampered) || errors.Is(err, seal.ErrTruncatedStream) || errors.Is(err, seal.ErrMalformed) {
			t.Fatalf("source failing at %d: %v, want only the source error", at, err)
		}
	}
}

// TestStreamMemoryBounded streams 32 MiB through each API and checks that
// the allocations stay a few segments, whatever the size.
func TestStreamMemoryBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("streams 32 MiB")
	}
	const size = 32 << 20
	const limit = 1 << 20
	chunk := make([]byte, 1<<20)
	var before, after runtime.MemStats

	runtime.ReadMemStats(&before)
	w, err := seal.EncryptWriter(nil, io.Discard, fsKey(1))
	if err != nil {
		t.Fatal(err)
	}
	for range size / len(chunk) {
		if _, err := w.Write(chunk); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	if d := after.TotalAlloc - before.TotalAlloc; d > limit {
		t.Errorf("EncryptWriter allocated %d bytes for a %d-byte stream", d, size)
	}

	runtime.ReadMemStats(&before)
	enc, err := seal.EncryptReader(nil, io.LimitReader(fsZeros{}, size), fsKey(1))
	if err != nil {
		t.Fatal(err)
	}
	dec, err := seal.DecryptReader(enc, fsKey(1))
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.CopyBuffer(io.Discard, struct{ io.Reader }{dec}, chunk)
	if err != nil || n != size {
		t.Fatalf("chained copy: %d bytes, %v", n, err)
	}
	runtime.ReadMemStats(&after)
	if d := after.TotalAlloc - before.TotalAlloc; d > limit {
		t.Errorf("EncryptReader and DecryptReader allocated %d bytes for a %d-byte stream", d, size)
	}
}

type fsZeros struct{}

func (fsZeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// FuzzDecryptReader feeds arbitrary streams to DecryptReader under a fixed
// key. It must not panic, must fail only with the stream errors, and every
// byte it releases must be authentic: a stream it accepts whole is exactly
// the encryption of its plaintext under its salt, and on an error the
// plaintext released so far is whole segments whose encryption is the
// stream's prefix. So no modified stream yields any plaintext beyond its
// untouched leading segments.
func FuzzDecryptReader(f *testing.F) {
	key := fsKey(1)
	for _, n := range []int{0, 1, 100, fsSeg, fsSeg + 3} {
		ct := fsSpecEncrypt(f, key, fsSalt(0), fsPlaintext(n))
		f.Add(ct, uint16(0))
		f.Add(ct[:len(ct)-1], uint16(7))
		f.Add(append(bytes.Clone(ct), 0), uint16(1))
	}
	two := fsSpecEncrypt(f, key, fsSalt(0), fsPlaintext(fsSeg+3))
	f.Add(two[:fsHeader+fsSegCT], uint16(fsSeg-1))
	f.Add(fsSpec(f, key, fsSalt(0), []fsSpecSeg{{fsPlaintext(fsSeg), 0, false}, {nil, 1, true}}), uint16(3))
	f.Add(fsSpecEncrypt(f, fsKey(2), fsSalt(0), []byte("other key")), uint16(0))
	f.Add([]byte(fsMagic), uint16(2))
	f.Add([]byte{}, uint16(0))

	f.Fuzz(func(t *testing.T, ct []byte, readSize uint16) {
		d, err := seal.DecryptReader(bytes.NewReader(ct), key)
		if err != nil {
			if !errors.Is(err, seal.ErrMalformed) && !errors.Is(err, seal.ErrTruncatedStream) && !errors.Is(err, seal.ErrWrongKey) {
				t.Fatalf("DecryptReader: unexpected error class: %v", err)
			}
			return
		}
		if len(ct) < fsHeader {
			t.Fatalf("DecryptReader accepted a %d-byte header", len(ct))
		}
		salt := ct[len(fsMagic) : len(fsMagic)+16]
		pt, err := fsReadChunks(d, max(1, int(readSize)))
		if err == nil {
			if want := fsSpecEncrypt(t, key, salt, pt); !bytes.Equal(ct, want) {
				t.Fatalf("accepted a %d-byte stream that is not the encryption of its %d-byte plaintext", len(ct), len(pt))
			}
			if p, err := seal.PlaintextSize(int64(len(ct))); err != nil || p != int64(len(pt)) {
				t.Fatalf("PlaintextSize(%d) = %d, %v; decrypted %d bytes", len(ct), p, err, len(pt))
			}
			return
		}
		if !errors.Is(err, seal.ErrTampered) && !errors.Is(err, seal.ErrTruncatedStream) && !errors.Is(err, seal.ErrMalformed) {
			t.Fatalf("Read: unexpected error class: %v", err)
		}
		if len(pt)%fsSeg != 0 {
			t.Fatalf("released %d bytes before %v: not whole segments", len(pt), err)
		}
		var segs []fsSpecSeg
		for i := range len(pt) / fsSeg {
			segs = append(segs, fsSpecSeg{pt[i*fsSeg : (i+1)*fsSeg], uint64(i), false})
		}
		if want := fsSpec(t, key, salt, segs); !bytes.HasPrefix(ct, want) {
			t.Fatalf("released %d bytes before %v that the stream does not authenticate", len(pt), err)
		}
	})
}

var fsBenchSizes = []struct {
	name string
	size int
}{{"1MiB", 1 << 20}, {"64MiB", 64 << 20}}

func BenchmarkEncrypt(b *testing.B) {
	key := fsKey(1)
	buf := make([]byte, fsSeg)
	for _, s := range fsBenchSizes {
		pt := fsPlaintext(s.size)
		b.Run("writer/size="+s.name, func(b *testing.B) {
			b.SetBytes(int64(s.size))
			b.ReportAllocs()
			for b.Loop() {
				w, err := seal.EncryptWriter(nil, io.Discard, key)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := w.Write(pt); err != nil {
					b.Fatal(err)
				}
				if err := w.Close(); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("reader/size="+s.name, func(b *testing.B) {
			b.SetBytes(int64(s.size))
			b.ReportAllocs()
			src := bytes.NewReader(pt)
			for b.Loop() {
				src.Reset(pt)
				r, err := seal.EncryptReader(nil, src, key)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := io.CopyBuffer(io.Discard, struct{ io.Reader }{r}, buf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkDecrypt(b *testing.B) {
	key := fsKey(1)
	buf := make([]byte, fsSeg)
	for _, s := range fsBenchSizes {
		ct := fsEncrypt(b, fsPlaintext(s.size))
		b.Run("size="+s.name, func(b *testing.B) {
			b.SetBytes(int64(s.size))
			b.ReportAllocs()
			src := bytes.NewReader(ct)
			for b.Loop() {
				src.Reset(ct)
				r, err := seal.DecryptReader(src, key)
				if err != nil {
					b.Fatal(err)
				}
				if n, err := io.CopyBuffer(io.Discard, struct{ io.Reader }{r}, buf); err != nil || n != int64(s.size) {
					b.Fatal(n, err)
				}
			}
		})
	}
}

// BenchmarkChaCha20Poly1305Raw is the baseline of BenchmarkEncrypt and
// BenchmarkDecrypt: one ChaCha20-Poly1305 Seal of a 64 KiB segment in place,
// no key derivation, no framing, no copies.
func BenchmarkChaCha20Poly1305Raw(b *testing.B) {
	aead, err := chacha20poly1305.New(fsKey(1))
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, fsSeg, fsSegCT)
	var nonce [chacha20poly1305.NonceSize]byte
	b.SetBytes(fsSeg)
	b.ReportAllocs()
	for b.Loop() {
		aead.Seal(buf[:0], nonce[:], buf[:fsSeg], nil)
	}
}

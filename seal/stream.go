package seal

import (
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"math"

	"golang.org/x/crypto/chacha20poly1305"
)

// ContentKeySize is the size of a file's content key, see [NewContentKey].
const ContentKeySize = 32

// Layout of a file stream (package doc, "File streams"). Changing any of
// these is a new format version.
const (
	streamMagic      = "hypha-file/v1\n"
	streamInfo       = "hypha/file/v1"
	streamSaltSize   = 16
	streamCommitSize = 32
	streamHeaderSize = len(streamMagic) + streamSaltSize + streamCommitSize // 62
	streamSegment    = 64 << 10                                             // plaintext bytes per segment
	streamTag        = chacha20poly1305.Overhead                            // 16
	streamSegmentCT  = streamSegment + streamTag                            // ciphertext bytes per full segment
)

// Errors of file streams, besides ErrMalformed (not a file stream: bad
// magic, impossible size) and ErrTampered (a segment does not authenticate,
// or data follows the final segment).
var (
	// ErrTruncatedStream: the stream ends inside its header, or after an
	// authentic segment that is not the final one. Whole trailing segments
	// were dropped.
	ErrTruncatedStream = errors.New("seal: file stream is truncated")
	// ErrWrongKey: the content key does not match the key commitment in the
	// stream's header. Either the key is not this file's, or the header's
	// salt or commitment was modified; the two cannot be told apart.
	ErrWrongKey = errors.New("seal: file stream is not encrypted under this content key")
)

var errStreamClosed = errors.New("seal: write to a closed file stream")

// NewContentKey returns a fresh ContentKeySize-byte file content key read
// from random (crypto/rand if nil), which must be a cryptographically secure
// source.
func NewContentKey(random io.Reader) ([]byte, error) {
	if random == nil {
		random = rand.Reader
	}
	k := make([]byte, ContentKeySize)
	if _, err := io.ReadFull(random, k); err != nil {
		return nil, fmt.Errorf("seal: content key: %w", err)
	}
	return k, nil
}

// CiphertextSize returns the size of the file stream that encrypts
// plaintextSize bytes: the header plus the plaintext plus 16 bytes per
// 64 KiB segment (at least one segment). It returns -1 for a negative size
// or one whose stream would not fit in an int64.
func CiphertextSize(plaintextSize int64) int64 {
	if plaintextSize < 0 {
		return -1
	}
	segs := max(1, (plaintextSize-1)/streamSegment+1)
	overhead := int64(streamHeaderSize) + segs*streamTag
	if plaintextSize > math.MaxInt64-overhead {
		return -1
	}
	return plaintextSize + overhead
}

// PlaintextSize returns the size of the plaintext that a well-formed file
// stream of ciphertextSize bytes carries. It fails with ErrMalformed if no
// stream has that size (shorter than a header and one tag, or a final
// segment shorter than its tag or empty after full segments).
func PlaintextSize(ciphertextSize int64) (int64, error) {
	c := ciphertextSize - int64(streamHeaderSize)
	if ciphertextSize < int64(streamHeaderSize) || c < streamTag {
		return 0, fmt.Errorf("%w: %d bytes is no file stream (at least %d)", ErrMalformed, ciphertextSize, streamHeaderSize+streamTag)
	}
	segs := (c-1)/streamSegmentCT + 1
	last := c - (segs-1)*streamSegmentCT
	if last < streamTag || (last == streamTag && segs > 1) {
		return 0, fmt.Errorf("%w: %d bytes is no file stream (final segment of %d bytes)", ErrMalformed, ciphertextSize, last)
	}
	return c - segs*streamTag, nil
}

// streamKeys derives the payload cipher and the key commitment of a stream
// from the content key and the header's salt.
func streamKeys(key, salt []byte) (cipher.AEAD, []byte, error) {
	if len(key) != ContentKeySize {
		return nil, nil, fmt.Errorf("seal: content key is %d bytes, want %d", len(key), ContentKeySize)
	}
	out, err := hkdf.Key(sha256.New, key, salt, streamInfo, chacha20poly1305.KeySize+streamCommitSize)
	if err != nil {
		return nil, nil, fmt.Errorf("seal: derive: %w", err)
	}
	aead, err := chacha20poly1305.New(out[:chacha20poly1305.KeySize])
	clear(out[:chacha20poly1305.KeySize])
	if err != nil {
		return nil, nil, fmt.Errorf("seal: payload cipher: %w", err)
	}
	return aead, out[chacha20poly1305.KeySize:], nil
}

// newStreamHeader draws the salt from random and returns the payload cipher
// and the encoded header.
func newStreamHeader(random io.Reader, key []byte) (cipher.AEAD, []byte, error) {
	if len(key) != ContentKeySize {
		return nil, nil, fmt.Errorf("seal: content key is %d bytes, want %d", len(key), ContentKeySize)
	}
	if random == nil {
		random = rand.Reader
	}
	hdr := make([]byte, streamHeaderSize)
	copy(hdr, streamMagic)
	salt := hdr[len(streamMagic) : len(streamMagic)+streamSaltSize]
	if _, err := io.ReadFull(random, salt); err != nil {
		return nil, nil, fmt.Errorf("seal: stream salt: %w", err)
	}
	aead, commit, err := streamKeys(key, salt)
	if err != nil {
		return nil, nil, err
	}
	copy(hdr[len(streamMagic)+streamSaltSize:], commit)
	return aead, hdr, nil
}

// streamNonce is the nonce of segment i: i as 11 bytes big-endian, then 1
// on the final segment and 0 on every other.
func streamNonce(n *[chacha20poly1305.NonceSize]byte, i uint64, last bool) {
	*n = [chacha20poly1305.NonceSize]byte{}
	for j := 10; j >= 3; j-- {
		n[j] = byte(i)
		i >>= 8
	}
	if last {
		n[11] = 1
	}
}

// segmentSealer encrypts consecutive segments.
type segmentSealer struct {
	aead  cipher.AEAD
	ctr   uint64
	nonce [chacha20poly1305.NonceSize]byte
}

// seal encrypts buf[:n] in place into buf[:n+streamTag] (cap(buf) must
// allow it) as the next segment.
func (s *segmentSealer) seal(buf []byte, n int, last bool) ([]byte, error) {
	if s.ctr == math.MaxUint64 {
		return nil, errors.New("seal: file stream has too many segments")
	}
	streamNonce(&s.nonce, s.ctr, last)
	s.ctr++
	return s.aead.Seal(buf[:0], s.nonce[:], buf[:n], nil), nil
}

// EncryptWriter returns a WriteCloser that encrypts what is written to it
// under key (ContentKeySize bytes) and writes the stream to dst. The header
// is written to dst before EncryptWriter returns; segments follow as they
// fill. Close writes the final segment and must be called; it does not close
// dst. Any error from dst is returned by that and every later Write or Close.
//
// The 16-byte salt is read from random (crypto/rand if nil). It makes
// reusing a content key for several files safe as long as salts do not
// repeat, so random must be a cryptographically secure source.
//
// The writer buffers at most one segment (64 KiB plus the tag) and is not
// safe for concurrent use.
func EncryptWriter(random io.Reader, dst io.Writer, key []byte) (io.WriteCloser, error) {
	aead, hdr, err := newStreamHeader(random, key)
	if err != nil {
		return nil, err
	}
	if _, err := dst.Write(hdr); err != nil {
		return nil, fmt.Errorf("seal: write stream header: %w", err)
	}
	return &encryptWriter{s: segmentSealer{aead: aead}, dst: dst, buf: make([]byte, 0, streamSegmentCT)}, nil
}

type encryptWriter struct {
	s      segmentSealer
	dst    io.Writer
	buf    []byte // pending plaintext of the current segment, cap streamSegmentCT
	err    error  // sticky
	closed bool
}

func (w *encryptWriter) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	if w.closed {
		return 0, errStreamClosed
	}
	n := 0
	for len(p) > 0 {
		// A full buffer is sealed as a non-final segment only once more
		// plaintext arrives: it might be the final one.
		if len(w.buf) == streamSegment {
			if err := w.flush(false); err != nil {
				return n, err
			}
		}
		c := copy(w.buf[len(w.buf):streamSegment], p)
		w.buf = w.buf[:len(w.buf)+c]
		p = p[c:]
		n += c
	}
	return n, nil
}

func (w *encryptWriter) flush(last bool) error {
	ct, err := w.s.seal(w.buf, len(w.buf), last)
	if err == nil {
		_, err = w.dst.Write(ct)
	}
	w.buf = w.buf[:0]
	if err != nil {
		w.err = fmt.Errorf("seal: write stream segment: %w", err)
		return w.err
	}
	return nil
}

// Close writes the final segment. Closing again returns the first Close's
// result.
func (w *encryptWriter) Close() error {
	if w.closed || w.err != nil {
		return w.err
	}
	w.closed = true
	return w.flush(true)
}

// EncryptReader returns a Reader of the file stream that encrypts what it
// reads from src until io.EOF, under key (ContentKeySize bytes): the same
// bytes EncryptWriter writes given the same random source and plaintext. It
// pulls from src only as its own reader is read, so an upload can stream it
// without a pipe or goroutine. An error from src other than io.EOF ends the
// stream unfinished: it is returned, wrapped, by that and every later Read
// once the segments sealed before it have been read.
//
// The salt is read from random as for EncryptWriter. The reader buffers one
// segment and is not safe for concurrent use.
func EncryptReader(random io.Reader, src io.Reader, key []byte) (io.Reader, error) {
	aead, hdr, err := newStreamHeader(random, key)
	if err != nil {
		return nil, err
	}
	r := &encryptReader{s: segmentSealer{aead: aead}, src: src, buf: make([]byte, streamSegmentCT)}
	r.out = r.buf[:copy(r.buf, hdr)]
	return r, nil
}

type encryptReader struct {
	s     segmentSealer
	src   io.Reader
	buf   []byte // streamSegmentCT bytes: plaintext, then its segment in place
	out   []byte // ciphertext not yet returned, a slice of buf
	ahead byte   // first plaintext byte of the next segment, if has
	has   bool
	done  bool  // the final segment is in out
	err   error // sticky
}

func (r *encryptReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if len(r.out) == 0 {
		if r.err != nil {
			return 0, r.err
		}
		if r.done {
			return 0, io.EOF
		}
		if err := r.fill(); err != nil {
			r.err = err
			return 0, err
		}
	}
	n := copy(p, r.out)
	r.out = r.out[n:]
	return n, nil
}

// fill reads the next segment's plaintext and one byte beyond it, which
// tells whether it is the final segment, and seals it into out.
func (r *encryptReader) fill() error {
	n := 0
	if r.has {
		r.buf[0] = r.ahead
		n, r.has = 1, false
	}
	// buf has room for the segment and the look-ahead byte.
	m, err := io.ReadFull(r.src, r.buf[n:streamSegment+1])
	n += m
	switch {
	case err == nil:
		r.ahead, r.has = r.buf[streamSegment], true
		n = streamSegment
	case err == io.EOF || err == io.ErrUnexpectedEOF:
		r.done = true
	default:
		return fmt.Errorf("seal: read plaintext: %w", err)
	}
	r.out, err = r.s.seal(r.buf, n, r.done)
	return err
}

// DecryptReader returns a Reader of the plaintext of the file stream read
// from src, under key (ContentKeySize bytes). It reads and checks the header
// before returning: ErrMalformed if it is not a file stream,
// ErrTruncatedStream if it ends inside the header, ErrWrongKey if key does
// not match the header's commitment.
//
// Read returns a segment's plaintext only once the whole segment has
// authenticated, and io.EOF only after the final segment has. It fails with
// ErrTampered when a segment does not authenticate (any modified, reordered,
// dropped or inserted bytes, including a stream cut inside a segment) or
// when data follows the final segment, with ErrTruncatedStream when the
// stream ends after a segment that is not the final one, and with
// ErrMalformed for an empty final segment after full ones (which only a
// holder of the key can make). An error from src other than io.EOF is
// returned wrapped. Errors are sticky.
//
// The reader holds two segment buffers (about 128 KiB) and is not safe for
// concurrent use.
func DecryptReader(src io.Reader, key []byte) (io.Reader, error) {
	if len(key) != ContentKeySize {
		return nil, fmt.Errorf("seal: content key is %d bytes, want %d", len(key), ContentKeySize)
	}
	var hdr [streamHeaderSize]byte
	n, err := io.ReadFull(src, hdr[:])
	got := hdr[:n]
	if m := min(n, len(streamMagic)); string(got[:m]) != streamMagic[:m] {
		return nil, fmt.Errorf("%w: not a file stream (magic %q)", ErrMalformed, got[:m])
	}
	switch {
	case err == io.EOF || err == io.ErrUnexpectedEOF:
		return nil, fmt.Errorf("%w: stream header is %d bytes, want %d", ErrTruncatedStream, n, streamHeaderSize)
	case err != nil:
		return nil, fmt.Errorf("seal: read stream header: %w", err)
	}
	salt := hdr[len(streamMagic) : len(streamMagic)+streamSaltSize]
	aead, commit, err := streamKeys(key, salt)
	if err != nil {
		return nil, err
	}
	if subtle.ConstantTimeCompare(commit, hdr[len(streamMagic)+streamSaltSize:]) != 1 {
		return nil, ErrWrongKey
	}
	return &decryptReader{aead: aead, src: src, ct: make([]byte, streamSegmentCT+1), buf: make([]byte, streamSegment)}, nil
}

type decryptReader struct {
	aead  cipher.AEAD
	src   io.Reader
	ctr   uint64
	nonce [chacha20poly1305.NonceSize]byte
	ct    []byte // streamSegmentCT+1 bytes: a segment and the look-ahead byte
	has   bool   // ct[0] holds the look-ahead byte read with the last segment
	buf   []byte // streamSegment bytes for the plaintext of a segment
	pt    []byte // authenticated plaintext not yet returned, a slice of buf
	done  bool   // the final segment has authenticated
	err   error  // sticky
}

func (r *decryptReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if len(r.pt) == 0 {
		if r.err != nil {
			return 0, r.err
		}
		for len(r.pt) == 0 && !r.done {
			if err := r.next(); err != nil {
				r.err = err
				return 0, err
			}
		}
		if len(r.pt) == 0 {
			return 0, io.EOF
		}
	}
	n := copy(p, r.pt)
	r.pt = r.pt[n:]
	return n, nil
}

func (r *decryptReader) open(seg []byte, last bool) ([]byte, error) {
	streamNonce(&r.nonce, r.ctr, last)
	// Not in place: a failed Open may clobber its output, and a segment that
	// fails under one flag is retried under the other to name the error.
	return r.aead.Open(r.buf[:0], r.nonce[:], seg, nil)
}

// next reads, authenticates and decrypts the next segment into pt.
func (r *decryptReader) next() error {
	n := 0
	if r.has {
		n, r.has = 1, false // the look-ahead byte already sits in ct[0]
	}
	m, err := io.ReadFull(r.src, r.ct[n:])
	n += m
	var last bool
	switch {
	case err == nil:
		n = streamSegmentCT // a byte follows: not the final segment
	case err == io.EOF || err == io.ErrUnexpectedEOF:
		last = true
	default:
		return fmt.Errorf("seal: read file stream: %w", err)
	}
	seg := r.ct[:n]
	if last && n == 0 { // only possible before segment 0
		return fmt.Errorf("%w: no segment after the header", ErrTruncatedStream)
	}
	if r.ctr == math.MaxUint64 {
		return fmt.Errorf("%w: too many segments", ErrMalformed)
	}
	pt, err := r.open(seg, last)
	if err != nil {
		if _, err2 := r.open(seg, !last); err2 == nil {
			clear(r.buf)
			if last {
				return fmt.Errorf("%w: stream ends after segment %d, which is not the final segment", ErrTruncatedStream, r.ctr)
			}
			return fmt.Errorf("%w: data follows the final segment %d", ErrTampered, r.ctr)
		}
		return fmt.Errorf("%w: file segment %d (modified, reordered or cut short)", ErrTampered, r.ctr)
	}
	if last && len(pt) == 0 && r.ctr > 0 {
		return fmt.Errorf("%w: empty final segment %d after full segments", ErrMalformed, r.ctr)
	}
	if !last {
		r.ct[0], r.has = r.ct[streamSegmentCT], true
	}
	r.ctr++
	r.pt, r.done = pt, last
	return nil
}

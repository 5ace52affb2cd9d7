package blob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/hypha-iot/hypha/errs"
	"github.com/ipfs/boxo/ipld/merkledag"
	ft "github.com/ipfs/boxo/ipld/unixfs"
	"github.com/ipfs/boxo/ipld/unixfs/pb"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
)

// Read-ahead window of an open File, in leaf blocks: it starts small so a
// short range read fetches little, and grows by one block per block read
// up to readAheadMax (32 MiB of 1 MiB blocks), enough to keep a link busy
// across bitswap's 20 ms pacing of want messages.
const (
	readAheadMin = 4
	readAheadMax = 32
)

// File reads one file of the store (or of its peers). Read, Seek and WriteTo
// must not be called concurrently; Close may be called at any time and ends
// blocked reads.
type File interface {
	io.ReadSeekCloser
	// Size is the file's length in bytes.
	Size() int64
}

// Open returns a reader over c's bytes. Blocks stored locally are re-hashed
// as they are read; blocks missing locally are streamed from peers on
// demand, a bounded window ahead of the reader, so any gateway can serve any
// file of the network. Streamed blocks are not stored (Fetch does that):
// streaming costs no disk writes and works on a full disk. Memory use is
// bounded by the window (readAheadMax blocks), whatever the file size.
//
// ctx bounds the File's whole life, as for sql.Rows: reads fail once it
// ends. Close the File to release its peer session.
//
// Errors, from Open or from reads: errs.ErrBlobNotFound when no peer sends
// a needed block within FindTimeout (for an unknown CID, Open fails after a
// FindTimeout search); errs.ErrContentMismatch when a stored block fails its
// hash check or the DAG contradicts itself; errs.ErrInvalidCID when c does
// not name a file (a directory, say).
func (s *Store) Open(ctx context.Context, c cid.Cid) (File, error) {
	if err := validCID(c); err != nil {
		return nil, err
	}
	fctx, cancelCtx := context.WithCancel(ctx)
	stop := context.AfterFunc(s.ctx, cancelCtx) // Close ends the File
	cancel := func() { stop(); cancelCtx() }
	f := &file{
		ctx:    fctx,
		cancel: cancel,
		g:      &getter{s: s, ses: s.bswap.NewSession(fctx)},
	}
	root, err := f.node(fctx, c)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("open %s: %w", c, err)
	}
	f.root, f.size = root, int64(root.size)
	return f, nil
}

// fileNode is one block of a UnixFS file DAG: the bytes it holds itself,
// then its children with the number of file bytes under each.
type fileNode struct {
	data  []byte
	links []cid.Cid
	sizes []uint64
	size  uint64 // len(data) + sum(sizes)
}

// asFileNode interprets a block of a UnixFS file: a raw leaf, or a dag-pb
// node of type file or raw.
func asFileNode(b blocks.Block) (*fileNode, error) {
	if b.Cid().Type() == cid.Raw {
		return &fileNode{data: b.RawData(), size: uint64(len(b.RawData()))}, nil
	}
	if b.Cid().Type() != cid.DagProtobuf {
		return nil, errs.ErrInvalidCID.Wrap("%s: codec 0x%x is not a UnixFS file block", b.Cid(), b.Cid().Type())
	}
	pn, err := merkledag.DecodeProtobufBlock(b)
	if err != nil {
		return nil, errs.ErrContentMismatch.WithCause(err, "decode dag-pb node %s", b.Cid())
	}
	fsn, err := ft.FSNodeFromBytes(pn.(*merkledag.ProtoNode).Data())
	if err != nil {
		return nil, errs.ErrContentMismatch.WithCause(err, "decode UnixFS data of %s", b.Cid())
	}
	if t := fsn.Type(); t != pb.Data_File && t != pb.Data_Raw {
		return nil, errs.ErrInvalidCID.Wrap("%s is a UnixFS %s, not a file", b.Cid(), t)
	}
	links := pn.Links()
	if len(links) != fsn.NumChildren() {
		return nil, errs.ErrContentMismatch.Wrap("%s has %d links but %d block sizes", b.Cid(), len(links), fsn.NumChildren())
	}
	n := &fileNode{data: fsn.Data(), size: uint64(len(fsn.Data())), sizes: fsn.BlockSizes()}
	for _, l := range links {
		n.links = append(n.links, l.Cid)
	}
	for _, sz := range n.sizes {
		n.size += sz
	}
	return n, nil
}

type file struct {
	ctx    context.Context
	cancel context.CancelFunc
	g      *getter
	root   *fileNode
	size   int64

	pos   int64  // read position
	buf   []byte // data of the segment holding bufAt...
	bufAt int64

	// The running read-ahead: segments from stream's start, in file order.
	stream  *readAhead
	nextOff int64 // file offset of the next segment stream delivers
}

// node fetches and interprets the file DAG block c.
func (f *file) node(ctx context.Context, c cid.Cid) (*fileNode, error) {
	var n *fileNode
	err := f.g.each(ctx, []cid.Cid{c}, func(b blocks.Block) error {
		var err error
		n, err = asFileNode(b)
		return err
	})
	return n, err
}

func (f *file) Size() int64 { return f.size }

func (f *file) Read(p []byte) (int, error) {
	if f.pos >= f.size {
		return 0, io.EOF
	}
	if err := f.fill(); err != nil {
		return 0, err
	}
	n := copy(p, f.buf[f.pos-f.bufAt:])
	f.pos += int64(n)
	return n, nil
}

// WriteTo writes the rest of the file to w without an intermediate copy.
func (f *file) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for f.pos < f.size {
		if err := f.fill(); err != nil {
			return total, err
		}
		n, err := w.Write(f.buf[f.pos-f.bufAt:])
		f.pos += int64(n)
		total += int64(n)
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

func (f *file) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += f.pos
	case io.SeekEnd:
		offset += f.size
	default:
		return f.pos, fmt.Errorf("seek: invalid whence %d", whence)
	}
	if offset < 0 {
		return f.pos, fmt.Errorf("seek: negative position %d", offset)
	}
	f.pos = offset
	return offset, nil
}

// Close ends the File's context, which stops its read-ahead and fails a
// blocked or later read. It touches nothing else, so it is safe to call
// while another goroutine reads.
func (f *file) Close() error {
	f.cancel()
	return nil
}

// ctxErr reports why the File can no longer read, if it cannot: its
// context ended, or the store closed.
func (f *file) ctxErr() error {
	if f.g.s.ctx.Err() != nil {
		return errs.ErrUnavailable.Wrap("blob store closed")
	}
	return f.ctx.Err()
}

// fill makes f.buf hold the byte at f.pos (which is < f.size), taking
// segments from the read-ahead and restarting it after a seek.
func (f *file) fill() error {
	if f.pos >= f.bufAt && f.pos < f.bufAt+int64(len(f.buf)) {
		return nil
	}
	if err := f.ctxErr(); err != nil {
		return err
	}
	if f.stream == nil || f.nextOff != f.pos {
		if f.stream != nil {
			f.stream.stop()
		}
		f.stream = f.startReadAhead(f.pos)
		f.nextOff = f.pos
	}
	for {
		seg, err := f.stream.next(f.ctx)
		if err != nil {
			f.stream.stop()
			f.stream = nil
			if cerr := f.ctxErr(); cerr != nil {
				return cerr
			}
			return err
		}
		end := seg.off + int64(len(seg.data))
		f.nextOff = end
		if f.pos >= seg.off && f.pos < end {
			f.buf, f.bufAt = seg.data, seg.off
			return nil
		}
	}
}

// segment is a run of file bytes: inline data of a node, or a leaf block
// being fetched (done closes when data or err is set).
type segment struct {
	off    int64
	size   int64
	c      cid.Cid
	data   []byte
	err    error
	done   chan struct{}
	window bool // holds a read-ahead slot
}

// closedChan returns a closed channel: the done of a segment whose data is
// already known.
func closedChan() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}

// readAhead walks the file DAG from one offset in a goroutine and fetches
// leaves concurrently, at most limit at a time ahead of the reader.
type readAhead struct {
	cancel context.CancelFunc
	segs   chan *segment // capacity readAheadMax, which bounds inline segments too

	mu       sync.Mutex
	cond     *sync.Cond
	inflight int
	limit    int
	stopped  bool
}

func (f *file) startReadAhead(start int64) *readAhead {
	ctx, cancel := context.WithCancel(f.ctx)
	ra := &readAhead{cancel: cancel, segs: make(chan *segment, readAheadMax), limit: readAheadMin}
	ra.cond = sync.NewCond(&ra.mu)
	// Wake acquire when the walk is cancelled (by stop, Close or the
	// caller's ctx).
	context.AfterFunc(ctx, func() {
		ra.mu.Lock()
		ra.stopped = true
		ra.cond.Broadcast()
		ra.mu.Unlock()
	})
	go func() {
		defer close(ra.segs)
		if err := f.walk(ctx, ra, f.root, 0, start); err != nil && ctx.Err() == nil {
			select {
			case ra.segs <- &segment{err: err, done: closedChan()}:
			case <-ctx.Done():
			}
		}
	}()
	return ra
}

// walk emits the segments of n (at file offset off) that end after start.
// Leaf blocks are fetched in their own goroutines; inner nodes are fetched
// here, as the walk reaches them.
func (f *file) walk(ctx context.Context, ra *readAhead, n *fileNode, off, start int64) error {
	if len(n.data) > 0 {
		if start < off+int64(len(n.data)) {
			if !ra.emit(ctx, &segment{off: off, data: n.data, done: closedChan()}) {
				return ctx.Err()
			}
		}
		off += int64(len(n.data))
	}
	for i, c := range n.links {
		size := int64(n.sizes[i])
		if start >= off+size {
			off += size
			continue
		}
		if c.Type() == cid.Raw {
			if !ra.acquire(ctx) {
				return ctx.Err()
			}
			seg := &segment{off: off, size: size, c: c, done: make(chan struct{}), window: true}
			go f.fetchLeaf(ctx, seg)
			if !ra.emit(ctx, seg) {
				return ctx.Err()
			}
		} else {
			child, err := f.node(ctx, c)
			if err != nil {
				return err
			}
			if int64(child.size) != size {
				return errs.ErrContentMismatch.Wrap("node %s holds %d bytes, its parent says %d", c, child.size, size)
			}
			if err := f.walk(ctx, ra, child, off, start); err != nil {
				return err
			}
		}
		off += size
	}
	return nil
}

func (f *file) fetchLeaf(ctx context.Context, seg *segment) {
	defer close(seg.done)
	seg.err = f.g.each(ctx, []cid.Cid{seg.c}, func(b blocks.Block) error {
		seg.data = b.RawData()
		return nil
	})
	if seg.err == nil && int64(len(seg.data)) != seg.size {
		seg.err = errs.ErrContentMismatch.Wrap("leaf %s holds %d bytes, its parent says %d", seg.c, len(seg.data), seg.size)
	}
}

// emit queues seg for the reader.
func (ra *readAhead) emit(ctx context.Context, seg *segment) bool {
	select {
	case ra.segs <- seg:
		return true
	case <-ctx.Done():
		return false
	}
}

// acquire waits for a read-ahead slot.
func (ra *readAhead) acquire(ctx context.Context) bool {
	ra.mu.Lock()
	defer ra.mu.Unlock()
	for ra.inflight >= ra.limit && !ra.stopped {
		ra.cond.Wait()
	}
	if ra.stopped || ctx.Err() != nil {
		return false
	}
	ra.inflight++
	return true
}

// next returns the next segment once its data is there, releasing its slot
// and widening the window.
func (ra *readAhead) next(ctx context.Context) (*segment, error) {
	var seg *segment
	select {
	case s, ok := <-ra.segs:
		if !ok {
			return nil, errors.New("read-ahead ended early")
		}
		seg = s
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	select {
	case <-seg.done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if seg.window {
		ra.mu.Lock()
		ra.inflight--
		ra.limit = min(ra.limit+1, readAheadMax)
		ra.cond.Signal()
		ra.mu.Unlock()
	}
	return seg, seg.err
}

// stop cancels the walk and the fetches in flight.
func (ra *readAhead) stop() { ra.cancel() }

package blob

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/hypha-iot/hypha/errs"
	chunk "github.com/ipfs/boxo/chunker"
	"github.com/ipfs/boxo/ipld/unixfs/importer/balanced"
	"github.com/ipfs/boxo/ipld/unixfs/importer/helpers"
	uio "github.com/ipfs/boxo/ipld/unixfs/io"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
)

// profile returns the import profile: IPIP-499 unixfs-v1-2025 (CIDv1, sha2-256,
// raw leaves, 1 MiB chunks, balanced DAG, 1024 links per node), the same
// settings as `ipfs add` with kubo's unixfs-v1-2025 profile. Its values are
// passed to the DAG builder per call; boxo's process-wide globals are never
// set here. (One of them, merkledag.DefaultPBNodeFieldOrder, must stay at
// its links-first default: TestCIDsMatchKubo guards that.)
func profile() uio.UnixFSProfile { return uio.UnixFS_v1_2025 }

// Sentinels the importer's reader returns in place of the real cause, which
// it records. They must not be io.ErrUnexpectedEOF: boxo's size splitter
// treats that as a short final chunk, and a failing upload would silently
// import as a shorter file.
var (
	errSourceFailed = errors.New("source reader failed")
	errTooLarge     = errors.New("file too large")
)

// source wraps the upload reader for the importer: it stops at max+1 bytes,
// honours ctx, and records why it stopped.
type source struct {
	ctx context.Context
	r   io.Reader
	max int64
	n   int64
	err error // the underlying failure behind errSourceFailed
}

func (s *source) Read(p []byte) (int, error) {
	if s.err != nil {
		return 0, errSourceFailed
	}
	if err := s.ctx.Err(); err != nil {
		s.err = err
		return 0, errSourceFailed
	}
	if s.n > s.max {
		return 0, errTooLarge
	}
	if rest := s.max + 1 - s.n; int64(len(p)) > rest {
		p = p[:rest]
	}
	n, err := s.r.Read(p)
	s.n += int64(n)
	switch {
	case s.n > s.max:
		return n, errTooLarge
	case err == nil, err == io.EOF:
		return n, err
	default:
		s.err = err
		return n, errSourceFailed
	}
}

// importDAG streams r through the UnixFS importer into dst and returns the
// root CID and the number of bytes read. Memory use is a few chunks,
// whatever the file size. Errors: errs.ErrFileTooLarge past max bytes,
// errs.ErrUploadIncomplete when r (or ctx) fails, otherwise whatever dst
// returned (errs.ErrStorage from the block store).
func importDAG(ctx context.Context, r io.Reader, max int64, dst ipld.DAGService) (cid.Cid, int64, error) {
	src := &source{ctx: ctx, r: r, max: max}
	p := profile()
	params := helpers.DagBuilderParams{
		Dagserv:    dst,
		Maxlinks:   p.FileDAGWidth,
		RawLeaves:  p.RawLeaves,
		CidBuilder: p.CidBuilder(),
	}
	db, err := params.New(chunk.NewSizeSplitter(src, p.ChunkSize))
	if err != nil {
		return cid.Undef, 0, fmt.Errorf("set up importer: %w", err)
	}
	root, err := balanced.Layout(db)
	switch {
	case errors.Is(err, errTooLarge):
		return cid.Undef, src.n, errs.ErrFileTooLarge.Wrap("file exceeds the %d-byte limit", max)
	case errors.Is(err, errSourceFailed):
		return cid.Undef, src.n, errs.ErrUploadIncomplete.WithCause(src.err, "upload failed after %d bytes", src.n)
	case err != nil:
		return cid.Undef, src.n, err
	}
	return root.Cid(), src.n, nil
}

// ComputeCID returns the CID and size that Add would give r's bytes, without
// a store: blocks are hashed and dropped, so memory stays at a few chunks.
// Clients use it to check a download. Errors: errs.ErrUploadIncomplete if r
// fails.
func ComputeCID(r io.Reader) (cid.Cid, int64, error) {
	const unlimited = 1<<63 - 2
	return importDAG(context.Background(), r, unlimited, discardDAG{})
}

// discardDAG is a DAGService that accepts and forgets nodes.
type discardDAG struct{}

func (discardDAG) Get(ctx context.Context, c cid.Cid) (ipld.Node, error) {
	return nil, ipld.ErrNotFound{Cid: c}
}

func (discardDAG) GetMany(ctx context.Context, cs []cid.Cid) <-chan *ipld.NodeOption {
	ch := make(chan *ipld.NodeOption)
	close(ch)
	return ch
}
func (discardDAG) Add(context.Context, ipld.Node) error        { return nil }
func (discardDAG) AddMany(context.Context, []ipld.Node) error  { return nil }
func (discardDAG) Remove(context.Context, cid.Cid) error       { return nil }
func (discardDAG) RemoveMany(context.Context, []cid.Cid) error { return nil }

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/schollz/progressbar/v3"

	"github.com/hypha-iot/hypha/api"
	"github.com/hypha-iot/hypha/blob"
	"github.com/hypha-iot/hypha/errs"
	"github.com/hypha-iot/hypha/keys"
	"github.com/hypha-iot/hypha/seal"
	"github.com/hypha-iot/hypha/txn"
)

// This file holds what file and firmware share: streaming a file to the
// gateway while hashing it here, downloading with resume and verifying the
// whole against its CID, decrypting, wrapping and unwrapping content keys,
// and the progress bar. The gateway is never trusted: every byte is checked
// against a CID computed on this side.

// stallTimeout ends a transfer that moves no byte for this long.
const stallTimeout = 2 * time.Minute

// transferClient returns an API client for transfers: no overall timeout
// (a large file takes as long as it takes); stallGuard bounds stalls.
func (g *globals) transferClient() *api.Client {
	return api.NewClient(g.node, &http.Client{})
}

// stallGuard returns a context that is cancelled, with a cause that says
// so, once touch has not been called for stallTimeout; stop releases it.
func stallGuard(ctx context.Context) (_ context.Context, touch func(), stop func()) {
	ctx, cancel := context.WithCancelCause(ctx)
	var last atomic.Int64
	last.Store(time.Now().UnixNano())
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(stallTimeout / 8)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case now := <-t.C:
				if idle := now.Sub(time.Unix(0, last.Load())); idle > stallTimeout {
					cancel(fmt.Errorf("transfer stalled: no data for %s", idle.Round(time.Second)))
					return
				}
			}
		}
	}()
	var once sync.Once
	return ctx, func() { last.Store(time.Now().UnixNano()) }, func() {
		once.Do(func() { close(done); cancel(nil) })
	}
}

// transferError prefers the stall guard's cause over the bare
// "context canceled" the transport reports.
func transferError(ctx context.Context, err error) error {
	if err != nil && errors.Is(err, context.Canceled) {
		if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
			return cause
		}
	}
	return err
}

// transferBar is a progress bar of bytes on stderr, drawn only when stderr
// is a terminal and --quiet is not set; the zero value draws nothing.
type transferBar struct {
	bar *progressbar.ProgressBar
}

func (g *globals) newTransferBar(quiet bool, what string, total int64) *transferBar {
	f, ok := g.stderr.(*os.File)
	if quiet || !ok {
		return &transferBar{}
	}
	if fi, err := f.Stat(); err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		return &transferBar{}
	}
	if total < 0 {
		total = -1
	}
	return &transferBar{bar: progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(f),
		progressbar.OptionSetDescription(what),
		progressbar.OptionShowBytes(true),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionClearOnFinish(),
	)}
}

func (b *transferBar) add(n int64) {
	if b.bar != nil && n > 0 {
		_ = b.bar.Add64(n)
	}
}

// done removes the bar from the terminal.
func (b *transferBar) done() {
	if b.bar != nil {
		_ = b.bar.Clear()
		_ = b.bar.Exit()
	}
}

// trackedBody is an upload body that reports progress and signals when the
// transport closes it (after which it reads no more).
type trackedBody struct {
	r      io.Reader
	onRead func(n int)
	once   sync.Once
	closed chan struct{}
}

func (b *trackedBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if n > 0 {
		b.onRead(n)
	}
	return n, err
}

func (b *trackedBody) Close() error {
	b.once.Do(func() { close(b.closed) })
	return nil
}

// uploadVerified streams src (size bytes; -1 if unknown) to the gateway and
// computes its CID here from the same bytes as they go (a TeeReader into a
// pipe read by blob.ComputeCID). It returns the CID and size once the
// gateway's answer agrees with both; a gateway that names another CID is
// errs.ErrContentMismatch, and nothing should be published.
func (g *globals) uploadVerified(ctx context.Context, src io.Reader, size int64, bar *transferBar) (cid.Cid, int64, error) {
	ctx, touch, stop := stallGuard(ctx)
	defer stop()
	pr, pw := io.Pipe()
	type result struct {
		c   cid.Cid
		n   int64
		err error
	}
	local := make(chan result, 1)
	go func() {
		c, n, err := blob.ComputeCID(pr)
		pr.CloseWithError(err) // a failed hash must not block the upload
		local <- result{c, n, err}
	}()
	body := &trackedBody{r: io.TeeReader(src, pw), closed: make(chan struct{}),
		onRead: func(n int) { touch(); bar.add(int64(n)) }}
	up, err := g.transferClient().UploadFile(ctx, body, size)
	// The transport closes the body when it reads no more, possibly after
	// UploadFile returned: only then may the pipe close under the hash.
	<-body.closed
	if err != nil {
		pw.CloseWithError(err)
		<-local
		return cid.Undef, 0, transferError(ctx, err)
	}
	pw.Close()
	res := <-local
	if res.err != nil {
		return cid.Undef, 0, fmt.Errorf("hash the upload: %w", res.err)
	}
	remote, err := blob.ParseCID(up.CID)
	if err != nil {
		return cid.Undef, 0, fmt.Errorf("the gateway answered with a bad CID %q: %w", up.CID, err)
	}
	if !remote.Equals(res.c) || int64(up.Size) != res.n {
		return cid.Undef, 0, errs.ErrContentMismatch.Wrap("the gateway stored %s (%d bytes) but the bytes sent are %s (%d bytes): not publishing",
			remote, up.Size, res.c, res.n)
	}
	return res.c, res.n, nil
}

// download is the outcome of downloadVerified.
type download struct {
	Size    int64 // bytes of the whole file
	Resumed int64 // bytes that were already in the partial file
}

// partialName is where a download to path collects its bytes.
func partialName(path string) string { return path + ".partial" }

// downloadVerified fetches the content of c into partial, first resuming
// from the bytes already there (unless fresh), then hashing those bytes and
// the new ones in one stream to check the whole against c: nothing is
// downloaded twice. On success partial holds the verified file, synced. A
// CID mismatch removes partial and is errs.ErrContentMismatch; a transfer
// that breaks keeps partial for the next try. expect, if >= 0, is the size
// the ledger records: a longer partial file is discarded.
func (g *globals) downloadVerified(ctx context.Context, c cid.Cid, partial string, fresh bool, expect int64, quiet bool) (download, error) {
	ctx, touch, stop := stallGuard(ctx)
	defer stop()
	flag := os.O_RDWR | os.O_CREATE
	if fresh {
		flag |= os.O_TRUNC
	}
	f, err := os.OpenFile(partial, flag, 0o644)
	if err != nil {
		return download{}, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return download{}, err
	}
	off := fi.Size()
	if expect >= 0 && off > expect {
		off = 0
	}
	cl := g.transferClient()
	body, total, err := cl.OpenContent(ctx, c.String(), off)
	if ae := (*api.Error)(nil); off > 0 && errors.As(err, &ae) && ae.HTTPStatus == http.StatusRequestedRangeNotSatisfiable {
		// The partial file is longer than the content: start over.
		off = 0
		body, total, err = cl.OpenContent(ctx, c.String(), 0)
	}
	if err != nil {
		return download{}, transferError(ctx, err)
	}
	defer body.Close()
	if err := f.Truncate(off); err != nil {
		return download{}, err
	}
	what, left := "download", total
	if off > 0 {
		what = fmt.Sprintf("resume at %d", off)
		if total >= 0 {
			left = total - off
		}
	}
	bar := g.newTransferBar(quiet, what, left)
	defer bar.done()

	pr, pw := io.Pipe()
	type result struct {
		c   cid.Cid
		n   int64
		err error
	}
	local := make(chan result, 1)
	go func() {
		c, n, err := blob.ComputeCID(pr)
		pr.CloseWithError(err)
		local <- result{c, n, err}
	}()
	fail := func(err error) (download, error) {
		pw.CloseWithError(err)
		<-local
		return download{}, err
	}
	if off > 0 {
		if _, err := io.Copy(pw, io.NewSectionReader(f, 0, off)); err != nil {
			return fail(fmt.Errorf("hash the %d bytes already in %s: %w", off, partial, err))
		}
	}
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		return fail(err)
	}
	progress := writerFunc(func(p []byte) (int, error) { touch(); bar.add(int64(len(p))); return len(p), nil })
	n, err := io.Copy(io.MultiWriter(f, pw, progress), body)
	if err != nil {
		_ = f.Sync()
		return fail(fmt.Errorf("download %s stopped after %d bytes (kept in %s; run again to resume): %w",
			c, off+n, partial, transferError(ctx, err)))
	}
	if total >= 0 && off+n != total {
		return fail(fmt.Errorf("download %s: got %d of %d bytes (kept in %s; run again to resume)", c, off+n, total, partial))
	}
	pw.Close()
	res := <-local
	if res.err != nil {
		return download{}, fmt.Errorf("hash %s: %w", partial, res.err)
	}
	if !res.c.Equals(c) {
		f.Close()
		_ = os.Remove(partial)
		how := "the bytes received"
		if off > 0 {
			how = fmt.Sprintf("the %d bytes resumed from %s and the %d received", off, partial, n)
		}
		return download{}, errs.ErrContentMismatch.Wrap("%s hash to %s, not %s: removed %s", how, res.c, c, partial)
	}
	if err := f.Sync(); err != nil {
		return download{}, err
	}
	return download{Size: off + n, Resumed: off}, f.Close()
}

type writerFunc func(p []byte) (int, error)

func (w writerFunc) Write(p []byte) (int, error) { return w(p) }

// decryptFile decrypts the verified file stream in src into dst under key,
// through a temporary file beside dst that is renamed only once the stream
// has authenticated to its end (seal.DecryptReader's clean io.EOF): dst
// never holds partial or unauthenticated plaintext. src is removed on
// success.
func decryptFile(src, dst string, key []byte) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	dr, err := seal.DecryptReader(in, key)
	if err != nil {
		return fmt.Errorf("decrypt %s: %w", src, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".decrypt-*")
	if err != nil {
		return err
	}
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err := io.Copy(tmp, dr); err != nil {
		return fmt.Errorf("decrypt %s: %w", src, err)
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return err
	}
	ok = true
	in.Close()
	return os.Remove(src)
}

// publishedSealKey returns the seal key a device or account has published
// (nil if none) and its name in the form that fits (device id or account).
func publishedSealKey(ctx context.Context, c *api.Client, a keys.Address) ([]byte, string, error) {
	d, err := c.Device(ctx, a.Device(), nil)
	switch {
	case err == nil:
		return d.SealKey, a.Device(), nil
	case !errors.Is(err, errs.ErrNotFound):
		return nil, "", err
	}
	acct, err := c.Account(ctx, a.Account(), nil)
	switch {
	case errors.Is(err, errs.ErrNotFound):
		return nil, a.Account(), nil
	case err != nil:
		return nil, "", err
	}
	return acct.SealKey, a.Account(), nil
}

// wrapKey seals a file's content key to recipient's published seal key,
// under the header that binds it to the chain, the publisher and the file.
func wrapKey(chainID string, publisher, recipient keys.Address, cidBytes, contentKey, sealPub []byte) (txn.WrappedKey, error) {
	box, err := seal.Seal(nil, seal.FileKeyHeader(chainID, publisher, recipient, cidBytes), contentKey, sealPub)
	if err != nil {
		return txn.WrappedKey{}, fmt.Errorf("wrap the content key for %s: %w", recipient, err)
	}
	return txn.WrappedKey{Recipient: recipient, Box: box}, nil
}

// contentKey unwraps the content key of the encrypted file rec for
// recipient with the seal key stored with key name.
func (g *globals) contentKey(rec *api.File, chainID, name, passFile string, recipient keys.Address) ([]byte, error) {
	i := slices.IndexFunc(rec.Encryption.Keys, func(k api.WrappedKey) bool {
		a, _, err := keys.ParseAddress(k.Recipient)
		return err == nil && a == recipient
	})
	if i < 0 {
		return nil, fmt.Errorf("file %s is encrypted and holds no key for %s (key %q): its publisher %s can add one with: hypha file grant %s --to %s",
			rec.CID, recipient, name, rec.Publisher, rec.CID, recipient)
	}
	c, err := blob.ParseCID(rec.CID)
	if err != nil {
		return nil, err
	}
	pub, _, err := keys.ParseAddress(rec.Publisher)
	if err != nil {
		return nil, fmt.Errorf("file %s: publisher %q: %w", rec.CID, rec.Publisher, err)
	}
	e, err := g.lookupKey(name)
	if err != nil {
		return nil, err
	}
	sk, err := g.sealKey(name, e, passFile)
	if err != nil {
		return nil, err
	}
	key, err := seal.Open(seal.FileKeyHeader(chainID, pub, recipient, c.Bytes()), rec.Encryption.Keys[i].Box, sk)
	switch {
	case errors.Is(err, seal.ErrNotForMe):
		return nil, fmt.Errorf("file %s: the key wrapped for %s is not sealed to the seal key of %q in this keyring (was it replaced since?)",
			rec.CID, recipient, name)
	case err != nil:
		return nil, fmt.Errorf("file %s: unwrap the content key for %s: %w", rec.CID, recipient, err)
	case len(key) != seal.ContentKeySize:
		return nil, fmt.Errorf("file %s: the wrapped content key for %s is %d bytes, want %d", rec.CID, recipient, len(key), seal.ContentKeySize)
	}
	return key, nil
}

// fetchOptions say how fetchFile saves a file.
type fetchOptions struct {
	out   string
	fresh bool // ignore a partial file
	quiet bool
	// raw saves an encrypted file's ciphertext as stored.
	raw bool
	// keyName and recipient open an encrypted file: the keyring key whose
	// seal key unwraps recipient's content key.
	keyName, recipient string
	passFile           string
}

// fetched is what fetchFile did.
type fetched struct {
	CID       string `json:"cid"`
	Path      string `json:"path"`
	Size      int64  `json:"size"`
	Resumed   int64  `json:"resumed_from,omitempty"`
	Name      string `json:"name,omitempty"`
	MediaType string `json:"media_type,omitempty"`
	Encrypted bool   `json:"encrypted,omitempty"`
	Decrypted bool   `json:"decrypted,omitempty"`
	// PlainSize is the size of the decrypted file.
	PlainSize int64 `json:"plaintext_size,omitempty"`
}

// fetchFile downloads the content of c to o.out through o.out.partial,
// resuming and verifying (downloadVerified); an encrypted file (by its
// ledger record) is decrypted into o.out after the ciphertext verified, its
// content key unwrapped before any byte is downloaded. A CID without a
// ledger record is still fetched: content is addressed by CID alone.
func (g *globals) fetchFile(ctx context.Context, c cid.Cid, o fetchOptions) (*fetched, error) {
	if fi, err := os.Stat(o.out); err == nil && fi.IsDir() {
		return nil, usageError{fmt.Errorf("--out %s is a directory: name the file to write", o.out)}
	}
	qctx, cancel := context.WithTimeout(ctx, apiTimeout)
	defer cancel()
	cl := g.client()
	rec, err := cl.File(qctx, c.String(), nil)
	switch {
	case errors.Is(err, errs.ErrNotFound):
		rec = nil
	case err != nil:
		return nil, err
	}
	out := &fetched{CID: c.String(), Path: o.out}
	expect := int64(-1)
	var key []byte
	if rec != nil {
		out.Name, out.MediaType, expect = rec.Name, rec.MediaType, int64(rec.Size)
		if rec.Retired != 0 {
			fmt.Fprintf(g.stderr, "warning: %s was retired at height %d: gateways may have dropped it\n", c, rec.Retired)
		}
		if rec.Encryption != nil {
			out.Encrypted = true
			switch {
			case o.raw:
			case o.keyName == "":
				return nil, usageError{fmt.Errorf("%s is encrypted: pass --from KEY to decrypt it (or --raw to save the ciphertext)", c)}
			default:
				recipient, err := g.resolveAddress(o.recipient)
				if err != nil {
					return nil, err
				}
				st, err := cl.Status(qctx)
				if err != nil {
					return nil, err
				}
				if key, err = g.contentKey(rec, st.ChainID, o.keyName, o.passFile, recipient); err != nil {
					return nil, err
				}
			}
		}
	}
	cancel()
	partial := partialName(o.out)
	d, err := g.downloadVerified(ctx, c, partial, o.fresh, expect, o.quiet)
	if ae := (*api.Error)(nil); rec == nil && errors.As(err, &ae) && ae.Code == errs.ErrBlobNotFound.Code {
		e := *ae
		e.Message = fmt.Sprintf("no file %s: it has no ledger record and no gateway holds it (%s)", c, ae.Message)
		return nil, &e
	}
	if err != nil {
		return nil, err
	}
	out.Size, out.Resumed = d.Size, d.Resumed
	if key == nil {
		return out, os.Rename(partial, o.out)
	}
	if err := decryptFile(partial, o.out, key); err != nil {
		return nil, err
	}
	out.Decrypted = true
	if fi, err := os.Stat(o.out); err == nil {
		out.PlainSize = fi.Size()
	}
	return out, nil
}

func printFetched(w io.Writer, f *fetched) {
	how := "verified"
	if f.Resumed > 0 {
		how = fmt.Sprintf("resumed at byte %d, verified", f.Resumed)
	}
	fmt.Fprintf(w, "saved %s to %s (%d bytes, %s)\n", f.CID, f.Path, f.Size, how)
	if f.Decrypted {
		fmt.Fprintf(w, "  decrypted: %d bytes of plaintext\n", f.PlainSize)
	} else if f.Encrypted {
		fmt.Fprintf(w, "  encrypted: saved the ciphertext as stored\n")
	}
}

package api

import (
	"context"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ipfs/go-cid"

	"github.com/hypha-iot/hypha/blob"
	"github.com/hypha-iot/hypha/errs"
	"github.com/hypha-iot/hypha/ledger/file"
	"github.com/hypha-iot/hypha/ledger/gateway"
	"github.com/hypha-iot/hypha/txn"
)

// Blobs is the gateway's content-addressed store as the file routes use
// it; blob.Store implements it. A nil Blobs makes the byte routes answer
// 503 ErrUnavailable (the record routes still work).
type Blobs interface {
	// Add imports r (streamed) and pins it locally.
	Add(ctx context.Context, r io.Reader) (cid.Cid, int64, error)
	// Open reads a file, fetching blocks this gateway lacks from its peers.
	Open(ctx context.Context, c cid.Cid) (blob.File, error)
}

// Transfer deadlines: uploads and downloads may run far longer than a
// query; each Read or Write that makes progress renews them.
const transferIdle = 60 * time.Second

// uploadFile streams the body into the blob store: POST /v1/files. The
// answer is the CID and size; publishing the record is a separate,
// signed file.publish tx (the gateway signs nothing for the uploader).
func (s *Server) uploadFile(w http.ResponseWriter, r *http.Request) error {
	if s.cfg.Blobs == nil {
		return errs.ErrUnavailable.Wrap("file sharing is off on this gateway")
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/octet-stream" {
			return httpError(http.StatusUnsupportedMediaType, ErrUnsupportedMediaType,
				"upload the raw bytes as application/octet-stream, not %q", ct)
		}
	}
	rc := http.NewResponseController(w)
	body := &renewingReader{r: r.Body, renew: func() { _ = rc.SetReadDeadline(time.Now().Add(transferIdle)) }}
	body.renew()
	c, n, err := s.cfg.Blobs.Add(r.Context(), body)
	if err != nil {
		if errs.Of(err) == errs.ErrInternal && (errors.Is(err, io.ErrUnexpectedEOF) || body.err != nil) {
			return errs.ErrUploadIncomplete.WithCause(err, "upload")
		}
		return err
	}
	if r.ContentLength >= 0 && n != r.ContentLength {
		return errs.ErrUploadIncomplete.Wrap("received %d of %d bytes", n, r.ContentLength)
	}
	writeJSON(w, http.StatusCreated, &Upload{CID: c.String(), Size: uint64(n)})
	return nil
}

// renewingReader renews a read deadline on every successful Read and keeps
// the first error.
type renewingReader struct {
	r     io.Reader
	renew func()
	err   error
}

func (b *renewingReader) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if n > 0 {
		b.renew()
	}
	if err != nil && err != io.EOF && b.err == nil {
		b.err = err
	}
	return n, err
}

// renewingWriter renews a write deadline on every Write.
type renewingWriter struct {
	http.ResponseWriter
	rc *http.ResponseController
}

func (w renewingWriter) Write(p []byte) (int, error) {
	_ = w.rc.SetWriteDeadline(time.Now().Add(transferIdle))
	return w.ResponseWriter.Write(p)
}

// cidParam parses the path's {cid}.
func cidParam(r *http.Request) (cid.Cid, error) {
	c, err := blob.ParseCID(r.PathValue("cid"))
	if err != nil {
		return cid.Undef, err
	}
	if err := txn.CheckCID(c.Bytes()); err != nil {
		return cid.Undef, err
	}
	return c, nil
}

// fileContent serves a file's bytes: GET (and HEAD) /v1/files/{cid}/content,
// with Range requests, ETag = the CID (content never changes under it), and
// the media type and name of the ledger record when there is one.
func (s *Server) fileContent(w http.ResponseWriter, r *http.Request) error {
	if s.cfg.Blobs == nil {
		return errs.ErrUnavailable.Wrap("file sharing is off on this gateway")
	}
	c, err := cidParam(r)
	if err != nil {
		return err
	}
	// The record is optional: content is addressed by CID alone.
	var rec *file.File
	ctx, cancel := s.backendCtx(r)
	if v, _, err := s.singleQuery(w, r.WithContext(ctx), "/file/"+c.String()); err == nil {
		var f file.File
		if unmarshalRecord(v, &f) == nil {
			rec = &f
		}
	}
	cancel()
	f, err := s.cfg.Blobs.Open(r.Context(), c)
	if err != nil {
		return err
	}
	defer f.Close()
	h := w.Header()
	h.Set("ETag", `"`+c.String()+`"`)
	h.Set("Cache-Control", "public, max-age=31536000, immutable")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Type", "application/octet-stream")
	if rec != nil {
		if rec.MediaType != "" {
			h.Set("Content-Type", rec.MediaType)
		}
		if rec.Name != "" {
			h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": rec.Name}))
		}
		if rec.Encrypted != nil {
			h.Set("X-Hypha-Encrypted", rec.Encrypted.Scheme)
		}
	}
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Now().Add(transferIdle))
	// ServeContent answers Range, If-Range, If-None-Match (the ETag) and
	// HEAD; it never reads more than the ranges asked for.
	http.ServeContent(renewingWriter{ResponseWriter: w, rc: rc}, r, "", time.Time{}, f)
	return nil
}

func (s *Server) getFile(w http.ResponseWriter, r *http.Request) error {
	c, err := cidParam(r)
	if err != nil {
		return err
	}
	v, proof, err := s.singleQuery(w, r, "/file/"+c.String())
	if err != nil {
		return err
	}
	var f file.File
	if err := unmarshalRecord(v, &f); err != nil {
		return err
	}
	out := renderFile(&f)
	out.Proof = proof
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) listHolders(w http.ResponseWriter, r *http.Request) error {
	c, err := cidParam(r)
	if err != nil {
		return err
	}
	after, err := addrAfter(r)
	if err != nil {
		return err
	}
	page, err := s.listQuery(w, r, "/file/"+c.String()+"/holders", after)
	if err != nil {
		return err
	}
	out := &PinPage{Items: []*Pin{}, Next: page.Next}
	for _, it := range page.Items {
		var p file.Pin
		if err := unmarshalRecord(it, &p); err != nil {
			return err
		}
		out.Items = append(out.Items, &Pin{Gateway: p.Gateway.Account(), Height: p.Height, TxHash: Hex(p.TxHash)})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// listFiles: GET /v1/files?publisher=ADDR or ?wanted=true.
func (s *Server) listFiles(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	var path string
	switch pub, wanted := q.Get("publisher"), q.Get("wanted"); {
	case pub != "" && wanted != "":
		return errs.ErrInvalidQuery.Wrap("give publisher or wanted, not both")
	case pub != "":
		a, err := addrParam(pub, "publisher")
		if err != nil {
			return err
		}
		path = "/files/publisher/" + a.Account()
	case wanted == "true":
		path = "/files/wanted"
	default:
		return errs.ErrInvalidQuery.Wrap("give ?publisher=ADDR or ?wanted=true")
	}
	after := q.Get("after")
	if after != "" && strings.Trim(after, "0123456789abcdef") != "" {
		return errs.ErrInvalidQuery.Wrap("after %q: want the hex cursor of a previous page", after)
	}
	page, err := s.listQuery(w, r, path, after)
	if err != nil {
		return err
	}
	out := &FilePage{Items: []*File{}, Next: page.Next}
	for _, it := range page.Items {
		var f file.File
		if err := unmarshalRecord(it, &f); err != nil {
			return err
		}
		out.Items = append(out.Items, renderFile(&f))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) listGateways(w http.ResponseWriter, r *http.Request) error {
	after, err := addrAfter(r)
	if err != nil {
		return err
	}
	page, err := s.listQuery(w, r, "/gateways", after)
	if err != nil {
		return err
	}
	out := &GatewayPage{Items: []*Gateway{}, Next: page.Next}
	for _, it := range page.Items {
		var g gateway.Gateway
		if err := unmarshalRecord(it, &g); err != nil {
			return err
		}
		out.Items = append(out.Items, &Gateway{Address: g.Address.Account(), PeerID: g.PeerID, Addrs: g.Addrs, Name: g.Name})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// modelPath is the ledger path segment of the path's {model}.
func modelPath(r *http.Request) (string, error) {
	m := r.PathValue("model")
	if m == "" || len(m) > txn.MaxTextBytes {
		return "", errs.ErrInvalidQuery.Wrap("model %q", m)
	}
	return url.PathEscape(m), nil
}

func (s *Server) getModel(w http.ResponseWriter, r *http.Request) error {
	m, err := modelPath(r)
	if err != nil {
		return err
	}
	v, proof, err := s.singleQuery(w, r, "/firmware/"+m)
	if err != nil {
		if e := (*Error)(nil); errors.As(err, &e) && e.Code == errs.ErrNotFound.Code {
			return errs.ErrUnknownModel.Wrap("model %q has no manufacturer", r.PathValue("model"))
		}
		return err
	}
	var mod file.Model
	if err := unmarshalRecord(v, &mod); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, &Model{Model: mod.Model, Manufacturer: mod.Manufacturer.Account(), Registered: mod.Registered,
		Releases: mod.Releases, Latest: mod.Latest, Proof: proof})
	return nil
}

func (s *Server) getRelease(w http.ResponseWriter, r *http.Request) error {
	m, err := modelPath(r)
	if err != nil {
		return err
	}
	path := "/firmware/" + m + "/latest"
	if v := r.PathValue("version"); v != "" {
		if err := txn.CheckVersion(v); err != nil {
			return err
		}
		path = "/firmware/" + m + "/version/" + v
	}
	v, proof, err := s.singleQuery(w, r, path)
	if err != nil {
		return err
	}
	var rel file.Release
	if err := unmarshalRecord(v, &rel); err != nil {
		return err
	}
	out := renderRelease(&rel)
	out.Proof = proof
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) listReleases(w http.ResponseWriter, r *http.Request) error {
	m, err := modelPath(r)
	if err != nil {
		return err
	}
	after, err := seqAfter(r)
	if err != nil {
		return err
	}
	page, err := s.listQuery(w, r, "/firmware/"+m+"/releases", after)
	if err != nil {
		return err
	}
	out := &ReleasePage{Items: []*Release{}, Next: page.Next}
	for _, it := range page.Items {
		var rel file.Release
		if err := unmarshalRecord(it, &rel); err != nil {
			return err
		}
		out.Items = append(out.Items, renderRelease(&rel))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// addrAfter reads ?after= as an address cursor.
func addrAfter(r *http.Request) (string, error) {
	s := r.URL.Query().Get("after")
	if s == "" {
		return "", nil
	}
	a, err := addrParam(s, "after")
	if err != nil {
		return "", err
	}
	return a.Account(), nil
}

func renderFile(f *file.File) *File {
	out := &File{CID: file.CIDString(f.CID), Size: f.Size, Name: f.Name, MediaType: f.MediaType,
		Publisher: f.Publisher.Account(), Replicas: f.Replicas, Holders: f.Holders, Published: f.Published,
		TxHash: Hex(f.TxHash), Retired: f.Retired}
	if e := f.Encrypted; e != nil {
		out.Encryption = &FileEncryption{Scheme: e.Scheme}
		for _, k := range e.Keys {
			out.Encryption.Keys = append(out.Encryption.Keys, WrappedKey{Recipient: k.Recipient.Account(), Box: Hex(k.Box)})
		}
	}
	return out
}

func renderRelease(r *file.Release) *Release {
	return &Release{Model: r.Model, Version: r.Version, CID: file.CIDString(r.CID), Size: r.Size, Notes: r.Notes,
		Manufacturer: r.Manufacturer.Account(), Seq: r.Seq, Height: r.Height, Time: unixTime(r.Time), TxHash: Hex(r.TxHash)}
}

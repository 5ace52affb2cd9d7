package api

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// This file holds the Client's file and firmware methods. Transfers
// (UploadFile, OpenContent) stream their bytes and may run for long: give
// them a Client whose http.Client has no Timeout, and bound them with
// contexts.

// UploadFile streams r to the gateway's blob store (POST /v1/files) and
// returns the CID and size the gateway computed. size is r's length, sent as
// Content-Length when size >= 0 (the gateway then refuses a body of another
// length with ErrUploadIncomplete); a negative size streams the body chunked.
// Nothing is signed: publishing the record is a separate file.publish tx.
//
// The transport reads r from its own goroutine and may go on reading it
// after UploadFile returns an error; r is closed (if it is an io.Closer)
// once nothing reads it any more, in every outcome, as http.Client.Do
// documents for request bodies.
func (c *Client) UploadFile(ctx context.Context, r io.Reader, size int64) (*Upload, error) {
	body := r
	if size == 0 {
		// net/http takes a zero ContentLength with a body as unknown.
		body = http.NoBody
		if cl, ok := r.(io.Closer); ok {
			defer cl.Close()
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url("/v1/files", nil), body)
	if err != nil {
		if cl, ok := r.(io.Closer); ok && size != 0 {
			cl.Close()
		}
		return nil, err
	}
	req.ContentLength = -1
	if size >= 0 {
		req.ContentLength = size
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	req.Header.Set("Accept", "application/json")
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return nil, readError(resp)
	}
	var out Upload
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&out); err != nil {
		return nil, fmt.Errorf("api: POST /v1/files: decode answer: %w", err)
	}
	return &out, nil
}

// OpenContent opens the bytes of the file with CID cid from offset on (GET
// /v1/files/{cid}/content with "Range: bytes=offset-" when offset > 0) and
// returns them with the file's total size (-1 if the gateway did not say).
// The caller closes the reader, and must verify what it reads against the
// CID: the gateway is not trusted.
//
// A gateway that ignores the Range (200 instead of 206) costs the skipped
// bytes again: OpenContent reads and drops them, so the reader still starts
// at offset. An offset equal to the total size yields an empty reader. An
// offset beyond it is an *Error with HTTPStatus 416.
func (c *Client) OpenContent(ctx context.Context, cid string, offset int64) (io.ReadCloser, int64, error) {
	if offset < 0 {
		return nil, 0, fmt.Errorf("api: negative offset %d", offset)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url(contentPath(cid), nil), nil)
	if err != nil {
		return nil, 0, err
	}
	if offset > 0 {
		req.Header.Set("Range", "bytes="+strconv.FormatInt(offset, 10)+"-")
	}
	// Identity: the bytes hashed must be the bytes stored, never a
	// transparently decompressed form.
	req.Header.Set("Accept-Encoding", "identity")
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, 0, err
	}
	switch {
	case resp.StatusCode == http.StatusOK:
		if offset > 0 {
			if _, err := io.CopyN(io.Discard, resp.Body, offset); err != nil {
				resp.Body.Close()
				return nil, 0, fmt.Errorf("api: GET %s: skip %d bytes the gateway sent again: %w", contentPath(cid), offset, err)
			}
		}
		return resp.Body, resp.ContentLength, nil
	case resp.StatusCode == http.StatusPartialContent && offset > 0:
		start, total, ok := parseContentRange(resp.Header.Get("Content-Range"))
		if !ok || start != offset {
			resp.Body.Close()
			return nil, 0, fmt.Errorf("api: GET %s: asked for bytes from %d, got Content-Range %q", contentPath(cid), offset,
				resp.Header.Get("Content-Range"))
		}
		return resp.Body, total, nil
	case resp.StatusCode == http.StatusRequestedRangeNotSatisfiable && offset > 0:
		// "bytes */TOTAL": nothing is left when offset is the end.
		if total, ok := strings.CutPrefix(resp.Header.Get("Content-Range"), "bytes */"); ok {
			if n, err := strconv.ParseInt(total, 10, 64); err == nil && n == offset {
				resp.Body.Close()
				return http.NoBody, n, nil
			}
		}
	}
	defer resp.Body.Close()
	return nil, 0, readError(resp)
}

// parseContentRange reads "bytes START-END/TOTAL" (TOTAL may be "*": -1).
func parseContentRange(s string) (start, total int64, ok bool) {
	rest, ok := strings.CutPrefix(s, "bytes ")
	if !ok {
		return 0, 0, false
	}
	rng, tot, ok := strings.Cut(rest, "/")
	if !ok {
		return 0, 0, false
	}
	first, _, ok := strings.Cut(rng, "-")
	if !ok {
		return 0, 0, false
	}
	start, err := strconv.ParseInt(first, 10, 64)
	if err != nil || start < 0 {
		return 0, 0, false
	}
	total = -1
	if tot != "*" {
		if total, err = strconv.ParseInt(tot, 10, 64); err != nil || total <= start {
			return 0, 0, false
		}
	}
	return start, total, true
}

func contentPath(cid string) string { return "/v1/files/" + url.PathEscape(cid) + "/content" }

// File reads a file's ledger record.
func (c *Client) File(ctx context.Context, cid string, opt *QueryOptions) (*File, error) {
	return get[File](ctx, c, "/v1/files/"+url.PathEscape(cid), opt.values())
}

// Files lists the files of a publisher, or with wanted (and publisher "")
// the files that lack replicas.
func (c *Client) Files(ctx context.Context, publisher string, wanted bool, opt ListOptions) (*FilePage, error) {
	q := opt.values()
	if publisher != "" {
		q.Set("publisher", publisher)
	}
	if wanted {
		q.Set("wanted", "true")
	}
	return get[FilePage](ctx, c, "/v1/files", q)
}

// Holders lists the gateways that attested holding a file.
func (c *Client) Holders(ctx context.Context, cid string, opt ListOptions) (*PinPage, error) {
	return get[PinPage](ctx, c, "/v1/files/"+url.PathEscape(cid)+"/holders", opt.values())
}

// Gateways lists the network's gateways.
func (c *Client) Gateways(ctx context.Context, opt ListOptions) (*GatewayPage, error) {
	return get[GatewayPage](ctx, c, "/v1/gateways", opt.values())
}

// Model reads a device model's manufacturer record (ErrUnknownModel if
// none registered it).
func (c *Client) Model(ctx context.Context, model string, opt *QueryOptions) (*Model, error) {
	return get[Model](ctx, c, "/v1/firmware/"+url.PathEscape(model), opt.values())
}

// LatestRelease reads a model's latest firmware release.
func (c *Client) LatestRelease(ctx context.Context, model string, opt *QueryOptions) (*Release, error) {
	return get[Release](ctx, c, "/v1/firmware/"+url.PathEscape(model)+"/latest", opt.values())
}

// Release reads one firmware release of a model by version.
func (c *Client) Release(ctx context.Context, model, version string, opt *QueryOptions) (*Release, error) {
	p := "/v1/firmware/" + url.PathEscape(model) + "/releases/" + url.PathEscape(version)
	return get[Release](ctx, c, p, opt.values())
}

// Releases lists a model's releases, oldest first.
func (c *Client) Releases(ctx context.Context, model string, opt ListOptions) (*ReleasePage, error) {
	return get[ReleasePage](ctx, c, "/v1/firmware/"+url.PathEscape(model)+"/releases", opt.values())
}

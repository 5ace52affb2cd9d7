package api

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"time"

	"github.com/hypha-iot/hypha/errs"
	"github.com/hypha-iot/hypha/txn"
)

// Submission modes.
const (
	ModeSync   = "sync"
	ModeCommit = "commit"
)

// Content types POST /v1/txs takes.
const (
	ContentTypeCBOR = "application/cbor"
	ContentTypeJSON = "application/json"
)

// TxRequest is the JSON form of a submission: the encoded tx in standard
// base64.
type TxRequest struct {
	Tx []byte `json:"tx"`
}

// submitTx serves POST /v1/txs[?mode=sync|commit][&timeout=D].
//
// Outcomes: 202 with the Submission when CheckTx accepts the tx (sync); 200
// when it commits with code 0 (commit); otherwise the error of the tx's class
// (status from the table) with the Submission beside it; 504 ErrTimeout if
// the block does not come within the wait (the tx may still commit: look it
// up by hash).
func (s *Server) submitTx(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	mode := q.Get("mode")
	switch mode {
	case "":
		mode = ModeCommit
	case ModeSync, ModeCommit:
	default:
		return errs.ErrInvalidQuery.Wrap("mode %q: want sync or commit", mode)
	}
	wait := s.cfg.SubmitTimeout
	if t := q.Get("timeout"); t != "" {
		d, err := time.ParseDuration(t)
		if err != nil || d <= 0 {
			return errs.ErrInvalidQuery.Wrap("timeout %q: want a positive duration such as 5s", t)
		}
		wait = min(d, s.cfg.MaxSubmitTimeout)
	}
	ct, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || (ct != ContentTypeCBOR && ct != ContentTypeJSON) {
		return httpError(http.StatusUnsupportedMediaType, ErrUnsupportedMediaType,
			"Content-Type %q: want %s (raw tx) or %s ({\"tx\": base64})", r.Header.Get("Content-Type"), ContentTypeCBOR, ContentTypeJSON)
	}
	raw, err := s.readBody(w, r)
	if err != nil {
		return err
	}
	if ct == ContentTypeJSON {
		if raw, err = decodeTxJSON(raw); err != nil {
			return err
		}
	}
	if len(raw) == 0 {
		return errs.ErrTruncated.Wrap("empty tx")
	}
	hash := txn.Hash(raw)
	sub := &Submission{Hash: Hex(hash[:]), Mode: mode}

	var res Submitted
	if mode == ModeSync {
		ctx, cancel := s.backendCtx(r)
		defer cancel()
		res, err = s.b.SubmitSync(ctx, raw)
	} else {
		// The body is read: lift the read deadline (it would cancel the
		// request when it fires) and give the response time for the wait.
		rc := http.NewResponseController(w)
		_ = rc.SetReadDeadline(time.Time{})
		_ = rc.SetWriteDeadline(time.Now().Add(wait + s.cfg.WriteTimeout))
		ctx, cancel := context.WithTimeout(r.Context(), wait)
		defer cancel()
		res, err = s.b.SubmitCommit(ctx, raw)
	}
	if err != nil {
		e := s.backendError(r, err)
		e.Submission = sub
		return e
	}
	if len(res.Hash) > 0 {
		sub.Hash = Hex(res.Hash)
	}
	sub.Height, sub.Index = res.Height, res.Index
	result := res.Result
	sub.Result = &result
	if res.Result.Code != 0 {
		e := resultError(res.Result.Code, res.Result.Name, res.Result.Log)
		e.Submission = sub
		return e
	}
	status := http.StatusOK
	if mode == ModeSync {
		status = http.StatusAccepted
	}
	writeJSON(w, status, sub)
	return nil
}

// readBody reads the request body up to the body limit: 413 ErrTxTooLarge
// past it, 400 ErrTruncated if the client stops sending.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	limit := s.bodyLimit(r.Context())
	if r.ContentLength > limit {
		return nil, errs.ErrTxTooLarge.Wrap("body of %d bytes, limit %d", r.ContentLength, limit)
	}
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, errs.ErrTxTooLarge.Wrap("body above %d bytes", limit)
		}
		return nil, errs.ErrTruncated.Wrap("read body: %v", err)
	}
	return raw, nil
}

// bodyLimit is MaxBodyBytes, raised to fit the chain's max_tx_bytes in its
// JSON form if the chain allows larger txs.
func (s *Server) bodyLimit(ctx context.Context) int64 {
	limit := s.cfg.MaxBodyBytes
	ctx, cancel := context.WithTimeout(ctx, s.cfg.QueryTimeout)
	defer cancel()
	if p, err := s.chainParams(ctx); err == nil && p.MaxTxBytes <= maxChainTxBytes {
		limit = max(limit, int64(base64.StdEncoding.EncodedLen(int(p.MaxTxBytes))+64))
	}
	return limit
}

// decodeTxJSON reads {"tx": "<base64>"} strictly.
func decodeTxJSON(b []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var req struct {
		Tx *string `json:"tx"`
	}
	if err := dec.Decode(&req); err != nil {
		return nil, errs.ErrMalformed.Wrap("JSON body: %v", err)
	}
	if dec.More() {
		return nil, errs.ErrTrailingBytes.Wrap("JSON body: data after the object")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errs.ErrTrailingBytes.Wrap("JSON body: data after the object")
	}
	if req.Tx == nil {
		return nil, errs.ErrMalformed.Wrap(`JSON body: want {"tx": "<base64>"}`)
	}
	raw, err := base64.StdEncoding.DecodeString(*req.Tx)
	if err != nil {
		return nil, errs.ErrMalformed.Wrap("JSON body: tx is not standard base64: %v", err)
	}
	return raw, nil
}

package api

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/hypha-iot/hypha/errs"
	"github.com/hypha-iot/hypha/ledger"
)

// Server serves the API over a Backend. Its handler is safe for concurrent
// use; it keeps no state besides a short-lived cache of chain parameters.
type Server struct {
	b       Backend
	cfg     Config
	log     *slog.Logger
	handler http.Handler
	mux     *http.ServeMux

	paramsMu   sync.Mutex
	params     ledger.Params
	paramsTime time.Time
}

// route is one entry of the route table: the mux pattern's method and path
// (the path as in the OpenAPI document) and its handler.
type route struct {
	method, path string
	h            func(http.ResponseWriter, *http.Request) error
}

// routes is the route table; the mux and the OpenAPI test both read it.
func (s *Server) routes() []route {
	return []route{
		{"POST", "/v1/txs", s.submitTx},
		{"GET", "/v1/txs/{hash}", s.getTx},
		{"GET", "/v1/accounts/{addr}", s.getAccount},
		{"GET", "/v1/devices", s.listDevices},
		{"GET", "/v1/devices/{id}", s.getDevice},
		{"GET", "/v1/devices/{id}/history", s.listHistory},
		{"GET", "/v1/devices/{id}/history/{seq}", s.getHistory},
		{"GET", "/v1/devices/{id}/readings", s.listReadings},
		{"GET", "/v1/devices/{id}/readings/latest", s.getLatestReading},
		{"GET", "/v1/devices/{id}/readings/{idx}", s.getReading},
		{"GET", "/v1/inbox/{addr}", s.listInbox},
		{"GET", "/v1/inbox/{addr}/stream", s.inboxStream},
		{"GET", "/v1/inbox/{addr}/{cursor}", s.getInboxEntry},
		{"GET", "/v1/messages/{sender}/{id}", s.getMessage},
		{"GET", "/v1/grants/{device}/{grantee}", s.getGrant},
		{"GET", "/v1/params", s.getParams},
		{"POST", "/v1/files", s.uploadFile},
		{"GET", "/v1/files", s.listFiles},
		{"GET", "/v1/files/{cid}", s.getFile},
		{"GET", "/v1/files/{cid}/content", s.fileContent},
		{"GET", "/v1/files/{cid}/holders", s.listHolders},
		{"GET", "/v1/gateways", s.listGateways},
		{"GET", "/v1/firmware/{model}", s.getModel},
		{"GET", "/v1/firmware/{model}/latest", s.getRelease},
		{"GET", "/v1/firmware/{model}/releases", s.listReleases},
		{"GET", "/v1/firmware/{model}/releases/{version}", s.getRelease},
		{"GET", "/v1/contracts/{addr}", s.getContract},
		{"GET", "/v1/contracts/{addr}/state/{key}", s.getContractState},
		{"GET", "/v1/contracts/{addr}/state", s.listContractState},
		{"GET", "/v1/contracts/{addr}/triggers", s.getContractTriggers},
		{"GET", "/v1/triggers/queue", s.getTriggerQueue},
		{"GET", "/v1/codes/{hash}", s.getCode},
		{"GET", "/v1/blocks/latest", s.getLatestBlock},
		{"GET", "/v1/blocks/{height}", s.getBlock},
		{"GET", "/v1/status", s.getStatus},
		{"GET", "/v1/events", s.events},
		{"GET", "/v1/openapi.json", s.openAPI},
	}
}

// New returns a server over b. It panics if cfg is invalid (see
// Config.Validate, which callers holding user input call first).
func New(b Backend, cfg Config) *Server {
	if err := cfg.Validate(); err != nil {
		panic(err)
	}
	cfg.setDefaults()
	s := &Server{b: b, cfg: cfg, log: cfg.Logger, mux: http.NewServeMux()}
	for _, rt := range s.routes() {
		s.mux.Handle(rt.method+" "+rt.path, s.adapt(rt.h))
	}
	s.handler = s.recoverPanics(http.HandlerFunc(s.dispatch))
	return s
}

// Validate applies the defaults to a copy of c and checks it.
func (c Config) Validate() error {
	c.setDefaults()
	return c.validate()
}

// Handler returns the API's http.Handler (all routes under /v1/).
func (s *Server) Handler() http.Handler { return s.handler }

// HTTPServer returns an http.Server for addr with the configured timeouts,
// so that clients that stall while sending headers or a body, or never read
// the response, are cut off. The caller runs ListenAndServe (or Serve) and
// Shutdown.
func (s *Server) HTTPServer(addr string) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           s.handler,
		ReadHeaderTimeout: s.cfg.ReadHeaderTimeout,
		ReadTimeout:       s.cfg.ReadTimeout,
		WriteTimeout:      s.cfg.WriteTimeout,
		IdleTimeout:       s.cfg.IdleTimeout,
		MaxHeaderBytes:    s.cfg.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
}

// adapt turns a handler that returns an error into an http.Handler that
// writes the error as JSON.
func (s *Server) adapt(h func(http.ResponseWriter, *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			s.fail(w, r, err)
		}
	})
}

// dispatch routes through the mux, and answers the mux's own 404 and 405
// (plain text) in JSON.
func (s *Server) dispatch(w http.ResponseWriter, r *http.Request) {
	h, pattern := s.mux.Handler(r)
	if pattern != "" {
		// ServeHTTP (not h) so that the mux sets the path values.
		s.mux.ServeHTTP(w, r)
		return
	}
	rec := &captureWriter{header: http.Header{}}
	h.ServeHTTP(rec, r)
	switch rec.status {
	case http.StatusNotFound:
		writeError(w, httpError(http.StatusNotFound, errs.ErrNotFound, "no route %s %s", r.Method, r.URL.Path))
	case http.StatusMethodNotAllowed:
		if allow := rec.header.Get("Allow"); allow != "" {
			w.Header().Set("Allow", allow)
		}
		writeError(w, httpError(http.StatusMethodNotAllowed, ErrMethodNotAllowed, "method %s not allowed on %s", r.Method, r.URL.Path))
	default:
		// A redirect to the cleaned path: pass it on as the mux wrote it.
		for k, v := range rec.header {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.status)
		w.Write(rec.body.Bytes())
	}
}

// captureWriter records what the mux's fallback handlers write.
type captureWriter struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (c *captureWriter) Header() http.Header { return c.header }
func (c *captureWriter) Write(b []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	return c.body.Write(b)
}
func (c *captureWriter) WriteHeader(status int) {
	if c.status == 0 {
		c.status = status
	}
}

// recoverPanics turns a handler panic into a 500 JSON error (if nothing was
// written yet) and a log line; http.ErrAbortHandler passes through.
func (s *Server) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tw := &trackingWriter{ResponseWriter: w}
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.log.LogAttrs(r.Context(), slog.LevelError, "api: handler panic",
				slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.Any("panic", v))
			if !tw.wrote {
				writeError(w, httpError(http.StatusInternalServerError, errs.ErrInternal, "internal error"))
			}
		}()
		next.ServeHTTP(tw, r)
	})
}

// trackingWriter notes whether a response was started. It keeps Flush and
// deadlines reachable through Unwrap (http.ResponseController).
type trackingWriter struct {
	http.ResponseWriter
	wrote bool
}

func (t *trackingWriter) WriteHeader(status int) {
	t.wrote = true
	t.ResponseWriter.WriteHeader(status)
}
func (t *trackingWriter) Write(b []byte) (int, error) {
	t.wrote = true
	return t.ResponseWriter.Write(b)
}
func (t *trackingWriter) Unwrap() http.ResponseWriter { return t.ResponseWriter }
func (t *trackingWriter) Flush() {
	t.wrote = true
	http.NewResponseController(t.ResponseWriter).Flush()
}

// writeJSON writes v as a JSON response with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"error":{"code":1,"name":"ErrInternal","message":"encode response"}}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

// backendCtx bounds one backend call of a read route.
func (s *Server) backendCtx(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), s.cfg.QueryTimeout)
}

// chainParams returns the chain parameters, cached for ParamsTTL.
func (s *Server) chainParams(ctx context.Context) (ledger.Params, error) {
	s.paramsMu.Lock()
	if !s.paramsTime.IsZero() && time.Since(s.paramsTime) < s.cfg.ParamsTTL {
		p := s.params
		s.paramsMu.Unlock()
		return p, nil
	}
	s.paramsMu.Unlock()
	resp, err := s.b.Query(ctx, ledger.QueryRequest{Path: "/params"})
	if err != nil {
		return ledger.Params{}, err
	}
	if resp.Code != 0 {
		return ledger.Params{}, resultError(resp.Code, resp.Name, resp.Log)
	}
	var p ledger.Params
	if err := unmarshalRecord(resp.Value, &p); err != nil {
		return ledger.Params{}, err
	}
	s.paramsMu.Lock()
	s.params, s.paramsTime = p, time.Now()
	s.paramsMu.Unlock()
	return p, nil
}

// Query parameter helpers. Each returns a 400 ErrInvalidQuery on bad input.

func queryUint(r *http.Request, name string) (uint64, bool, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return 0, false, nil
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, false, errs.ErrInvalidQuery.Wrap("%s=%q: want an unsigned integer", name, s)
	}
	return n, true, nil
}

func queryBool(r *http.Request, name string) (bool, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return false, nil
	}
	v, err := strconv.ParseBool(s)
	if err != nil {
		return false, errs.ErrInvalidQuery.Wrap("%s=%q: want true or false", name, s)
	}
	return v, nil
}

// limitParam reads ?limit= (1..ledger.MaxPageLimit).
func limitParam(r *http.Request) (string, error) {
	n, ok, err := queryUint(r, "limit")
	if err != nil || !ok {
		return "", err
	}
	if n < 1 || n > ledger.MaxPageLimit {
		return "", errs.ErrInvalidQuery.Wrap("limit must be 1..%d", ledger.MaxPageLimit)
	}
	return strconv.FormatUint(n, 10), nil
}

// pathUint parses a path segment as an unsigned integer.
func pathUint(r *http.Request, name string) (uint64, error) {
	s := r.PathValue(name)
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, errs.ErrInvalidQuery.Wrap("%s %q: want an unsigned integer", name, s)
	}
	return n, nil
}

package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/hypha-iot/hypha/errs"
)

// Edge classes: failures of the HTTP exchange itself, which no other edge
// has. Their codes sit in the 1000 range, apart from the protocol codes in
// errs, so that the two never collide.
var (
	// ErrMethodNotAllowed: the route exists, the method does not (405).
	ErrMethodNotAllowed = &errs.Class{Code: 1000, Name: "ErrMethodNotAllowed"}
	// ErrUnsupportedMediaType: a body in a content type the route does not take (415).
	ErrUnsupportedMediaType = &errs.Class{Code: 1001, Name: "ErrUnsupportedMediaType"}
)

// Node classes a Backend returns (wrapped, e.g. ErrTimeout.Wrap(...)); they
// are errs' classes, named here for Backend implementations.
var (
	// ErrUnavailable: the node cannot serve the request now (starting,
	// stopping, mempool full); retry later (503).
	ErrUnavailable = errs.ErrUnavailable
	// ErrTimeout: the node did not answer in time; a commit-mode submission
	// may still commit (504). A context error from a Backend counts as this.
	ErrTimeout = errs.ErrTimeout
)

// edgeClasses lists the edge classes (documentation and tests).
var edgeClasses = []*errs.Class{ErrMethodNotAllowed, ErrUnsupportedMediaType}

// Error is an API error as the server sends it and the Client returns it:
// the class's stable code and name, a message for humans, and the HTTP
// status. On the wire it is {"error": {"code", "name", "message"}}, next to
// optional details (a submission, a proof of absence).
type Error struct {
	HTTPStatus int    `json:"-"`
	Code       uint32 `json:"code"`
	Name       string `json:"name"`
	Message    string `json:"message"`

	// Submission is set on a failed POST /v1/txs: the tx hash and, when the
	// ledger ran it, its result (a tx that failed in a block still paid
	// its fee).
	Submission *Submission `json:"-"`
	// Proof is set on a 404 of a proven query: the proof of absence.
	Proof *Proof `json:"-"`
}

func (e *Error) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("%s (code %d, HTTP %d)", e.Name, e.Code, e.HTTPStatus)
	}
	return fmt.Sprintf("%s (code %d, HTTP %d): %s", e.Name, e.Code, e.HTTPStatus, e.Message)
}

// Class returns the errs class with e's code (a ledger class or an edge
// class), or nil if the code is unknown to this build.
func (e *Error) Class() *errs.Class {
	if c := errs.ByCode(e.Code); c != nil {
		return c
	}
	for _, c := range edgeClasses {
		if c.Code == e.Code {
			return c
		}
	}
	return nil
}

// Is lets errors.Is(err, errs.ErrNotFound) work on an *Error.
func (e *Error) Is(target error) bool {
	c, ok := target.(*errs.Class)
	return ok && c.Code == e.Code
}

// errorBody is the wire form of an error response.
type errorBody struct {
	Error      *Error      `json:"error"`
	Submission *Submission `json:"submission,omitempty"`
	Proof      *Proof      `json:"proof,omitempty"`
}

// newError builds the API error for err: its class, the class's status and
// its message.
func newError(err error) *Error {
	c := classOf(err)
	msg := errs.Message(err)
	if c == errs.ErrInternal && !errors.Is(err, errs.ErrInternal) {
		// An unclassified error from a backend: do not leak its details.
		msg = "internal error"
	}
	return &Error{HTTPStatus: HTTPStatus(c), Code: c.Code, Name: c.Name, Message: msg}
}

// classOf finds err's class, mapping context errors from a backend to the
// edge classes.
func classOf(err error) *errs.Class {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return ErrTimeout
	case errors.Is(err, context.Canceled):
		return ErrUnavailable
	}
	return errs.Of(err)
}

// resultError builds the API error for a ledger result with a non-zero code.
func resultError(code uint32, name, log string) *Error {
	c := errs.ByCode(code)
	if c == nil {
		c = &errs.Class{Code: code, Name: name}
	}
	return &Error{HTTPStatus: HTTPStatus(c), Code: code, Name: c.Name, Message: log}
}

// httpError is for errors with no class of their own at a fixed status.
func httpError(status int, c *errs.Class, format string, args ...any) *Error {
	return &Error{HTTPStatus: status, Code: c.Code, Name: c.Name, Message: fmt.Sprintf(format, args...)}
}

// fail writes the API error for err, logging the full error when it is the
// server's fault (5xx).
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	var e *Error
	if !errors.As(err, &e) {
		e = s.backendError(r, err)
	}
	writeError(w, e)
}

// backendError is newError that logs errors that are the server's fault.
func (s *Server) backendError(r *http.Request, err error) *Error {
	e := newError(err)
	if e.HTTPStatus >= 500 {
		s.log.LogAttrs(r.Context(), slog.LevelWarn, "api: request failed",
			slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.Int("status", e.HTTPStatus),
			slog.String("err", err.Error()))
	}
	return e
}

// writeError writes e as the response.
func writeError(w http.ResponseWriter, e *Error) {
	writeJSON(w, e.HTTPStatus, errorBody{Error: e, Submission: e.Submission, Proof: e.Proof})
}

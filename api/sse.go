package api

import (
	"encoding/json"
	"io"
	"net/http"
	"time"
)

// sse writes a Server-Sent Events stream (the subset Hypha uses: comments,
// id, event and one data line of JSON per event). One goroutine uses it.
type sse struct {
	w            http.ResponseWriter
	rc           *http.ResponseController
	writeTimeout time.Duration
}

// startSSE answers 200 with the event-stream headers and a first comment.
// It lifts the read deadline (when it fires the server cancels the request)
// so the stream lasts as long as the client stays; each write renews the
// write deadline. The caller stops at the first false from a send.
func startSSE(w http.ResponseWriter, writeTimeout time.Duration, hello string) (*sse, bool) {
	s := &sse{w: w, rc: http.NewResponseController(w), writeTimeout: writeTimeout}
	_ = s.rc.SetReadDeadline(time.Time{})
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	return s, s.send(": " + hello + "\n\n")
}

// send writes chunk and flushes it.
func (s *sse) send(chunk string) bool {
	_ = s.rc.SetWriteDeadline(time.Now().Add(s.writeTimeout))
	if _, err := io.WriteString(s.w, chunk); err != nil {
		return false
	}
	return s.rc.Flush() == nil
}

// heartbeat writes a comment line, which clients ignore and proxies see as
// traffic.
func (s *sse) heartbeat() bool { return s.send(": heartbeat\n\n") }

// event writes one event with id (a client's Last-Event-ID on reconnect),
// type typ and v as JSON data.
func (s *sse) event(id, typ string, v any) bool {
	b, err := json.Marshal(v)
	if err != nil {
		return false
	}
	return s.send("id: " + id + "\nevent: " + typ + "\ndata: " + string(b) + "\n\n")
}

// fail writes an "error" event with err as an Error body; the caller then
// ends the stream.
func (s *sse) fail(err error) {
	b, _ := json.Marshal(errorBody{Error: newError(err)})
	s.send("event: error\ndata: " + string(b) + "\n\n")
}

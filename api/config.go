package api

import (
	"encoding/base64"
	"fmt"
	"log/slog"
	"time"

	"github.com/hypha-iot/hypha/txn"
)

// maxChainTxBytes is the largest max_tx_bytes chain parameter the ledger
// accepts (ledger.Params.Validate).
const maxChainTxBytes = 4 << 20

// minBodyBytes is the smallest body limit that still takes a tx of the
// default chain size in its JSON form (base64 plus a little framing).
var minBodyBytes = int64(base64.StdEncoding.EncodedLen(txn.DefaultMaxTxBytes) + 64)

// Config tunes the server. The zero value is usable: every zero field takes
// its default.
type Config struct {
	// MaxBodyBytes bounds a request body (default 1 MiB). It may not be below
	// what a default-sized tx needs in JSON; at run time the server also
	// raises it to fit the chain's max_tx_bytes parameter if that is larger.
	MaxBodyBytes int64
	// SubmitTimeout is how long a commit-mode submission waits for its
	// block (default 10 s). A request may ask for another wait with
	// ?timeout=, capped at MaxSubmitTimeout (default 60 s).
	SubmitTimeout    time.Duration
	MaxSubmitTimeout time.Duration
	// QueryTimeout bounds each backend call of a read route (default 10 s).
	QueryTimeout time.Duration

	// The http.Server timeouts HTTPServer sets, so that slow clients are cut
	// off: ReadHeaderTimeout (default 5 s), ReadTimeout for the whole request
	// with its body (default 30 s), WriteTimeout for the response (default
	// 30 s; a commit-mode submission extends it by its wait, and event
	// streams renew it on every write) and IdleTimeout between keep-alive
	// requests (default 120 s).
	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	WriteTimeout      time.Duration
	IdleTimeout       time.Duration
	// MaxHeaderBytes bounds request headers (default 64 KiB).
	MaxHeaderBytes int

	// HeartbeatInterval is the gap between SSE comment lines on an idle
	// event stream (default 15 s).
	HeartbeatInterval time.Duration
	// MaxReplayBlocks bounds ?from_height= replay on the event stream
	// (default 10,000 blocks).
	MaxReplayBlocks int64
	// ParamsTTL is how long the server caches the chain parameters it reads
	// for body limits (default 30 s).
	ParamsTTL time.Duration

	// Blobs serves file uploads and downloads (nil: those routes answer 503).
	Blobs Blobs

	// Logger receives the server's logs (default: discard).
	Logger *slog.Logger
}

func (c *Config) setDefaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = 1 << 20
	}
	def(&c.SubmitTimeout, 10*time.Second)
	def(&c.MaxSubmitTimeout, 60*time.Second)
	def(&c.QueryTimeout, 10*time.Second)
	def(&c.ReadHeaderTimeout, 5*time.Second)
	def(&c.ReadTimeout, 30*time.Second)
	def(&c.WriteTimeout, 30*time.Second)
	def(&c.IdleTimeout, 120*time.Second)
	def(&c.HeartbeatInterval, 15*time.Second)
	def(&c.ParamsTTL, 30*time.Second)
	if c.MaxHeaderBytes == 0 {
		c.MaxHeaderBytes = 64 << 10
	}
	if c.MaxReplayBlocks == 0 {
		c.MaxReplayBlocks = 10_000
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// validate checks a config after defaults.
func (c *Config) validate() error {
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"SubmitTimeout", c.SubmitTimeout}, {"MaxSubmitTimeout", c.MaxSubmitTimeout},
		{"QueryTimeout", c.QueryTimeout}, {"ReadHeaderTimeout", c.ReadHeaderTimeout},
		{"ReadTimeout", c.ReadTimeout}, {"WriteTimeout", c.WriteTimeout}, {"IdleTimeout", c.IdleTimeout},
		{"HeartbeatInterval", c.HeartbeatInterval}, {"ParamsTTL", c.ParamsTTL},
	} {
		if d.v < 0 {
			return fmt.Errorf("api: config: %s is negative", d.name)
		}
	}
	switch {
	case c.MaxBodyBytes < minBodyBytes:
		return fmt.Errorf("api: config: MaxBodyBytes %d below %d, the JSON form of a max-size tx", c.MaxBodyBytes, minBodyBytes)
	case c.SubmitTimeout > c.MaxSubmitTimeout:
		return fmt.Errorf("api: config: SubmitTimeout %v above MaxSubmitTimeout %v", c.SubmitTimeout, c.MaxSubmitTimeout)
	case c.ReadHeaderTimeout > c.ReadTimeout:
		return fmt.Errorf("api: config: ReadHeaderTimeout %v above ReadTimeout %v", c.ReadHeaderTimeout, c.ReadTimeout)
	case c.MaxHeaderBytes < 0:
		return fmt.Errorf("api: config: MaxHeaderBytes is negative")
	case c.MaxReplayBlocks < 0:
		return fmt.Errorf("api: config: MaxReplayBlocks is negative")
	}
	return nil
}

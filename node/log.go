package node

import (
	"context"
	"io"
	"log/slog"
	"strings"

	cmtlog "github.com/cometbft/cometbft/libs/log"
)

// NewLogger returns the node's logger: text or json, at a level.
func NewLogger(w io.Writer, level, format string) *slog.Logger {
	var lv slog.Level
	_ = lv.UnmarshalText([]byte(level))
	opts := &slog.HandlerOptions{Level: lv}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// cometLogger adapts slog to CometBFT's logger. CometBFT is chatty at info,
// so its info lines are logged at debug unless they come from consensus
// finalised blocks.
type cometLogger struct{ l *slog.Logger }

func (c cometLogger) Debug(msg string, kv ...any) {
	c.l.Log(context.Background(), slog.LevelDebug-4, msg, kv...)
}
func (c cometLogger) Info(msg string, kv ...any) {
	lv := slog.LevelDebug
	if msg == "finalized block" {
		lv = slog.LevelInfo
	}
	c.l.Log(context.Background(), lv, msg, kv...)
}
func (c cometLogger) Error(msg string, kv ...any) {
	// Listeners closing at shutdown are not errors.
	for _, v := range kv {
		if err, ok := v.(error); ok && (strings.Contains(err.Error(), "use of closed network connection") ||
			strings.Contains(err.Error(), "already stopped")) {
			c.l.Debug(msg, kv...)
			return
		}
	}
	if msg == "Stopped accept routine, as transport is closed" {
		c.l.Debug(msg, kv...)
		return
	}
	c.l.Error(msg, kv...)
}
func (c cometLogger) With(kv ...any) cmtlog.Logger { return cometLogger{c.l.With(kv...)} }

package mqtt

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/hypha-iot/hypha/txn"
)

// Config configures a Broker. The zero value of every field means its
// default.
type Config struct {
	// Address is the TCP listen address (default "127.0.0.1:1883"; port 0
	// picks a free port, see Broker.Addr).
	Address string
	// TokenMaxAge is the longest token lifetime (expires_at - issued_at)
	// accepted at CONNECT (default 24h).
	TokenMaxAge time.Duration
	// ClockSkew is the tolerance on a token's issued_at and expires_at
	// (default 30s).
	ClockSkew time.Duration
	// MaxPayload bounds a tx publish's payload (default txn.DefaultMaxTxBytes).
	// The CONNACK advertises MaxPayload+PacketOverhead as the Maximum Packet
	// Size; larger packets close the connection [MQTT-3.2.2-15].
	MaxPayload int
	// MaxPendingTx bounds the txs a connection may have waiting for their
	// commit result; beyond it a publish is refused with 0x97 (default 16).
	MaxPendingTx int
	// SubmitTimeout bounds one Backend.Submit (default 30s).
	SubmitTimeout time.Duration
	// InboxWindow caps the unacknowledged QoS 1 inbox messages per
	// subscription (default 32; also capped by the client's Receive Maximum).
	InboxWindow int
	// InboxPage is the page size of Backend.Inbox reads (default 100).
	InboxPage int
	// MaxSessionExpiry caps a persistent session's expiry (default 24h).
	MaxSessionExpiry time.Duration
	// RecheckInterval is how often connected identities are looked up again
	// and disconnected if revoked or rotated (default 1m; negative: never).
	RecheckInterval time.Duration
	// Logger receives the broker's logs (default slog.Default()).
	Logger *slog.Logger
	// Clock is the wall clock for token checks (default time.Now).
	Clock func() time.Time
}

// PacketOverhead is the room left above MaxPayload for a publish's fixed
// header, topic and properties in the advertised Maximum Packet Size.
const PacketOverhead = 1024

func (c *Config) setDefaults() {
	if c.Address == "" {
		c.Address = "127.0.0.1:1883"
	}
	if c.TokenMaxAge == 0 {
		c.TokenMaxAge = 24 * time.Hour
	}
	if c.ClockSkew == 0 {
		c.ClockSkew = 30 * time.Second
	}
	if c.MaxPayload == 0 {
		c.MaxPayload = txn.DefaultMaxTxBytes
	}
	if c.MaxPendingTx == 0 {
		c.MaxPendingTx = 16
	}
	if c.SubmitTimeout == 0 {
		c.SubmitTimeout = 30 * time.Second
	}
	if c.InboxWindow == 0 {
		c.InboxWindow = 32
	}
	if c.InboxPage == 0 {
		c.InboxPage = 100
	}
	if c.MaxSessionExpiry == 0 {
		c.MaxSessionExpiry = 24 * time.Hour
	}
	if c.RecheckInterval == 0 {
		c.RecheckInterval = time.Minute
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
}

func (c *Config) validate() error {
	var problems []error
	if _, _, err := net.SplitHostPort(c.Address); err != nil {
		problems = append(problems, fmt.Errorf("address %q: %w", c.Address, err))
	}
	if c.TokenMaxAge < time.Second {
		problems = append(problems, fmt.Errorf("token max age %v: want at least 1s", c.TokenMaxAge))
	}
	if c.ClockSkew < 0 {
		problems = append(problems, fmt.Errorf("clock skew %v: want >= 0", c.ClockSkew))
	}
	if c.MaxPayload < 0 || c.MaxPayload > 256<<20 {
		problems = append(problems, fmt.Errorf("max payload %d: want 1..256 MiB", c.MaxPayload))
	}
	if c.MaxPendingTx < 0 || c.InboxWindow < 0 || c.InboxWindow > 65535 || c.InboxPage < 0 {
		problems = append(problems, errors.New("max pending tx, inbox window (<= 65535) and inbox page must be positive"))
	}
	if c.SubmitTimeout < 0 || c.MaxSessionExpiry < 0 {
		problems = append(problems, errors.New("submit timeout and max session expiry must be positive"))
	}
	if err := errors.Join(problems...); err != nil {
		return fmt.Errorf("mqtt: config: %w", err)
	}
	return nil
}

package blob

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	ds "github.com/ipfs/go-datastore"
	"github.com/libp2p/go-libp2p/core/crypto"
	ma "github.com/multiformats/go-multiaddr"
)

// Defaults applied by Config.withDefaults.
const (
	DefaultMaxFileSize = 4 << 30 // 4 GiB
	DefaultFindTimeout = 10 * time.Second

	// defaultMinFree is the free space the datastore's file system must keep
	// after a write. Pebble panics when its write-ahead log cannot be written,
	// so the store refuses writes (errs.ErrStorage) well before the disk is
	// really full: room for memtable flushes, compactions and new WAL files,
	// which pebble preallocates to the memtable size (32 MiB) and of which
	// it may hold up to four.
	defaultMinFree = 256 << 20

	defaultReprovideInterval = 12 * time.Hour
)

// DefaultListenAddrs are used when Config.ListenAddrs is empty: TCP on
// loopback with a kernel-chosen port. QUIC is not offered because go-libp2p's
// private networks (pnet) support only stream transports.
var defaultListenAddrs = []string{"/ip4/127.0.0.1/tcp/0"}

// Config configures a Store. Identity, PSK and Protocol are required; the
// other fields have defaults.
type Config struct {
	// Dir is the directory of the pebble datastore; it is created if missing.
	Dir string
	// ListenAddrs are libp2p multiaddrs to listen on. Default
	// /ip4/127.0.0.1/tcp/0. Only TCP is accepted: pnet rules out QUIC,
	// WebTransport and WebRTC.
	ListenAddrs []string
	// Identity is the libp2p key of this store (ed25519).
	Identity crypto.PrivKey
	// PSK is the 32-byte pre-shared key of the private network.
	PSK []byte
	// Protocol is the private protocol prefix for the DHT and bitswap, such
	// as "/hypha/<chain-id>". Peers with another prefix never talk to us.
	Protocol string
	// MaxFileSize bounds Add; 0 means DefaultMaxFileSize (4 GiB).
	MaxFileSize int64
	// FindTimeout bounds a network search: for a CID no peer has, and for
	// each block of a transfer that stalls. 0 means DefaultFindTimeout.
	FindTimeout time.Duration
	// ReprovideInterval is how often pinned roots are announced again to the
	// DHT. 0 means 12 hours; negative disables the loop.
	ReprovideInterval time.Duration
	// Logger receives operational logs; nil discards them.
	Logger *slog.Logger

	// Test hooks (unexported: only this package's tests set them).

	// wrapDatastore, if set, wraps the opened pebble datastore, e.g. to
	// inject faults.
	wrapDatastore func(ds.Batching) ds.Batching
	// minFree overrides defaultMinFree when > 0.
	minFree int64
}

// withDefaults returns a copy of c with defaults filled in, or an error
// naming the first invalid field.
func (c Config) withDefaults() (Config, error) {
	if c.Dir == "" {
		return c, errors.New("blob: Config.Dir is required")
	}
	if c.Identity == nil {
		return c, errors.New("blob: Config.Identity is required")
	}
	if len(c.PSK) != 32 {
		return c, fmt.Errorf("blob: Config.PSK must be 32 bytes, got %d", len(c.PSK))
	}
	if c.Protocol == "" || c.Protocol[0] != '/' {
		return c, fmt.Errorf("blob: Config.Protocol must be a path like /hypha/<chain-id>, got %q", c.Protocol)
	}
	if len(c.ListenAddrs) == 0 {
		c.ListenAddrs = defaultListenAddrs
	}
	for _, s := range c.ListenAddrs {
		a, err := ma.NewMultiaddr(s)
		if err != nil {
			return c, fmt.Errorf("blob: listen address %q: %w", s, err)
		}
		if _, err := a.ValueForProtocol(ma.P_TCP); err != nil {
			return c, fmt.Errorf("blob: listen address %q: only TCP works in a private (PSK) network", s)
		}
		for _, p := range a.Protocols() {
			switch p.Code {
			case ma.P_WS, ma.P_WSS, ma.P_QUIC_V1, ma.P_WEBTRANSPORT, ma.P_WEBRTC_DIRECT, ma.P_CIRCUIT:
				return c, fmt.Errorf("blob: listen address %q: only plain TCP works in a private (PSK) network", s)
			}
		}
	}
	if c.MaxFileSize < 0 {
		return c, fmt.Errorf("blob: Config.MaxFileSize must not be negative, got %d", c.MaxFileSize)
	}
	if c.MaxFileSize == 0 {
		c.MaxFileSize = DefaultMaxFileSize
	}
	if c.FindTimeout < 0 {
		return c, fmt.Errorf("blob: Config.FindTimeout must not be negative, got %v", c.FindTimeout)
	}
	if c.FindTimeout == 0 {
		c.FindTimeout = DefaultFindTimeout
	}
	if c.ReprovideInterval == 0 {
		c.ReprovideInterval = defaultReprovideInterval
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.minFree <= 0 {
		c.minFree = defaultMinFree
	}
	return c, nil
}

package blob

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	ds "github.com/ipfs/go-datastore"
	"github.com/libp2p/go-libp2p/core/crypto"
	cryptopb "github.com/libp2p/go-libp2p/core/crypto/pb"
	ma "github.com/multiformats/go-multiaddr"
)

// Defaults applied by Config.withDefaults.
const (
	DefaultMaxFileSize = 4 << 30 // 4 GiB
	DefaultFindTimeout = 10 * time.Second

	// defaultMinFree is the default Config.MinFreeBytes: the free space the
	// datastore's file system must keep after a write. Pebble panics when
	// its write-ahead log cannot be written, so the store refuses writes
	// (errs.ErrStorage) well before the disk is really full: room for
	// memtable flushes, compactions and new WAL files, which pebble
	// preallocates to the memtable size (32 MiB) and may hold up to four of.
	defaultMinFree = 256 << 20

	defaultReprovideInterval = 12 * time.Hour
)

// defaultListenAddr is used when Config.ListenAddrs is empty: TCP on
// loopback with a kernel-chosen port. QUIC is not offered: go-libp2p's
// private networks (pnet) work only over stream transports, and its QUIC
// transport refuses a PSK.
const defaultListenAddr = "/ip4/127.0.0.1/tcp/0"

// Config configures a Store. Identity and Protocol are required; the
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
	// PSK is the 32-byte pre-shared key of the private network; nil runs
	// an open network (TCP and QUIC, membership by the allow-list alone).
	PSK []byte
	// Protocol is the private protocol prefix for the DHT and bitswap, such
	// as "/hypha/<chain-id>". Peers with another prefix never talk to us.
	Protocol string
	// MaxFileSize bounds Add and Fetch; 0 means DefaultMaxFileSize (4 GiB).
	MaxFileSize int64
	// FindTimeout bounds a network search: for a CID no peer has, and for
	// each block of a transfer that stalls. 0 means DefaultFindTimeout.
	FindTimeout time.Duration
	// ReprovideInterval is how often pinned roots are announced again to the
	// DHT. 0 means 12 hours; negative disables the loop.
	ReprovideInterval time.Duration
	// MinFreeBytes is the free space writes must leave on the datastore's
	// file system; a write that would go below it fails with errs.ErrStorage
	// (pebble panics on a full disk, so the store stops short of one). 0
	// means 256 MiB; keep it above a few times pebble's 32 MiB memtable.
	MinFreeBytes int64
	// Logger receives operational logs; nil discards them.
	Logger *slog.Logger

	// Test hooks (unexported: only this package's tests set them).

	// wrapDatastore, if set, wraps the opened pebble datastore, e.g. to
	// inject faults.
	wrapDatastore func(ds.Batching) ds.Batching
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
	if c.Identity.Type() != cryptopb.KeyType_Ed25519 {
		return c, fmt.Errorf("blob: Config.Identity must be an ed25519 key, got %v", c.Identity.Type())
	}
	if c.PSK != nil && len(c.PSK) != 32 {
		return c, fmt.Errorf("blob: Config.PSK must be 32 bytes (or nil for an open network), got %d", len(c.PSK))
	}
	if c.Protocol == "" || c.Protocol[0] != '/' {
		return c, fmt.Errorf("blob: Config.Protocol must be a path like /hypha/<chain-id>, got %q", c.Protocol)
	}
	if len(c.ListenAddrs) == 0 {
		c.ListenAddrs = []string{defaultListenAddr}
	}
	for _, s := range c.ListenAddrs {
		a, err := ma.NewMultiaddr(s)
		if err != nil {
			return c, fmt.Errorf("blob: listen address %q: %w", s, err)
		}
		if err := checkListenAddr(a, c.PSK != nil); err != nil {
			return c, fmt.Errorf("blob: listen address %q: %w", s, err)
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
	if c.MinFreeBytes < 0 {
		return c, fmt.Errorf("blob: Config.MinFreeBytes must not be negative, got %d", c.MinFreeBytes)
	}
	if c.MinFreeBytes == 0 {
		c.MinFreeBytes = defaultMinFree
	}
	return c, nil
}

// checkListenAddr accepts plain TCP, and QUIC v1 in an open network (no
// PSK): pnet works only over stream transports and go-libp2p's QUIC refuses
// a PSK. Browser transports and relays are never offered.
func checkListenAddr(a ma.Multiaddr, private bool) error {
	quic := false
	for _, p := range a.Protocols() {
		switch p.Code {
		case ma.P_QUIC_V1:
			quic = true
		case ma.P_WS, ma.P_WSS, ma.P_WEBTRANSPORT, ma.P_WEBRTC_DIRECT, ma.P_CIRCUIT, ma.P_QUIC:
			return errors.New("only TCP (and QUIC v1 without a PSK) is offered")
		}
	}
	if quic {
		if private {
			return errors.New("only TCP works in a private (PSK) network")
		}
		return nil
	}
	if _, err := a.ValueForProtocol(ma.P_TCP); err != nil {
		return errors.New("only TCP (and QUIC v1 without a PSK) is offered")
	}
	return nil
}

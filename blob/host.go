package blob

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/ipfs/boxo/bitswap"
	bsnet "github.com/ipfs/boxo/bitswap/network/bsnet"
	"github.com/libp2p/go-libp2p"
	dht "github.com/libp2p/go-libp2p-kad-dht"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"
	"github.com/libp2p/go-libp2p/core/protocol"
	quic "github.com/libp2p/go-libp2p/p2p/transport/quic"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
)

// Bitswap tuning. The default of 1 MiB outstanding per peer lets a server
// send one 1 MiB block at a time; a few more keep a link busy while the
// next block is read and hashed.
const (
	bitswapOutstandingBytes = 16 << 20
	bitswapTaskWorkers      = 8
	bitswapEngineWorkers    = 8
	bitswapProviderDelay    = 300 * time.Millisecond
	memberTag               = "hypha-member"
	memberDialTimeout       = 5 * time.Second
)

// newHost starts the libp2p host: with a pre-shared key, TCP only (pnet
// excludes QUIC and the browser transports); without one, TCP and QUIC.
// Always the allow-list gater, no relay, no NAT port mapping, and no
// addresses but cfg.ListenAddrs.
func newHost(cfg Config, gater *allowList) (host.Host, error) {
	opts := []libp2p.Option{
		libp2p.Identity(cfg.Identity),
		libp2p.ListenAddrStrings(cfg.ListenAddrs...),
		libp2p.Transport(tcp.NewTCPTransport),
		libp2p.ConnectionGater(gater),
		libp2p.DisableRelay(),
		libp2p.DisableMetrics(),
		libp2p.Ping(false),
	}
	if cfg.PSK != nil {
		opts = append(opts, libp2p.PrivateNetwork(cfg.PSK))
	} else {
		// An open network: QUIC too; membership is the allow-list alone
		// (peer ids are authenticated by the TLS/Noise handshake).
		opts = append(opts, libp2p.Transport(quic.NewTransport))
	}
	h, err := libp2p.New(opts...)
	if err != nil {
		return nil, fmt.Errorf("start libp2p host: %w", err)
	}
	return h, nil
}

// newDHT starts a Kademlia DHT in server mode under the private protocol
// prefix, with no bootstrap peers: members found through SetPeers fill its
// routing table. Provider records stay in memory (they are re-announced by
// Reprovide).
func newDHT(h host.Host, proto string) (*dht.IpfsDHT, error) {
	d, err := dht.New(h,
		dht.Mode(dht.ModeServer),
		dht.ProtocolPrefix(protocol.ID(proto)),
		dht.DisableValues(),
		dht.BootstrapPeers(),
	)
	if err != nil {
		return nil, fmt.Errorf("start DHT: %w", err)
	}
	return d, nil
}

// newBitswap starts bitswap (client and server) on h under the private
// protocol prefix, serving from and finding providers through the DHT.
func newBitswap(ctx context.Context, h host.Host, proto string, d *dht.IpfsDHT, bs *blockStore) *bitswap.Bitswap {
	net := bsnet.NewFromIpfsHost(h, bsnet.Prefix(protocol.ID(proto)))
	opts := []bitswap.Option{
		bitswap.MaxOutstandingBytesPerPeer(bitswapOutstandingBytes),
		bitswap.TaskWorkerCount(bitswapTaskWorkers),
		bitswap.EngineTaskWorkerCount(bitswapEngineWorkers),
		bitswap.ProviderSearchDelay(bitswapProviderDelay),
		bitswap.SetSendDontHaves(true),
	}
	return bitswap.New(ctx, net, d, bs, opts...)
}

func peerIDFromKey(k crypto.PrivKey) (peer.ID, error) {
	id, err := peer.IDFromPrivateKey(k)
	if err != nil {
		return "", fmt.Errorf("blob: identity key: %w", err)
	}
	return id, nil
}

// ID returns the store's libp2p peer ID.
func (s *Store) ID() peer.ID { return s.host.ID() }

// AddrInfo returns the store's peer ID and the addresses it actually listens
// on (kernel-chosen ports resolved), for other members' SetPeers.
func (s *Store) AddrInfo() peer.AddrInfo {
	return peer.AddrInfo{ID: s.host.ID(), Addrs: s.host.Addrs()}
}

// SetPeers replaces the set of members with peers (self is ignored), closes
// connections to peers that are no longer members, and dials every member
// not yet connected. Dialing is best effort: each dial is bounded by a few
// seconds and by ctx, failures are logged, and SetPeers returns when all
// dials have finished. Members dial each other too, so a member that is
// down now is reached when it comes back and calls SetPeers itself.
func (s *Store) SetPeers(ctx context.Context, peers []peer.AddrInfo) {
	if s.enter() != nil {
		return
	}
	defer s.leave()
	ids := make([]peer.ID, 0, len(peers))
	for _, p := range peers {
		ids = append(ids, p.ID)
	}
	s.gater.set(ids)

	cm := s.host.ConnManager()
	for _, p := range s.host.Network().Peers() {
		if !s.gater.allowed(p) {
			if err := s.host.Network().ClosePeer(p); err != nil {
				s.log.Debug("close non-member", "peer", p, "err", err)
			}
		}
	}
	for _, p := range s.host.Peerstore().PeersWithAddrs() {
		if p != s.host.ID() && !s.gater.allowed(p) {
			cm.Unprotect(p, memberTag)
			s.host.Peerstore().ClearAddrs(p)
		}
	}

	var wg sync.WaitGroup
	for _, p := range peers {
		if p.ID == s.host.ID() || p.ID == "" {
			continue
		}
		s.host.Peerstore().AddAddrs(p.ID, p.Addrs, peerstore.PermanentAddrTTL)
		cm.Protect(p.ID, memberTag)
		if s.host.Network().Connectedness(p.ID) == network.Connected {
			continue
		}
		wg.Go(func() {
			dctx, cancel := context.WithTimeout(ctx, memberDialTimeout)
			defer cancel()
			if err := s.host.Connect(dctx, p); err != nil {
				s.log.Info("connect to member failed", "peer", p.ID, "err", err)
			}
		})
	}
	wg.Wait()
}

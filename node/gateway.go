package node

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"

	"github.com/cometbft/cometbft/p2p"
	libp2pcrypto "github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/hypha-iot/hypha/keys"
	"github.com/hypha-iot/hypha/ledger/gateway"
	"github.com/hypha-iot/hypha/txn"
)

// GatewayFunds is each gateway account's genesis balance, for the fees of
// its pin attestations: 1,000 HYP.
const GatewayFunds = txn.Amount(1_000_000_000)

// gatewayIdentity derives a gateway's two identities from its CometBFT
// node key (ed25519): the libp2p identity of its blob store, and the
// account that signs its pin attestations. One key file thus names the
// gateway on all three networks (CometBFT p2p, libp2p, the ledger).
func gatewayIdentity(nk *p2p.NodeKey) (libp2pcrypto.PrivKey, keys.PrivateKey, error) {
	raw := nk.PrivKey.Bytes()
	if len(raw) != 64 {
		return nil, nil, fmt.Errorf("node key: want an ed25519 key, got %d bytes", len(raw))
	}
	lk, err := libp2pcrypto.UnmarshalEd25519PrivateKey(raw)
	if err != nil {
		return nil, nil, fmt.Errorf("node key as libp2p key: %w", err)
	}
	var seed [keys.SeedSize]byte
	copy(seed[:], raw[:32])
	return lk, keys.Ed25519FromSeed(seed), nil
}

// blobMultiaddrs are the libp2p listen addresses for host:port: TCP, and
// QUIC on the same port when quic is set. go-libp2p's private networks
// (a pre-shared key) work over TCP only: its QUIC transport refuses a PSK
// (libp2p/go-libp2p#1432), so a gateway with blob_psk set speaks TCP, and
// one without speaks TCP and QUIC with membership by the allow-list alone
// (docs/decisions/0016).
func blobMultiaddrs(hostport string, quic bool) ([]string, error) {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return nil, fmt.Errorf("blob_address %q: %w", hostport, err)
	}
	ip := net.ParseIP(host)
	if ip == nil {
		return nil, fmt.Errorf("blob_address %q: want an IP address", hostport)
	}
	proto := "ip4"
	if ip.To4() == nil {
		proto = "ip6"
	}
	out := []string{fmt.Sprintf("/%s/%s/tcp/%s", proto, host, port)}
	if quic {
		out = append(out, fmt.Sprintf("/%s/%s/udp/%s/quic-v1", proto, host, port))
	}
	return out, nil
}

// gatewayRecord is the genesis record of the gateway of a home.
func gatewayRecord(nk *p2p.NodeKey, blobAddr string, quic bool, name string) (gateway.Gateway, error) {
	lk, acct, err := gatewayIdentity(nk)
	if err != nil {
		return gateway.Gateway{}, err
	}
	id, err := peer.IDFromPrivateKey(lk)
	if err != nil {
		return gateway.Gateway{}, err
	}
	g := gateway.Gateway{Address: acct.Public().Address(), PeerID: id.String(), Name: name}
	if blobAddr != "" {
		if g.Addrs, err = blobMultiaddrs(blobAddr, quic); err != nil {
			return gateway.Gateway{}, err
		}
	}
	return g, nil
}

// newPSK returns a fresh private-network key, hex.
func newPSK() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return hex.EncodeToString(b[:]), nil
}

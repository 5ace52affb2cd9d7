package blob

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/hypha-iot/hypha/errs"
)

func withListen(addrs ...string) storeOpt { return func(c *Config) { c.ListenAddrs = addrs } }

// Without a PSK the stores speak QUIC (here QUIC only), and membership is
// the allow-list alone: members fetch, a stranger is refused both ways.
func TestOpenNetworkOverQUIC(t *testing.T) {
	quicOnly := withListen("/ip4/127.0.0.1/udp/0/quic-v1")
	a := mustStore(t, withPSK(nil), quicOnly)
	b := mustStore(t, withPSK(nil), quicOnly, withFindTimeout(time.Second))
	for _, s := range []*Store{a, b} {
		for _, m := range s.AddrInfo().Addrs {
			if _, err := m.ValueForProtocol(ma.P_QUIC_V1); err != nil {
				t.Fatalf("listening on %s, want QUIC only", m)
			}
		}
	}
	mustConnect(t, a, b)
	data := uniqueBytes(3<<20 + 17)
	c := mustAdd(t, a, data)
	if err := b.Fetch(context.Background(), c, nil); err != nil {
		t.Fatalf("fetch over QUIC: %v", err)
	}
	if got := mustReadAll(t, b, c); !bytes.Equal(got, data) {
		t.Fatal("bytes differ after a QUIC fetch")
	}

	stranger := mustStore(t, withPSK(nil), quicOnly, withFindTimeout(time.Second))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	stranger.SetPeers(ctx, []peer.AddrInfo{a.AddrInfo()})
	if err := stranger.host.Connect(ctx, a.AddrInfo()); err == nil {
		waitFor(t, 5*time.Second, "the stranger is dropped", func() bool {
			return a.host.Network().Connectedness(stranger.ID()) != network.Connected
		})
	}
	if err := stranger.Fetch(context.Background(), c, nil); !errors.Is(err, errs.ErrBlobNotFound) {
		t.Fatalf("stranger fetch = %v, want ErrBlobNotFound", err)
	}
}

// A private (PSK) store refuses a QUIC listen address.
func TestPrivateNetworkRefusesQUIC(t *testing.T) {
	cfg := Config{Dir: t.TempDir(), PSK: testPSK, Protocol: testProtocol, ListenAddrs: []string{"/ip4/127.0.0.1/udp/0/quic-v1"}}
	key, _, _ := cryptoKey(t)
	cfg.Identity = key
	if _, err := Open(context.Background(), cfg); err == nil {
		t.Fatal("a PSK store listened on QUIC")
	}
}

func cryptoKey(t *testing.T) (crypto.PrivKey, crypto.PubKey, error) {
	t.Helper()
	return crypto.GenerateEd25519Key(rand.Reader)
}

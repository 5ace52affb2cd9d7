// Package gateway is the ledger's registry of the network's gateways: the
// accounts that may attest file pins, and the libp2p peer ids the blob
// stores admit to their private network. Gateways are set at genesis;
// changing the set later is a governance matter left to a later version.
//
// It owns the state prefix "gw/":
//
//	gw/{address} -> Gateway
package gateway

import (
	"github.com/hypha-iot/hypha/errs"
	"github.com/hypha-iot/hypha/keys"
	"github.com/hypha-iot/hypha/ledger/exec"
)

// Prefix is this domain's key prefix.
const Prefix = "gw/"

// Gateway is one gateway's record.
type Gateway struct {
	Address keys.Address `cbor:"1,keyasint" json:"address"`
	// PeerID is the gateway's libp2p peer id (its text form).
	PeerID string `cbor:"2,keyasint" json:"peer_id"`
	// Addrs are the multiaddrs (without /p2p/) where its blob store listens.
	Addrs []string `cbor:"3,keyasint,omitempty" json:"addrs,omitempty"`
	Name  string   `cbor:"4,keyasint,omitempty" json:"name,omitempty"`
}

// Key is the state key of a gateway's record.
func Key(a keys.Address) []byte { return append([]byte(Prefix), a[:]...) }

// Put writes g (genesis only).
func Put(c *exec.Context, g *Gateway) error {
	if g.Address.IsZero() {
		return errs.ErrInvalidAddress.Wrap("gateway with an empty address")
	}
	if g.PeerID == "" {
		return errs.ErrInvalidMsg.Wrap("gateway %s without a peer id", g.Address)
	}
	if c.Has(Key(g.Address)) {
		return errs.ErrInvalidMsg.Wrap("gateway %s listed twice", g.Address)
	}
	c.SetRecord(Key(g.Address), g)
	return nil
}

// Is tells whether a is a gateway.
func Is(c *exec.Context, a keys.Address) bool { return c.Has(Key(a)) }

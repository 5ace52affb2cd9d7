package blob

import (
	"sync"

	"github.com/libp2p/go-libp2p/core/connmgr"
	"github.com/libp2p/go-libp2p/core/control"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// allowList is the ConnectionGater of the store's host: only members (the
// peers last given to SetPeers) may connect, inbound or outbound. The pre-
// shared key already keeps out anyone outside the network; the allow-list
// keeps out network insiders that are not current members (a retired
// gateway that still has the key). Checks happen on dial and, for inbound
// connections, right after the security handshake authenticates the peer.
// Safe for concurrent use.
type allowList struct {
	self peer.ID

	mu      sync.RWMutex
	members map[peer.ID]struct{}
}

var _ connmgr.ConnectionGater = (*allowList)(nil)

func newAllowList(self peer.ID) *allowList {
	return &allowList{self: self, members: map[peer.ID]struct{}{}}
}

// set replaces the member set; self is never a member.
func (a *allowList) set(ids []peer.ID) {
	m := make(map[peer.ID]struct{}, len(ids))
	for _, id := range ids {
		if id != a.self && id != "" {
			m[id] = struct{}{}
		}
	}
	a.mu.Lock()
	a.members = m
	a.mu.Unlock()
}

func (a *allowList) allowed(p peer.ID) bool {
	a.mu.RLock()
	defer a.mu.RUnlock()
	_, ok := a.members[p]
	return ok
}

func (a *allowList) InterceptPeerDial(p peer.ID) bool                 { return a.allowed(p) }
func (a *allowList) InterceptAddrDial(p peer.ID, _ ma.Multiaddr) bool { return a.allowed(p) }

// InterceptAccept admits the raw connection: the peer is unknown until the
// handshake that follows, which needs the pre-shared key and ends in
// InterceptSecured.
func (a *allowList) InterceptAccept(network.ConnMultiaddrs) bool { return true }

func (a *allowList) InterceptSecured(_ network.Direction, p peer.ID, _ network.ConnMultiaddrs) bool {
	return a.allowed(p)
}

func (a *allowList) InterceptUpgraded(network.Conn) (bool, control.DisconnectReason) {
	return true, 0
}

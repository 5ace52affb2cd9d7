// Package testnet runs real Hypha networks on 127.0.0.1 for integration
// tests and benchmarks: N nodes in-process (or homes for subprocesses), each
// with its own free ports, waiting on conditions with deadlines, never on
// fixed sleeps.
package testnet

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/hypha-iot/hypha/internal/freeport"
	"github.com/hypha-iot/hypha/ledger"
	"github.com/hypha-iot/hypha/node"
)

// FreeAddr returns 127.0.0.1:PORT for a port that was free a moment ago,
// chosen as internal/freeport explains.
func FreeAddr(tb testing.TB) string {
	tb.Helper()
	addr, err := freeport.Addr()
	if err != nil {
		tb.Fatal(err)
	}
	return addr
}

// Options configure a network.
type Options struct {
	Validators int
	FullNodes  int
	BlockTime  time.Duration // default 200 ms
	Indexer    string        // default kv
	Accounts   []ledger.GenesisAccount
	Params     *ledger.Params
	LogLevel   string // default error
	// NoBlobs turns file sharing off (no libp2p host per node).
	NoBlobs bool
	// Configure, if set, edits each node's configuration before it starts.
	Configure func(k int, c *node.Config)
}

// Network is a set of homes and the nodes running from them.
type Network struct {
	TB    testing.TB
	Homes []string
	Nodes []*node.Node // nil where stopped
	opts  Options
}

// New writes the homes (in a temp dir) and starts every node.
func New(tb testing.TB, o Options) *Network {
	tb.Helper()
	net := Homes(tb, o)
	for k := range net.Homes {
		net.Start(k)
	}
	return net
}

// Homes writes the homes without starting nodes.
func Homes(tb testing.TB, o Options) *Network {
	tb.Helper()
	if o.BlockTime == 0 {
		o.BlockTime = 200 * time.Millisecond
	}
	if o.LogLevel == "" {
		o.LogLevel = "error"
	}
	n := o.Validators + o.FullNodes
	addrs := make([][5]string, n)
	for k := range addrs {
		addrs[k] = [5]string{FreeAddr(tb), FreeAddr(tb), FreeAddr(tb), FreeAddr(tb), "off"}
		if !o.NoBlobs {
			addrs[k][4] = FreeAddr(tb)
		}
	}
	homes, err := node.Testnet(tb.TempDir(), node.TestnetOptions{
		Validators: o.Validators, FullNodes: o.FullNodes,
		InitOptions: node.InitOptions{ChainID: "hypha-it", Dev: true, Accounts: o.Accounts, Params: o.Params,
			TimeoutCommit: o.BlockTime, Indexer: o.Indexer},
		Ports:    func(k int) (string, string, string) { return addrs[k][0], addrs[k][1], addrs[k][2] },
		MQTTPort: func(k int) string { return addrs[k][3] },
		BlobPort: func(k int) string { return addrs[k][4] },
	})
	if err != nil {
		tb.Fatal(err)
	}
	net := &Network{TB: tb, Homes: homes, Nodes: make([]*node.Node, n), opts: o}
	tb.Cleanup(net.Close)
	return net
}

// Start starts node k from its home.
func (n *Network) Start(k int) *node.Node {
	n.TB.Helper()
	cfg, err := node.LoadConfig(n.Homes[k])
	if err != nil {
		n.TB.Fatal(err)
	}
	cfg.App.LogLevel = n.opts.LogLevel
	if n.opts.Configure != nil {
		n.opts.Configure(k, cfg)
	}
	nd, err := node.New(cfg, node.NewLogger(os.Stderr, n.opts.LogLevel, "text").With("node", k))
	if err != nil {
		n.TB.Fatalf("node %d: %v", k, err)
	}
	if err := nd.Start(); err != nil {
		n.TB.Fatalf("node %d: start: %v", k, err)
	}
	n.Nodes[k] = nd
	return nd
}

// Stop stops node k.
func (n *Network) Stop(k int) {
	n.TB.Helper()
	if n.Nodes[k] == nil {
		return
	}
	if err := n.Nodes[k].Close(); err != nil {
		n.TB.Errorf("node %d: close: %v", k, err)
	}
	n.Nodes[k] = nil
}

// Close stops every running node.
func (n *Network) Close() {
	for k := range n.Nodes {
		if n.Nodes[k] != nil {
			_ = n.Nodes[k].Close()
			n.Nodes[k] = nil
		}
	}
}

// MQTT is node k's MQTT broker address.
func (n *Network) MQTT(k int) string { return n.Nodes[k].MQTTAddr() }

// API is node k's API base URL.
func (n *Network) API(k int) string { return "http://" + n.Nodes[k].APIAddr() }

// Height is node k's last committed height.
func (n *Network) Height(k int) int64 { return n.Nodes[k].Ledger().Info().Height }

// WaitHeight waits until every running node has committed height h.
func (n *Network) WaitHeight(h int64, timeout time.Duration) {
	n.TB.Helper()
	Eventually(n.TB, timeout, fmt.Sprintf("all nodes at height %d", h), func() bool {
		for k, nd := range n.Nodes {
			if nd != nil && n.Height(k) < h {
				return false
			}
		}
		return true
	})
}

// Eventually polls cond every 20 ms until it holds or timeout passes.
func Eventually(tb testing.TB, timeout time.Duration, what string, cond func() bool) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			tb.Fatalf("timed out after %s waiting for %s", timeout, what)
		case <-tick.C:
		}
	}
}

package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/cometbft/cometbft/abci/example/kvstore"
	cmtcfg "github.com/cometbft/cometbft/config"
	cmtlog "github.com/cometbft/cometbft/libs/log"
	cmtnode "github.com/cometbft/cometbft/node"
	"github.com/cometbft/cometbft/p2p"
	"github.com/cometbft/cometbft/privval"
	"github.com/cometbft/cometbft/proxy"
	rpclocal "github.com/cometbft/cometbft/rpc/client/local"

	"github.com/hypha-iot/hypha/internal/freeport"
	"github.com/hypha-iot/hypha/ledger"
	"github.com/hypha-iot/hypha/node"
)

// chainID is the chain id of every bench network.
const chainID = "hypha-bench"

// network is N validators running in this process.
type network struct {
	dir     string
	members []*member
}

// member is one node of a network.
type member struct {
	rpc    *rpclocal.Local
	ledger *ledger.Ledger // nil for kvstore
	stop   func() error
}

// startNetwork writes n homes with node.Testnet (the same genesis shape,
// validator set and CometBFT configuration whatever the app), starts a node
// on each with app's ABCI application, and waits until every node has all
// its peers and the first block.
func startNetwork(ctx context.Context, o *Options, app App, n int, indexer string, accounts []ledger.GenesisAccount) (*network, error) {
	dir, err := os.MkdirTemp(o.Dir, "hypha-bench-")
	if err != nil {
		return nil, err
	}
	net := &network{dir: dir}
	p2pAddrs := make([]string, n)
	for k := range p2pAddrs {
		if p2pAddrs[k], err = freeport.Addr(); err != nil {
			net.close()
			return nil, err
		}
	}
	homes, err := node.Testnet(dir, node.TestnetOptions{
		Validators: n,
		InitOptions: node.InitOptions{ChainID: chainID, Accounts: accounts, TimeoutCommit: o.BlockTime,
			Indexer: indexer},
		// The RPC and API listeners are disabled below: the load goes
		// through CometBFT's in-process RPC client.
		Ports: func(k int) (string, string, string) { return p2pAddrs[k], "127.0.0.1:0", "" },
	})
	if err != nil {
		net.close()
		return nil, err
	}
	for k, home := range homes {
		m, err := startMember(home, k, app, o)
		if err != nil {
			net.close()
			return nil, fmt.Errorf("node %d: %w", k, err)
		}
		net.members = append(net.members, m)
	}
	if err := net.waitReady(ctx, time.Minute); err != nil {
		net.close()
		return nil, err
	}
	return net, nil
}

func startMember(home string, k int, app App, o *Options) (*member, error) {
	cfg, err := node.LoadConfig(home)
	if err != nil {
		return nil, err
	}
	c := cfg.Comet
	c.RPC.ListenAddress = ""
	c.Mempool.Size = o.MempoolSize
	c.Mempool.CacheSize = 2 * o.MempoolSize
	if app != KVStore {
		cfg.App.APIAddress = ""
		cfg.App.LogLevel = "error"
		nd, err := node.New(cfg, node.NewLogger(o.Log, "error", "text").With("node", k))
		if err != nil {
			return nil, err
		}
		if err := nd.Start(); err != nil {
			return nil, err
		}
		return &member{rpc: nd.RPC(), ledger: nd.Ledger(), stop: nd.Close}, nil
	}
	return startKVStore(c)
}

// startKVStore runs CometBFT over home's configuration with the kvstore
// example application, wired as node.New wires Hypha's (a local client
// whose mempool and consensus connections are separate).
func startKVStore(c *cmtcfg.Config) (*member, error) {
	nodeKey, err := p2p.LoadNodeKey(c.NodeKeyFile())
	if err != nil {
		return nil, err
	}
	pv := privval.LoadFilePV(c.PrivValidatorKeyFile(), c.PrivValidatorStateFile())
	dbs := &node.DBTracker{}
	cn, err := cmtnode.NewNode(c, pv, nodeKey,
		proxy.NewConnSyncLocalClientCreator(kvstore.NewInMemoryApplication()),
		cmtnode.DefaultGenesisDocProviderFunc(c),
		dbs.Provide,
		cmtnode.DefaultMetricsProvider(c.Instrumentation),
		cmtlog.NewNopLogger())
	if err != nil {
		dbs.CloseAll()
		return nil, err
	}
	if err := cn.Start(); err != nil {
		dbs.CloseAll()
		return nil, err
	}
	stop := func() error {
		var err error
		if cn.IsRunning() {
			err = cn.Stop()
			cn.Wait()
		}
		dbs.CloseAll()
		return err
	}
	return &member{rpc: rpclocal.New(cn), stop: stop}, nil
}

// waitReady waits until every member sees all the others and has committed
// a block.
func (n *network) waitReady(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		ready := true
		for _, m := range n.members {
			ni, err := m.rpc.NetInfo(ctx)
			if err != nil || ni.NPeers < len(n.members)-1 {
				ready = false
				break
			}
			st, err := m.rpc.Status(ctx)
			if err != nil || st.SyncInfo.LatestBlockHeight < 1 || m.ledger != nil && m.ledger.Info().Height < 1 {
				ready = false
				break
			}
		}
		if ready {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("network of %d not ready (peers connected, first block) within %s: %w", len(n.members), timeout, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// backlog is the largest mempool of the network.
func (n *network) backlog(ctx context.Context) (int, error) {
	most := 0
	for _, m := range n.members {
		r, err := m.rpc.NumUnconfirmedTxs(ctx)
		if err != nil {
			return 0, err
		}
		most = max(most, r.Total)
	}
	return most, nil
}

// close stops every member and removes the homes.
func (n *network) close() error {
	var errs []error
	for _, m := range n.members {
		errs = append(errs, stopWithin(m.stop, stopTimeout))
	}
	n.members = nil
	errs = append(errs, os.RemoveAll(n.dir))
	return errors.Join(errs...)
}

// stopTimeout bounds how long one member may take to stop.
const stopTimeout = time.Minute

// stopWithin runs stop and gives up waiting after d, leaving it running: a
// node that hangs in shutdown (seen: goleveldb's Close waiting forever for
// the write lock of the tx indexer's database) must not hang the whole
// benchmark. The abandoned goroutine holds only that node's resources.
func stopWithin(stop func() error, d time.Duration) error {
	done := make(chan error, 1)
	go func() { done <- stop() }()
	select {
	case err := <-done:
		return err
	case <-time.After(d):
		return fmt.Errorf("node did not stop within %s; abandoned", d)
	}
}

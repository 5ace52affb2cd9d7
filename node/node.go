// Package node wires a Hypha gateway: a CometBFT node embedded in-process
// with the ledger as its ABCI application (over a local connection that lets
// CheckTx run beside FinalizeBlock), the authenticated store, and the
// HTTP/JSON API. New builds it from a home directory, Start runs it, Close
// stops it; Run does both around a context.
package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"time"

	dbm "github.com/cometbft/cometbft-db"
	cmtcfg "github.com/cometbft/cometbft/config"
	cmtnode "github.com/cometbft/cometbft/node"
	"github.com/cometbft/cometbft/p2p"
	"github.com/cometbft/cometbft/privval"
	"github.com/cometbft/cometbft/proxy"
	rpclocal "github.com/cometbft/cometbft/rpc/client/local"

	"github.com/hypha-iot/hypha/abci"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/hypha-iot/hypha/api"
	"github.com/hypha-iot/hypha/blob"
	"github.com/hypha-iot/hypha/keys"
	"github.com/hypha-iot/hypha/ledger"
	"github.com/hypha-iot/hypha/mqtt"
	"github.com/hypha-iot/hypha/store"
	"github.com/hypha-iot/hypha/vm/vmledger"
)

// Version is reported by the ABCI Info call and the API.
var Version = "0.1.0-dev"

// Node is one gateway.
type Node struct {
	cfg    *Config
	log    *slog.Logger
	st     *store.Store
	ledger *ledger.Ledger
	comet  *cmtnode.Node
	rpc    *rpclocal.Local
	events *eventHub
	dbs    *DBTracker

	apiSrv *http.Server
	apiLn  net.Listener
	broker *mqtt.Broker

	nodeKey  *p2p.NodeKey
	vm       *vmledger.Runtime
	blobs    *blob.Store
	peers    []peer.AddrInfo // the genesis gateways' blob stores
	gwKey    keys.PrivateKey
	repl     *replicator
	replStop context.CancelFunc
	replDone chan struct{}

	closeOnce sync.Once
	closeErr  error
}

// New builds the node of a home without starting it.
func New(cfg *Config, log *slog.Logger) (*Node, error) {
	if log == nil {
		log = NewLogger(nil, cfg.App.LogLevel, cfg.App.LogFormat)
	}
	st, err := store.Open(store.Config{Dir: filepath.Join(cfg.Comet.DBDir(), stateDBName), KeepRecent: cfg.App.StateKeepRecent})
	if err != nil {
		return nil, fmt.Errorf("open state: %w", err)
	}
	// Every gateway runs the same contract runtime with the same limits:
	// they are consensus rules.
	rt, err := vmledger.New(context.Background(), vmledger.Config{})
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("contract runtime: %w", err)
	}
	l, err := ledger.New(st, ledger.Config{LocalMinGasPriceMilli: cfg.App.MinGasPriceMilli, Contracts: rt})
	if err != nil {
		rt.Close(context.Background())
		st.Close()
		return nil, err
	}
	app := abci.New(l, abci.Config{RetainBlocks: cfg.App.RetainBlocks, Version: Version}, log.With("module", "abci"))
	dbs := &DBTracker{}
	nodeKey, err := p2p.LoadOrGenNodeKey(cfg.Comet.NodeKeyFile())
	if err != nil {
		rt.Close(context.Background())
		st.Close()
		return nil, fmt.Errorf("node key: %w", err)
	}
	pv := privval.LoadOrGenFilePV(cfg.Comet.PrivValidatorKeyFile(), cfg.Comet.PrivValidatorStateFile())
	comet, err := cmtnode.NewNode(cfg.Comet, pv, nodeKey,
		proxy.NewConnSyncLocalClientCreator(app),
		cmtnode.DefaultGenesisDocProviderFunc(cfg.Comet),
		dbs.Provide,
		cmtnode.DefaultMetricsProvider(cfg.Comet.Instrumentation),
		cometLogger{log.With("module", "comet")})
	if err != nil {
		dbs.CloseAll()
		rt.Close(context.Background())
		st.Close()
		return nil, fmt.Errorf("cometbft: %w", err)
	}
	n := &Node{cfg: cfg, log: log, st: st, ledger: l, comet: comet, rpc: rpclocal.New(comet), dbs: dbs, nodeKey: nodeKey, vm: rt}
	n.events = newEventHub(n.rpc, log.With("module", "events"))
	return n, nil
}

// Ledger is the node's state machine (for in-process queries and tests).
func (n *Node) Ledger() *ledger.Ledger { return n.ledger }

// Config is the node's configuration.
func (n *Node) Config() *Config { return n.cfg }

// RPC is CometBFT's in-process RPC client.
func (n *Node) RPC() *rpclocal.Local { return n.rpc }

// APIAddr is the address the API listens on ("" if disabled or not started).
func (n *Node) APIAddr() string {
	if n.apiLn == nil {
		return ""
	}
	return n.apiLn.Addr().String()
}

// MQTTAddr is the address the MQTT broker listens on ("" if disabled or
// not started).
func (n *Node) MQTTAddr() string {
	if n.broker == nil {
		return ""
	}
	return n.broker.Addr()
}

// RPCAddr is CometBFT's RPC listen address.
func (n *Node) RPCAddr() string { return n.cfg.Comet.RPC.ListenAddress }

// Start starts consensus, the event hub and the API.
func (n *Node) Start() error {
	if err := n.reindexTail(); err != nil {
		n.dbs.CloseAll()
		n.st.Close()
		n.vm.Close(context.Background())
		return err
	}
	if err := n.comet.Start(); err != nil {
		n.dbs.CloseAll()
		n.st.Close()
		n.vm.Close(context.Background())
		return fmt.Errorf("start cometbft: %w", err)
	}
	if err := n.events.start(); err != nil {
		n.Close()
		return err
	}
	if n.cfg.App.BlobAddress != "" {
		if err := n.startBlobs(); err != nil {
			n.Close()
			return err
		}
	}
	if addr := n.cfg.App.APIAddress; addr != "" {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			n.Close()
			return fmt.Errorf("api listen %s: %w", addr, err)
		}
		acfg := api.Config{Logger: n.log.With("module", "api"), SubmitTimeout: n.cfg.App.SubmitTimeout,
			MaxBodyBytes: 4 << 20}
		if n.blobs != nil {
			acfg.Blobs = n.blobs
		}
		srv := api.New(&backend{n: n}, acfg)
		n.apiLn, n.apiSrv = ln, srv.HTTPServer(ln.Addr().String())
		go func() {
			if err := n.apiSrv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				n.log.Error("api server", "err", err)
			}
		}()
	}
	if addr := n.cfg.App.MQTTAddress; addr != "" {
		b, err := mqtt.New(&mqttBackend{n: n}, mqtt.Config{Address: addr, Logger: n.log.With("module", "mqtt")})
		if err != nil {
			n.Close()
			return fmt.Errorf("mqtt: %w", err)
		}
		if err := b.Start(); err != nil {
			n.Close()
			return fmt.Errorf("mqtt listen %s: %w", addr, err)
		}
		n.broker = b
	}
	n.log.Info("node started", "chain_id", n.comet.GenesisDoc().ChainID, "rpc", n.cfg.Comet.RPC.ListenAddress,
		"api", n.APIAddr(), "mqtt", n.MQTTAddr(), "blob", n.cfg.App.BlobAddress, "home", n.cfg.Home)
	return nil
}

// Close stops the replicator, the MQTT broker, the API, the blob store, consensus, the event hub and the
// store, in that order. Safe to call more than once.
func (n *Node) Close() error {
	n.closeOnce.Do(func() {
		var errs []error
		if n.replStop != nil {
			n.replStop()
			<-n.replDone
		}
		if n.broker != nil {
			errs = append(errs, n.broker.Close())
		}
		if n.apiSrv != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			errs = append(errs, n.apiSrv.Shutdown(ctx))
			cancel()
		}
		if n.blobs != nil {
			errs = append(errs, n.blobs.Close())
		}
		// CometBFT stops first, while the event hub still drains its
		// unbuffered subscription: a hub that stopped reading first would
		// block CometBFT's event bus (and so its Stop) forever.
		if n.comet.IsRunning() {
			if err := n.comet.Stop(); err != nil {
				errs = append(errs, err)
			}
			n.comet.Wait()
		}
		n.events.stop()
		n.dbs.CloseAll()
		errs = append(errs, n.st.Close())
		errs = append(errs, n.vm.Close(context.Background()))
		n.closeErr = errors.Join(errs...)
	})
	return n.closeErr
}

// Run starts the node and stops it when ctx ends.
func (n *Node) Run(ctx context.Context) error {
	if err := n.Start(); err != nil {
		return err
	}
	<-ctx.Done()
	n.log.Info("stopping")
	return n.Close()
}

// DBTracker opens CometBFT's databases and remembers them: CometBFT's Stop
// does not close every one (the tx indexer's stays open), so a node stopped
// in-process could not start again from the same home. Each database is
// wrapped so that reads racing with shutdown see "absent" instead of a
// closed database: CometBFT closes its block store while some reactor
// goroutines (consensus queryMaj23Routine) may still read it, and its block
// store panics on any read error.
type DBTracker struct {
	mu  sync.Mutex
	dbs []*closingDB
}

// Provide is a cmtcfg.DBProvider.
func (t *DBTracker) Provide(ctx *cmtcfg.DBContext) (dbm.DB, error) {
	db, err := cmtcfg.DefaultDBProvider(ctx)
	if err != nil {
		return nil, err
	}
	c := &closingDB{DB: db}
	t.mu.Lock()
	t.dbs = append(t.dbs, c)
	t.mu.Unlock()
	return c, nil
}

// CloseAll closes every database; closing one CometBFT already closed is
// harmless.
func (t *DBTracker) CloseAll() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, db := range t.dbs {
		_ = db.Close()
	}
	t.dbs = nil
}

// closingDB is a database whose point reads after Close answer "absent".
type closingDB struct {
	dbm.DB
	mu     sync.RWMutex
	closed bool
}

func (d *closingDB) Get(key []byte) ([]byte, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.closed {
		return nil, nil
	}
	return d.DB.Get(key)
}

func (d *closingDB) Has(key []byte) (bool, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.closed {
		return false, nil
	}
	return d.DB.Has(key)
}

func (d *closingDB) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil
	}
	d.closed = true
	return d.DB.Close()
}

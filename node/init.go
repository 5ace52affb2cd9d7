package node

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	cmtcfg "github.com/cometbft/cometbft/config"
	"github.com/cometbft/cometbft/p2p"
	"github.com/cometbft/cometbft/privval"
	cmttypes "github.com/cometbft/cometbft/types"

	"github.com/hypha-iot/hypha/keys"
	"github.com/hypha-iot/hypha/keys/keyring"
	"github.com/hypha-iot/hypha/ledger"
	"github.com/hypha-iot/hypha/ledger/gateway"
	"github.com/hypha-iot/hypha/txn"
)

// DevKeyName is the keyring name of the funded development account that
// `hypha init --dev` (and `hypha up`) creates.
const DevKeyName = "dev"

// DevFunds is the dev account's genesis balance: 1,000,000 HYP.
const DevFunds = txn.Amount(1_000_000_000_000)

// InitOptions describe a new home.
type InitOptions struct {
	ChainID string
	Moniker string
	// Dev creates the "dev" key in the home's keyring and funds it.
	Dev bool
	// Accounts are extra genesis allocations.
	Accounts []ledger.GenesisAccount
	// Params overrides the chain parameters (nil keeps the defaults).
	Params *ledger.Params
	// Listen addresses (host:port). Empty keeps the defaults
	// 127.0.0.1:26656 (p2p), 127.0.0.1:26657 (rpc), 127.0.0.1:8700 (api).
	P2PAddress, RPCAddress, APIAddress string
	// MQTTAddress is the broker's listen address: "" keeps the default
	// 127.0.0.1:1883, "off" disables the broker.
	MQTTAddress string
	// BlobAddress is the blob store's host:port: "" keeps the default
	// 127.0.0.1:4001, "off" disables file sharing.
	BlobAddress string
	// BlobPSK is the network's private-network key (hex); empty makes one,
	// "off" runs an open network (TCP and QUIC, the allow-list alone).
	BlobPSK string
	// TimeoutCommit is the pause after each block (default 1 s).
	TimeoutCommit time.Duration
	// IdleBlockInterval is how long an idle chain waits before an empty
	// block (CometBFT's create_empty_blocks_interval; default 10 s):
	// blocks carry contract ticks, queued triggers and message expiry, so
	// they must come even when nobody sends a tx. Negative: never (blocks
	// only for txs).
	IdleBlockInterval time.Duration
	// Indexer is CometBFT's tx indexer: "kv" (default) or "null".
	Indexer string
	// GenesisTime defaults to now.
	GenesisTime time.Time
}

func (o *InitOptions) defaults() {
	if o.ChainID == "" {
		o.ChainID = "hypha-local"
	}
	if o.Moniker == "" {
		o.Moniker = "hypha-node"
	}
	if o.P2PAddress == "" {
		o.P2PAddress = "127.0.0.1:26656"
	}
	if o.RPCAddress == "" {
		o.RPCAddress = "127.0.0.1:26657"
	}
	if o.APIAddress == "" {
		o.APIAddress = DefaultAppConfig().APIAddress
	}
	if o.TimeoutCommit == 0 {
		o.TimeoutCommit = time.Second
	}
	if o.Indexer == "" {
		o.Indexer = "kv"
	}
	if o.IdleBlockInterval == 0 {
		o.IdleBlockInterval = DefaultIdleBlockInterval
	}
	if o.BlobAddress == "" {
		o.BlobAddress = DefaultAppConfig().BlobAddress
	}
	if o.GenesisTime.IsZero() {
		o.GenesisTime = time.Now().UTC().Truncate(time.Second)
	}
}

// DefaultIdleBlockInterval is InitOptions.IdleBlockInterval's default:
// 8,640 empty blocks a day on an idle chain.
const DefaultIdleBlockInterval = 10 * time.Second

// cometConfig is CometBFT's configuration for a Hypha home.
func cometConfig(home string, o InitOptions) *cmtcfg.Config {
	c := cmtcfg.DefaultConfig()
	c.SetRoot(home)
	c.Moniker = o.Moniker
	c.LogLevel = "error"
	c.P2P.ListenAddress = "tcp://" + o.P2PAddress
	c.RPC.ListenAddress = "tcp://" + o.RPCAddress
	// A private network of known gateways: no peer exchange, no seeds, and
	// several nodes may share one host (loopback testnets).
	c.P2P.PexReactor = false
	c.P2P.AddrBookStrict = false
	c.P2P.AllowDuplicateIP = true
	c.Consensus.TimeoutCommit = o.TimeoutCommit
	// Blocks for txs at once; on an idle chain, an empty block every
	// IdleBlockInterval so that ticks and queued triggers still run.
	c.Consensus.CreateEmptyBlocks = o.IdleBlockInterval > 0
	c.Consensus.CreateEmptyBlocksInterval = max(o.IdleBlockInterval, 0)
	c.TxIndex.Indexer = o.Indexer
	c.Instrumentation.Prometheus = false
	return c
}

// Init writes a new single-validator home (or one member of a testnet, see
// Testnet): configuration, keys and a genesis with this node as the only
// validator. It fails if HOME already has a configuration.
func Init(home string, o InitOptions) error {
	o.defaults()
	if _, err := os.Stat(filepath.Join(home, configDir, "config.toml")); err == nil {
		return fmt.Errorf("%s already has a node configuration", home)
	}
	c, pv, err := writeNodeFiles(home, o)
	if err != nil {
		return err
	}
	pub, err := pv.GetPubKey()
	if err != nil {
		return err
	}
	vals := []cmttypes.GenesisValidator{{Address: pub.Address(), PubKey: pub, Power: 10, Name: o.Moniker}}
	accounts := append([]ledger.GenesisAccount(nil), o.Accounts...)
	gw, err := homeGateway(c, o)
	if err != nil {
		return err
	}
	accounts = append(accounts, ledger.GenesisAccount{Address: gw.Address, Balance: GatewayFunds})
	if o.Dev {
		a, err := createKey(home, DevKeyName)
		if err != nil {
			return err
		}
		accounts = append(accounts, ledger.GenesisAccount{Address: a, Balance: DevFunds})
	}
	return writeGenesis(c.GenesisFile(), o, vals, accounts, []gateway.Gateway{gw})
}

// homeGateway is the genesis gateway record of the home c was written for.
func homeGateway(c *cmtcfg.Config, o InitOptions) (gateway.Gateway, error) {
	nk, err := p2p.LoadNodeKey(c.NodeKeyFile())
	if err != nil {
		return gateway.Gateway{}, err
	}
	addr := o.BlobAddress
	if addr == "off" {
		addr = ""
	}
	return gatewayRecord(nk, addr, o.BlobPSK == "off", o.Moniker)
}

// writeNodeFiles writes config.toml, app.toml, the node key and the
// validator key of one home.
func writeNodeFiles(home string, o InitOptions) (*cmtcfg.Config, *privval.FilePV, error) {
	c := cometConfig(home, o)
	for _, d := range []string{filepath.Join(home, configDir), filepath.Join(home, "data")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, nil, err
		}
	}
	cmtcfg.WriteConfigFile(filepath.Join(home, configDir, "config.toml"), c)
	app := DefaultAppConfig()
	app.APIAddress = o.APIAddress
	switch o.MQTTAddress {
	case "":
	case "off":
		app.MQTTAddress = ""
	default:
		app.MQTTAddress = o.MQTTAddress
	}
	switch o.BlobAddress {
	case "off":
		app.BlobAddress = ""
	case "":
	default:
		app.BlobAddress = o.BlobAddress
	}
	if app.BlobPSK = o.BlobPSK; app.BlobPSK == "off" {
		app.BlobPSK = ""
	} else if app.BlobPSK == "" {
		psk, err := newPSK()
		if err != nil {
			return nil, nil, err
		}
		app.BlobPSK = psk
	}
	if err := writeAppConfig(filepath.Join(home, configDir, appFile), app); err != nil {
		return nil, nil, err
	}
	if _, err := p2p.LoadOrGenNodeKey(c.NodeKeyFile()); err != nil {
		return nil, nil, err
	}
	pv := privval.LoadOrGenFilePV(c.PrivValidatorKeyFile(), c.PrivValidatorStateFile())
	return c, pv, nil
}

func writeGenesis(path string, o InitOptions, vals []cmttypes.GenesisValidator, accounts []ledger.GenesisAccount, gws []gateway.Gateway) error {
	appState, err := json.Marshal(ledger.Genesis{Params: o.Params, Accounts: accounts, Gateways: gws})
	if err != nil {
		return err
	}
	g := cmttypes.GenesisDoc{
		ChainID:         o.ChainID,
		GenesisTime:     o.GenesisTime,
		InitialHeight:   1,
		ConsensusParams: cmttypes.DefaultConsensusParams(),
		Validators:      vals,
		AppState:        appState,
	}
	if err := g.ValidateAndComplete(); err != nil {
		return fmt.Errorf("genesis: %w", err)
	}
	return g.SaveAs(path)
}

// createKey makes a new ed25519 key in home's keyring, unencrypted (a
// development key), and returns its address.
func createKey(home, name string) (keys.Address, error) {
	kr, err := keyring.Open(KeyringDir(home))
	if err != nil {
		return keys.Address{}, err
	}
	k, err := keys.Generate(keys.Ed25519, nil)
	if err != nil {
		return keys.Address{}, err
	}
	sk, err := keys.GenerateSealKey(nil)
	if err != nil {
		return keys.Address{}, err
	}
	if err := kr.AddWithSeal(name, k, sk, ""); err != nil {
		return keys.Address{}, err
	}
	return k.Public().Address(), nil
}

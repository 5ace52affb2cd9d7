package node

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/cometbft/cometbft/p2p"
	cmttypes "github.com/cometbft/cometbft/types"

	"github.com/hypha-iot/hypha/keys"
	"github.com/hypha-iot/hypha/keys/keyring"
	"github.com/hypha-iot/hypha/ledger"
	"github.com/hypha-iot/hypha/ledger/gateway"
)

// TestnetOptions describe a network of homes on one host.
type TestnetOptions struct {
	Validators int
	FullNodes  int
	InitOptions
	// BasePort numbers node k's ports BasePort+10k (p2p), +1 (rpc), +2
	// (api). Default 26600. Ignored when Ports is set.
	BasePort int
	// Ports, if set, gives node k's listen addresses.
	Ports func(k int) (p2pAddr, rpcAddr, apiAddr string)
	// MQTTPort, if set, gives node k's MQTT address ("off" for none);
	// otherwise it is BasePort+10k+3, or off when Ports is set.
	MQTTPort func(k int) string
	// BlobPort, if set, gives node k's blob store address ("off" for
	// none); otherwise it is BasePort+10k+4, or off when Ports is set.
	BlobPort func(k int) string
}

// Testnet writes homes OUT/node0 … for Validators validators followed by
// FullNodes full nodes, all on 127.0.0.1 with distinct ports, sharing one
// genesis, each peering with all the others. With Dev, every home's keyring
// holds the same funded "dev" key. It returns the homes.
func Testnet(out string, o TestnetOptions) ([]string, error) {
	if o.Validators < 1 {
		return nil, fmt.Errorf("testnet: need at least one validator")
	}
	if o.FullNodes < 0 {
		return nil, fmt.Errorf("testnet: negative full node count")
	}
	if o.BasePort == 0 {
		o.BasePort = 26600
	}
	o.InitOptions.defaults()
	n := o.Validators + o.FullNodes
	if o.BlobPSK == "" {
		psk, err := newPSK()
		if err != nil {
			return nil, err
		}
		o.BlobPSK = psk
	}
	var gws []gateway.Gateway
	var accounts []ledger.GenesisAccount
	homes := make([]string, n)
	peers := make([]string, n)
	var vals []cmttypes.GenesisValidator
	for k := range n {
		home := filepath.Join(out, fmt.Sprintf("node%d", k))
		if _, err := os.Stat(filepath.Join(home, configDir, "config.toml")); err == nil {
			return nil, fmt.Errorf("%s already has a node configuration", home)
		}
		io := o.InitOptions
		io.Moniker = fmt.Sprintf("node%d", k)
		if o.Ports != nil {
			io.P2PAddress, io.RPCAddress, io.APIAddress = o.Ports(k)
			io.MQTTAddress = "off"
			io.BlobAddress = "off"
		} else {
			base := o.BasePort + 10*k
			io.P2PAddress = fmt.Sprintf("127.0.0.1:%d", base)
			io.RPCAddress = fmt.Sprintf("127.0.0.1:%d", base+1)
			io.APIAddress = fmt.Sprintf("127.0.0.1:%d", base+2)
			io.MQTTAddress = fmt.Sprintf("127.0.0.1:%d", base+3)
			io.BlobAddress = fmt.Sprintf("127.0.0.1:%d", base+4)
		}
		if o.MQTTPort != nil {
			io.MQTTAddress = o.MQTTPort(k)
		}
		if o.BlobPort != nil {
			io.BlobAddress = o.BlobPort(k)
		}
		c, pv, err := writeNodeFiles(home, io)
		if err != nil {
			return nil, err
		}
		nk, err := p2p.LoadNodeKey(c.NodeKeyFile())
		if err != nil {
			return nil, err
		}
		peers[k] = fmt.Sprintf("%s@%s", nk.ID(), io.P2PAddress)
		gw, err := homeGateway(c, io)
		if err != nil {
			return nil, err
		}
		gws = append(gws, gw)
		accounts = append(accounts, ledger.GenesisAccount{Address: gw.Address, Balance: GatewayFunds})
		if k < o.Validators {
			pub, err := pv.GetPubKey()
			if err != nil {
				return nil, err
			}
			vals = append(vals, cmttypes.GenesisValidator{Address: pub.Address(), PubKey: pub, Power: 10, Name: io.Moniker})
		}
		homes[k] = home
	}
	accounts = append(accounts, o.Accounts...)
	if o.Dev {
		dev, err := keys.Generate(keys.Ed25519, nil)
		if err != nil {
			return nil, err
		}
		devSeal, err := keys.GenerateSealKey(nil)
		if err != nil {
			return nil, err
		}
		for _, home := range homes {
			kr, err := keyring.Open(KeyringDir(home))
			if err != nil {
				return nil, err
			}
			if err := kr.AddWithSeal(DevKeyName, dev, devSeal, ""); err != nil {
				return nil, err
			}
		}
		accounts = append(accounts, ledger.GenesisAccount{Address: dev.Public().Address(), Balance: DevFunds})
	}
	for k, home := range homes {
		if err := writeGenesis(filepath.Join(home, configDir, "genesis.json"), o.InitOptions, vals, accounts, gws); err != nil {
			return nil, err
		}
		var others []string
		for j, p := range peers {
			if j != k {
				others = append(others, p)
			}
		}
		if err := setPersistentPeers(home, strings.Join(others, ",")); err != nil {
			return nil, err
		}
	}
	return homes, nil
}

func setPersistentPeers(home, peers string) error {
	cfg, err := LoadConfig(home)
	if err != nil {
		return err
	}
	cfg.Comet.P2P.PersistentPeers = peers
	writeCometConfig(home, cfg)
	return nil
}

package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/hypha-iot/hypha/keys/keyring"
	"github.com/hypha-iot/hypha/node"
)

func init() {
	commands = append(commands, upCmd, initCmd, nodeCmd, testnetCmd)
}

func initCmd(g *globals) *cobra.Command {
	var o node.InitOptions
	c := &cobra.Command{
		Use:   "init",
		Short: "Write a new single-validator node home (config, keys, genesis)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := node.Init(g.home, o); err != nil {
				return err
			}
			return g.emit(map[string]any{"home": g.home, "chain_id": o.ChainID}, func(w io.Writer) {
				fmt.Fprintf(w, "initialised %s\nstart it with: hypha node --home %s\n", g.home, g.home)
			})
		},
	}
	initFlags(c, &o)
	c.Flags().BoolVar(&o.Dev, "dev", false, "create a funded \"dev\" key in the keyring")
	return c
}

func initFlags(c *cobra.Command, o *node.InitOptions) {
	c.Flags().StringVar(&o.ChainID, "chain-id", "hypha-local", "chain id")
	c.Flags().StringVar(&o.Moniker, "moniker", "hypha-node", "node name")
	c.Flags().StringVar(&o.P2PAddress, "p2p", "127.0.0.1:26656", "p2p listen address")
	c.Flags().StringVar(&o.RPCAddress, "rpc", "127.0.0.1:26657", "CometBFT RPC listen address")
	c.Flags().StringVar(&o.APIAddress, "api", "127.0.0.1:8700", "HTTP API listen address")
	c.Flags().DurationVar(&o.TimeoutCommit, "block-time", time.Second, "pause after each block (CometBFT timeout_commit)")
	c.Flags().DurationVar(&o.IdleBlockInterval, "idle-block-interval", node.DefaultIdleBlockInterval,
		"an empty block after this long without txs, so that contract ticks run (negative: none)")
	c.Flags().StringVar(&o.Indexer, "indexer", "kv", "CometBFT tx indexer: kv or null")
	c.Flags().StringVar(&o.BlobAddress, "blob", "127.0.0.1:4001", "file sharing (libp2p) listen address, or off")
}

func nodeCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "node",
		Short: "Run the node of a home until interrupted (SIGINT/SIGTERM)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := node.LoadConfig(g.home)
			if err != nil {
				return err
			}
			n, err := node.New(cfg, node.NewLogger(g.stderr, cfg.App.LogLevel, cfg.App.LogFormat))
			if err != nil {
				return err
			}
			return n.Run(cmd.Context())
		},
	}
}

func upCmd(g *globals) *cobra.Command {
	var o node.InitOptions
	var temp bool
	c := &cobra.Command{
		Use:   "up",
		Short: "Start a single-node network with embedded defaults (the quick start)",
		Long: `Start a single-node network with a funded "dev" key. With --home, the
home is created on first use and reused afterwards (state persists across
restarts); without it, a temporary home is used and removed on exit.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			home := g.home
			if !cmd.Flags().Changed("home") && os.Getenv("HYPHA_HOME") == "" {
				dir, err := os.MkdirTemp("", "hypha-up-")
				if err != nil {
					return err
				}
				home, temp = dir, true
				defer os.RemoveAll(dir)
			}
			if _, err := os.Stat(filepath.Join(home, "config", "config.toml")); err != nil {
				o.Dev = true
				if err := node.Init(home, o); err != nil {
					return err
				}
			}
			cfg, err := node.LoadConfig(home)
			if err != nil {
				return err
			}
			n, err := node.New(cfg, node.NewLogger(g.stderr, cfg.App.LogLevel, cfg.App.LogFormat))
			if err != nil {
				return err
			}
			if err := n.Start(); err != nil {
				return err
			}
			dev := ""
			if kr, err := keyring.Open(node.KeyringDir(home)); err == nil {
				if pk, err := kr.Public(node.DevKeyName); err == nil {
					dev = pk.Address().String()
				}
			}
			api := "http://" + n.APIAddr()
			info := map[string]any{"home": home, "temporary": temp, "api": api, "rpc": cfg.Comet.RPC.ListenAddress,
				"chain_id": n.Ledger().ChainID(), "dev_account": dev}
			info["mqtt"] = n.MQTTAddr()
			info["blob"] = cfg.App.BlobAddress
			_ = g.emit(info, func(w io.Writer) {
				printUp(w, home, temp, api, cfg.Comet.RPC.ListenAddress, n.MQTTAddr(), cfg.App.BlobAddress, dev)
			})
			<-cmd.Context().Done()
			fmt.Fprintln(g.stderr, "stopping…")
			return n.Close()
		},
	}
	initFlags(c, &o)
	return c
}

func printUp(w io.Writer, home string, temp bool, api, rpc, mqttAddr, blobAddr, dev string) {
	kind := "persistent"
	if temp {
		kind = "temporary, removed on exit; pass --home DIR to keep it"
	}
	fmt.Fprintf(w, `Hypha is up: a single-node network.

  home         %s (%s)
  HTTP API     %s   (OpenAPI: %s/v1/openapi.json)
  CometBFT RPC %s
  MQTT broker  %s   (devices: hypha/v1/devices/{id}/inbox and /tx; credentials: hypha mqtt token)
  file sharing %s   (libp2p, gateways only; files over the HTTP API)
  dev account  %s (key "dev" in the home's keyring)

Try, in another terminal:
  export HYPHA_HOME=%s HYPHA_NODE=%s
  hypha status
  hypha keys add alice
  hypha tx send --from dev --to $(hypha keys show alice --address) --amount 1000000
  hypha keys add thermo1
  hypha device register --from dev --device-key thermo1 --model thermo-v1 --tag cold
  hypha reading send --device-key thermo1 --value temp=21.5
  curl %s/v1/devices/$(hypha keys show thermo1 --device)
  hypha msg publish-key --from dev
  hypha msg send --from dev --to thermo1 --kind command "report now"
  hypha msg inbox --key thermo1
  hypha file add ./some-file --from dev
  hypha firmware register-model thermo-v1 --from dev

Stop with Ctrl-C.
`, home, kind, api, api, rpc, mqttAddr, blobAddr, dev, home, api, api)
}

func testnetCmd(g *globals) *cobra.Command {
	var o node.TestnetOptions
	var out string
	c := &cobra.Command{
		Use:   "testnet",
		Short: "Write homes for a multi-node network on 127.0.0.1 (start each with hypha node --home DIR/nodeK)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return usageError{fmt.Errorf("--out is required")}
			}
			homes, err := node.Testnet(out, o)
			if err != nil {
				return err
			}
			return g.emit(map[string]any{"homes": homes}, func(w io.Writer) {
				fmt.Fprintf(w, "wrote %d homes under %s (node k: p2p %d+10k, rpc +1, api +2, mqtt +3, blob +4)\n", len(homes), out, o.BasePort)
				for _, h := range homes {
					fmt.Fprintf(w, "  hypha node --home %s\n", h)
				}
			})
		},
	}
	c.Flags().IntVar(&o.Validators, "validators", 4, "number of validators")
	c.Flags().IntVar(&o.FullNodes, "full-nodes", 0, "number of full nodes (non-validators)")
	c.Flags().StringVar(&out, "out", "", "directory for the homes")
	c.Flags().IntVar(&o.BasePort, "base-port", 26600, "first port")
	c.Flags().StringVar(&o.ChainID, "chain-id", "hypha-testnet", "chain id")
	c.Flags().DurationVar(&o.TimeoutCommit, "block-time", time.Second, "pause after each block")
	c.Flags().DurationVar(&o.IdleBlockInterval, "idle-block-interval", node.DefaultIdleBlockInterval,
		"an empty block after this long without txs, so that contract ticks run (negative: none)")
	c.Flags().StringVar(&o.Indexer, "indexer", "kv", "CometBFT tx indexer: kv or null")
	c.Flags().BoolVar(&o.Dev, "dev", true, "fund a shared \"dev\" key present in every home's keyring")
	return c
}

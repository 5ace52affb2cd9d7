package node

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"text/template"
	"time"

	cmtcfg "github.com/cometbft/cometbft/config"
	"github.com/spf13/viper"
)

// Home layout:
//
//	HOME/config/config.toml   CometBFT's configuration
//	HOME/config/app.toml      Hypha's configuration (AppConfig)
//	HOME/config/genesis.json  genesis document; app_state is a ledger.Genesis
//	HOME/config/node_key.json, priv_validator_key.json
//	HOME/data/                CometBFT's databases and HOME/data/state (the ledger's store)
//	HOME/keyring/             local keys for the CLI (0700; files 0600)
const (
	configDir   = "config"
	appFile     = "app.toml"
	keyringDir  = "keyring"
	stateDBName = "state"
)

// AppConfig is Hypha's own node configuration (config/app.toml).
type AppConfig struct {
	// APIAddress is where the HTTP/JSON API listens ("" disables it).
	APIAddress string `mapstructure:"api_address"`
	// MQTTAddress is where the MQTT broker listens ("" disables it).
	MQTTAddress string `mapstructure:"mqtt_address"`
	// MinGasPriceMilli is this gateway's own minimum gas price for its
	// mempool, in uhyp per 1000 gas (never below the chain's).
	MinGasPriceMilli uint64 `mapstructure:"min_gas_price_milli"`
	// RetainBlocks prunes CometBFT's block store to the last N blocks (0 keeps all).
	RetainBlocks int64 `mapstructure:"retain_blocks"`
	// StateKeepRecent keeps the last N versions of state queryable (0 keeps all).
	StateKeepRecent int64 `mapstructure:"state_keep_recent"`
	// LogLevel is debug, info, warn or error; LogFormat is text or json.
	LogLevel  string `mapstructure:"log_level"`
	LogFormat string `mapstructure:"log_format"`
	// SubmitTimeout bounds how long a commit-mode submission waits.
	SubmitTimeout time.Duration `mapstructure:"submit_timeout"`

	// BlobAddress is host:port where the blob store's libp2p host listens,
	// TCP and QUIC on the same port ("" disables file sharing).
	BlobAddress string `mapstructure:"blob_address"`
	// BlobPSK is the network's 32-byte private-network key, hex; every
	// gateway of a network has the same one (the file is 0600).
	BlobPSK string `mapstructure:"blob_psk"`
	// BlobMaxFileSize bounds an upload to this gateway, in bytes.
	BlobMaxFileSize int64 `mapstructure:"blob_max_file_size"`
	// BlobFindTimeout bounds the network search for content this gateway
	// does not hold.
	BlobFindTimeout time.Duration `mapstructure:"blob_find_timeout"`
	// Replicate makes this gateway fetch and attest files that want more
	// replicas.
	Replicate bool `mapstructure:"replicate"`
	// ReplicateInterval is the pause between replication rounds.
	ReplicateInterval time.Duration `mapstructure:"replicate_interval"`
}

// DefaultAppConfig returns the defaults.
func DefaultAppConfig() AppConfig {
	return AppConfig{
		APIAddress:       "127.0.0.1:8700",
		MQTTAddress:      "127.0.0.1:1883",
		MinGasPriceMilli: 0,
		RetainBlocks:     0,
		StateKeepRecent:  100_000,
		LogLevel:         "info",
		LogFormat:        "text",
		SubmitTimeout:    15 * time.Second,

		BlobAddress:       "127.0.0.1:4001",
		BlobMaxFileSize:   4 << 30,
		BlobFindTimeout:   10 * time.Second,
		Replicate:         true,
		ReplicateInterval: time.Second,
	}
}

func (c AppConfig) validate() error {
	switch {
	case c.RetainBlocks < 0 || c.StateKeepRecent < 0:
		return fmt.Errorf("app.toml: retain_blocks and state_keep_recent must not be negative")
	case c.LogFormat != "text" && c.LogFormat != "json":
		return fmt.Errorf("app.toml: log_format must be text or json, not %q", c.LogFormat)
	case c.SubmitTimeout <= 0:
		return fmt.Errorf("app.toml: submit_timeout must be positive")
	case c.BlobPSK != "" && len(c.BlobPSK) != 64:
		return fmt.Errorf("app.toml: blob_psk must be 64 hex digits (32 bytes), or empty for an open network")
	case c.BlobMaxFileSize <= 0 || c.BlobFindTimeout <= 0 || c.ReplicateInterval <= 0:
		return fmt.Errorf("app.toml: blob_max_file_size, blob_find_timeout and replicate_interval must be positive")
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("app.toml: log_level must be debug, info, warn or error, not %q", c.LogLevel)
	}
	return nil
}

var appTemplate = template.Must(template.New("app").Parse(`# Hypha node configuration. CometBFT's own settings are in config.toml.

# Where the HTTP/JSON API listens ("" disables it).
api_address = "{{.APIAddress}}"

# Where the MQTT broker listens ("" disables it). Devices authenticate with a
# signed token (hypha mqtt token) and use hypha/v1/devices/{id}/inbox and /tx.
mqtt_address = "{{.MQTTAddress}}"

# This gateway's minimum gas price for its mempool, in uhyp per 1000 gas.
# The chain minimum (a chain parameter) always applies as well.
min_gas_price_milli = {{.MinGasPriceMilli}}

# Keep only the last N blocks in the block store (0 keeps all).
retain_blocks = {{.RetainBlocks}}

# Keep the last N versions of state queryable and provable (0 keeps all).
state_keep_recent = {{.StateKeepRecent}}

# How long a commit-mode submission waits for its block.
submit_timeout = "{{.SubmitTimeout}}"

# File sharing: the blob store's libp2p host on this port ("" disables it).
# Only the network's gateways (from the genesis) may connect. With blob_psk
# set (the default) they also need the network's pre-shared key, and the host
# speaks TCP only (go-libp2p's QUIC refuses pre-shared keys); with
# blob_psk = "" it speaks TCP and QUIC, guarded by the allow-list alone.
blob_address = "{{.BlobAddress}}"
blob_psk = "{{.BlobPSK}}"
# Largest upload accepted by this gateway, in bytes.
blob_max_file_size = {{.BlobMaxFileSize}}
# How long to search the other gateways for content this one lacks.
blob_find_timeout = "{{.BlobFindTimeout}}"
# Fetch and attest files that want more replicas, every replicate_interval.
replicate = {{.Replicate}}
replicate_interval = "{{.ReplicateInterval}}"

log_level = "{{.LogLevel}}"
log_format = "{{.LogFormat}}"
`))

func writeAppConfig(path string, c AppConfig) error {
	var b bytes.Buffer
	if err := appTemplate.Execute(&b, c); err != nil {
		return err
	}
	return writeFileAtomic(path, b.Bytes(), 0o600)
}

// Config is everything a node reads from its home.
type Config struct {
	Home  string
	Comet *cmtcfg.Config
	App   AppConfig
}

// LoadConfig reads HOME/config/config.toml and HOME/config/app.toml.
func LoadConfig(home string) (*Config, error) {
	home, err := filepath.Abs(home)
	if err != nil {
		return nil, err
	}
	cfgPath := filepath.Join(home, configDir, "config.toml")
	if _, err := os.Stat(cfgPath); err != nil {
		return nil, fmt.Errorf("no node at %s (run 'hypha init --home %s' first): %w", home, home, err)
	}
	comet := cmtcfg.DefaultConfig()
	v := viper.New()
	v.SetConfigFile(cfgPath)
	if err := v.ReadInConfig(); err != nil {
		return nil, fmt.Errorf("read %s: %w", cfgPath, err)
	}
	if err := v.Unmarshal(comet); err != nil {
		return nil, fmt.Errorf("parse %s: %w", cfgPath, err)
	}
	comet.SetRoot(home)
	if err := comet.ValidateBasic(); err != nil {
		return nil, fmt.Errorf("%s: %w", cfgPath, err)
	}
	app := DefaultAppConfig()
	appPath := filepath.Join(home, configDir, appFile)
	if _, err := os.Stat(appPath); err == nil {
		av := viper.New()
		av.SetConfigFile(appPath)
		if err := av.ReadInConfig(); err != nil {
			return nil, fmt.Errorf("read %s: %w", appPath, err)
		}
		if err := av.Unmarshal(&app); err != nil {
			return nil, fmt.Errorf("parse %s: %w", appPath, err)
		}
	}
	if err := app.validate(); err != nil {
		return nil, err
	}
	return &Config{Home: home, Comet: comet, App: app}, nil
}

// KeyringDir is where a home keeps its CLI keys.
func KeyringDir(home string) string { return filepath.Join(home, keyringDir) }

func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path))
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

func writeCometConfig(home string, c *Config) {
	cmtcfg.WriteConfigFile(filepath.Join(home, configDir, "config.toml"), c.Comet)
}

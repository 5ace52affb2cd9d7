//go:build tools

// Package deps pins modules that the code base depends on before it imports them.
package deps

import (
	_ "github.com/cometbft/cometbft/node"
	_ "github.com/cosmos/btcutil/bech32"
	_ "github.com/cosmos/iavl"
	_ "github.com/cosmos/ics23/go"
	_ "github.com/fxamacker/cbor/v2"
	_ "github.com/hdevalence/ed25519consensus"
	_ "github.com/spf13/cobra"
	_ "github.com/spf13/viper"
	_ "golang.org/x/crypto/argon2"
	_ "golang.org/x/crypto/chacha20poly1305"

	_ "cel.dev/cel-go/cel"
	_ "github.com/ipfs/boxo/bitswap"
	_ "github.com/ipfs/boxo/blockservice"
	_ "github.com/ipfs/boxo/gateway"
	_ "github.com/ipfs/boxo/ipld/merkledag"
	_ "github.com/ipfs/boxo/ipld/unixfs/importer"
	_ "github.com/ipfs/go-ds-pebble"
	_ "github.com/libp2p/go-libp2p"
	_ "github.com/libp2p/go-libp2p-kad-dht"
	_ "github.com/schollz/progressbar/v3"
	_ "github.com/tetratelabs/wabin/binary"
	_ "github.com/tetratelabs/wazero"
)

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
)

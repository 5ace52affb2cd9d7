package main

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/hypha-iot/hypha/keys"
	"github.com/hypha-iot/hypha/keys/keyring"
)

func init() {
	commands = append(commands, keysCmd)
}

// keyInfo is the public description of a keyring entry, as printed by
// keys add, list, show and export-public.
type keyInfo struct {
	Name          string `json:"name"`
	Type          string `json:"type"`
	PubKey        string `json:"pubkey"` // wire form (type byte ‖ key), hex
	DID           string `json:"did"`
	Address       string `json:"address"`        // account form, hypha1…
	DeviceAddress string `json:"device_address"` // device form, hyphadev1…
	SealPubKey    string `json:"seal_pubkey,omitempty"`
	Encrypted     bool   `json:"encrypted"`
}

func newKeyInfo(e keyring.Entry) keyInfo {
	a := e.Public.Address()
	return keyInfo{
		Name: e.Name, Type: e.Public.Type.String(), PubKey: hex.EncodeToString(e.Public.Bytes()),
		DID: e.Public.DID(), Address: a.Account(), DeviceAddress: a.Device(),
		SealPubKey: hex.EncodeToString(e.SealPublic), Encrypted: e.Encrypted,
	}
}

func keysCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "keys",
		Short: "Manage the signing keys in the home's keyring",
		Long: `Manage the signing keys in the keyring of --home (HOME/keyring).

Secrets are encrypted under a passphrase read from --passphrase-file or
$HYPHA_PASSPHRASE; with neither, a key is stored unencrypted (fine for
development, not for real funds or devices).`,
	}
	c.AddCommand(keysAddCmd(g), keysListCmd(g), keysShowCmd(g), keysExportCmd(g), keysDeleteCmd(g))
	return group(c)
}

func keysAddCmd(g *globals) *cobra.Command {
	var typ, passFile string
	c := &cobra.Command{
		Use:   "add NAME",
		Short: "Generate a new key (with an X25519 seal key) and store it under NAME",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			t, err := keys.ParseType(typ)
			if err != nil {
				return usageError{fmt.Errorf("--type must be ed25519 or p256")}
			}
			if err := keyring.ValidName(args[0]); err != nil {
				return usageError{err}
			}
			pass, err := readPassphrase(passFile)
			if err != nil {
				return err
			}
			kr, err := g.keyring()
			if err != nil {
				return err
			}
			k, err := keys.Generate(t, nil)
			if err != nil {
				return err
			}
			seal, err := keys.GenerateSealKey(nil)
			if err != nil {
				return err
			}
			if err := kr.AddWithSeal(args[0], k, seal, pass); err != nil {
				if errors.Is(err, keyring.ErrKeyExists) {
					return fmt.Errorf("key %q already exists in %s", args[0], kr.Dir())
				}
				return err
			}
			e, err := kr.Lookup(args[0])
			if err != nil {
				return err
			}
			info := newKeyInfo(e)
			return g.emit(info, func(w io.Writer) {
				state := "unencrypted"
				if info.Encrypted {
					state = "encrypted"
				}
				fmt.Fprintf(w, "added key %q (%s, %s)\n", info.Name, info.Type, state)
				printKeyInfo(w, info)
			})
		},
	}
	c.Flags().StringVar(&typ, "type", "ed25519", "key type: ed25519, or p256 for secure elements")
	passphraseFlag(c, &passFile)
	return c
}

func printKeyInfo(w io.Writer, info keyInfo) {
	fmt.Fprintf(w, "  address  %s\n  device   %s\n  did      %s\n", info.Address, info.DeviceAddress, info.DID)
}

func keysListCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the keys in the keyring",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			kr, err := g.keyring()
			if err != nil {
				return err
			}
			entries, err := kr.List()
			if err != nil {
				return err
			}
			infos := make([]keyInfo, 0, len(entries))
			for _, e := range entries {
				infos = append(infos, newKeyInfo(e))
			}
			return g.emit(infos, func(w io.Writer) {
				if len(infos) == 0 {
					fmt.Fprintf(w, "no keys in %s (add one with: hypha keys add NAME)\n", kr.Dir())
					return
				}
				tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "NAME\tTYPE\tADDRESS\tENCRYPTED")
				for _, k := range infos {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%v\n", k.Name, k.Type, k.Address, k.Encrypted)
				}
				tw.Flush()
			})
		},
	}
}

func keysShowCmd(g *globals) *cobra.Command {
	var address, device, did, pubkey bool
	c := &cobra.Command{
		Use:   "show NAME",
		Short: "Show a key's addresses and did:key (one value alone with --address, --device, --did or --pubkey)",
		Example: `  hypha keys show alice
  hypha tx send --from dev --to $(hypha keys show alice --address) --amount 1000000`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			n := 0
			for _, b := range []bool{address, device, did, pubkey} {
				if b {
					n++
				}
			}
			if n > 1 {
				return usageError{fmt.Errorf("pass at most one of --address, --device, --did, --pubkey")}
			}
			e, err := g.lookupKey(args[0])
			if err != nil {
				return err
			}
			info := newKeyInfo(e)
			var one string
			switch {
			case address:
				one = info.Address
			case device:
				one = info.DeviceAddress
			case did:
				one = info.DID
			case pubkey:
				one = info.PubKey
			default:
				return g.emit(info, func(w io.Writer) {
					fmt.Fprintf(w, "%s (%s)\n", info.Name, info.Type)
					printKeyInfo(w, info)
					fmt.Fprintf(w, "  pubkey   %s\n", info.PubKey)
				})
			}
			return g.emit(one, func(w io.Writer) { fmt.Fprintln(w, one) })
		},
	}
	c.Flags().BoolVar(&address, "address", false, "print only the account address (hypha1…)")
	c.Flags().BoolVar(&device, "device", false, "print only the device-form address (hyphadev1…), the id a device registered with this key gets")
	c.Flags().BoolVar(&did, "did", false, "print only the did:key")
	c.Flags().BoolVar(&pubkey, "pubkey", false, "print only the public key in wire form, hex")
	return c
}

func keysExportCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "export-public NAME",
		Short: "Print a key's public half as JSON (never the secret)",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := g.lookupKey(args[0])
			if err != nil {
				return err
			}
			// Always JSON: this is an export for other tools.
			return (&globals{output: "json", stdout: g.stdout}).emit(newKeyInfo(e), nil)
		},
	}
}

func keysDeleteCmd(g *globals) *cobra.Command {
	var yes bool
	c := &cobra.Command{
		Use:   "delete NAME --yes",
		Short: "Delete a key from the keyring (irreversible without a backup)",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !yes {
				return usageError{fmt.Errorf("deleting key %q cannot be undone: pass --yes", args[0])}
			}
			e, err := g.lookupKey(args[0])
			if err != nil {
				return err
			}
			kr, err := g.keyring()
			if err != nil {
				return err
			}
			if err := kr.Delete(args[0]); err != nil {
				return err
			}
			info := newKeyInfo(e)
			return g.emit(map[string]any{"deleted": info.Name, "address": info.Address}, func(w io.Writer) {
				fmt.Fprintf(w, "deleted key %q (%s)\n", info.Name, info.Address)
			})
		},
	}
	c.Flags().BoolVar(&yes, "yes", false, "confirm the deletion")
	return c
}

// exactArgs is cobra.ExactArgs reporting a usage error.
func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := cobra.ExactArgs(n)(cmd, args); err != nil {
			return usageError{fmt.Errorf("%s: %w", cmd.CommandPath(), err)}
		}
		return nil
	}
}

// rangeArgs is cobra.RangeArgs reporting a usage error.
func rangeArgs(min, max int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := cobra.RangeArgs(min, max)(cmd, args); err != nil {
			return usageError{fmt.Errorf("%s: %w", cmd.CommandPath(), err)}
		}
		return nil
	}
}

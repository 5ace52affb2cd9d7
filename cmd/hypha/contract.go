package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/hypha-iot/hypha/api"
	"github.com/hypha-iot/hypha/ledger/contract"
	"github.com/hypha-iot/hypha/txn"
	"github.com/hypha-iot/hypha/vm/sdk"
)

func init() {
	commands = append(commands, contractCmd)
}

// storeChunk is the code carried by one contract.store tx: well under the
// default max_tx_bytes (64 KiB) with the envelope.
const storeChunk = 48 << 10

// deployGas is the gas limit of the tx that completes an upload: it pays
// validation, instrumentation and the Go runtime's start-up.
const deployGas = 10_000_000

// chunkGas is the gas limit of every other chunk's tx.
const chunkGas = 1_000_000

func contractCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "contract",
		Short: "Store, instantiate, call and inspect WebAssembly contracts",
		Long: `Store, instantiate, call and inspect WebAssembly contracts.

Contracts are Go programs built with GOOS=wasip1 GOARCH=wasm -buildmode=c-shared
against the SDK in vm/sdk (see vm/sdk/examples). Code is stored in chunks,
one tx each; the last one validates, meters and deploys it under its SHA-256.
Arguments are in the SDK's encoding, in order: --arg s:TEXT, u:NUMBER,
i:SIGNED (e.g. i:-2500), x:HEX or a:ADDRESS (an account, device id or key name,
as its 20 bytes).`,
	}
	c.AddCommand(contractBuildCmd(g), contractStoreCmd(g), contractInstantiateCmd(g), contractCallCmd(g), contractShowCmd(g),
		contractStateCmd(g), contractQueryCmd(g), contractSubscribeCmd(g), contractAttachCmd(g, false), contractAttachCmd(g, true),
		contractTriggersCmd(g), contractSendCmd(g), contractEventsCmd(g))
	return withRejections(g, group(c))
}

// argKinds is the --arg syntax, for messages.
const argKinds = "s:TEXT, u:NUMBER, i:SIGNED, x:HEX or a:ADDRESS"

// encodeArgs turns --arg values into the SDK's encoding: s: a string, u:
// an unsigned integer, i: a signed one (zigzag, sdk.Decoder.Int), x: bytes
// in hex, a: the 20 bytes of an address (hypha1…, hyphadev1… or a key
// name).
func encodeArgs(g *globals, args []string) ([]byte, error) {
	e := sdk.NewEncoder()
	for _, a := range args {
		kind, v, ok := strings.Cut(a, ":")
		if !ok {
			return nil, usageError{fmt.Errorf("--arg %q: want %s", a, argKinds)}
		}
		switch kind {
		case "i":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return nil, usageError{fmt.Errorf("--arg %q: %v", a, err)}
			}
			e.Int(n)
		case "a":
			addr, err := g.resolveAddress(v)
			if err != nil {
				return nil, usageError{fmt.Errorf("--arg %q: %v", a, err)}
			}
			e.Bytes(addr[:])
		case "s":
			e.String(v)
		case "u":
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				return nil, usageError{fmt.Errorf("--arg %q: %v", a, err)}
			}
			e.Uint(n)
		case "x":
			b, err := hex.DecodeString(v)
			if err != nil {
				return nil, usageError{fmt.Errorf("--arg %q: %v", a, err)}
			}
			e.Bytes(b)
		default:
			return nil, usageError{fmt.Errorf("--arg %q: want %s", a, argKinds)}
		}
	}
	if len(args) == 0 {
		return nil, nil
	}
	return e.Encoded(), nil
}

func contractStoreCmd(g *globals) *cobra.Command {
	var f txFlags
	var from string
	c := &cobra.Command{
		Use:     "store WASM --from KEY",
		Short:   "Upload contract code in chunks; the last chunk deploys it",
		Example: "  GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o counter.wasm ./vm/sdk/examples/counter\n  hypha contract store counter.wasm --from dev",
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := required("from", from); err != nil {
				return err
			}
			code, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			s, err := g.accountSigner(from, f.passFile)
			if err != nil {
				return err
			}
			hash := sha256.Sum256(code)
			n := (len(code) + storeChunk - 1) / storeChunk
			// Every chunk but the last goes to the mempool without waiting
			// (sync, with consecutive nonces: CheckTx sees the ones before),
			// so the upload takes a block or two, not one block per chunk;
			// the last waits as --mode says.
			acct, err := g.client().Account(cmd.Context(), s.addr.Account(), nil)
			if err != nil {
				return err
			}
			nonce := acct.Nonce
			if acct.PubKey == "" {
				s.nonce = nil // the first tx attaches the key; then we count
			}
			var out *txOutput
			for i := range n {
				chunk := code[i*storeChunk : min((i+1)*storeChunk, len(code))]
				tf := f
				if i < n-1 {
					tf.mode = api.ModeSync
				}
				if i > 0 || acct.PubKey != "" {
					s.nonce = &nonce
				}
				if !f.changed("gas") {
					tf.gas = chunkGas // the bytes of a chunk are priced per byte
					if i == n-1 {
						tf.gas = deployGas
					}
				}
				msg := &txn.ContractStore{CodeHash: hash[:], TotalSize: uint64(len(code)), Index: uint32(i), Chunk: chunk}
				if out, err = g.sendTx(cmd.Context(), &tf, s, nil, msg); err != nil {
					return fmt.Errorf("chunk %d of %d: %w", i+1, n, err)
				}
				nonce = out.Nonce + 1
				fmt.Fprintf(g.stderr, "\rstored chunk %d/%d", i+1, n)
			}
			fmt.Fprintln(g.stderr)
			res := map[string]any{"code_hash": hex.EncodeToString(hash[:]), "size": len(code), "chunks": n, "tx": out}
			return g.emit(res, func(w io.Writer) {
				fmt.Fprintf(w, "stored code %x (%d bytes in %d chunks); instantiate with: hypha contract instantiate %x --from %s\n",
					hash, len(code), n, hash, from)
			})
		},
	}
	c.Flags().StringVar(&from, "from", "", "uploader key (signs and pays)")
	addTxFlags(c, &f)
	return c
}

func contractInstantiateCmd(g *globals) *cobra.Command {
	var f txFlags
	var from, label, admin string
	var funds uint64
	var cargs []string
	var quiet bool
	c := &cobra.Command{
		Use:   "instantiate (CODE_HASH | FILE.wasm) --from KEY",
		Short: "Create a contract from stored code; prints its address",
		Long: `Create a contract running stored code, named by its hash or by the .wasm file
it was stored from. --arg values are the instantiate entry point's input;
--funds moves tokens to the contract first (a contract pays its triggers' gas
from its balance). With -q only the address is printed, for scripts:

  LOT=$(hypha contract instantiate parking.wasm --from dev -q --arg a:bay7 --arg u:100)`,
		Example: "  hypha contract instantiate 3f…a1 --from dev --label counter --admin dev\n  hypha contract instantiate counter.wasm --from dev -q",
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := required("from", from); err != nil {
				return err
			}
			hash, err := hex.DecodeString(args[0])
			if err != nil || len(hash) != 32 {
				code, ferr := os.ReadFile(args[0])
				if ferr != nil {
					return usageError{fmt.Errorf("%q is neither a code hash (64 hex digits) nor a readable .wasm file", args[0])}
				}
				h := sha256.Sum256(code)
				hash = h[:]
			}
			in, err := encodeArgs(g, cargs)
			if err != nil {
				return err
			}
			s, err := g.accountSigner(from, f.passFile)
			if err != nil {
				return err
			}
			m := &txn.ContractInstantiate{CodeHash: hash, Args: in, Label: label, Funds: txn.Amount(funds)}
			if admin != "" {
				a, err := g.resolveAddress(admin)
				if err != nil {
					return err
				}
				m.Admin = &a
			}
			if !f.changed("gas") {
				f.gas = 2_000_000
			}
			acct, err := g.client().Account(cmd.Context(), s.addr.Account(), nil)
			if err != nil {
				return err
			}
			addr := contract.Address(s.addr, acct.Nonce, 0)
			out, err := g.sendTx(cmd.Context(), &f, s, nil, m)
			if err != nil {
				return err
			}
			if quiet {
				fmt.Fprintln(g.stdout, addr.Account())
				return nil
			}
			res := map[string]any{"contract": addr.Account(), "tx": out}
			return g.emit(res, func(w io.Writer) {
				printTx(w, out, "instantiated contract "+addr.Account())
			})
		},
	}
	c.Flags().StringVar(&from, "from", "", "creator key (signs and pays)")
	c.Flags().StringVar(&label, "label", "", "a label for people")
	c.Flags().StringVar(&admin, "admin", "", "who may migrate the contract (address or key name; default: nobody)")
	c.Flags().Uint64Var(&funds, "funds", 0, "uhyp moved to the contract before it runs")
	c.Flags().BoolVarP(&quiet, "quiet", "q", false, "print only the contract's address")
	c.Flags().StringArrayVar(&cargs, "arg", nil, "an argument for instantiate: "+argKinds+" (repeatable, in order)")
	addTxFlags(c, &f)
	return c
}

func contractCallCmd(g *globals) *cobra.Command {
	var f txFlags
	var from string
	var funds uint64
	var cargs []string
	c := &cobra.Command{
		Use:     "call CONTRACT --from KEY [--arg …]",
		Short:   "Call a contract",
		Example: "  hypha contract call hypha1… --from dev --arg s:increment --arg u:5",
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := required("from", from); err != nil {
				return err
			}
			addr, err := g.resolveAddress(args[0])
			if err != nil {
				return err
			}
			in, err := encodeArgs(g, cargs)
			if err != nil {
				return err
			}
			s, err := g.accountSigner(from, f.passFile)
			if err != nil {
				return err
			}
			if !f.changed("gas") {
				f.gas = 2_000_000
			}
			out, err := g.sendTx(cmd.Context(), &f, s, nil, &txn.ContractCall{Contract: addr, Args: in, Funds: txn.Amount(funds)})
			if err != nil {
				return err
			}
			return g.emit(out, func(w io.Writer) {
				printTx(w, out, "called "+addr.Account())
				if out.Result != nil {
					if ret := eventAttr(out.Result, "contract.call", "return"); ret != "" {
						fmt.Fprintf(w, "  returned %s\n", ret)
					}
				}
			})
		},
	}
	c.Flags().StringVar(&from, "from", "", "caller key (signs and pays)")
	c.Flags().Uint64Var(&funds, "funds", 0, "uhyp moved to the contract before the call")
	c.Flags().StringArrayVar(&cargs, "arg", nil, "an argument: "+argKinds+" (repeatable, in order)")
	addTxFlags(c, &f)
	return c
}

func contractShowCmd(g *globals) *cobra.Command {
	var q queryFlags
	c := &cobra.Command{
		Use:   "show CONTRACT",
		Short: "Show a contract's record",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			addr, err := g.resolveAddress(args[0])
			if err != nil {
				return err
			}
			opt, err := q.options()
			if err != nil {
				return err
			}
			ct, err := g.client().Contract(cmd.Context(), addr.Account(), opt)
			if err != nil {
				return err
			}
			return g.emit(ct, func(w io.Writer) {
				fmt.Fprintf(w, "contract  %s\ncode      %s\ncreator   %s\n", ct.Address, ct.CodeHash, ct.Creator)
				if ct.Admin != "" {
					fmt.Fprintf(w, "admin     %s\n", ct.Admin)
				}
				if ct.Label != "" {
					fmt.Fprintf(w, "label     %s\n", ct.Label)
				}
				fmt.Fprintf(w, "created   at height %d\n", ct.Created)
				printProof(w, ct.Proof)
			})
		},
	}
	addQueryFlags(c, &q)
	return c
}

func contractStateCmd(g *globals) *cobra.Command {
	var q queryFlags
	var hexKey bool
	c := &cobra.Command{
		Use:     "state CONTRACT KEY",
		Short:   "Read one entry of a contract's storage (KEY as text, or hex with --hex)",
		Example: "  hypha contract state hypha1… count --prove",
		Args:    exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			addr, err := g.resolveAddress(args[0])
			if err != nil {
				return err
			}
			key := []byte(args[1])
			if hexKey {
				if key, err = hex.DecodeString(args[1]); err != nil {
					return usageError{fmt.Errorf("KEY: %v", err)}
				}
			}
			opt, err := q.options()
			if err != nil {
				return err
			}
			st, err := g.client().ContractState(cmd.Context(), addr.Account(), key, opt)
			if err != nil {
				return notFound(err, "contract %s has no storage entry %q", addr.Account(), args[1])
			}
			return g.emit(st, func(w io.Writer) {
				fmt.Fprintf(w, "%s = %x", args[1], []byte(st.Value))
				if d := sdk.NewDecoder(st.Value); len(st.Value) > 0 {
					if n := d.Uint(); d.Done() == nil {
						fmt.Fprintf(w, " (uint %d)", n)
					}
				}
				fmt.Fprintln(w)
				printProof(w, st.Proof)
			})
		},
	}
	c.Flags().BoolVar(&hexKey, "hex", false, "KEY is hex")
	addQueryFlags(c, &q)
	return c
}

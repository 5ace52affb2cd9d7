package main

import (
	"encoding/hex"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/hypha-iot/hypha/api"
	"github.com/hypha-iot/hypha/txn"
)

func init() {
	commands = append(commands, queryCmd)
}

func queryCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "query",
		Short: "Read accounts, devices, txs, blocks and chain parameters from a node",
		Long: `Read ledger state and chain data from the node of --node. Single records
take --height (state at that height) and --prove (an ICS23 proof against the
app hash in the header of block height+1; its bytes are in --output json).`,
	}
	c.AddCommand(queryAccountCmd(g), queryDeviceCmd(g), queryTxCmd(g), queryBlockCmd(g), queryParamsCmd(g))
	return withRejections(g, group(c))
}

func queryAccountCmd(g *globals) *cobra.Command {
	var q queryFlags
	c := &cobra.Command{
		Use:     "account ADDR|KEY",
		Short:   "Show an account's balance, next nonce and key",
		Example: "  hypha query account alice",
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opt, err := q.options()
			if err != nil {
				return err
			}
			a, err := g.resolveAddress(args[0])
			if err != nil {
				return err
			}
			acct, err := g.client().Account(cmd.Context(), a.Account(), opt)
			if err != nil {
				return notFound(err, "no account %s on chain: it has never received tokens", a.Account())
			}
			return g.emit(acct, func(w io.Writer) {
				tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
				fmt.Fprintf(tw, "address\t%s\n", acct.Address)
				fmt.Fprintf(tw, "balance\t%d%s (%s HYP)\n", acct.Balance, txn.Denom, hyp(acct.Balance))
				fmt.Fprintf(tw, "nonce\t%d\n", acct.Nonce)
				if acct.PubKey != "" {
					fmt.Fprintf(tw, "key\t%s\n", acct.PubKey)
				}
				tw.Flush()
				printProof(w, acct.Proof)
			})
		},
	}
	addQueryFlags(c, &q)
	return c
}

// hyp renders uhyp as HYP with up to 6 decimals.
func hyp(uhyp uint64) string {
	s := fmt.Sprintf("%d.%06d", uhyp/1_000_000, uhyp%1_000_000)
	return strings.TrimSuffix(strings.TrimRight(s, "0"), ".")
}

func queryDeviceCmd(g *globals) *cobra.Command {
	var q queryFlags
	c := &cobra.Command{
		Use:     "device ID",
		Short:   "Show a device record (as device show)",
		Example: "  hypha query device hyphadev1… --height 120 --prove",
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.showDevice(cmd.Context(), args[0], &q)
		},
	}
	addQueryFlags(c, &q)
	return c
}

func queryTxCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "tx HASH",
		Short:   "Show a committed tx and its result",
		Example: "  hypha query tx 2377171e289c058bfc225aa166cf75aeb7f4e13ffbe19d9a138719508f4153fa",
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			h, err := hex.DecodeString(args[0])
			if err != nil || len(h) != 32 {
				return usageError{fmt.Errorf("tx hash %q: want 64 hex digits", args[0])}
			}
			tx, err := g.client().Tx(cmd.Context(), h)
			if err != nil {
				return err
			}
			return g.emit(tx, func(w io.Writer) { printTxInfo(w, tx) })
		},
	}
}

func printTxInfo(w io.Writer, tx *api.Tx) {
	r := tx.Result
	outcome := "ok"
	if r.Code != 0 {
		outcome = fmt.Sprintf("failed: %s (%d): %s", r.Name, r.Code, r.Log)
	}
	fmt.Fprintf(w, "tx %s at height %d, index %d: %s\n", tx.Hash, tx.Height, tx.Index, outcome)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	if b := tx.Body; b != nil {
		fmt.Fprintf(tw, "  signer\t%s (nonce %d)\n", b.Signer, b.Nonce)
		fmt.Fprintf(tw, "  fee\t%d%s for gas %d (used %d)\n", b.Fee, txn.Denom, b.GasLimit, r.GasUsed)
		for i, m := range b.Msgs {
			fmt.Fprintf(tw, "  msg %d\t%s\n", i, formatFields(m))
		}
		if b.Memo != "" {
			fmt.Fprintf(tw, "  memo\t%q\n", b.Memo)
		}
		for _, c := range b.Cosigners {
			fmt.Fprintf(tw, "  cosigner\t%s\n", c)
		}
	}
	for _, e := range r.Events {
		var attrs []string
		for _, a := range e.Attrs {
			attrs = append(attrs, a.Key+"="+a.Value)
		}
		fmt.Fprintf(tw, "  event\t%s %s\n", e.Type, strings.Join(attrs, " "))
	}
	tw.Flush()
}

// formatFields renders a decoded msg as "type k=v k=v", keys sorted.
func formatFields(m map[string]any) string {
	_, decoded := m["senml"]
	keys := make([]string, 0, len(m))
	for k := range m {
		if k != "type" && !(k == "payload" && decoded) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	parts := []string{fmt.Sprint(m["type"])}
	for _, k := range keys {
		v := m[k]
		if k == "senml" {
			if pack, ok := senmlPack(v); ok {
				v = "[" + formatSenML(pack) + "]"
			}
		}
		parts = append(parts, fmt.Sprintf("%s=%v", k, v))
	}
	return strings.Join(parts, " ")
}

func queryBlockCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "block [HEIGHT]",
		Short:   "Show a committed block (default: the latest)",
		Example: "  hypha query block 42",
		Args:    rangeArgs(0, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var height int64
			if len(args) == 1 {
				h, err := strconv.ParseInt(args[0], 10, 64)
				if err != nil || h <= 0 {
					return usageError{fmt.Errorf("height %q: want a positive integer", args[0])}
				}
				height = h
			}
			b, err := g.client().Block(cmd.Context(), height)
			if err != nil {
				return err
			}
			return g.emit(b, func(w io.Writer) {
				fmt.Fprintf(w, "block %d %s at %s, %d txs\n", b.Height, b.Hash, b.Time.Format(time.RFC3339), b.TxCount)
				fmt.Fprintf(w, "  app hash %s (state after block %d)\n", b.AppHash, b.Height-1)
				for _, h := range b.TxHashes {
					fmt.Fprintf(w, "  tx %s\n", h)
				}
			})
		},
	}
}

func queryParamsCmd(g *globals) *cobra.Command {
	var q queryFlags
	c := &cobra.Command{
		Use:   "params",
		Short: "Show the chain parameters",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			opt, err := q.options()
			if err != nil {
				return err
			}
			p, err := g.client().Params(cmd.Context(), opt)
			if err != nil {
				return err
			}
			return g.emit(p, func(w io.Writer) {
				tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
				fmt.Fprintf(tw, "min gas price\t%d%s per 1000 gas\n", p.MinGasPriceMilli, txn.Denom)
				fmt.Fprintf(tw, "max gas per tx\t%d\n", p.MaxGasPerTx)
				fmt.Fprintf(tw, "max tx bytes\t%d\n", p.MaxTxBytes)
				fmt.Fprintf(tw, "max msgs per tx\t%d\n", p.MaxMsgsPerTx)
				fmt.Fprintf(tw, "max memo bytes\t%d\n", p.MaxMemoBytes)
				fmt.Fprintf(tw, "max reading bytes\t%d\n", p.MaxReadingBytes)
				fmt.Fprintf(tw, "max tags per device\t%d\n", p.MaxTagsPerDevice)
				fmt.Fprintf(tw, "reading retention\t%d\n", p.ReadingRetention)
				tw.Flush()
				printProof(w, p.Proof)
			})
		},
	}
	addQueryFlags(c, &q)
	return c
}

// senmlPack converts a decoded JSON SenML pack to the form formatSenML takes.
func senmlPack(v any) ([]map[string]any, bool) {
	recs, ok := v.([]any)
	if !ok {
		return nil, false
	}
	pack := make([]map[string]any, 0, len(recs))
	for _, r := range recs {
		m, ok := r.(map[string]any)
		if !ok {
			return nil, false
		}
		pack = append(pack, m)
	}
	return pack, true
}

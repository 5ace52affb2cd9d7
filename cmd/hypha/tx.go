package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/hypha-iot/hypha/txn"
)

func init() {
	commands = append(commands, txCmd)
}

func txCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "tx",
		Short: "Sign and send token transactions",
		Long: `Sign and send token transactions through the node of --node.

The nonce, the chain id and the minimum fee are read from the node; the
signer's public key is attached on its first tx. By default a command waits
until its tx is in a committed block (--mode commit).`,
	}
	c.AddCommand(txSendCmd(g))
	return withRejections(g, group(c))
}

func txSendCmd(g *globals) *cobra.Command {
	var f txFlags
	var from, to string
	var amount uint64
	c := &cobra.Command{
		Use:     "send --from KEY --to ADDR|KEY --amount N",
		Short:   "Send uhyp from a key's account to an address",
		Example: "  hypha tx send --from dev --to $(hypha keys show alice --address) --amount 1000000",
		Args:    exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if from == "" || to == "" || amount == 0 {
				return usageError{fmt.Errorf("--from, --to and a positive --amount are required")}
			}
			dest, err := g.resolveAddress(to)
			if err != nil {
				return err
			}
			s, err := g.accountSigner(from, f.passFile)
			if err != nil {
				return err
			}
			out, err := g.sendTx(cmd.Context(), &f, s, nil, &txn.Send{To: dest, Amount: txn.Amount(amount)})
			if err != nil {
				return err
			}
			return g.emit(out, func(w io.Writer) {
				printTx(w, out, fmt.Sprintf("sent %d%s to %s", amount, txn.Denom, dest))
			})
		},
	}
	c.Flags().StringVar(&from, "from", "", "key that signs and pays")
	c.Flags().StringVar(&to, "to", "", "recipient: address (hypha1…, hyphadev1…, hex) or key name")
	c.Flags().Uint64Var(&amount, "amount", 0, "amount in uhyp (1 HYP = 1,000,000 uhyp)")
	addTxFlags(c, &f)
	return c
}

package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/hypha-iot/hypha/txn"
)

func contractSubscribeCmd(g *globals) *cobra.Command {
	var f txFlags
	var from, when string
	var devices []string
	var every uint64
	c := &cobra.Command{
		Use:   "subscribe CONTRACT --from KEY (--reading DEV … [--when CEL] | --every N)",
		Short: "Run a contract on readings of devices (with a CEL condition) or every N blocks",
		Long: `Set a contract's trigger, signed by its admin or creator. With --reading, the
contract's on_reading runs for each direct reading of the listed devices (owned
by the signer) for which the CEL condition holds; the condition sees device
(string), counter and size (int) and records (map of SenML name to value × 1000,
as int), e.g. --when 'records["temp"] > 8000'. With --every, on_tick runs every
N blocks. Triggers are paid from the contract's own balance.`,
		Example: "  hypha contract subscribe hypha1… --from dev --reading thermo1 --when 'records[\"temp\"] > 8000'\n  hypha contract subscribe hypha1… --from dev --every 10",
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := required("from", from); err != nil {
				return err
			}
			if (len(devices) > 0) == (every > 0) {
				return usageError{fmt.Errorf("give --reading DEVICE… or --every N, not both and not neither")}
			}
			if when != "" && len(devices) == 0 {
				return usageError{fmt.Errorf("--when goes with --reading")}
			}
			addr, err := g.resolveAddress(args[0])
			if err != nil {
				return err
			}
			m := &txn.ContractSubscribe{Contract: addr, Kind: txn.TriggerTick, Every: every}
			if len(devices) > 0 {
				m = &txn.ContractSubscribe{Contract: addr, Kind: txn.TriggerReading, Condition: when}
				for _, d := range devices {
					a, err := g.resolveAddress(d)
					if err != nil {
						return err
					}
					m.Devices = append(m.Devices, a)
				}
			}
			s, err := g.accountSigner(from, f.passFile)
			if err != nil {
				return err
			}
			out, err := g.sendTx(cmd.Context(), &f, s, nil, m)
			if err != nil {
				return err
			}
			return g.emit(out, func(w io.Writer) { printTx(w, out, "subscribed "+addr.Account()) })
		},
	}
	c.Flags().StringVar(&from, "from", "", "the contract's admin or creator")
	c.Flags().StringSliceVar(&devices, "reading", nil, "devices whose readings trigger the contract (ids or key names)")
	c.Flags().StringVar(&when, "when", "", "CEL condition on the reading (default: every reading)")
	c.Flags().Uint64Var(&every, "every", 0, "run on_tick every N blocks")
	addTxFlags(c, &f)
	return c
}

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
	var attached, messages bool
	c := &cobra.Command{
		Use:   "subscribe CONTRACT --from KEY (--reading DEV … | --attached) [--when CEL] | --every N | --messages",
		Short: "Run a contract on readings (with a CEL condition), every N blocks, or on messages sent to it",
		Long: `Set a contract's trigger, signed by its admin or creator (one per kind; a new
one replaces the old).

--reading DEV…  the contract's on_reading runs for each direct reading of the
                listed devices (owned by the signer) for which the CEL
                condition --when holds; the condition sees device (string),
                counter and size (int) and records (map of SenML name to
                value × 1000, as int), e.g. --when 'records["temp"] > 8000'.
--attached      a reading trigger with no devices of the signer's: owners
                add theirs with 'hypha contract attach'.
--every N       on_tick runs every N blocks.
--messages      on_message runs for each message sent to the contract
                ('hypha contract send') and each command another contract
                sends it.

Triggers are paid from the contract's own balance.`,
		Example: "  hypha contract subscribe hypha1… --from dev --reading thermo1 --when 'records[\"temp\"] > 8000'\n  hypha contract subscribe hypha1… --from dev --attached\n  hypha contract subscribe hypha1… --from dev --every 10\n  hypha contract subscribe hypha1… --from dev --messages",
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := required("from", from); err != nil {
				return err
			}
			reading := len(devices) > 0 || attached
			n := 0
			for _, set := range []bool{reading, every > 0, messages} {
				if set {
					n++
				}
			}
			if n != 1 || len(devices) > 0 && attached {
				return usageError{fmt.Errorf("give one of --reading DEVICE…, --attached, --every N and --messages")}
			}
			if when != "" && !reading {
				return usageError{fmt.Errorf("--when goes with --reading or --attached")}
			}
			addr, err := g.resolveAddress(args[0])
			if err != nil {
				return err
			}
			m := &txn.ContractSubscribe{Contract: addr, Kind: txn.TriggerTick, Every: every}
			if messages {
				m = &txn.ContractSubscribe{Contract: addr, Kind: txn.TriggerMessage}
			}
			if reading {
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
	c.Flags().BoolVar(&attached, "attached", false, "a reading trigger for the devices their owners attach")
	c.Flags().BoolVar(&messages, "messages", false, "run on_message for messages sent to the contract")
	addTxFlags(c, &f)
	return c
}

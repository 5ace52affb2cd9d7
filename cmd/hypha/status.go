package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
)

func init() {
	commands = append(commands, statusCmd)
}

func statusCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "status",
		Short: "Show the node's chain, latest block and peers",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), apiTimeout)
			defer cancel()
			st, err := g.client().Status(ctx)
			if err != nil {
				return err
			}
			return g.emit(st, func(w io.Writer) {
				tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
				fmt.Fprintf(tw, "chain\t%s\n", st.ChainID)
				fmt.Fprintf(tw, "height\t%d (%s)\n", st.LatestHeight, st.LatestBlockTime.Format(time.RFC3339))
				fmt.Fprintf(tw, "app hash\t%s\n", st.LatestAppHash)
				fmt.Fprintf(tw, "node\t%s (%s)\n", st.NodeID, st.Moniker)
				fmt.Fprintf(tw, "validator\t%v\n", st.Validator)
				fmt.Fprintf(tw, "peers\t%d\n", st.Peers)
				fmt.Fprintf(tw, "catching up\t%v\n", st.CatchingUp)
				tw.Flush()
			})
		},
	}
	return withRejections(g, c)
}

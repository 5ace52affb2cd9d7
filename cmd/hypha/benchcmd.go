package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/hypha-iot/hypha/bench"
)

func init() {
	commands = append(commands, benchCmd)
}

func benchCmd(g *globals) *cobra.Command {
	var (
		o          bench.Options
		apps       []string
		timeout    time.Duration
		asJSON     bool
		showSteps  bool
		cpuProfile string
	)
	c := &cobra.Command{
		Use:   "bench",
		Short: "Measure sustained tx/s and submit-to-commit latency on loopback networks, beside CometBFT's kvstore",
		Long: `Start networks in this process on 127.0.0.1 (1 and 4 validators, tx indexer kv and
null) and offer each a ladder of rates: Hypha transfers, Hypha direct readings,
and CometBFT's kvstore example app as the baseline, all under the same load
generator and CometBFT configuration. Each rate is held for a warm-up and then
--duration; the highest rate the network keeps up with is reported, with the
ratio Hypha/kvstore. A step keeps up when committed tx/s >= 95% of offered,
the mempool backlog stays under two seconds of load, p99 latency is under 10
block times, at most 1% of submissions are refused, and the backlog drains.

A full run with the defaults takes about an hour; --duration 10s, --apps and
--nodes make it shorter.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if asJSON {
				g.output = "json"
			}
			for _, a := range apps {
				o.Apps = append(o.Apps, bench.App(a))
			}
			if cpuProfile != "" {
				f, err := os.Create(cpuProfile)
				if err != nil {
					return err
				}
				defer f.Close()
				if err := pprof.StartCPUProfile(f); err != nil {
					return err
				}
				defer pprof.StopCPUProfile()
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			bar := newProgressBar(g.stderr)
			o.Progress = bar.update
			rep, err := bench.Run(ctx, o)
			bar.clear()
			if err != nil && len(rep.Rows) == 0 {
				if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
					return err
				}
				return usageError{err}
			}
			if perr := g.emit(rep, func(w io.Writer) { printBench(w, &rep, showSteps) }); perr != nil {
				return perr
			}
			if err != nil {
				return fmt.Errorf("bench stopped early (--timeout %s): %w", timeout, err)
			}
			return nil
		},
	}
	f := c.Flags()
	f.StringSliceVar(&apps, "apps", []string{"transfer", "reading", "kvstore"}, "workloads: transfer, reading, kvstore, contract (counter calls; needs the go command)")
	f.IntSliceVar(&o.Nodes, "nodes", []int{1, 4}, "validator counts")
	f.StringSliceVar(&o.Indexers, "indexer", []string{"kv", "null"}, "CometBFT tx indexers: kv, null")
	f.DurationVar(&o.BlockTime, "block-time", time.Second, "CometBFT timeout_commit (the node default is 1s; try 200ms)")
	f.DurationVar(&o.Duration, "duration", 30*time.Second, "measurement window of each rate step")
	f.DurationVar(&o.Warmup, "warmup", 0, "load before each window opens (default 3 block times, at least 1s)")
	f.IntSliceVar(&o.Rates, "rates", nil, "explicit ladder of offered rates in tx/s (default: --start-rate × --factor^k up to --max-rate)")
	f.IntVar(&o.StartRate, "start-rate", 500, "first offered rate, tx/s")
	f.Float64Var(&o.Factor, "factor", 2, "rate multiplier between steps")
	f.IntVar(&o.MaxRate, "max-rate", 64_000, "highest offered rate, tx/s")
	f.IntVar(&o.Refine, "refine", 2, "bisection steps between the last rate kept up and the first missed")
	f.IntVar(&o.Concurrency, "concurrency", 64, "broadcasts in flight")
	f.IntVar(&o.Accounts, "accounts", 2000, "funded senders (and devices for readings)")
	f.IntVar(&o.MempoolSize, "mempool-size", 100_000, "CometBFT mempool.size for every app")
	f.DurationVar(&timeout, "timeout", 3*time.Hour, "stop after this long and report what was measured")
	f.BoolVar(&asJSON, "json", false, "same as --output json")
	f.BoolVar(&showSteps, "steps", false, "also list every step of every configuration")
	f.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the whole run to this file")
	c.AddCommand(benchFilesCmd(g))
	return c
}

func printBench(w io.Writer, r *bench.Report, steps bool) {
	warm := ""
	if r.Warmup > 0 {
		warm = bench.Round(r.Warmup).String() + " warm-up + "
	}
	rates := make([]string, len(r.Rates))
	for i, x := range r.Rates {
		rates[i] = strconv.Itoa(x)
	}
	fmt.Fprintf(w, "hypha bench: sustained load, in-process networks on 127.0.0.1 (%s)\n", bench.Round(r.Elapsed))
	fmt.Fprintf(w, "  each step: %s%s window; block time %s; mempool %d; %d in flight; %d senders/devices\n",
		warm, r.Duration, r.BlockTime, r.MempoolSize, r.Concurrency, r.Accounts)
	fmt.Fprintf(w, "  rates: %s tx/s, then %d bisection step(s)\n", strings.Join(rates, ", "), r.Refine)
	fmt.Fprintf(w, "  kept up: committed >= 95%% of offered, backlog < 2 s of load, p99 < 10 block times, <= 1%% refused, drained\n")
	fmt.Fprintf(w, "  machine: %d CPUs, GOMAXPROCS %d, %s\n\n", r.NumCPU, r.GOMAXPROCS, r.GoVersion)

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NODES\tINDEXER\tAPP\tKEPT UP AT\tCOMMITTED/S\tP50\tP99\tP50/BLOCK\tVS KVSTORE\tOTHERS' CPU\tFIRST MISSED")
	busy := false
	for i := range r.Rows {
		row := &r.Rows[i]
		missed := "-"
		if row.Limit != nil {
			missed = fmt.Sprintf("%d/s: %s", row.Limit.Offered, row.Limit.Why)
		}
		if row.Err != "" {
			missed = "error: " + row.Err
		}
		// The most CPU other processes took during the steps that
		// decided the row.
		others := 0.0
		for _, st := range []*bench.Step{row.Best, row.Limit} {
			if st != nil {
				others = max(others, st.OthersCPU)
			}
		}
		busy = busy || others >= 0.05
		if b := row.Best; b != nil {
			ratio := "-"
			if row.VsKVStore > 0 {
				ratio = fmt.Sprintf("%.2fx", row.VsKVStore)
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%d/s\t%.0f\t%s\t%s\t%.2f\t%s\t%.0f%%\t%s\n", row.Nodes, row.Indexer, row.Name(),
				b.Offered, b.CommittedTPS, bench.Round(b.P50), bench.Round(b.P99), b.P50Blocks, ratio, 100*others, missed)
		} else {
			fmt.Fprintf(tw, "%d\t%s\t%s\tnone\t-\t-\t-\t-\t-\t%.0f%%\t%s\n", row.Nodes, row.Indexer, row.Name(), 100*others, missed)
		}
	}
	tw.Flush()
	if busy {
		fmt.Fprintln(w, "\nwarning: other processes used 5% or more of the CPUs during some deciding steps (OTHERS' CPU);\n"+
			"those rows measured them too. Run on an idle machine for figures to compare.")
	}

	var goals []string
	for _, row := range r.Rows {
		if row.Nodes != 1 || row.App == bench.KVStore || row.App == bench.Contract || row.Best == nil {
			continue
		}
		ok := func(b bool) string {
			if b {
				return "met"
			}
			return "NOT met"
		}
		vs := "no kvstore row to compare with (add kvstore to --apps)"
		if row.VsKVStore > 0 {
			vs = fmt.Sprintf("%.2fx kvstore (goal >= 0.5x: %s)", row.VsKVStore, ok(row.VsKVStore >= 0.5))
		}
		goals = append(goals, fmt.Sprintf("  %s indexer=%s: %s; p50 %.2f block times (goal < 1.5: %s)",
			row.Name(), row.Indexer, vs, row.Best.P50Blocks, ok(row.Best.P50Blocks < 1.5)))
	}
	if len(goals) > 0 {
		fmt.Fprintf(w, "\ngoals on one node:\n%s\n", strings.Join(goals, "\n"))
	}
	if steps {
		for _, row := range r.Rows {
			fmt.Fprintf(w, "\n%s, %d node(s), indexer=%s:\n", row.Name(), row.Nodes, row.Indexer)
			for _, s := range row.Steps {
				fmt.Fprintf(w, "  %s\n", s.Summary())
			}
		}
	}
}

// progressBar draws bench progress on one redrawn line when w is a
// terminal, and one line per finished step otherwise.
type progressBar struct {
	w     io.Writer
	tty   bool
	drawn bool
}

func newProgressBar(w io.Writer) *progressBar {
	tty := false
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil {
			tty = fi.Mode()&os.ModeCharDevice != 0
		}
	}
	return &progressBar{w: w, tty: tty}
}

func (b *progressBar) update(p bench.Progress) {
	head := fmt.Sprintf("[%d/%d] %s", p.Config, p.Configs, p.Name)
	if p.Phase == "done" && p.Last != nil {
		b.clear()
		fmt.Fprintf(b.w, "%s: %s\n", head, p.Last.Summary())
		return
	}
	if !b.tty {
		if p.Phase == "start" {
			fmt.Fprintf(b.w, "%s: starting\n", head)
		}
		return
	}
	var line string
	switch p.Phase {
	case "load", "drain":
		const width = 24
		frac := 0.0
		if p.Total > 0 {
			frac = min(1, float64(p.Elapsed)/float64(p.Total))
		}
		fill := int(frac * width)
		line = fmt.Sprintf("%s | %d/s %-5s [%s%s] %s/%s  submitted %d committed %d", head, p.Rate, p.Phase,
			strings.Repeat("#", fill), strings.Repeat(".", width-fill), p.Elapsed.Round(time.Second), p.Total.Round(time.Second),
			p.Submitted, p.Committed)
	case "sign":
		line = fmt.Sprintf("%s | %d/s signing txs…", head, p.Rate)
	default:
		line = fmt.Sprintf("%s | %s…", head, p.Phase)
	}
	fmt.Fprintf(b.w, "\r\033[K%s", line)
	b.drawn = true
}

func (b *progressBar) clear() {
	if b.drawn {
		fmt.Fprint(b.w, "\r\033[K")
		b.drawn = false
	}
}

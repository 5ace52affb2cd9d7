package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/hypha-iot/hypha/errs"
)

// Exit codes a script can rely on.
const (
	exitOK       = 0
	exitFailure  = 1 // anything else: I/O, node unreachable, bad config
	exitUsage    = 2 // bad flags or arguments
	exitRejected = 3 // the ledger refused the tx or query (its code and name are printed)
)

// globals are the persistent flags.
type globals struct {
	home   string
	node   string
	output string
	stdout io.Writer
	stderr io.Writer
}

// usageError marks errors in how the command was called.
type usageError struct{ error }

// rejection is a ledger error class returned by a node.
type rejection struct {
	Code    uint32 `json:"code"`
	Name    string `json:"name"`
	Message string `json:"message"`
}

func (r *rejection) Error() string { return fmt.Sprintf("%s (%d): %s", r.Name, r.Code, r.Message) }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	g := &globals{stdout: stdout, stderr: stderr}
	root := newRoot(g)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	var rej *rejection
	var use usageError
	switch {
	case errors.As(err, &rej):
		g.printError(rej.Code, rej.Name, rej.Message)
		return exitRejected
	case errors.As(err, &use):
		fmt.Fprintln(stderr, "error:", err)
		return exitUsage
	default:
		if c := errs.Of(err); c != errs.ErrInternal {
			g.printError(c.Code, c.Name, errs.Message(err))
			return exitRejected
		}
		g.printError(0, "", err.Error())
		return exitFailure
	}
}

func (g *globals) printError(code uint32, name, msg string) {
	if g.output == "json" {
		_ = json.NewEncoder(g.stderr).Encode(map[string]any{"error": map[string]any{"code": code, "name": name, "message": msg}})
		return
	}
	if name != "" {
		fmt.Fprintf(g.stderr, "error: %s (%d): %s\n", name, code, msg)
		return
	}
	fmt.Fprintln(g.stderr, "error:", msg)
}

func defaultHome() string {
	if h := os.Getenv("HYPHA_HOME"); h != "" {
		return h
	}
	if d, err := os.UserHomeDir(); err == nil {
		return filepath.Join(d, ".hypha")
	}
	return ".hypha"
}

func defaultNode() string {
	if n := os.Getenv("HYPHA_NODE"); n != "" {
		return n
	}
	return "http://127.0.0.1:8700"
}

func newRoot(g *globals) *cobra.Command {
	root := &cobra.Command{
		Use:           "hypha",
		Short:         "Hypha: a decentralized network for IoT devices",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVar(&g.home, "home", defaultHome(), "node home and keyring directory ($HYPHA_HOME)")
	root.PersistentFlags().StringVar(&g.node, "node", defaultNode(), "API URL of the node to talk to ($HYPHA_NODE)")
	root.PersistentFlags().StringVarP(&g.output, "output", "o", "text", "output format: text or json")
	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error {
		if g.output != "text" && g.output != "json" {
			return usageError{fmt.Errorf("--output must be text or json")}
		}
		return nil
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.Args = func(cmd *cobra.Command, args []string) error {
		if len(args) > 0 {
			return usageError{fmt.Errorf("unknown command %q for %q", args[0], cmd.CommandPath())}
		}
		return nil
	}
	root.RunE = func(cmd *cobra.Command, _ []string) error { return cmd.Help() }
	for _, add := range commands {
		root.AddCommand(add(g))
	}
	return root
}

// commands are the subcommand constructors, one file per group.
var commands []func(*globals) *cobra.Command

// emit prints v as JSON with --output json, or calls text otherwise.
func (g *globals) emit(v any, text func(w io.Writer)) error {
	if g.output == "json" {
		enc := json.NewEncoder(g.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	text(g.stdout)
	return nil
}

// Command hypha runs and drives Hypha gateways: `hypha up` starts a
// single-node network with embedded defaults; the other subcommands
// initialise homes, run nodes and testnets, and talk to a node's API.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

package node_test

import (
	"testing"

	"github.com/hypha-iot/hypha/internal/testnet"
)

// TestRestartInProcess: a node stopped in-process releases every database,
// so that the same home can start again in the same process.
func TestRestartInProcess(t *testing.T) {
	net := testnet.New(t, testnet.Options{Validators: 1})
	net.Stop(0)
	net.Start(0)
	net.Stop(0)
	net.Start(0)
}

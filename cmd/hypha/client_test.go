package main

import (
	"context"
	"errors"
	"io"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/hypha-iot/hypha/api"
	"github.com/hypha-iot/hypha/internal/testnet"
	"github.com/hypha-iot/hypha/node"
)

func TestMinFee(t *testing.T) {
	tests := []struct{ gas, price, want uint64 }{
		{200_000, 1, 200},
		{200_001, 1, 201},
		{999, 1, 1},
		{1000, 0, 0},
		{0, 5, 0},
		{200_000, 2500, 500_000},
		{math.MaxUint64, math.MaxUint64, math.MaxUint64},
	}
	for _, tt := range tests {
		if got := minFee(tt.gas, tt.price); got != tt.want {
			t.Errorf("minFee(%d, %d) = %d, want %d", tt.gas, tt.price, got, tt.want)
		}
	}
}

func TestDeviceCounter(t *testing.T) {
	now := time.UnixMilli(1_700_000_000_000)
	if got := deviceCounter(5, now); got != 1_700_000_000_000 {
		t.Errorf("behind the clock: %d", got)
	}
	if got := deviceCounter(1_800_000_000_000, now); got != 1_800_000_000_001 {
		t.Errorf("ahead of the clock: %d", got)
	}
}

func TestRejectionOf(t *testing.T) {
	sub := &api.Submission{Hash: api.Hex{0xab, 0xcd}}
	err := rejectionOf(&api.Error{HTTPStatus: 402, Code: 34, Name: "ErrInsufficientFunds", Message: "need more", Submission: sub}, "")
	var rej *rejection
	if !errors.As(err, &rej) || rej.Code != 34 || rej.Name != "ErrInsufficientFunds" || rej.Message != "need more (tx abcd)" {
		t.Errorf("rejectionOf(api error) = %#v", err)
	}
	plain := errors.New("boom")
	if rejectionOf(plain, "") != plain {
		t.Error("a plain error changed")
	}
	if rejectionOf(nil, "") != nil {
		t.Error("nil changed")
	}
}

// testNode is a single-validator node started in-process from a fresh home
// with a funded "dev" key, and the flags that point the CLI at it.
type testNode struct {
	home, api string
	n         *node.Node
}

// startNode starts the node; configure, if given, edits its configuration
// first.
func startNode(t *testing.T, configure ...func(*node.Config)) *testNode {
	t.Helper()
	home := t.TempDir()
	err := node.Init(home, node.InitOptions{ChainID: "hypha-cli-test", Dev: true,
		P2PAddress: testnet.FreeAddr(t), RPCAddress: testnet.FreeAddr(t), APIAddress: testnet.FreeAddr(t),
		BlobAddress: testnet.FreeAddr(t), MQTTAddress: testnet.FreeAddr(t), TimeoutCommit: 200 * time.Millisecond,
		IdleBlockInterval: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := node.LoadConfig(home)
	if err != nil {
		t.Fatal(err)
	}
	cfg.App.LogLevel = "error"
	for _, f := range configure {
		f(cfg)
	}
	n, err := node.New(cfg, node.NewLogger(io.Discard, "error", "text"))
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	tn := &testNode{home: home, api: "http://" + n.APIAddr(), n: n}
	c := api.NewClient(tn.api, nil)
	testnet.Eventually(t, 20*time.Second, "the node's first block", func() bool {
		st, err := c.Status(context.Background())
		return err == nil && st.LatestHeight >= 1
	})
	return tn
}

// args appends the flags that select this node and its home.
func (tn *testNode) args(args ...string) []string {
	return append(args, "--home", tn.home, "--node", tn.api)
}

func (tn *testNode) run(t *testing.T, args ...string) string {
	t.Helper()
	return mustCLI(t, tn.args(args...)...)
}

func (tn *testNode) json(t *testing.T, v any, args ...string) {
	t.Helper()
	mustJSON(t, v, tn.args(args...)...)
}

// fail runs a command that must fail with code and stderr containing want.
func (tn *testNode) fail(t *testing.T, code int, want string, args ...string) {
	t.Helper()
	out, stderr, got := cli(t, tn.args(args...)...)
	if got != code || !strings.Contains(stderr, want) {
		t.Errorf("hypha %s: exit %d, stderr %q, stdout %q; want exit %d and %q", strings.Join(args, " "), got, stderr, out, code, want)
	}
}

func TestUnreachableNode(t *testing.T) {
	_, stderr, code := cli(t, "status", "--node", "http://"+testnet.FreeAddr(t))
	if code != exitFailure || !strings.Contains(stderr, "is it running?") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
}

package main

import (
	"strings"
	"testing"
	"time"

	"github.com/hypha-iot/hypha/api"
	"github.com/hypha-iot/hypha/internal/testnet"
)

// TestCLIAgainstNode drives the client commands against one real node. The
// subtests share the chain and run in order; each file's test* function
// covers its command group.
func TestCLIAgainstNode(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a node")
	}
	t.Setenv(passphraseEnv, "")
	tn := startNode(t)
	for _, name := range []string{"alice", "bob", "thermo", "thermo-v2"} {
		tn.run(t, "keys", "add", name)
	}
	steps := []struct {
		name string
		f    func(*testing.T, *testNode)
	}{
		{"status", testStatus},
		{"tx send", testSend},
		{"tx rejected", testSendRejected},
		{"bad flags", testBadFlags},
		{"device lifecycle", testDevice},
		{"readings", testReadings},
		{"queries", testQueries},
	}
	for _, s := range steps {
		if !t.Run(s.name, func(t *testing.T) { s.f(t, tn) }) {
			t.FailNow() // later steps build on earlier ones
		}
	}
}

// balance reads an account's balance through the CLI.
func balance(t *testing.T, tn *testNode, who string) uint64 {
	t.Helper()
	var a api.Account
	tn.json(t, &a, "query", "account", who)
	return a.Balance
}

func testSend(t *testing.T, tn *testNode) {
	var out txOutput
	tn.json(t, &out, "tx", "send", "--from", "dev", "--to", "alice", "--amount", "5000000")
	if out.Mode != "commit" || out.Height == 0 || out.Result == nil || out.Result.Code != 0 || len(out.Hash) != 32 {
		t.Fatalf("send: %+v", out)
	}
	if out.Fee != 200 || out.GasLimit != defaultGas {
		t.Errorf("fee %d for gas %d; want the chain minimum 200 for %d", out.Fee, out.GasLimit, defaultGas)
	}
	if got := balance(t, tn, "alice"); got != 5_000_000 {
		t.Errorf("alice has %d, want 5000000", got)
	}

	// Text form; --to as an address; explicit fee and gas; a memo.
	bob := strings.TrimSpace(tn.run(t, "keys", "show", "bob", "--address"))
	text := tn.run(t, "tx", "send", "--from", "alice", "--to", bob, "--amount", "1000000", "--fee", "500", "--gas", "100000", "--memo", "hi")
	if !strings.Contains(text, "sent 1000000uhyp to "+bob) || !strings.Contains(text, "committed at height") || !strings.Contains(text, "fee 500uhyp") {
		t.Errorf("send text: %q", text)
	}
	if got := balance(t, tn, "bob"); got != 1_000_000 {
		t.Errorf("bob has %d", got)
	}
	var a api.Account
	tn.json(t, &a, "query", "account", "alice")
	if a.Nonce != 1 || a.PubKey == "" || a.Balance != 5_000_000-1_000_000-500 {
		t.Errorf("alice after her first tx: %+v", a)
	}

	// Sync mode returns before the block; the balance follows.
	var syncOut txOutput
	tn.json(t, &syncOut, "tx", "send", "--from", "alice", "--to", "bob", "--amount", "1", "--mode", "sync")
	if syncOut.Mode != "sync" || syncOut.Height != 0 {
		t.Errorf("sync send: %+v", syncOut.Submission)
	}
	testnet.Eventually(t, 10*time.Second, "bob's balance after a sync send", func() bool {
		return balance(t, tn, "bob") == 1_000_001
	})
}

func testSendRejected(t *testing.T, tn *testNode) {
	// More than the balance: the ledger refuses with ErrInsufficientFunds.
	tn.fail(t, exitRejected, "error: ErrInsufficientFunds (34):", "tx", "send", "--from", "bob", "--to", "alice", "--amount", "999999999999")
	// In JSON, the error is JSON on stderr.
	_, stderr, code := cli(t, tn.args("tx", "send", "--from", "bob", "--to", "alice", "--amount", "999999999999", "--output", "json")...)
	if code != exitRejected || !strings.Contains(stderr, `"name":"ErrInsufficientFunds"`) || !strings.Contains(stderr, `"code":34`) {
		t.Errorf("JSON rejection: exit %d, %s", code, stderr)
	}
	// A fee below the chain's minimum.
	tn.fail(t, exitRejected, "ErrFeeTooLow", "tx", "send", "--from", "alice", "--to", "bob", "--amount", "1", "--fee", "0")
	// A signer with no account: the fee cannot be paid.
	tn.run(t, "keys", "add", "pauper")
	tn.fail(t, exitRejected, "ErrInsufficientFee", "tx", "send", "--from", "pauper", "--to", "bob", "--amount", "1")
	// Unknown keys are named clearly.
	tn.fail(t, exitFailure, `no key named "nobody"`, "tx", "send", "--from", "nobody", "--to", "bob", "--amount", "1")
	tn.fail(t, exitFailure, `"nobody" is neither an address`, "tx", "send", "--from", "alice", "--to", "nobody", "--amount", "1")
}

func testBadFlags(t *testing.T, tn *testNode) {
	for _, args := range [][]string{
		{"tx", "send", "--from", "alice", "--to", "bob", "--amount", "ten"},
		{"tx", "send", "--from", "alice", "--to", "bob"},
		{"tx", "send", "--from", "alice", "--to", "bob", "--amount", "1", "--mode", "fast"},
		{"tx", "send", "--from", "alice", "--to", "bob", "--amount", "1", "--gas", "0"},
		{"tx", "send", "extra", "--from", "alice", "--to", "bob", "--amount", "1"},
		{"device", "register", "--from", "alice", "--device-key", "thermo"},
		{"device", "register", "--from", "alice", "--device-key", "thermo", "--model", "m", "--lat", "1"},
		{"device", "register", "--from", "alice", "--device-key", "thermo", "--model", "m", "--lat", "91", "--lon", "0"},
		{"device", "update", "--from", "alice", "--device", "thermo"},
		{"device", "revoke", "--device", "thermo"},
		{"device", "revoke", "--device", "thermo", "--from", "alice", "--as-device", "thermo"},
		{"device", "list"},
		{"device", "list", "--owner", "alice", "--tag", "cold"},
		{"device", "show"},
		{"reading", "send", "--device-key", "thermo"},
		{"reading", "send", "--device-key", "thermo", "--value", "temp"},
		{"reading", "send", "--device-key", "thermo", "--value", "temp=warm"},
		{"reading", "send", "--device-key", "thermo", "--value", "t=1", "--unit", "x=Cel"},
		{"query", "tx", "not-a-hash"},
		{"query", "block", "-3"},
		{"query", "account", "alice", "--height", "-1"},
		{"status", "--bogus"},
	} {
		_, stderr, code := cli(t, tn.args(args...)...)
		if code != exitUsage || !strings.HasPrefix(stderr, "error: ") {
			t.Errorf("hypha %s: exit %d, stderr %q; want a usage error (exit 2)", strings.Join(args, " "), code, stderr)
		}
	}
}

func testStatus(t *testing.T, tn *testNode) {
	var st api.NodeStatus
	tn.json(t, &st, "status")
	if st.ChainID != "hypha-cli-test" || st.LatestHeight < 1 || st.NodeID == "" || len(st.LatestAppHash) == 0 {
		t.Errorf("status: %+v", st)
	}
	text := tn.run(t, "status")
	for _, want := range []string{"chain        hypha-cli-test", "height", "app hash", "node", "peers", "catching up  false"} {
		if !strings.Contains(text, want) {
			t.Errorf("status text lacks %q:\n%s", want, text)
		}
	}
	// --node also comes from $HYPHA_NODE.
	t.Setenv("HYPHA_NODE", tn.api)
	if _, _, code := cli(t, "status"); code != exitOK {
		t.Errorf("status with $HYPHA_NODE: exit %d", code)
	}
}

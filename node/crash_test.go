package node_test

import (
	"context"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/hypha-iot/hypha/api"
	"github.com/hypha-iot/hypha/internal/testnet"
	"github.com/hypha-iot/hypha/keys"
	"github.com/hypha-iot/hypha/node"
	"github.com/hypha-iot/hypha/txn"
)

const crashHomeEnv = "HYPHA_TEST_NODE_HOME"

// TestMain doubles as a node process for the crash test: with
// HYPHA_TEST_NODE_HOME set, the test binary runs that home's node until it
// is killed.
func TestMain(m *testing.M) {
	if home := os.Getenv(crashHomeEnv); home != "" {
		cfg, err := node.LoadConfig(home)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		n, err := node.New(cfg, node.NewLogger(os.Stderr, "error", "text"))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		if err := n.Run(context.Background()); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

type nodeProc struct {
	cmd  *exec.Cmd
	base string
}

func startProc(t *testing.T, home string) *nodeProc {
	t.Helper()
	cfg, err := node.LoadConfig(home)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashHomeEnv+"="+home)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &nodeProc{cmd: cmd, base: "http://" + cfg.App.APIAddress}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() })
	testnet.Eventually(t, 60*time.Second, "node process API up", func() bool {
		resp, err := http.Get(p.base + "/v1/status")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return p
}

func (p *nodeProc) kill9(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(os.Kill); err != nil {
		t.Fatal(err)
	}
	_, _ = p.cmd.Process.Wait()
}

// TestKill9LosesNothing kills a node process with SIGKILL while clients
// are submitting, twice, at different moments; after each restart every tx
// that was acknowledged as committed is there, balances add up exactly, and
// the state reached before the kill has the same app hash after replay.
func TestKill9LosesNothing(t *testing.T) {
	net := testnet.Homes(t, testnet.Options{Validators: 1, BlockTime: 100 * time.Millisecond})
	home := net.Homes[0]
	p := startProc(t, home)
	dev := &signer{key: devKey(t, home), chain: "hypha-it"}

	const workers = 4
	senders := make([]*signer, workers)
	for i := range senders {
		k := keys.Ed25519FromSeed([32]byte{9, byte(i)})
		senders[i] = &signer{key: k, chain: "hypha-it"}
		if s, _ := submit(t, p.base, dev.tx(t, nil, &txn.Send{To: k.Public().Address(), Amount: 1 << 30}), "commit"); s.Result == nil || s.Result.Code != 0 {
			t.Fatalf("fund: %+v", s)
		}
	}
	sink := keys.Ed25519FromSeed([32]byte{9, 99}).Public().Address()

	type sent struct {
		hash  string
		acked bool
	}
	var mu sync.Mutex
	var all []sent
	var want uint64 // amount known to be committed to sink

	for round, killAfter := range []int{25, 60} {
		var wg sync.WaitGroup
		acked := make(chan struct{}, 1<<12)
		stop := make(chan struct{})
		for _, s := range senders {
			wg.Add(1)
			go func(s *signer) {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					raw := s.tx(t, nil, &txn.Send{To: sink, Amount: 1})
					h := txn.Hash(raw)
					sub, code := submitQuiet(p.base, raw)
					mu.Lock()
					ok := code == http.StatusOK && sub.Result != nil && sub.Result.Code == 0 && sub.Height > 0
					all = append(all, sent{hash: hex.EncodeToString(h[:]), acked: ok})
					mu.Unlock()
					if !ok {
						return // the node is gone (or refused): this worker stops
					}
					acked <- struct{}{}
				}
			}(s)
		}
		for range killAfter {
			<-acked
		}
		var before api.NodeStatus
		getJSON(t, p.base+"/v1/status", &before)
		p.kill9(t)
		close(stop)
		wg.Wait()

		p = startProc(t, home)
		// Every acknowledged tx is committed; count what reached the sink.
		want = 0
		mu.Lock()
		// A tx lost with the mempool is rebuilt byte for byte after the
		// restart (same nonce, same msg), so hashes repeat: count each once.
		seen := map[string]bool{}
		for _, s := range all {
			if seen[s.hash] && !s.acked {
				continue
			}
			var tx api.Tx
			code := getJSON(t, p.base+"/v1/txs/"+s.hash, &tx)
			if s.acked && code != http.StatusOK {
				t.Fatalf("round %d: acknowledged tx %s lost (HTTP %d)", round, s.hash, code)
			}
			if code == http.StatusOK && !seen[s.hash] {
				want++
			}
			seen[s.hash] = true
		}
		mu.Unlock()
		var a api.Account
		getJSON(t, p.base+"/v1/accounts/"+sink.String(), &a)
		if a.Balance != want {
			t.Fatalf("round %d: sink balance %d, committed transfers %d", round, a.Balance, want)
		}
		// The state seen before the kill replays to the same app hash.
		var blk api.Block
		if getJSON(t, fmt.Sprintf("%s/v1/blocks/%d", p.base, before.LatestHeight+1), &blk) == http.StatusOK {
			if hex.EncodeToString(blk.AppHash) != hex.EncodeToString(before.LatestAppHash) {
				t.Fatalf("round %d: app hash at %d was %X, header %d says %X", round, before.LatestHeight, before.LatestAppHash, blk.Height, blk.AppHash)
			}
		} else {
			var after api.NodeStatus
			getJSON(t, p.base+"/v1/status", &after)
			if after.LatestHeight != before.LatestHeight || hex.EncodeToString(after.LatestAppHash) != hex.EncodeToString(before.LatestAppHash) {
				t.Fatalf("round %d: before kill %d/%X, after restart %d/%X", round, before.LatestHeight, before.LatestAppHash, after.LatestHeight, after.LatestAppHash)
			}
		}
		// Senders resume from the nonces the ledger has.
		for _, s := range senders {
			var acc api.Account
			getJSON(t, p.base+"/v1/accounts/"+s.key.Public().Address().String(), &acc)
			s.nonce = acc.Nonce
		}
		t.Logf("round %d: %d txs sent, %d committed, app hash at %d intact", round, len(all), want, before.LatestHeight)
	}
}

// submitQuiet is submit without failing the test when the node is gone.
func submitQuiet(base string, raw []byte) (api.Submission, int) {
	resp, err := http.Post(base+"/v1/txs?mode=commit", "application/cbor", bytesReader(raw))
	if err != nil {
		return api.Submission{}, 0
	}
	defer resp.Body.Close()
	var s api.Submission
	_ = decodeJSON(resp, &s)
	return s, resp.StatusCode
}

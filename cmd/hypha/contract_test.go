package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hypha-iot/hypha/vm/vmtest"
)

// The contract commands against a real node: the SDK's counter example
// built from source, stored in chunks, instantiated, called twice and read
// back with a proof; bad arguments are usage errors.
func TestContractCommands(t *testing.T) {
	wasm := filepath.Join(t.TempDir(), "counter.wasm")
	if err := os.WriteFile(wasm, vmtest.Build(t, "../../vm/sdk/examples/counter"), 0o644); err != nil {
		t.Fatal(err)
	}
	tn := startNode(t)
	var stored struct {
		CodeHash string `json:"code_hash"`
		Chunks   int    `json:"chunks"`
	}
	tn.json(t, &stored, "contract", "store", wasm, "--from", "dev")
	if len(stored.CodeHash) != 64 || stored.Chunks < 2 {
		t.Fatalf("store: %+v", stored)
	}
	var inst struct {
		Contract string `json:"contract"`
	}
	tn.json(t, &inst, "contract", "instantiate", stored.CodeHash, "--from", "dev", "--label", "counter", "--admin", "dev")
	if !strings.HasPrefix(inst.Contract, "hypha1") {
		t.Fatalf("instantiate: %+v", inst)
	}
	tn.run(t, "contract", "call", inst.Contract, "--from", "dev", "--arg", "s:increment", "--arg", "u:5")
	out := tn.run(t, "contract", "call", inst.Contract, "--from", "dev", "--arg", "s:increment", "--arg", "u:7")
	if !strings.Contains(out, "returned") {
		t.Fatalf("call output lacks the return value:\n%s", out)
	}
	out = tn.run(t, "contract", "state", inst.Contract, "count", "--prove")
	if !strings.Contains(out, "(uint 12)") || !strings.Contains(out, "proof") {
		t.Fatalf("state:\n%s", out)
	}
	out = tn.run(t, "contract", "show", inst.Contract)
	if !strings.Contains(out, stored.CodeHash) || !strings.Contains(out, "counter") {
		t.Fatalf("show:\n%s", out)
	}
	// Triggers: the counter exports no on_tick, so a tick subscription is
	// refused by the ledger; a reading trigger with a condition that is not
	// a bool is refused before any state changes.
	if _, stderr, code := cli(t, tn.args("contract", "subscribe", inst.Contract, "--from", "dev", "--every", "3")...); code != 3 || !strings.Contains(stderr, "ErrNoEntryPoint") {
		t.Fatalf("tick subscription on a counter: exit %d: %s", code, stderr)
	}
	if _, _, code := cli(t, tn.args("contract", "subscribe", inst.Contract, "--from", "dev")...); code != 2 {
		t.Fatalf("subscribe with neither --reading nor --every: exit %d", code)
	}

	// Refusals: a bad argument, an unknown method (the contract reverts).
	if _, _, code := cli(t, tn.args("contract", "call", inst.Contract, "--from", "dev", "--arg", "q:1")...); code != 2 {
		t.Fatalf("bad --arg: exit %d, want 2", code)
	}
	_, stderr, code := cli(t, tn.args("contract", "call", inst.Contract, "--from", "dev", "--arg", "s:explode")...)
	if code != 3 || !strings.Contains(stderr, "ErrReverted") {
		t.Fatalf("unknown method: exit %d: %s", code, stderr)
	}
}

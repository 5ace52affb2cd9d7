package main

import (
	"encoding/hex"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hypha-iot/hypha/api"
	"github.com/hypha-iot/hypha/internal/testnet"
)

func testQueries(t *testing.T, tn *testNode) {
	var out txOutput
	tn.json(t, &out, "tx", "send", "--from", "alice", "--to", "bob", "--amount", "7", "--memo", "for the query test")
	hash := hex.EncodeToString(out.Hash)

	// The tx indexer catches up with the block a moment after it commits.
	testnet.Eventually(t, 10*time.Second, "the tx in the index", func() bool {
		_, _, code := cli(t, tn.args("query", "tx", hash)...)
		return code == exitOK
	})
	var tx api.Tx
	tn.json(t, &tx, "query", "tx", hash)
	if tx.Height != out.Height || tx.Body == nil || tx.Body.Memo != "for the query test" || tx.Result.Code != 0 {
		t.Errorf("query tx: %+v", tx)
	}
	if text := tn.run(t, "query", "tx", hash); !strings.Contains(text, ": ok") || !strings.Contains(text, "account.send") || !strings.Contains(text, "amount=7") {
		t.Errorf("query tx text:\n%s", text)
	}
	tn.fail(t, exitRejected, "ErrNotFound", "query", "tx", strings.Repeat("00", 32))

	var b api.Block
	tn.json(t, &b, "query", "block", strconv.FormatInt(out.Height, 10))
	if b.Height != out.Height || b.TxCount != 1 || hex.EncodeToString(b.TxHashes[0]) != hash {
		t.Errorf("query block: %+v", b)
	}
	tn.json(t, &b, "query", "block")
	if b.Height < out.Height {
		t.Errorf("latest block %d below %d", b.Height, out.Height)
	}
	if text := tn.run(t, "query", "block", strconv.FormatInt(out.Height, 10)); !strings.Contains(text, "tx "+hash) {
		t.Errorf("query block text:\n%s", text)
	}

	var p api.Params
	tn.json(t, &p, "query", "params")
	if p.MinGasPriceMilli != 1 || p.MaxGasPerTx == 0 {
		t.Errorf("params: %+v", p)
	}
	if text := tn.run(t, "query", "params"); !strings.Contains(text, "min gas price        1uhyp per 1000 gas") {
		t.Errorf("params text:\n%s", text)
	}

	// Proofs: the JSON carries the proof, the text says it is there.
	var a api.Account
	tn.json(t, &a, "query", "account", "alice", "--prove")
	if a.Proof == nil || len(a.Proof.Proof) == 0 || a.Proof.AppHashHeight != a.Proof.Height+1 || len(a.Proof.Value) == 0 {
		t.Errorf("account proof: %+v", a.Proof)
	}
	if text := tn.run(t, "query", "account", "alice", "--prove"); !strings.Contains(text, "proof: included") {
		t.Errorf("account text with proof:\n%s", text)
	}
	// State at an earlier height: bob before the memo send.
	var then, now api.Account
	tn.json(t, &then, "query", "account", "bob", "--height", strconv.FormatInt(out.Height-1, 10))
	tn.json(t, &now, "query", "account", "bob")
	if now.Balance != then.Balance+7 {
		t.Errorf("bob at height %d: %d, now %d", out.Height-1, then.Balance, now.Balance)
	}
	var d api.Device
	tn.json(t, &d, "query", "device", "thermo", "--prove")
	if d.Proof == nil || d.Status != "decommissioned" {
		t.Errorf("query device: %+v", d)
	}
	tn.fail(t, exitRejected, "ErrNotFound (60): no account", "query", "account", "pauper")
}

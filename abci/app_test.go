package abci_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	abcitypes "github.com/cometbft/cometbft/abci/types"
	"github.com/cosmos/ics23/go"

	"github.com/hypha-iot/hypha/abci"
	"github.com/hypha-iot/hypha/errs"
	"github.com/hypha-iot/hypha/ledger"
	lt "github.com/hypha-iot/hypha/ledger/ledgertest"
	"github.com/hypha-iot/hypha/store"
	"github.com/hypha-iot/hypha/txn"
)

func newApp(t *testing.T, dir string) (*abci.App, *store.Store) {
	t.Helper()
	st, err := store.Open(store.Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	l, err := ledger.New(st, ledger.Config{})
	if err != nil {
		t.Fatal(err)
	}
	return abci.New(l, abci.Config{RetainBlocks: 2, Version: "test"}, nil), st
}

// TestABCIFlow drives the application as CometBFT does: Info, InitChain
// from genesis app_state, CheckTx, FinalizeBlock, Commit, Query with a
// proof op that verifies against the app hash, and a restart whose Info
// reports the committed height and hash.
func TestABCIFlow(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	app, st := newApp(t, dir)
	info, _ := app.Info(ctx, &abcitypes.RequestInfo{})
	if info.LastBlockHeight != 0 || info.LastBlockAppHash != nil {
		t.Fatalf("fresh Info: %+v", info)
	}
	alice := lt.Key("alice")
	g, _ := json.Marshal(ledger.Genesis{Accounts: []ledger.GenesisAccount{{Address: alice.Public().Address(), Balance: 1_000_000}}})
	ic, err := app.InitChain(ctx, &abcitypes.RequestInitChain{ChainId: lt.ChainID, AppStateBytes: g, InitialHeight: 1})
	if err != nil || len(ic.AppHash) != 32 {
		t.Fatalf("InitChain: %v %x", err, ic.GetAppHash())
	}
	mk := func(nonce uint64, amount txn.Amount) []byte {
		tx, err := txn.New(lt.ChainID, alice.Public().Address(), nonce).WithPubKey(alice.Public()).WithFee(1000, 1_000_000).
			Add(&txn.Send{To: lt.Addr("bob"), Amount: amount}).Sign(alice)
		if err != nil {
			t.Fatal(err)
		}
		return tx.Bytes()
	}
	good, over := mk(0, 10), mk(1, 5_000_000)
	if r, _ := app.CheckTx(ctx, &abcitypes.RequestCheckTx{Tx: good}); r.Code != 0 {
		t.Fatalf("CheckTx: %+v", r)
	}
	r, _ := app.CheckTx(ctx, &abcitypes.RequestCheckTx{Tx: over})
	if r.Code != errs.ErrInsufficientFunds.Code || r.Info != "ErrInsufficientFunds" || r.Codespace != abci.Codespace {
		t.Fatalf("CheckTx overdraft: %+v", r)
	}
	fb, err := app.FinalizeBlock(ctx, &abcitypes.RequestFinalizeBlock{Height: 1, Time: time.Unix(1_700_000_000, 0), Txs: [][]byte{good, over, {0xff}}})
	if err != nil {
		t.Fatal(err)
	}
	if fb.TxResults[0].Code != 0 || fb.TxResults[1].Code != errs.ErrInsufficientFunds.Code || fb.TxResults[2].Code != errs.ErrMalformed.Code {
		t.Fatalf("results: %+v", fb.TxResults)
	}
	indexed := false
	for _, e := range fb.TxResults[0].Events {
		for _, a := range e.Attributes {
			if e.Type == "transfer" && a.Key == "to" && a.Index {
				indexed = true
			}
		}
	}
	if !indexed {
		t.Fatalf("transfer.to not marked for the indexer: %+v", fb.TxResults[0].Events)
	}
	if _, err := app.Commit(ctx, &abcitypes.RequestCommit{}); err != nil {
		t.Fatal(err)
	}
	q, _ := app.Query(ctx, &abcitypes.RequestQuery{Path: "/account/" + lt.Addr("bob").String(), Prove: true})
	if q.Code != 0 || q.Height != 1 || q.ProofOps == nil || q.ProofOps.Ops[0].Type != abci.ProofOpType {
		t.Fatalf("Query: %+v", q)
	}
	var p ics23.CommitmentProof
	if err := p.Unmarshal(q.ProofOps.Ops[0].Data); err != nil {
		t.Fatal(err)
	}
	if err := store.VerifyProof(fb.AppHash, q.Key, q.Value, &p); err != nil {
		t.Fatalf("proof: %v", err)
	}
	miss, _ := app.Query(ctx, &abcitypes.RequestQuery{Path: "/device/" + lt.Addr("nobody").Device(), Prove: true})
	if miss.Code != errs.ErrNotFound.Code || miss.Info != "ErrNotFound" || miss.ProofOps == nil {
		t.Fatalf("absent: %+v", miss)
	}
	// Restart: Info reports what was committed, so CometBFT replays only
	// what the app lacks.
	st.Close()
	app2, st2 := newApp(t, dir)
	defer st2.Close()
	info, _ = app2.Info(ctx, &abcitypes.RequestInfo{})
	if info.LastBlockHeight != 1 || string(info.LastBlockAppHash) != string(fb.AppHash) {
		t.Fatalf("Info after restart: %+v", info)
	}
}

// TestRetainHeight: Commit asks CometBFT to prune blocks older than
// RetainBlocks.
func TestRetainHeight(t *testing.T) {
	ctx := context.Background()
	app, st := newApp(t, "")
	defer st.Close()
	if _, err := app.InitChain(ctx, &abcitypes.RequestInitChain{ChainId: lt.ChainID}); err != nil {
		t.Fatal(err)
	}
	for h := int64(1); h <= 4; h++ {
		if _, err := app.FinalizeBlock(ctx, &abcitypes.RequestFinalizeBlock{Height: h, Time: time.Unix(h, 0)}); err != nil {
			t.Fatal(err)
		}
		c, err := app.Commit(ctx, &abcitypes.RequestCommit{})
		if err != nil {
			t.Fatal(err)
		}
		want := int64(0)
		if h > 2 {
			want = h - 1
		}
		if c.RetainHeight != want {
			t.Fatalf("height %d: retain %d, want %d", h, c.RetainHeight, want)
		}
	}
}

// TestBadGenesis: a malformed app_state stops InitChain with an error.
func TestBadGenesis(t *testing.T) {
	app, st := newApp(t, "")
	defer st.Close()
	if _, err := app.InitChain(context.Background(), &abcitypes.RequestInitChain{ChainId: "x", AppStateBytes: []byte("{")}); err == nil {
		t.Fatal("accepted a malformed app_state")
	}

}

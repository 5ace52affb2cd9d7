package contract_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"testing"
	"time"

	"github.com/hypha-iot/hypha/errs"
	"github.com/hypha-iot/hypha/ledger"
	"github.com/hypha-iot/hypha/ledger/contract"
	"github.com/hypha-iot/hypha/ledger/exec"
	lt "github.com/hypha-iot/hypha/ledger/ledgertest"
	"github.com/hypha-iot/hypha/store"
	"github.com/hypha-iot/hypha/txn"
	"github.com/hypha-iot/hypha/vm/vmledger"
)

// TestCounterLifecycle runs the SDK's counter example from source through
// the ledger: a chunked upload, instantiate, three increments, a proven
// state query, the code read back, and migrations by a stranger (refused)
// and by the admin (to the probe contract, whose migrate entry runs).
func TestCounterLifecycle(t *testing.T) {
	rt := mustRuntime(t, false)
	c := newChain(t, rt)
	alice, bob := lt.Key("alice"), lt.Key("bob")
	code := mustContract(t, "counter")
	hash := upload(t, c, alice, code)

	var rec contract.Code
	mustQuery(t, c, "/code/"+hex.EncodeToString(hash[:]), &rec)
	if rec.Size != uint64(len(code)) || rec.Uploader != lt.Addr("alice") || rec.Height != 1 ||
		!rec.HasEntry(contract.EntryInstantiate) || !rec.HasEntry(contract.EntryCall) || rec.InitGas == 0 {
		t.Fatalf("code record %+v", rec)
	}
	// The code reads back chunk by chunk.
	var back []byte
	for i := range rec.Chunks {
		r := c.Query("/code/" + hex.EncodeToString(hash[:]) + "/chunk/" + strconv.FormatUint(uint64(i), 10))
		if r.Code != 0 {
			t.Fatalf("chunk %d: %s", i, r.Log)
		}
		back = append(back, r.Value...)
	}
	if !bytes.Equal(back, code) {
		t.Fatal("code read back differs from the code uploaded")
	}
	if r := c.Query("/upload/" + lt.Addr("alice").String() + "/" + hex.EncodeToString(hash[:])); r.Code != errs.ErrNotFound.Code {
		t.Errorf("upload record left behind: %s %s", r.Name, r.Log)
	}

	admin := lt.Addr("alice")
	addr := instantiate(t, c, alice, hash, &admin, 0)
	if want := contract.Address(lt.Addr("alice"), uint64(len(storeMsgs(code, chunkSize))), 0); addr != want {
		t.Errorf("contract address %s, want %s", addr, want)
	}
	var ct contract.Contract
	mustQuery(t, c, "/contract/"+addr.String(), &ct)
	if ct.Address != addr || !bytes.Equal(ct.CodeHash, hash[:]) || ct.Creator != admin || ct.Admin == nil ||
		*ct.Admin != admin || ct.Label != "test" {
		t.Fatalf("contract record %+v", ct)
	}
	if v, ok := storage(t, c, addr, "count"); !ok || decodeUint(t, v) != 0 {
		t.Fatalf("count after instantiate: %x %v", v, ok)
	}

	for i, by := range []int{2, 5, 1} {
		r := call(t, c, bob, addr, callGas, 0, "increment", by)
		d := returned(t, r)
		want := []uint64{2, 7, 8}[i]
		if got := d.Uint(); got != want {
			t.Errorf("increment %d returned %d, want %d", i, got, want)
		}
		if got := attr(r, "contract.incremented", "contract"); got != addr.String() {
			t.Errorf("incremented event names contract %q", got)
		}
		t.Logf("increment: %d gas", r.GasUsed)
	}

	// The state is proven against the app hash.
	key := contract.StorageKey(addr, []byte("count"))
	resp := c.L.Query(ledger.QueryRequest{Path: "/contract/" + addr.String() + "/state/" + hex.EncodeToString([]byte("count")), Prove: true})
	if resp.Code != 0 || resp.Proof == nil {
		t.Fatalf("proven query: %s %s", resp.Name, resp.Log)
	}
	if err := store.VerifyProof(c.L.Info().AppHash, key, resp.Value, resp.Proof); err != nil {
		t.Fatalf("proof: %v", err)
	}
	if v, _ := contract.StorageValue(resp.Value); decodeUint(t, v) != 8 {
		t.Errorf("proven count %x, want 8", v)
	}
	var page ledger.Page
	mustQuery(t, c, "/contract/"+addr.String()+"/state", &page)
	if len(page.Items) != 1 {
		t.Fatalf("state list: %d items", len(page.Items))
	}

	// Migration: the admin only, to stored code that has a migrate entry.
	probe := upload(t, c, alice, mustContract(t, "probe"))
	r := c.Block(tx(c, bob, callGas, &txn.ContractMigrate{Contract: addr, CodeHash: probe[:]}))[0]
	mustFail(t, r, errs.ErrNotAdmin, "migrate by bob")
	r = c.Block(tx(c, alice, callGas, &txn.ContractMigrate{Contract: addr, CodeHash: hash[:]}))[0]
	mustFail(t, r, errs.ErrNoEntryPoint, "migrate to the counter, which has no migrate entry")
	r = c.Block(tx(c, alice, callGas, &txn.ContractMigrate{Contract: addr, CodeHash: probe[:], Args: []byte("v2")}))[0]
	mustOK(t, r, "migrate by alice")
	if attr(r, "contract.migrated", "data") != hex.EncodeToString([]byte("v2")) {
		t.Errorf("migrate events %+v", r.Events)
	}
	mustQuery(t, c, "/contract/"+addr.String(), &ct)
	if !bytes.Equal(ct.CodeHash, probe[:]) || ct.Migrated != c.Height {
		t.Errorf("contract after migration %+v", ct)
	}
	if v, ok := storage(t, c, addr, "migrated"); !ok || decodeUint(t, v) != 8 {
		t.Errorf("migrated count %x %v, want 8", v, ok)
	}
	if d := returned(t, call(t, c, bob, addr, callGas, 0, "get", []byte("version"))); !bytes.Equal(d.Bytes(), []byte{2}) {
		t.Error("the migrated contract does not run the new code")
	}
}

// TestFunds: funds attached to instantiate and call move to the contract's
// account before it runs; the contract pays out of it, and cannot pay more
// than it holds.
func TestFunds(t *testing.T) {
	c := newChain(t, mustRuntime(t, false))
	alice, bob := lt.Key("alice"), lt.Key("bob")
	probe := upload(t, c, alice, mustContract(t, "probe"))
	before := c.Account(lt.Addr("alice")).Balance
	addr := instantiate(t, c, alice, probe, nil, 1000)
	if got := c.Account(addr).Balance; got != 1000 {
		t.Fatalf("contract balance %d after instantiate, want 1000", got)
	}
	if got := c.Account(lt.Addr("alice")).Balance; got != before-1000-txn.Amount(fee(callGas)) {
		t.Errorf("alice %d, want %d", got, before-1000-txn.Amount(fee(callGas)))
	}

	r := call(t, c, bob, addr, callGas, 500, "balance", addr)
	if got := returned(t, r).Uint(); got != 1500 {
		t.Errorf("the contract sees a balance of %d, want 1500 (funds arrive before it runs)", got)
	}
	bobBefore := c.Account(lt.Addr("bob")).Balance
	carol := lt.Addr("carol")
	carolBefore := c.Account(carol).Balance
	r = call(t, c, bob, addr, callGas, 0, "transfer", carol, 600)
	if st := returned(t, r).Uint(); st != 0 {
		t.Fatalf("transfer status %d", st)
	}
	if attr(r, "transfer", "from") != addr.String() || attr(r, "transfer", "to") != carol.String() {
		t.Errorf("transfer event: %+v", r.Events)
	}
	if got := c.Account(carol).Balance; got != carolBefore+600 {
		t.Errorf("carol %d, want %d", got, carolBefore+600)
	}
	if got := c.Account(addr).Balance; got != 900 {
		t.Errorf("contract %d, want 900", got)
	}
	if got := c.Account(lt.Addr("bob")).Balance; got != bobBefore-txn.Amount(fee(callGas)) {
		t.Errorf("bob %d, want %d (the fee only)", got, bobBefore-txn.Amount(fee(callGas)))
	}
	// Refusals reach the contract as statuses; the call goes on.
	if st := returned(t, call(t, c, bob, addr, callGas, 0, "transfer", carol, 901)).Uint(); st != uint64(errs.ErrInsufficientFunds.Code) {
		t.Errorf("overdraft status %d, want %d", st, errs.ErrInsufficientFunds.Code)
	}
	if st := returned(t, call(t, c, bob, addr, callGas, 0, "transfer", carol, 0)).Uint(); st != uint64(errs.ErrZeroAmount.Code) {
		t.Errorf("zero transfer status %d, want %d", st, errs.ErrZeroAmount.Code)
	}
	if st := returned(t, call(t, c, bob, addr, callGas, 0, "transfer", []byte("short"), 1)).Uint(); st != uint64(errs.ErrInvalidAddress.Code) {
		t.Errorf("bad address status %d, want %d", st, errs.ErrInvalidAddress.Code)
	}
	// Funds the signer does not have fail the msg.
	mustFail(t, call(t, c, bob, addr, callGas, initialBalance, "balance", addr), errs.ErrInsufficientFunds, "funds above the balance")
	if got := c.Account(addr).Balance; got != 900 {
		t.Errorf("contract %d after the refusals, want 900", got)
	}
}

// TestFailedCallsRevert: a call that runs out of gas, traps or reverts
// leaves no write, transfer or event, and its signer pays the fee.
func TestFailedCallsRevert(t *testing.T) {
	c := newChain(t, mustRuntime(t, false))
	alice, bob := lt.Key("alice"), lt.Key("bob")
	addr := instantiate(t, c, alice, upload(t, c, alice, mustContract(t, "probe")), nil, 0)
	mustOK(t, call(t, c, bob, addr, callGas, 0, "set", []byte("k"), []byte("before")), "set")

	cases := []struct {
		name  string
		gas   uint64
		funds txn.Amount
		args  []any
		want  *errs.Class
	}{
		{"out of gas", 3_000_000, 77, []any{"burn", []byte("k")}, errs.ErrOutOfGas},
		{"trap", callGas, 77, []any{"panic"}, errs.ErrTrap},
		{"revert", callGas, 77, []any{"nonsense"}, errs.ErrReverted},
		{"gas below the instance", 150_000, 77, []any{"set", []byte("k"), []byte("after")}, errs.ErrOutOfGas},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			bobBefore, ctBefore := c.Account(lt.Addr("bob")), c.Account(addr).Balance
			r := call(t, c, bob, addr, tc.gas, tc.funds, tc.args[0].(string), tc.args[1:]...)
			mustFail(t, r, tc.want, "%s", tc.name)
			t.Logf("%s: %s", tc.name, r.Log)
			if tc.want == errs.ErrOutOfGas && r.GasUsed != tc.gas {
				t.Errorf("gas used %d, want the limit %d", r.GasUsed, tc.gas)
			}
			if len(r.Events) != 1 || r.Events[0].Type != "tx" {
				t.Errorf("events of a failed call: %+v", r.Events)
			}
			if v, _ := storage(t, c, addr, "k"); string(v) != "before" {
				t.Errorf("k = %q after a failed call", v)
			}
			bobAfter := c.Account(lt.Addr("bob"))
			if bobAfter.Balance != bobBefore.Balance-txn.Amount(fee(tc.gas)) || bobAfter.Nonce != bobBefore.Nonce+1 {
				t.Errorf("bob %+v -> %+v: want the fee %d charged and the nonce used", bobBefore, bobAfter, fee(tc.gas))
			}
			if got := c.Account(addr).Balance; got != ctBefore {
				t.Errorf("contract balance %d -> %d: the funds must go back", ctBefore, got)
			}
		})
	}
}

// TestHostileModules: an infinite loop runs out of gas; SIMD is refused at
// upload.
func TestHostileModules(t *testing.T) {
	c := newChain(t, mustRuntime(t, false))
	alice := lt.Key("alice")
	hash := sha256.Sum256(loopModule)
	mustOK(t, c.Block(tx(c, alice, callGas, storeMsgs(loopModule, chunkSize)[0]))[0], "store the loop")
	addr := instantiate(t, c, alice, hash, nil, 0) // no instantiate entry point: nothing runs
	r := call(t, c, alice, addr, 5_000_000, 0, "anything")
	mustFail(t, r, errs.ErrOutOfGas, "infinite loop")
	if r.GasUsed != 5_000_000 {
		t.Errorf("gas used %d, want the limit", r.GasUsed)
	}
	r = c.Block(tx(c, alice, callGas, &txn.ContractInstantiate{CodeHash: hash[:], Args: []byte{1}}))[0]
	mustFail(t, r, errs.ErrNoEntryPoint, "args for code without instantiate")

	simd := sha256.Sum256(simdModule)
	r = c.Block(tx(c, alice, callGas, storeMsgs(simdModule, chunkSize)[0]))[0]
	mustFail(t, r, errs.ErrInvalidModule, "SIMD")
	t.Logf("SIMD: %s", r.Log)
	if q := c.Query("/code/" + hex.EncodeToString(simd[:])); q.Code != errs.ErrNotFound.Code {
		t.Errorf("SIMD code record: %s", q.Name)
	}
}

// TestUnknown: calls, instantiations and migrations of what does not
// exist.
func TestUnknown(t *testing.T) {
	c := newChain(t, mustRuntime(t, false))
	alice := lt.Key("alice")
	nowhere := lt.Addr("nowhere")
	mustFail(t, call(t, c, alice, nowhere, callGas, 0, "get"), errs.ErrUnknownContract, "call")
	missing := bytes.Repeat([]byte{7}, 32)
	r := c.Block(tx(c, alice, callGas, &txn.ContractInstantiate{CodeHash: missing}),
		tx(c, alice, callGas, &txn.ContractMigrate{Contract: nowhere, CodeHash: missing}))
	mustFail(t, r[0], errs.ErrUnknownCode, "instantiate")
	mustFail(t, r[1], errs.ErrUnknownContract, "migrate")
	if q := c.Query("/contract/" + nowhere.String()); q.Code != errs.ErrNotFound.Code {
		t.Errorf("query of no contract: %s", q.Name)
	}
}

// TestNoRuntime: a ledger without a runtime refuses every contract msg
// before the fee, with a clear error.
func TestNoRuntime(t *testing.T) {
	c := newChain(t, nil)
	c.Block()
	alice := lt.Key("alice")
	hash := sha256.Sum256(loopModule)
	msgs := []txn.Msg{storeMsgs(loopModule, chunkSize)[0], &txn.ContractCancelStore{CodeHash: hash[:]},
		&txn.ContractInstantiate{CodeHash: hash[:]}, &txn.ContractCall{Contract: lt.Addr("x")},
		&txn.ContractMigrate{Contract: lt.Addr("x"), CodeHash: hash[:]}}
	before := c.Account(lt.Addr("alice"))
	for _, m := range msgs {
		addr := lt.Addr("alice")
		t0, err := txn.New(lt.ChainID, addr, before.Nonce).WithPubKey(alice.Public()).WithFee(fee(callGas), callGas).
			Add(m).Sign(alice)
		if err != nil {
			t.Fatal(err)
		}
		r := c.Block(t0.Bytes())[0]
		mustFail(t, r, errs.ErrUnknownMsg, "%s", m.Type())
		if !bytes.Contains([]byte(r.Log), []byte("no contract runtime")) {
			t.Errorf("%s: log %q does not say why", m.Type(), r.Log)
		}
	}
	if after := c.Account(lt.Addr("alice")); after.Balance != before.Balance || after.Nonce != before.Nonce {
		t.Errorf("alice %+v -> %+v: a refused contract msg must cost nothing", before, after)
	}
}

// TestUploadRules: chunks in order from one uploader, a fixed total, the
// hash checked at the end, the size limit, cancellation, no second copy.
func TestUploadRules(t *testing.T) {
	c := newChain(t, mustRuntime(t, false))
	alice, bob := lt.Key("alice"), lt.Key("bob")
	code := loopModule
	msgs := storeMsgs(code, 10)
	if len(msgs) < 3 {
		t.Fatalf("%d chunks", len(msgs))
	}
	hash := sha256.Sum256(code)
	wrongTotal := *msgs[1]
	wrongTotal.TotalSize++
	r := c.Block(
		tx(c, alice, chunkGas, msgs[1]),     // not started
		tx(c, alice, chunkGas, msgs[0]),     // starts
		tx(c, alice, chunkGas, msgs[0]),     // chunk 0 again
		tx(c, alice, chunkGas, msgs[2]),     // skips chunk 1
		tx(c, alice, chunkGas, &wrongTotal), // another total
		tx(c, bob, chunkGas, msgs[1]),       // bob has no upload
		tx(c, alice, chunkGas, msgs[1]),     // ok
	)
	for i, want := range []*errs.Class{errs.ErrInvalidMsg, nil, errs.ErrInvalidMsg, errs.ErrInvalidMsg, errs.ErrInvalidMsg,
		errs.ErrInvalidMsg, nil} {
		if want == nil {
			mustOK(t, r[i], "tx %d", i)
		} else {
			mustFail(t, r[i], want, "tx %d", i)
		}
	}
	var up contract.Upload
	mustQuery(t, c, "/upload/"+lt.Addr("alice").String()+"/"+hex.EncodeToString(hash[:]), &up)
	if up.Chunks != 2 || up.Received != 20 || up.TotalSize != uint64(len(code)) {
		t.Fatalf("upload %+v", up)
	}

	// Cancel deletes the chunks; the upload starts again from 0.
	mustOK(t, c.Block(tx(c, alice, chunkGas, &txn.ContractCancelStore{CodeHash: hash[:]}))[0], "cancel")
	for i := range uint32(2) {
		if q := c.Query("/store/" + hex.EncodeToString(contract.ChunkKey(hash, lt.Addr("alice"), i))); q.Code != errs.ErrNotFound.Code {
			t.Errorf("chunk %d left after cancel", i)
		}
	}
	mustFail(t, c.Block(tx(c, alice, chunkGas, &txn.ContractCancelStore{CodeHash: hash[:]}))[0], errs.ErrInvalidMsg, "cancel twice")

	// Bytes that do not hash to the code hash fail the last chunk.
	bad := storeMsgs(code, 10)
	last := *bad[len(bad)-1]
	last.Chunk = bytes.Clone(last.Chunk)
	last.Chunk[0] ^= 1
	bad[len(bad)-1] = &last
	var txs [][]byte
	for _, m := range bad {
		txs = append(txs, tx(c, alice, chunkGas, m))
	}
	res := c.Block(txs...)
	mustFail(t, res[len(res)-1], errs.ErrInvalidMsg, "hash mismatch")
	mustOK(t, c.Block(tx(c, alice, chunkGas, &txn.ContractCancelStore{CodeHash: hash[:]}))[0], "cancel after a mismatch")

	// Too large for the chain.
	big := &txn.ContractStore{CodeHash: hash[:], TotalSize: ledger.DefaultParams().MaxCodeBytes + 1, Chunk: []byte{0}}
	mustFail(t, c.Block(tx(c, alice, chunkGas, big))[0], errs.ErrPayloadTooLarge, "oversize")

	// Stored once; a second upload of the same code is refused at once.
	mustOK(t, c.Block(tx(c, bob, callGas, storeMsgs(code, chunkSize)[0]))[0], "bob stores it whole")
	mustFail(t, c.Block(tx(c, alice, chunkGas, msgs[0]))[0], errs.ErrInvalidMsg, "store again")
}

func mustQuery(tb testing.TB, c *lt.Chain, path string, v any) {
	tb.Helper()
	r := c.Query(path)
	if r.Code != 0 {
		tb.Fatalf("query %s: %s: %s", path, r.Name, r.Log)
	}
	if err := txn.Unmarshal(r.Value, v); err != nil {
		tb.Fatalf("decode %s: %v", path, err)
	}
}

// TestRestartLoadsCode: a node that restarts with a fresh runtime, which
// holds no module, runs a contract from the chunks in state.
func TestRestartLoadsCode(t *testing.T) {
	dir := t.TempDir()
	c := newChainOn(t, mustRuntime(t, false), store.Config{Dir: dir})
	alice := lt.Key("alice")
	nop := wasmModule() // call does nothing
	var txs [][]byte
	for _, m := range storeMsgs(nop, 8) {
		txs = append(txs, tx(c, alice, chunkGas, m))
	}
	for i, r := range c.Block(txs...) {
		mustOK(t, r, "chunk %d", i)
	}
	addr := instantiate(t, c, alice, sha256.Sum256(nop), nil, 0)
	nonce := c.Account(lt.Addr("alice")).Nonce
	if err := c.Store.Close(); err != nil {
		t.Fatal(err)
	}

	st, err := store.Open(store.Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	fresh, err := vmledger.New(context.Background(), vmledger.Config{Interpreter: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fresh.Close(context.Background()) })
	l, err := ledger.New(st, ledger.Config{Contracts: fresh})
	if err != nil {
		t.Fatal(err)
	}
	call, err := txn.New(lt.ChainID, lt.Addr("alice"), nonce).WithFee(fee(callGas), callGas).
		Add(&txn.ContractCall{Contract: addr}).Sign(alice)
	if err != nil {
		t.Fatal(err)
	}
	res, err := l.FinalizeBlock(exec.Header{Height: c.Height + 1, Time: c.Time.Add(time.Second)}, [][]byte{call.Bytes()})
	if err != nil {
		t.Fatal(err)
	}
	mustOK(t, res.TxResults[0], "call after restart")
}

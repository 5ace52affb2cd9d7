package ledger_test

import (
	"bytes"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/hypha-iot/hypha/errs"
	"github.com/hypha-iot/hypha/ledger"
	"github.com/hypha-iot/hypha/ledger/exec"
	lt "github.com/hypha-iot/hypha/ledger/ledgertest"
	"github.com/hypha-iot/hypha/store"
)

// The workload of the determinism tests: 20 blocks of up to 30 txs from the
// generator in property_test.go (transfers, overdrafts, bad nonces, ed25519
// and P-256 devices through their whole life cycle, readings with gaps and
// reused counters, multi-msg txs and a failure of every class).
const (
	detSeed   = 20260101
	detBlocks = 20
	detMaxTxs = 30
)

// TestDeterminismDiskVsMemory feeds the same blocks, built once as bytes, to
// a ledger on iavl on disk and to one in memory, and requires equal app
// hashes and equal results (code, gas, events, everything) after every
// block.
func TestDeterminismDiskVsMemory(t *testing.T) {
	w := wlNew(detSeed)
	blocks := w.blocks(detBlocks, detMaxTxs)
	g := w.genesis()
	disk := wlStart(t, "disk", store.Config{Dir: t.TempDir()}, g)
	mem := wlStart(t, "memory", store.Config{}, g)
	if !bytes.Equal(disk.genesisHash, mem.genesisHash) {
		t.Fatalf("InitChain: disk hash %x, memory hash %x", disk.genesisHash, mem.genesisHash)
	}
	seen := map[uint32]int{}
	for _, blk := range blocks {
		a := disk.block(wlRaw(blk))
		b := mem.block(wlRaw(blk))
		wlSameBlock(t, disk.height, blk, disk.name, a, mem.name, b)
		for _, r := range a.TxResults {
			seen[r.Code]++
		}
	}
	if di, mi := disk.l.Info(), mem.l.Info(); !reflect.DeepEqual(di, mi) {
		t.Fatalf("Info: disk %+v, memory %+v", di, mi)
	}
	wlCoverage(t, seen)
}

// TestDeterminismMapOrder runs the same workload several times in memory in
// one process. Go randomises map iteration order on every range, so any
// result that depends on it shows up as a different hash or result.
func TestDeterminismMapOrder(t *testing.T) {
	w := wlNew(detSeed + 1)
	blocks := w.blocks(detBlocks, detMaxTxs)
	g := w.genesis()
	var first []*ledger.BlockResult
	for run := range 3 {
		n := wlStart(t, fmt.Sprintf("run %d", run), store.Config{}, g)
		for i, blk := range blocks {
			res := n.block(wlRaw(blk))
			if run == 0 {
				first = append(first, res)
				continue
			}
			wlSameBlock(t, int64(i+1), blk, "run 0", first[i], n.name, res)
		}
	}
}

// wlCoverage requires the workload to have produced successes and every
// failure class it is built to produce, so that a change to the generator
// (or the ledger) cannot quietly shrink what the determinism test covers.
func wlCoverage(t *testing.T, seen map[uint32]int) {
	t.Helper()
	want := []*errs.Class{
		errs.ErrMalformed, errs.ErrTxTooLarge, errs.ErrWrongChain, errs.ErrEmptyTx, errs.ErrTooManyMsgs,
		errs.ErrMemoTooLarge, errs.ErrGasLimitTooHigh, errs.ErrFeeTooLow, errs.ErrMissingSignature,
		errs.ErrZeroAmount, errs.ErrBadSignature, errs.ErrDuplicateCosig, errs.ErrInvalidKey,
		errs.ErrPubKeyMismatch, errs.ErrNoPubKey, errs.ErrNonceReplayed, errs.ErrNonceGap,
		errs.ErrInsufficientFee, errs.ErrOutOfGas, errs.ErrInsufficientFunds, errs.ErrUnknownDevice,
		errs.ErrPayloadTooLarge, errs.ErrInvalidPayload, errs.ErrInvalidMsg, errs.ErrCounterReused,
		errs.ErrUnauthorized, errs.ErrDeviceExists, errs.ErrDeviceRevoked, errs.ErrDeviceDecommissioned,
		errs.ErrNoPendingTransfer, errs.ErrKeyInUse,
	}
	var missing []string
	for _, c := range want {
		if seen[c.Code] == 0 {
			missing = append(missing, c.Name)
		}
	}
	if seen[0] < 100 {
		missing = append(missing, fmt.Sprintf("ok (only %d successes)", seen[0]))
	}
	if len(missing) > 0 {
		t.Errorf("the workload never produced: %v (codes seen: %v)", missing, seen)
	}
}

// wlNode is a ledger over its own store, driven block by block with the
// same headers as ledgertest.Chain (block h at Genesis + h seconds).
type wlNode struct {
	tb          testing.TB
	name        string
	st          *store.Store
	l           *ledger.Ledger
	height      int64
	genesisHash []byte
}

func wlOpen(tb testing.TB, cfg store.Config) *store.Store {
	tb.Helper()
	st, err := store.Open(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	return st
}

// wlStart opens a store and starts a chain on it with genesis g.
func wlStart(tb testing.TB, name string, cfg store.Config, g ledger.Genesis) *wlNode {
	tb.Helper()
	n := wlResume(tb, name, wlOpen(tb, cfg))
	h, err := n.l.InitChain(lt.ChainID, g)
	if err != nil {
		tb.Fatalf("%s: InitChain: %v", name, err)
	}
	n.genesisHash = h
	return n
}

// wlResume opens a ledger over st at its last committed version.
func wlResume(tb testing.TB, name string, st *store.Store) *wlNode {
	tb.Helper()
	l, err := ledger.New(st, ledger.Config{})
	if err != nil {
		tb.Fatalf("%s: ledger.New: %v", name, err)
	}
	return &wlNode{tb: tb, name: name, st: st, l: l, height: l.Info().Height}
}

func wlHeader(h int64) exec.Header {
	return exec.Header{Height: h, Time: lt.Genesis.Add(time.Duration(h) * time.Second)}
}

// finalize executes txs as the next block without committing it.
func (n *wlNode) finalize(txs [][]byte) *ledger.BlockResult {
	n.tb.Helper()
	res, err := n.l.FinalizeBlock(wlHeader(n.height+1), txs)
	if err != nil {
		n.tb.Fatalf("%s: FinalizeBlock %d: %v", n.name, n.height+1, err)
	}
	if len(res.TxResults) != len(txs) {
		n.tb.Fatalf("%s: block %d: %d results for %d txs", n.name, n.height+1, len(res.TxResults), len(txs))
	}
	return res
}

// commit commits the finalized block and checks it got the hash
// FinalizeBlock announced.
func (n *wlNode) commit(res *ledger.BlockResult) {
	n.tb.Helper()
	info, err := n.l.Commit()
	if err != nil {
		n.tb.Fatalf("%s: Commit %d: %v", n.name, n.height+1, err)
	}
	n.height++
	if info.Height != n.height || !bytes.Equal(info.AppHash, res.AppHash) {
		n.tb.Fatalf("%s: Commit gave height %d hash %x; FinalizeBlock %d announced %x",
			n.name, info.Height, info.AppHash, n.height, res.AppHash)
	}
}

// block executes and commits txs as the next block.
func (n *wlNode) block(txs [][]byte) *ledger.BlockResult {
	n.tb.Helper()
	res := n.finalize(txs)
	n.commit(res)
	return res
}

// chain wraps the node for ledgertest's typed queries.
func (n *wlNode) chain() *lt.Chain {
	return &lt.Chain{TB: n.tb, L: n.l, Store: n.st, Height: n.height}
}

// wlSameBlock requires two executions of block h to agree.
func wlSameBlock(t *testing.T, h int64, blk []wlTx, an string, a *ledger.BlockResult, bn string, b *ledger.BlockResult) {
	t.Helper()
	for i := range blk {
		ra, rb := a.TxResults[i], b.TxResults[i]
		where := fmt.Sprintf("block %d tx %d (%s)", h, i, blk[i].desc)
		switch {
		case ra.Code != rb.Code:
			t.Fatalf("%s: code %s %d %s (%s), %s %d %s (%s)", where, an, ra.Code, ra.Name, ra.Log, bn, rb.Code, rb.Name, rb.Log)
		case ra.GasUsed != rb.GasUsed:
			t.Fatalf("%s: gas used %s %d, %s %d", where, an, ra.GasUsed, bn, rb.GasUsed)
		case !reflect.DeepEqual(ra.Events, rb.Events):
			t.Fatalf("%s: events\n%s: %+v\n%s: %+v", where, an, ra.Events, bn, rb.Events)
		case !reflect.DeepEqual(ra, rb):
			t.Fatalf("%s: results\n%s: %+v\n%s: %+v", where, an, ra, bn, rb)
		}
	}
	if !bytes.Equal(a.AppHash, b.AppHash) {
		codes := make([]uint32, len(blk))
		for i, r := range a.TxResults {
			codes[i] = r.Code
		}
		t.Fatalf("block %d (%d txs, codes %v): app hash %s %x, %s %x", h, len(blk), codes, an, a.AppHash, bn, b.AppHash)
	}
	if slices.ContainsFunc(a.TxResults, func(r ledger.Result) bool { return r.TxHash == [32]byte{} }) {
		t.Fatalf("block %d: a result without its tx hash", h)
	}
}

package ledger_test

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/hypha-iot/hypha/ledger"
	lt "github.com/hypha-iot/hypha/ledger/ledgertest"
	"github.com/hypha-iot/hypha/store"
)

// TestRestartOnDisk drives a chain on disk, closes and reopens its store,
// and requires the reopened ledger to report the same Info, answer queries
// identically (with proofs that still verify against the stored app hash,
// at the latest and at an older height), accept the same txs in CheckTx, and
// go on producing the same hashes as an in-memory twin that never stopped.
func TestRestartOnDisk(t *testing.T) {
	w := wlNew(7)
	g := w.genesis()
	dir := t.TempDir()
	disk := wlStart(t, "disk", store.Config{Dir: dir}, g)
	twin := wlStart(t, "twin", store.Config{}, g)
	hashes := map[int64][]byte{} // app hash by height
	run := func(blocks [][]wlTx) {
		t.Helper()
		for _, blk := range blocks {
			for i, tx := range blk {
				a, b := disk.l.CheckTx(tx.raw), twin.l.CheckTx(tx.raw)
				if !reflect.DeepEqual(a, b) {
					t.Fatalf("CheckTx before block %d, tx %d (%s): %s %+v, %s %+v", disk.height+1, i, tx.desc, disk.name, a, twin.name, b)
				}
			}
			res := disk.block(wlRaw(blk))
			wlSameBlock(t, disk.height, blk, disk.name, res, twin.name, twin.block(wlRaw(blk)))
			hashes[disk.height] = res.AppHash
		}
	}
	run(w.blocks(8, 20))

	info := disk.l.Info()
	if info.Height != 8 || len(info.AppHash) == 0 {
		t.Fatalf("Info before restart: %+v", info)
	}
	paths := wlQueryPaths(w)
	before := wlQueryAll(t, disk.l, paths, 0)
	old := wlQueryAll(t, disk.l, paths, 3)
	chainID, params := disk.l.ChainID(), disk.l.Params()

	if err := disk.st.Close(); err != nil {
		t.Fatal(err)
	}
	disk = wlResume(t, "reopened", wlOpen(t, store.Config{Dir: dir}))

	t.Run("info", func(t *testing.T) {
		if got := disk.l.Info(); !reflect.DeepEqual(got, info) {
			t.Fatalf("Info after reopen %+v, before %+v", got, info)
		}
		if got := disk.l.ChainID(); got != chainID {
			t.Fatalf("chain id after reopen %q, before %q", got, chainID)
		}
		if got := disk.l.Params(); !reflect.DeepEqual(got, params) {
			t.Fatalf("params after reopen %+v, before %+v", got, params)
		}
	})
	t.Run("queries", func(t *testing.T) {
		wlSameQueries(t, "latest", before, wlQueryAll(t, disk.l, paths, 0), info.AppHash)
		wlSameQueries(t, "height 3", old, wlQueryAll(t, disk.l, paths, 3), hashes[3])
	})
	t.Run("continue", func(t *testing.T) {
		run(w.blocks(6, 20))
		if a, b := disk.l.Info(), twin.l.Info(); !reflect.DeepEqual(a, b) || a.Height != 14 {
			t.Fatalf("Info: reopened %+v, twin %+v", a, b)
		}
	})
}

// TestCrashBeforeCommit stops a node between FinalizeBlock and Commit, the
// window CometBFT covers by replaying the last block: after a reopen the
// ledger reports the previous height, and executing the same block again
// gives the same results and the app hash the first FinalizeBlock returned.
func TestCrashBeforeCommit(t *testing.T) {
	for _, tc := range []struct {
		name      string
		committed int // blocks committed before the crash
	}{
		{"first block", 0},
		{"later block", 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := wlNew(11)
			g := w.genesis()
			blocks := w.blocks(tc.committed+2, 20)
			dir := t.TempDir()
			disk := wlStart(t, "disk", store.Config{Dir: dir}, g)
			twin := wlStart(t, "twin", store.Config{}, g)
			for _, blk := range blocks[:tc.committed] {
				disk.block(wlRaw(blk))
				twin.block(wlRaw(blk))
			}
			want := disk.l.Info()
			crashed := blocks[tc.committed]
			first := disk.finalize(wlRaw(crashed))

			if err := disk.st.Close(); err != nil { // the crash: nothing of the block is committed
				t.Fatal(err)
			}
			disk = wlResume(t, "reopened", wlOpen(t, store.Config{Dir: dir}))
			if got := disk.l.Info(); !reflect.DeepEqual(got, want) {
				t.Fatalf("Info after the crash %+v, want the last commit %+v", got, want)
			}
			if tc.committed == 0 {
				// Nothing was committed: CometBFT calls InitChain again.
				h, err := disk.l.InitChain(lt.ChainID, g)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(h, twin.genesisHash) {
					t.Fatalf("InitChain after the crash gave %x, first time %x", h, twin.genesisHash)
				}
			}
			replay := disk.finalize(wlRaw(crashed))
			wlSameBlock(t, disk.height+1, crashed, "first run", first, "replay", replay)
			disk.commit(replay)
			wlSameBlock(t, disk.height, crashed, "replay", replay, "twin", twin.block(wlRaw(crashed)))

			next := blocks[tc.committed+1]
			wlSameBlock(t, disk.height+1, next, "reopened", disk.block(wlRaw(next)), "twin", twin.block(wlRaw(next)))
		})
	}
}

// wlQueryPaths lists single-record and list queries over the workload's
// accounts and devices.
func wlQueryPaths(w *wlWorkload) []string {
	paths := []string{"/params", "/fee_pool", "/chain_id", "/account/" + w.sink.String()}
	for _, a := range w.accts {
		paths = append(paths, "/account/"+a.addr.String(), "/devices/owner/"+a.addr.String())
	}
	for _, id := range w.devIDs {
		s := id.String()
		paths = append(paths, "/device/"+s, "/account/"+s, "/device/"+s+"/history", "/device/"+s+"/history/0",
			"/reading/"+s+"/latest", "/reading/"+s, "/reading/"+s+"/0", "/device/key/"+s)
	}
	for _, tag := range wlTags {
		paths = append(paths, "/devices/tag/"+tag)
	}
	return paths
}

// wlQuery is a query's answer without a proof and with one (single records).
type wlQuery struct {
	path   string
	plain  ledger.QueryResponse
	proven ledger.QueryResponse
}

func wlQueryAll(t *testing.T, l *ledger.Ledger, paths []string, height int64) []wlQuery {
	t.Helper()
	out := make([]wlQuery, len(paths))
	for i, p := range paths {
		out[i] = wlQuery{path: p, plain: l.Query(ledger.QueryRequest{Path: p, Height: height})}
		out[i].proven = l.Query(ledger.QueryRequest{Path: p, Height: height, Prove: true})
	}
	return out
}

// wlSameQueries requires equal answers, and proofs that verify against root.
func wlSameQueries(t *testing.T, label string, before, after []wlQuery, root []byte) {
	t.Helper()
	proofs, absent := 0, 0
	for i := range before {
		b, a := before[i], after[i]
		if !reflect.DeepEqual(a.plain, b.plain) {
			t.Errorf("%s %s: after reopen %+v, before %+v", label, b.path, a.plain, b.plain)
		}
		if a.proven.Code != b.proven.Code || !bytes.Equal(a.proven.Value, b.proven.Value) || !bytes.Equal(a.proven.Key, b.proven.Key) {
			t.Errorf("%s %s (prove): after reopen %d %x, before %d %x", label, b.path, a.proven.Code, a.proven.Value, b.proven.Code, b.proven.Value)
		}
		if a.proven.Proof == nil {
			continue // lists are not proven
		}
		if !reflect.DeepEqual(a.proven.Proof, b.proven.Proof) {
			t.Errorf("%s %s: proof after reopen differs from the one before", label, b.path)
		}
		if err := store.VerifyProof(root, a.proven.Key, a.proven.Value, a.proven.Proof); err != nil {
			t.Errorf("%s %s: proof after reopen: %v", label, b.path, err)
		}
		if a.proven.Value == nil {
			absent++
		}
		proofs++
	}
	if proofs < 20 || absent == 0 {
		t.Errorf("%s: only %d proofs checked (%d of absence)", label, proofs, absent)
	}
}

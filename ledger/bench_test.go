package ledger_test

import (
	"crypto/ed25519"
	"fmt"
	"runtime"
	"runtime/debug"
	"testing"
	"time"

	"github.com/hdevalence/ed25519consensus"

	"github.com/hypha-iot/hypha/keys"
	"github.com/hypha-iot/hypha/ledger"
	"github.com/hypha-iot/hypha/ledger/exec"
	lt "github.com/hypha-iot/hypha/ledger/ledgertest"
	"github.com/hypha-iot/hypha/store"
	"github.com/hypha-iot/hypha/txn"
)

// Apply throughput, one tx per op, in blocks of blockSize txs executed by
// FinalizeBlock and committed, on one core (run with -cpu 1). Every tx is
// first seen in its block, so every signature is verified there (in a
// batch). The baseline, measured in the same benchmark on the same
// signatures, is raw single ed25519 verification (ZIP-215); the benchmark
// reports both rates and their ratio. Figures: see docs/benchmarks.md.
//
//	go test ./ledger -run X -bench Apply -benchmem -cpu 1
func BenchmarkApply(b *testing.B) {
	for _, kind := range []string{"transfer", "reading"} {
		for _, disk := range []bool{false, true} {
			name := kind + "/memory"
			if disk {
				name = kind + "/disk"
			}
			b.Run(name, func(b *testing.B) { benchApply(b, kind, disk) })
		}
	}
}

// Each block of benchBlockSize txs touches distinct keys: senders are many
// more than a block holds, and each sends to the account half the ring away,
// so the store's per-block write dedup does not flatter the figures.
const (
	benchSenders   = 4000
	benchBlockSize = 1000
)

func benchApply(b *testing.B, kind string, disk bool) {
	cfg := store.Config{}
	if disk {
		cfg.Dir = b.TempDir()
	}
	st, err := store.Open(cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	senders := make([]keys.PrivateKey, benchSenders)
	g := ledger.Genesis{}
	for i := range senders {
		senders[i] = lt.Key(fmt.Sprintf("sender%d", i))
		g.Accounts = append(g.Accounts, ledger.GenesisAccount{Address: senders[i].Public().Address(), Balance: 1 << 50})
	}
	c := lt.NewOn(b, st, g)
	// Devices, registered and funded up front for both kinds, so that both
	// run against the same state (about 28,000 keys): the cost of a write
	// grows with the depth of the tree, and a state of only the senders'
	// accounts would flatter the transfers.
	devKeys := make([]keys.PrivateKey, len(senders))
	var setup [][]byte
	for i, s := range senders {
		d := lt.Key(fmt.Sprintf("bdev%d", i))
		devKeys[i] = d
		setup = append(setup, c.TxCo(s, []keys.PrivateKey{d}, lt.Register(d, "bench")),
			c.Tx(s, &txn.Send{To: d.Public().Address(), Amount: 1 << 40}))
		if len(setup) >= 2*benchBlockSize {
			c.Block(setup...)
			setup = nil
		}
	}
	c.Block(setup...)
	nonces := make([]uint64, len(senders))
	for i, s := range senders {
		nonces[i] = c.Account(s.Public().Address()).Nonce
	}
	counters := make([]uint64, len(senders))
	payload := txn.MustMarshal([]map[int]any{{-2: "urn:dev:bench:", 0: "temp", 1: "Cel", 2: 21, 6: 0}})
	makeTx := func(i int) ([]byte, keys.PublicKey, []byte, []byte) {
		s := i % len(senders)
		var tx *txn.Tx
		var err error
		var signer keys.PrivateKey
		if kind == "transfer" {
			signer = senders[s]
			tx, err = txn.New(lt.ChainID, signer.Public().Address(), nonces[s]).WithPubKey(signer.Public()).
				WithFee(lt.DefaultFee, lt.DefaultGas).Add(&txn.Send{To: senders[(s+len(senders)/2)%len(senders)].Public().Address(), Amount: 1}).Sign(signer)
			nonces[s]++
		} else {
			signer = devKeys[s]
			counters[s]++
			tx, err = txn.New(lt.ChainID, signer.Public().Address(), counters[s]).WithFee(lt.DefaultFee, lt.DefaultGas).
				Add(&txn.ReadingSubmit{Payload: payload}).Sign(signer)
		}
		if err != nil {
			b.Fatal(err)
		}
		sb, _ := tx.SignBytes()
		return tx.Bytes(), signer.Public(), sb, tx.Sig
	}
	txs := make([][]byte, b.N)
	pubs := make([]ed25519.PublicKey, b.N)
	msgs, sigs := make([][]byte, b.N), make([][]byte, b.N)
	for i := range txs {
		var pk keys.PublicKey
		txs[i], pk, msgs[i], sigs[i] = makeTx(i)
		pubs[i] = ed25519.PublicKey(pk.Key)
	}

	// Baseline: verify the same signatures one by one, block by block: half
	// of a block's signatures just before the block is applied and half just
	// after, so that a change in machine speed during the run (a noisy host)
	// weighs on both rates alike. The collector is off while the baseline
	// runs: switching it off first waits for a collection the ledger's
	// allocations started, and that wait counts as apply time.
	var verifyTime, applyTime time.Duration
	baseline := func(lo, hi int) {
		start := time.Now()
		gcPercent := debug.SetGCPercent(-1)
		applyTime += time.Since(start)
		b.StopTimer()
		start = time.Now()
		for i := lo; i < hi; i++ {
			if !ed25519consensus.Verify(pubs[i], msgs[i], sigs[i]) {
				b.Fatal("baseline: bad signature")
			}
		}
		verifyTime += time.Since(start)
		debug.SetGCPercent(gcPercent)
		b.StartTimer()
	}
	runtime.GC()
	b.ReportAllocs()
	b.ResetTimer()
	for lo := 0; lo < b.N; lo += benchBlockSize {
		hi := min(lo+benchBlockSize, b.N)
		mid := lo + (hi-lo)/2
		baseline(lo, mid)
		start := time.Now()
		c.Height++
		c.Time = c.Time.Add(time.Second)
		res, err := c.L.FinalizeBlock(exec.Header{Height: c.Height, Time: c.Time}, txs[lo:hi])
		if err != nil {
			b.Fatal(err)
		}
		for i, r := range res.TxResults {
			if !r.OK() {
				b.Fatalf("tx %d: %s %s", lo+i, r.Name, r.Log)
			}
		}
		if _, err := c.L.Commit(); err != nil {
			b.Fatal(err)
		}
		applyTime += time.Since(start)
		baseline(mid, hi)
	}
	b.StopTimer()
	rate := float64(b.N) / applyTime.Seconds()
	verifyRate := float64(b.N) / verifyTime.Seconds()
	b.ReportMetric(rate, "tx/s")
	b.ReportMetric(verifyRate, "verify/s")
	b.ReportMetric(rate/verifyRate, "x-verify")
}

// BenchmarkBlock measures one block of n transfers: FinalizeBlock (execute
// and stage, which computes the app hash) and Commit (persist), separately.
//
//	go test ./ledger -run X -bench Block -benchtime 3x
func BenchmarkBlock(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		for _, disk := range []bool{false, true} {
			name := fmt.Sprintf("txs=%d/memory", n)
			if disk {
				name = fmt.Sprintf("txs=%d/disk", n)
			}
			b.Run(name, func(b *testing.B) {
				cfg := store.Config{}
				if disk {
					cfg.Dir = b.TempDir()
				}
				st, err := store.Open(cfg)
				if err != nil {
					b.Fatal(err)
				}
				defer st.Close()
				senders := make([]keys.PrivateKey, n)
				g := ledger.Genesis{}
				for i := range senders {
					senders[i] = lt.Key(fmt.Sprintf("s%d", i))
					g.Accounts = append(g.Accounts, ledger.GenesisAccount{Address: senders[i].Public().Address(), Balance: 1 << 40})
				}
				c := lt.NewOn(b, st, g)
				c.Block()
				var finalize, commit time.Duration
				b.ResetTimer()
				for it := 0; it < b.N; it++ {
					b.StopTimer()
					txs := make([][]byte, n)
					for i, s := range senders {
						txs[i] = c.TxN(s, uint64(it), nil, &txn.Send{To: senders[(i+1)%n].Public().Address(), Amount: 1})
					}
					b.StartTimer()
					c.Height++
					c.Time = c.Time.Add(time.Second)
					t0 := time.Now()
					if _, err := c.L.FinalizeBlock(exec.Header{Height: c.Height, Time: c.Time}, txs); err != nil {
						b.Fatal(err)
					}
					t1 := time.Now()
					if _, err := c.L.Commit(); err != nil {
						b.Fatal(err)
					}
					finalize += t1.Sub(t0)
					commit += time.Since(t1)
				}
				b.ReportMetric(float64(finalize.Milliseconds())/float64(b.N), "finalize-ms/block")
				b.ReportMetric(float64(commit.Milliseconds())/float64(b.N), "commit-ms/block")
			})
		}
	}
}

// BenchmarkProveDevice measures a proven device-record query and reports
// the proof size.
func BenchmarkProveDevice(b *testing.B) {
	c := lt.New(b, "alice")
	alice := lt.Key("alice")
	var txs [][]byte
	for i := range 2000 {
		d := lt.Key(fmt.Sprintf("pd%d", i))
		txs = append(txs, c.TxCo(alice, []keys.PrivateKey{d}, lt.Register(d, "m", "t")))
	}
	c.Block(txs...)
	path := "/device/" + lt.Addr("pd7").Device()
	var size int
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		r := c.L.Query(ledger.QueryRequest{Path: path, Prove: true})
		if r.Code != 0 {
			b.Fatal(r.Log)
		}
		p, _ := r.Proof.Marshal()
		size = len(p)
	}
	b.ReportMetric(float64(size), "proof-bytes")
}

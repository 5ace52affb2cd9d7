package bench

import (
	"context"
	"crypto/sha256"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	cmtquery "github.com/cometbft/cometbft/libs/pubsub/query"
	cmttypes "github.com/cometbft/cometbft/types"
)

// runner offers batches of txs to one network and times their commits.
type runner struct {
	o   *Options
	net *network
	p   *progress

	// cur is the recorder of the step under way (nil between steps); the
	// event consumers read it.
	cur    atomic.Pointer[recorder]
	cancel context.CancelFunc
	subs   sync.WaitGroup
}

// subscriber is the event bus subscriber name of the bench.
const subscriber = "hypha-bench"

// newRunner subscribes to every member's committed-tx events. Each
// subscription is unbuffered (as CometBFT's own indexer's is): consensus
// waits for the consumer, which therefore only hashes the tx, looks it up
// and stores a timestamp.
func newRunner(o *Options, net *network, p *progress) (*runner, error) {
	r := &runner{o: o, net: net, p: p}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	q := cmtquery.MustCompile("tm.event = 'Tx'")
	for _, m := range net.members {
		sub, err := m.rpc.EventBus.SubscribeUnbuffered(ctx, subscriber, q)
		if err != nil {
			r.close()
			return nil, fmt.Errorf("subscribe to tx events: %w", err)
		}
		r.subs.Add(1)
		go func() {
			defer r.subs.Done()
			for {
				select {
				case msg := <-sub.Out():
					if d, ok := msg.Data().(cmttypes.EventDataTx); ok {
						if rec := r.cur.Load(); rec != nil {
							rec.observe(d.Height, d.Tx, d.Result.Code)
						}
					}
				case <-sub.Canceled():
					return
				}
			}
		}()
	}
	return r, nil
}

// close ends the subscriptions (before the network stops).
func (r *runner) close() {
	for _, m := range r.net.members {
		_ = m.rpc.EventBus.UnsubscribeAll(context.Background(), subscriber)
	}
	r.cancel()
	r.subs.Wait()
}

// Tx states seen by a worker.
const (
	txAccepted uint8 = 1 + iota
	txRefused
)

// recorder holds the timings of one step. Times are nanoseconds since t0
// plus one, so that zero means "not yet".
type recorder struct {
	b     *batch
	t0    time.Time
	index map[[32]byte]int32

	submitAt []int64 // written by the tx's worker before it broadcasts
	status   []uint8 // written by the tx's worker after
	commitAt []atomic.Int64

	accepted, seen, committed atomic.Int64
	lastSeen                  atomic.Int64 // when the last tx was first seen

	mu           sync.Mutex
	blocks       map[int64]*blockRec
	refused      int
	firstRefusal string
}

// blockRec is one block as the bench saw it: when its first tx event came
// and how many of its txs succeeded.
type blockRec struct {
	first int64
	ok    int
}

func newRecorder(b *batch) *recorder {
	n := len(b.txs)
	rec := &recorder{b: b, index: make(map[[32]byte]int32, n), submitAt: make([]int64, n), status: make([]uint8, n),
		commitAt: make([]atomic.Int64, n), blocks: map[int64]*blockRec{}}
	for i, h := range b.hashes {
		rec.index[h] = int32(i)
	}
	return rec
}

func (rec *recorder) since() int64 { return int64(time.Since(rec.t0)) + 1 }

// observe records a committed tx the first time any node reports it.
func (rec *recorder) observe(height int64, tx []byte, code uint32) {
	now := rec.since()
	i, ok := rec.index[sha256.Sum256(tx)]
	if !ok {
		return
	}
	v := now
	if code != 0 {
		v = -1
	}
	if !rec.commitAt[i].CompareAndSwap(0, v) {
		return
	}
	rec.seen.Add(1)
	rec.lastSeen.Store(now)
	rec.mu.Lock()
	br := rec.blocks[height]
	if br == nil {
		br = &blockRec{first: now}
		rec.blocks[height] = br
	}
	if code == 0 {
		br.ok++
		rec.committed.Add(1)
	}
	rec.mu.Unlock()
}

func (rec *recorder) refuse(i int32, why string) {
	rec.status[i] = txRefused
	rec.mu.Lock()
	if rec.refused == 0 {
		rec.firstRefusal = why
	}
	rec.refused++
	rec.mu.Unlock()
}

// step offers b's txs at rate tx/s for warmup+window, stops offering, and
// waits for the mempools to drain; the Step describes the window only.
func (r *runner) step(ctx context.Context, b *batch, rate int, warmup, window time.Duration) (Step, error) {
	rec := newRecorder(b)
	lanes := make([]chan int32, r.o.Concurrency)
	var wg sync.WaitGroup
	for w := range lanes {
		lanes[w] = make(chan int32, 16)
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.worker(rec, lanes[w])
		}()
	}
	end := warmup + window
	rec.t0 = time.Now()
	r.cur.Store(rec)
	defer r.cur.Store(nil)

	// The token bucket: by time t, rate*t txs are due.
	n := len(b.txs)
	i := 0
	var cpuStart cpuSample
	sampled := warmup == 0
	if sampled {
		cpuStart = sampleCPU()
	}
dispatch:
	for i < n {
		el := time.Since(rec.t0)
		if el >= end || ctx.Err() != nil {
			break
		}
		due := min(n, int(float64(rate)*el.Seconds())+1)
		for i < due {
			select {
			case lanes[b.lane[i]] <- int32(i):
			case <-ctx.Done():
				break dispatch
			}
			i++
			if i&63 == 0 && time.Since(rec.t0) >= end {
				break dispatch
			}
		}
		r.p.load("load", rate, el, end, i, int(rec.committed.Load()))
		if !sampled && el >= warmup {
			cpuStart, sampled = sampleCPU(), true
		}
		time.Sleep(time.Millisecond)
	}
	// Hold the window open even if the batch ran out early.
	if rest := end - time.Since(rec.t0); rest > 0 {
		select {
		case <-time.After(rest):
		case <-ctx.Done():
		}
	}
	cpuEnd := sampleCPU()
	backlog, err := r.net.backlog(ctx)
	for _, l := range lanes {
		close(l)
	}
	wg.Wait()
	if err != nil {
		return Step{}, err
	}
	drained := r.drain(ctx, rec, rate)
	st := rec.stats(rate, warmup, window, r.o.BlockTime)
	st.Backlog, st.Drained = backlog, drained
	if sampled {
		st.OthersCPU = othersShare(cpuStart, cpuEnd)
	}
	judge(&st, r.o)
	return st, ctx.Err()
}

// worker broadcasts the txs of one lane in order, each to its node.
func (r *runner) worker(rec *recorder, lane <-chan int32) {
	for i := range lane {
		rec.submitAt[i] = rec.since()
		m := r.net.members[rec.b.node[i]]
		res, err := m.rpc.BroadcastTxSync(context.Background(), rec.b.txs[i])
		switch {
		case err != nil:
			rec.refuse(i, err.Error())
		case res.Code != 0:
			rec.refuse(i, fmt.Sprintf("code %d: %s", res.Code, res.Log))
		default:
			rec.status[i] = txAccepted
			rec.accepted.Add(1)
		}
	}
}

// drain waits until every mempool is empty and every accepted tx has been
// seen committed, or, if some never are (dropped by a recheck), until the
// mempools are empty and no commit has been seen for quiet; or until
// DrainTimeout passes. It reports whether the network settled: a step
// after one that did not would start with the old load still in flight.
// (Events can trail the mempool by seconds: CometBFT publishes them after
// Commit, and the kv indexer holds the event bus back.)
func (r *runner) drain(ctx context.Context, rec *recorder, rate int) bool {
	start := time.Now()
	deadline := start.Add(r.o.DrainTimeout)
	quiet := max(2*r.o.BlockTime, 2*time.Second)
	for {
		now := time.Now()
		b, err := r.net.backlog(ctx)
		if err == nil && b == 0 {
			if rec.seen.Load() >= rec.accepted.Load() {
				return true
			}
			last := max(rec.lastSeen.Load()-1, int64(start.Sub(rec.t0)))
			if rec.since()-1-last >= int64(quiet) {
				return true
			}
		}
		if now.After(deadline) || ctx.Err() != nil {
			return false
		}
		r.p.load("drain", rate, now.Sub(start), r.o.DrainTimeout, int(rec.accepted.Load()), int(rec.seen.Load()))
		select {
		case <-ctx.Done():
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// lost marks a latency that never ended (the tx was not committed).
const lost = math.MaxInt64

// stats describes the txs submitted in [warmup, warmup+window) and the
// blocks committed in that window. Call it after the workers have stopped.
func (rec *recorder) stats(rate int, warmup, window, blockTime time.Duration) Step {
	st := Step{Offered: rate}
	ws, we := int64(warmup), int64(warmup+window)
	lat := make([]int64, 0, len(rec.submitAt))
	okInWindow := 0
	for i := range rec.submitAt {
		if c := rec.commitAt[i].Load(); c > 0 && c-1 >= ws && c-1 < we {
			okInWindow++
		}
		s := rec.submitAt[i] - 1
		if s < ws || s >= we {
			continue
		}
		st.Submitted++
		if rec.status[i] != txAccepted {
			st.Refused++
			continue
		}
		switch c := rec.commitAt[i].Load(); {
		case c > 0:
			lat = append(lat, c-1-s)
		case c < 0:
			st.FailedInBlock++
			lat = append(lat, lost)
		default:
			st.Uncommitted++
			lat = append(lat, lost)
		}
	}
	slices.Sort(lat)
	st.P50, st.P99 = percentile(lat, 0.50), percentile(lat, 0.99)
	st.SubmittedTPS = float64(st.Submitted) / window.Seconds()

	rec.mu.Lock()
	st.FirstRefusal = rec.firstRefusal
	var blocks []blockRec
	for h, b := range rec.blocks {
		st.Blocks = append(st.Blocks, Block{Height: h, At: time.Duration(b.first - 1), Txs: b.ok})
		if b.first-1 >= ws && b.first-1 < we {
			blocks = append(blocks, *b)
		}
	}
	rec.mu.Unlock()
	slices.SortFunc(st.Blocks, func(a, b Block) int { return int(a.Height - b.Height) })
	slices.SortFunc(blocks, func(a, b blockRec) int { return int(a.first - b.first) })
	if len(blocks) >= 2 {
		// Block-aligned: the txs of the blocks after the first, over the
		// time from the first block to the last.
		span := time.Duration(blocks[len(blocks)-1].first - blocks[0].first)
		ok := 0
		for _, b := range blocks[1:] {
			ok += b.ok
		}
		st.CommittedTPS = float64(ok) / span.Seconds()
		st.BlockInterval = span / time.Duration(len(blocks)-1)
	} else {
		st.CommittedTPS = float64(okInWindow) / window.Seconds()
	}
	if st.P50 > 0 && blockTime > 0 {
		st.P50Blocks = float64(st.P50) / float64(blockTime)
	}
	return st
}

// percentile is the nearest-rank q-quantile of sorted; -1 if it fell on a
// tx that never committed, 0 if there are none.
func percentile(sorted []int64, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	k := int(math.Ceil(q*float64(len(sorted)))) - 1
	k = max(0, min(k, len(sorted)-1))
	if sorted[k] == lost {
		return -1
	}
	return time.Duration(sorted[k])
}

// judge decides whether the network kept up with the step.
func judge(st *Step, o *Options) {
	var why []string
	if st.CommittedTPS < 0.95*float64(st.Offered) {
		why = append(why, fmt.Sprintf("committed %.0f/s < 95%% of offered", st.CommittedTPS))
	}
	if st.Backlog >= 2*st.Offered {
		why = append(why, fmt.Sprintf("backlog %d >= 2 s of load", st.Backlog))
	}
	switch {
	case st.P99 < 0:
		why = append(why, "p99 never committed")
	case st.P99 >= 10*o.BlockTime:
		why = append(why, fmt.Sprintf("p99 %s >= 10 block times", Round(st.P99)))
	}
	if st.Refused*100 > st.Submitted {
		why = append(why, fmt.Sprintf("%d of %d refused", st.Refused, st.Submitted))
	}
	if !st.Drained {
		why = append(why, fmt.Sprintf("mempool not drained within %s", o.DrainTimeout))
	}
	st.KeptUp = len(why) == 0
	st.Why = strings.Join(why, "; ")
}

// timeFor is how long n txs take at rate tx/s.
func timeFor(n, rate int) time.Duration {
	return time.Duration(float64(n) / float64(rate) * float64(time.Second))
}

// Package bench measures sustained throughput and submit-to-commit latency
// of Hypha networks started on loopback, beside CometBFT's own kvstore
// example application run under the same configuration and the same load
// generator, so that the ratio Hypha/kvstore says how much of CometBFT's
// capacity the application keeps.
//
// Run is synchronous: for each configuration (application × number of
// validators × tx indexer) it starts a fresh in-process network in a
// temporary directory, climbs a ladder of offered rates, each held for a
// warm-up and then a measurement window, and keeps the highest rate the
// network kept up with. The `hypha bench` command only formats its Report.
//
// What "kept up" means for one step (Step.KeptUp):
//   - committed tx/s over the window is at least 95% of the offered rate;
//   - the mempool backlog when the window ends is below two seconds' worth of
//     offered load;
//   - p99 submit-to-commit latency is below 10 block times;
//   - no more than 1% of submissions were refused, and the backlog drained
//     within DrainTimeout afterwards.
package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"runtime"
	"slices"
	"strings"
	"time"
)

// App is a workload on a network.
type App string

// The applications Run can measure.
const (
	// Transfer: Hypha account.send txs between funded accounts, each tx
	// signed by its sender (ed25519) and verified by every node.
	Transfer App = "transfer"
	// Reading: Hypha direct reading txs (a one-record SenML pack) signed
	// by registered devices, each device's counter increasing.
	Reading App = "reading"
	// KVStore: CometBFT's abci/example/kvstore in-memory application
	// with unique "k…=v" txs, the baseline.
	KVStore App = "kvstore"
	// Contract: contract.call txs running increment on one counter
	// contract (vm/sdk/examples/counter, built from source with the go
	// command at setup): the metered WebAssembly path end to end. Not in
	// the default set; ask for it with Apps.
	Contract App = "contract"
)

// Apps lists the default Apps in report order.
var Apps = []App{Transfer, Reading, KVStore}

// AllApps lists every App.
var AllApps = []App{Transfer, Reading, KVStore, Contract}

// Options configure Run. The zero value of each field means its default.
type Options struct {
	Apps     []App    // default Apps
	Nodes    []int    // validator counts; default 1 and 4
	Indexers []string // CometBFT tx indexers, "kv" or "null"; default both

	// BlockTime is CometBFT's timeout_commit (default 1 s, the node's
	// default).
	BlockTime time.Duration
	// Duration is the measurement window of each step (default 30 s).
	Duration time.Duration
	// Warmup is how long each step's load runs before its window opens
	// (default 3 block times, at least 1 s).
	Warmup time.Duration

	// Rates is the ladder of offered rates in tx/s. If empty it is
	// StartRate, StartRate×Factor, … up to MaxRate.
	Rates     []int
	StartRate int     // default 500
	Factor    float64 // default 2
	MaxRate   int     // default 64,000
	// Refine is how many bisection steps run between the highest rate
	// kept up and the first one missed (default 0; negative means 0).
	Refine int

	// Concurrency bounds the broadcasts in flight (default 64).
	Concurrency int
	// Accounts is the number of funded senders (and, for Reading, of
	// devices); default 2000.
	Accounts int
	// MempoolSize is CometBFT's mempool.size for every app (default
	// 100,000; CometBFT's own default of 5,000 would cap every app at
	// 5,000 txs per block interval). The cache holds twice as many.
	MempoolSize int
	// DrainTimeout bounds the wait for the mempool to empty after each
	// step (default 30 s + 10 block times).
	DrainTimeout time.Duration

	// Dir is where the temporary homes go (default os.TempDir()).
	Dir string
	// Log receives the nodes' error logs (default: discarded).
	Log io.Writer
	// Progress, if set, is called from Run's goroutine a few times a
	// second and at every phase change; it must return quickly.
	Progress func(Progress)
}

func (o *Options) defaults() {
	if len(o.Apps) == 0 {
		o.Apps = Apps
	}
	if len(o.Nodes) == 0 {
		o.Nodes = []int{1, 4}
	}
	if len(o.Indexers) == 0 {
		o.Indexers = []string{"kv", "null"}
	}
	if o.BlockTime == 0 {
		o.BlockTime = time.Second
	}
	if o.Duration == 0 {
		o.Duration = 30 * time.Second
	}
	if o.Warmup == 0 {
		o.Warmup = max(3*o.BlockTime, time.Second)
	}
	if o.StartRate == 0 {
		o.StartRate = 500
	}
	if o.Factor == 0 {
		o.Factor = 2
	}
	if o.MaxRate == 0 {
		o.MaxRate = 64_000
	}
	if o.Refine < 0 {
		o.Refine = 0
	}
	if o.Concurrency == 0 {
		o.Concurrency = 64
	}
	if o.Accounts == 0 {
		o.Accounts = 2000
	}
	if o.MempoolSize == 0 {
		o.MempoolSize = 100_000
	}
	if o.DrainTimeout == 0 {
		o.DrainTimeout = 30*time.Second + 10*o.BlockTime
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
}

func (o *Options) validate() error {
	for _, a := range o.Apps {
		if !slices.Contains(AllApps, a) {
			return fmt.Errorf("bench: unknown app %q (want transfer, reading, kvstore or contract)", a)
		}
	}
	for _, n := range o.Nodes {
		if n < 1 || n > 16 {
			return fmt.Errorf("bench: %d nodes: want 1 to 16", n)
		}
	}
	for _, ix := range o.Indexers {
		if ix != "kv" && ix != "null" {
			return fmt.Errorf("bench: indexer %q: want kv or null", ix)
		}
	}
	switch {
	case o.BlockTime < 0 || o.Duration < 0 || o.Warmup < 0 || o.DrainTimeout < 0:
		return errors.New("bench: durations must not be negative")
	case o.Factor <= 1:
		return fmt.Errorf("bench: rate factor %g must be above 1", o.Factor)
	case o.StartRate < 1 || o.MaxRate < o.StartRate:
		return fmt.Errorf("bench: rates %d..%d: want 1 <= start <= max", o.StartRate, o.MaxRate)
	case o.Concurrency < 1 || o.Concurrency > 4096:
		return fmt.Errorf("bench: concurrency %d: want 1 to 4096", o.Concurrency)
	case o.Accounts < 1 || o.Accounts > 1_000_000:
		return fmt.Errorf("bench: accounts %d: want 1 to 1,000,000", o.Accounts)
	case o.MempoolSize < 1:
		return fmt.Errorf("bench: mempool size %d must be positive", o.MempoolSize)
	}
	for _, r := range o.Rates {
		if r < 1 {
			return fmt.Errorf("bench: rate %d must be positive", r)
		}
	}
	return nil
}

// ladder is the rates to climb, ascending.
func (o *Options) ladder() []int {
	if len(o.Rates) > 0 {
		r := slices.Clone(o.Rates)
		slices.Sort(r)
		return slices.Compact(r)
	}
	var r []int
	for x := float64(o.StartRate); x <= float64(o.MaxRate)+0.5; x *= o.Factor {
		r = append(r, int(math.Round(x)))
	}
	return r
}

// Report is the outcome of Run.
type Report struct {
	Started     time.Time     `json:"started"`
	Elapsed     time.Duration `json:"elapsed_ns"`
	BlockTime   time.Duration `json:"block_time_ns"`
	Duration    time.Duration `json:"duration_ns"`
	Warmup      time.Duration `json:"warmup_ns"`
	Rates       []int         `json:"rates"`
	Refine      int           `json:"refine"`
	Concurrency int           `json:"concurrency"`
	Accounts    int           `json:"accounts"`
	MempoolSize int           `json:"mempool_size"`
	GOMAXPROCS  int           `json:"gomaxprocs"`
	NumCPU      int           `json:"num_cpu"`
	GoVersion   string        `json:"go_version"`
	Rows        []Row         `json:"rows"`
}

// Row is one configuration.
type Row struct {
	App     App    `json:"app"`
	Nodes   int    `json:"nodes"`
	Indexer string `json:"indexer"`
	// Best is the highest step that kept up (nil if none did).
	Best *Step `json:"best,omitempty"`
	// Limit is the first step that did not keep up (nil if the ladder
	// ran out first).
	Limit *Step  `json:"limit,omitempty"`
	Steps []Step `json:"steps"`
	// VsKVStore is Best.CommittedTPS divided by kvstore's for the same
	// nodes and indexer (0 if either is missing).
	VsKVStore float64 `json:"vs_kvstore,omitempty"`
	Err       string  `json:"error,omitempty"`
}

// Name is how the row's app is shown: "hypha-transfer", "kvstore", ….
func (r *Row) Name() string {
	if r.App == KVStore {
		return string(r.App)
	}
	return "hypha-" + string(r.App)
}

// Step is one offered rate held for a window.
type Step struct {
	Offered int `json:"offered_tps"`
	// SubmittedTPS is what the generator managed to submit in the window
	// (below Offered when broadcasts could not keep pace).
	SubmittedTPS  float64       `json:"submitted_tps"`
	CommittedTPS  float64       `json:"committed_tps"`
	Submitted     int           `json:"submitted"` // in the window
	Refused       int           `json:"refused"`   // by CheckTx or a full mempool
	FailedInBlock int           `json:"failed_in_block"`
	Uncommitted   int           `json:"uncommitted"` // accepted, never seen committed
	P50           time.Duration `json:"p50_ns"`
	P99           time.Duration `json:"p99_ns"`
	// BlockInterval is the mean time between blocks in the window.
	BlockInterval time.Duration `json:"block_interval_ns"`
	// P50Blocks is P50 over the configured block time.
	P50Blocks float64 `json:"p50_blocks"`
	// Backlog is the largest mempool when the window closed.
	Backlog      int    `json:"backlog"`
	Drained      bool   `json:"drained"`
	KeptUp       bool   `json:"kept_up"`
	Why          string `json:"why,omitempty"` // why not, if not
	FirstRefusal string `json:"first_refusal,omitempty"`
	// OthersCPU is the share of the machine's CPU time that other
	// processes used during the window (Linux; 0 elsewhere). Above a few
	// percent, the step measured them as well.
	OthersCPU float64 `json:"others_cpu"`
	// Blocks are the blocks that held this step's txs.
	Blocks []Block `json:"blocks"`
}

// Block is one block as the bench saw it.
type Block struct {
	Height int64         `json:"height"`
	At     time.Duration `json:"at_ns"` // first seen committed, since the step began
	Txs    int           `json:"txs"`   // the step's txs that succeeded in it
}

// Progress is a snapshot of Run's work for a progress display.
type Progress struct {
	Config, Configs int    // 1-based index of the configuration, and the count
	Name            string // e.g. "hypha-transfer 4 nodes indexer=kv"
	Phase           string // "start", "setup", "sign", "load", "drain", "done"
	Rate            int    // offered rate of the current step
	Elapsed, Total  time.Duration
	Submitted       int
	Committed       int
	Last            *Step // the step just finished (Phase "done")
}

// Run measures every configuration of o in turn and returns the report. It
// stops early when ctx ends, returning what it measured and ctx's error.
// A configuration that fails to start is reported in its Row's Err and does
// not stop the others.
func Run(ctx context.Context, o Options) (Report, error) {
	o.defaults()
	if err := o.validate(); err != nil {
		return Report{}, err
	}
	rep := Report{Started: time.Now().UTC(), BlockTime: o.BlockTime, Duration: o.Duration, Warmup: o.Warmup,
		Rates: o.ladder(), Refine: o.Refine, Concurrency: o.Concurrency, Accounts: o.Accounts,
		MempoolSize: o.MempoolSize, GOMAXPROCS: runtime.GOMAXPROCS(0), NumCPU: runtime.NumCPU(),
		GoVersion: runtime.Version()}
	type cfg struct {
		app     App
		nodes   int
		indexer string
	}
	var cfgs []cfg
	for _, n := range o.Nodes {
		for _, ix := range o.Indexers {
			for _, a := range o.Apps {
				cfgs = append(cfgs, cfg{a, n, ix})
			}
		}
	}
	var err error
	for k, c := range cfgs {
		row := Row{App: c.app, Nodes: c.nodes, Indexer: c.indexer}
		p := &progress{fn: o.Progress, base: Progress{Config: k + 1, Configs: len(cfgs),
			Name: fmt.Sprintf("%s %d node%s indexer=%s", row.Name(), c.nodes, plural(c.nodes), c.indexer)}}
		if e := runConfig(ctx, &o, &row, p); e != nil {
			row.Err = e.Error()
		}
		rep.Rows = append(rep.Rows, row)
		if ctx.Err() != nil {
			err = ctx.Err()
			break
		}
	}
	ratios(rep.Rows)
	rep.Elapsed = time.Since(rep.Started)
	return rep, err
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// ratios fills VsKVStore of the Hypha rows.
func ratios(rows []Row) {
	for i := range rows {
		r := &rows[i]
		if r.App == KVStore || r.Best == nil {
			continue
		}
		for _, k := range rows {
			if k.App == KVStore && k.Nodes == r.Nodes && k.Indexer == r.Indexer && k.Best != nil && k.Best.CommittedTPS > 0 {
				r.VsKVStore = r.Best.CommittedTPS / k.Best.CommittedTPS
			}
		}
	}
}

// runConfig starts one network, climbs the ladder on it and stops it.
func runConfig(ctx context.Context, o *Options, row *Row, p *progress) error {
	p.phase("start", 0)
	w, err := newWorkload(row.App, o.Accounts, row.Nodes, o.Concurrency)
	if err != nil {
		return err
	}
	net, err := startNetwork(ctx, o, row.App, row.Nodes, row.Indexer, w.genesis())
	if err != nil {
		return err
	}
	defer net.close()
	r, err := newRunner(o, net, p)
	if err != nil {
		return err
	}
	defer r.close()
	if err := w.setup(ctx, r); err != nil {
		return fmt.Errorf("setup: %w", err)
	}
	try := func(rate int) (Step, error) {
		if err := w.resync(net); err != nil {
			return Step{}, err
		}
		p.phase("sign", rate)
		n := int(math.Ceil(float64(rate) * (o.Warmup + o.Duration).Seconds()))
		b, err := w.next(n)
		if err != nil {
			return Step{}, err
		}
		runtime.GC() // start each window without the last step's garbage
		st, err := r.step(ctx, b, rate, o.Warmup, o.Duration)
		if err != nil {
			return st, err
		}
		row.Steps = append(row.Steps, st)
		p.done(&st)
		return st, nil
	}
	// Indices, not pointers: row.Steps moves as it grows.
	best, limit, hi := -1, -1, 0
	for _, rate := range o.ladder() {
		st, err := try(rate)
		if err != nil {
			return err
		}
		if !st.Drained {
			// The network never settled: later steps would measure
			// this one's backlog.
			limit = len(row.Steps) - 1
			break
		}
		if !st.KeptUp {
			hi, limit = rate, len(row.Steps)-1
			break
		}
		best = len(row.Steps) - 1
	}
	for range o.Refine {
		if best < 0 || hi == 0 || !row.Steps[len(row.Steps)-1].Drained {
			break
		}
		lo := row.Steps[best].Offered
		mid := roundRate((lo + hi) / 2)
		if mid <= lo || mid >= hi {
			break
		}
		st, err := try(mid)
		if err != nil {
			return err
		}
		if st.KeptUp {
			best = len(row.Steps) - 1
		} else {
			hi, limit = mid, len(row.Steps)-1
		}
	}
	if best >= 0 {
		row.Best = &row.Steps[best]
	}
	if limit >= 0 {
		row.Limit = &row.Steps[limit]
	}
	return nil
}

// roundRate rounds a rate to two significant digits.
func roundRate(r int) int {
	m := 1
	for r/m >= 100 {
		m *= 10
	}
	return (r + m/2) / m * m
}

// progress throttles and stamps Progress reports.
type progress struct {
	fn   func(Progress)
	base Progress
	last time.Time
}

func (p *progress) phase(ph string, rate int) {
	if p.fn == nil {
		return
	}
	x := p.base
	x.Phase, x.Rate = ph, rate
	p.fn(x)
}

func (p *progress) load(ph string, rate int, elapsed, total time.Duration, submitted, committed int) {
	if p.fn == nil || time.Since(p.last) < 200*time.Millisecond {
		return
	}
	p.last = time.Now()
	x := p.base
	x.Phase, x.Rate, x.Elapsed, x.Total, x.Submitted, x.Committed = ph, rate, elapsed, total, submitted, committed
	p.fn(x)
}

func (p *progress) done(s *Step) {
	if p.fn == nil {
		return
	}
	x := p.base
	x.Phase, x.Rate, x.Last = "done", s.Offered, s
	p.fn(x)
}

// Summary is a one-line account of a step.
func (s *Step) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%6d/s offered: submitted %.0f/s, committed %.0f/s, p50 %s, p99 %s, backlog %d",
		s.Offered, s.SubmittedTPS, s.CommittedTPS, Round(s.P50), Round(s.P99), s.Backlog)
	if s.Refused > 0 {
		fmt.Fprintf(&b, ", refused %d", s.Refused)
	}
	if s.OthersCPU >= 0.05 {
		fmt.Fprintf(&b, ", other processes used %.0f%% of the CPUs", 100*s.OthersCPU)
	}
	if s.KeptUp {
		b.WriteString(": kept up")
	} else {
		fmt.Fprintf(&b, ": missed (%s)", s.Why)
	}
	return b.String()
}

// Round shortens a latency for display.
func Round(d time.Duration) time.Duration {
	switch {
	case d >= 10*time.Second:
		return d.Round(100 * time.Millisecond)
	case d >= time.Second:
		return d.Round(10 * time.Millisecond)
	default:
		return d.Round(time.Millisecond)
	}
}

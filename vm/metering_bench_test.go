package vm

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"testing"
	"time"

	"github.com/hypha-iot/hypha/vm/vmtest"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// BenchmarkMetering measures what metering costs, in one run, on the
// compute contract (testdata/compute: sieve, sort and sha256 kernels over a
// few KiB, n rounds a call) with the compiler engine. Each iteration calls
// the contract once on each of three sides, one after the other, each timed
// on its own, so that the sides share the machine's load (the ratios stay
// meaningful on a busy machine):
//
//   - metered: the normal path, Engine.Call on a loaded module: per call a
//     fresh instance from the image (instantiate, memory restore, globals),
//     then the instrumented entry point. This is what the ledger gets.
//   - unmetered: the original module bytes (not validated, not
//     instrumented) on a plain wazero runtime configured like NewEngine's,
//     with the package's own hypha_v1 and WASI host functions (their gas
//     charges go to a Go counter). One instance, _initialize run once
//     before the timing, the entry point called again and again: a call
//     includes the entry point and its host calls, no instance start-up.
//   - warm: the instrumented module in one instance started from the
//     engine's image, its entry point called again and again with the gas
//     counter reset: unmetered's work plus the injected code (gas, call
//     depth, memory.grow and bulk charges) and nothing else.
//
// Metrics: ns/op (replacing the framework's, which counts the three sides)
// and calls/s are the metered side's; unmetered-calls/s;
// gas/op and Mgas/s (gas per wall-second) of the metered side;
// x-unmetered and x-unmetered-warm, the metered and warm sides' time per
// call over unmetered's; on the small n, start-ns/op, the metered side's
// time per call beyond warm's (a fresh instance from the image,
// Engine.Call's own work). Each kernel runs a small n (start-up matters) and
// a large n (compute dominates); the large n's sub-benchmark also reports,
// from the difference to the small n, which cancels the fixed per-call
// costs (start-up, input, return), x-unmetered-compute and Mgas/s-compute:
// the metering overhead and gas rate of the contract's compute alone. They
// need the small n's sub-benchmark to have run first in the same
// invocation.
//
//	go test ./vm/ -run '^$' -bench BenchmarkMetering -benchtime 2s
func BenchmarkMetering(b *testing.B) {
	ctx := context.Background()
	lim := DefaultLimits()
	code := vmtest.Build(b, "./testdata/compute")
	mod := mustValidate(b, code, lim)
	e := engines(b, lim)["compiler"]
	initGas, err := e.Load(ctx, mod)
	if err != nil {
		b.Fatal(err)
	}
	plain := newUnmeteredInstance(b, code, lim)
	defer plain.close()
	warm := newWarmInstance(b, e, mod)
	defer warm.close()
	b.Logf("compute: %d bytes, %d instrumented, %d metered blocks, %d gas checks, %d NaN fix-ups; initialiser %d gas; "+
		"image %d pages, %d chunks, %d bytes; %d gas a call before it starts",
		len(code), len(mod.Code), mod.Stats.Blocks, mod.Stats.GasChecks, mod.Stats.NaNFixups, initGas,
		warm.img.pages, len(warm.img.chunks), imageBytes(warm.img), warm.img.callGas)
	host := newHost()

	type perCall struct{ metered, unmetered, gas float64 }
	small := map[string]perCall{}
	for _, k := range []struct {
		kernel       string
		small, large int
	}{
		{"sieve", 1, 40},
		{"sort", 1, 20},
		{"sha256", 4, 400},
	} {
		for _, n := range []int{k.small, k.large} {
			in := encode(k.kernel, n)
			b.Run(fmt.Sprintf("%s/n=%d", k.kernel, n), func(b *testing.B) {
				var gas uint64
				var tMetered, tUnmetered, tWarm time.Duration
				for i := 0; b.Loop(); i++ {
					t0 := time.Now()
					res, err := e.Call(ctx, mod, inv(EntryCall, in, meteringGas), host)
					t1 := time.Now()
					if err != nil {
						b.Fatal(err)
					}
					gas = res.GasUsed
					out, err := plain.call(in)
					t2 := time.Now()
					if err != nil {
						b.Fatal(err)
					}
					if i == 0 && !bytes.Equal(res.Return, out) {
						b.Fatalf("metered returned %x, unmetered %x", res.Return, out)
					}
					out, err = warm.call(in)
					t3 := time.Now()
					if err != nil {
						b.Fatal(err)
					}
					if i == 0 && !bytes.Equal(res.Return, out) {
						b.Fatalf("metered returned %x, warm %x", res.Return, out)
					}
					tMetered += t1.Sub(t0)
					tUnmetered += t2.Sub(t1)
					tWarm += t3.Sub(t2)
				}
				per := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / float64(b.N) }
				c := perCall{metered: per(tMetered), unmetered: per(tUnmetered), gas: float64(gas)}
				b.ReportMetric(c.metered, "ns/op")
				b.ReportMetric(1e9/c.metered, "calls/s")
				b.ReportMetric(1e9/c.unmetered, "unmetered-calls/s")
				b.ReportMetric(c.gas, "gas/op")
				b.ReportMetric(c.gas/c.metered*1e3, "Mgas/s")
				b.ReportMetric(c.metered/c.unmetered, "x-unmetered")
				b.ReportMetric(per(tWarm)/c.unmetered, "x-unmetered-warm")
				if n == k.small {
					b.ReportMetric(c.metered-per(tWarm), "start-ns/op")
					small[k.kernel] = c
				} else if s, ok := small[k.kernel]; ok && c.metered > s.metered && c.unmetered > s.unmetered {
					b.ReportMetric((c.metered-s.metered)/(c.unmetered-s.unmetered), "x-unmetered-compute")
					b.ReportMetric((c.gas-s.gas)/(c.metered-s.metered)*1e3, "Mgas/s-compute")
				}
			})
		}
	}
}

func imageBytes(img *image) int {
	n := 0
	for _, c := range img.chunks {
		n += len(c.data)
	}
	return n
}

// meteringGas is the gas limit of the benchmark's calls: enough for any of
// its round counts.
const meteringGas = 1 << 40

// warmInstance is one instance of a module whose entry point is called
// again and again, with no fresh start per call.
type warmInstance struct {
	img   *image // of the instrumented module
	s     *callState
	cctx  context.Context
	fn    api.Function
	close func()
}

// call runs the call entry point with input in and returns its return data
// (valid until the next call).
func (w *warmInstance) call(in []byte) ([]byte, error) {
	s := w.s
	s.inv.Input = in
	s.result, s.ret, s.output, s.events, s.err = s.result[:0], nil, s.output[:0], 0, nil
	s.gasG.Set(meteringGas)
	if _, err := w.fn.Call(w.cctx); err != nil {
		return nil, fmt.Errorf("%v (host: %v, output %q)", err, s.err, s.output)
	}
	return s.ret, nil
}

// newWarmInstance starts an instance of the instrumented mod from e's image,
// the way Engine.Call does, but for many calls.
func newWarmInstance(tb testing.TB, e *Engine, mod *Module) *warmInstance {
	tb.Helper()
	ctx := context.Background()
	c, err := e.acquire(ctx, mod)
	if err != nil {
		tb.Fatal(err)
	}
	in := inv(EntryCall, nil, meteringGas)
	s := &callState{inv: &in, host: newHost(), lim: &e.lim, gas: &e.lim.Gas}
	cctx := context.WithValue(ctx, stateKey{}, s)
	inst, err := e.start(cctx, c.cm, mod, c.img, s)
	if err != nil {
		e.release(ctx, c)
		tb.Fatal(err)
	}
	return &warmInstance{img: c.img, s: s, cctx: cctx, fn: inst.ExportedFunction(EntryCall), close: func() {
		inst.Close(ctx)
		e.release(ctx, c)
	}}
}

// newUnmeteredInstance instantiates the original code, unvalidated and
// uninstrumented, on a wazero runtime configured like NewEngine's, with the
// same host modules, and runs its initialiser the way buildImage does.
func newUnmeteredInstance(tb testing.TB, code []byte, lim Limits) *warmInstance {
	tb.Helper()
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().
		WithCoreFeatures(api.CoreFeaturesV2&^api.CoreFeatureSIMD).
		WithMemoryLimitPages(lim.MaxMemoryPages).
		WithCloseOnContextDone(false).
		WithDebugInfoEnabled(false))
	fail := func(err error) {
		rt.Close(ctx)
		tb.Helper()
		tb.Fatal(err)
	}
	for _, hm := range []struct {
		name  string
		funcs map[string]hostFunc
	}{{ABIModule, abiV1}, {wasiModule, wasiV1}} {
		hb := rt.NewHostModuleBuilder(hm.name)
		for name, hf := range hm.funcs {
			hb.NewFunctionBuilder().WithGoModuleFunction(hostAdapter(hm.name, name, hf.fn),
				hf.params, hf.results).Export(name)
		}
		if _, err := hb.Instantiate(ctx); err != nil {
			fail(err)
		}
	}
	cm, err := rt.CompileModule(ctx, code)
	if err != nil {
		fail(err)
	}
	lp := &lim
	in := &Invocation{GasLimit: meteringGas, Time: time.Unix(0, 0), Seed: sha256.Sum256(code)}
	s := &callState{inv: in, lim: lp, gas: &lp.Gas, gasG: &goGlobal{v: meteringGas}, mono: monoStart, monoBase: monoStart}
	cctx := context.WithValue(ctx, stateKey{}, s)
	inst, err := rt.InstantiateModule(cctx, cm, wazero.NewModuleConfig().WithName("").WithStartFunctions())
	if err != nil {
		fail(err)
	}
	s.mem = inst.Memory()
	if _, err := inst.ExportedFunction(initExport).Call(cctx); err != nil {
		fail(fmt.Errorf("%s: %v (host: %v)", initExport, err, s.err))
	}
	*in = inv(EntryCall, nil, meteringGas)
	s.host = newHost()
	return &warmInstance{s: s, cctx: cctx, fn: inst.ExportedFunction(EntryCall), close: func() { rt.Close(ctx) }}
}

// goGlobal stands in for the gas global of an instrumented module: the host
// functions charge it, nothing else reads it. The embedded interface only
// satisfies api.MutableGlobal's unexported method; it is never called.
type goGlobal struct {
	api.MutableGlobal
	v uint64
}

func (g *goGlobal) Type() api.ValueType { return api.ValueTypeI64 }
func (g *goGlobal) Get() uint64         { return g.v }
func (g *goGlobal) Set(v uint64)        { g.v = v }
func (g *goGlobal) String() string      { return fmt.Sprintf("global(%d)", g.v) }

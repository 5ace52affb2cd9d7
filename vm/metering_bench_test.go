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
// few KiB, n rounds a call) with the compiler engine. For each kernel and
// round count it runs three sides:
//
//   - unmetered: the original module bytes (not validated, not
//     instrumented) on a plain wazero runtime with the package's own
//     hypha_v1 and WASI host functions (their gas charges go to a Go
//     counter). One instance, _initialize run once outside the timing, the
//     entry point called again and again: a call includes the entry point
//     and its host calls only, no instance start-up.
//   - metered-warm: the instrumented module (Validate) in one instance
//     started from the engine's image, the entry point called again and
//     again with the gas counter reset: the same work as unmetered plus the
//     injected code (gas, call depth, memory.grow/bulk charges), so its
//     x-unmetered is the instrumentation's own cost.
//   - metered: the normal path, Engine.Call on a loaded module: per call a
//     fresh instance from the image (instantiate, memory restore, globals),
//     then the instrumented entry point. calls/s is what the ledger gets.
//
// Metrics: calls/s; gas/op and Mgas/s (gas per wall-second, metered only);
// x-unmetered, the side's time per call over unmetered's for the same
// kernel and n. The sub-benchmarks of the large n also report, from the
// difference to the small n (which cancels the fixed per-call costs:
// start-up, input, return), x-unmetered-compute and Mgas/s-compute, the
// overhead and gas rate of the contract's compute alone. Ratios need the
// unmetered (and small-n) sub-benchmarks to have run first in the same
// invocation; a -bench filter that skips them omits those metrics.
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
	b.Logf("compute: %d bytes, %d instrumented, %d metered blocks, %d NaN fix-ups, initialiser %d gas",
		len(code), len(mod.Code), mod.Stats.Blocks, mod.Stats.NaNFixups, initGas)

	plain := newUnmeteredInstance(b, code, lim)
	defer plain.close()
	warm := newWarmInstance(b, e, mod)
	defer warm.close()
	host := newHost()

	type key struct {
		kernel, side string
		n            int
	}
	nsOp := map[key]float64{}
	gasOp := map[key]float64{}
	sides := []string{"unmetered", "metered-warm", "metered"}
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
			// The three sides must compute the same thing.
			want, err := plain.call(in)
			if err != nil {
				b.Fatal(err)
			}
			for _, side := range sides {
				b.Run(fmt.Sprintf("%s/n=%d/%s", k.kernel, n, side), func(b *testing.B) {
					var gas uint64
					call := func() []byte {
						switch side {
						case "unmetered":
							out, err := plain.call(in)
							if err != nil {
								b.Fatal(err)
							}
							return out
						case "metered-warm":
							out, err := warm.call(in)
							if err != nil {
								b.Fatal(err)
							}
							return out
						}
						res, err := e.Call(ctx, mod, inv(EntryCall, in, meteringGas), host)
						if err != nil {
							b.Fatal(err)
						}
						gas = res.GasUsed
						return res.Return
					}
					if out := call(); !bytes.Equal(out, want) {
						b.Fatalf("returned %x, unmetered %x", out, want)
					}
					for b.Loop() {
						call()
					}
					ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
					self := key{k.kernel, side, n}
					nsOp[self], gasOp[self] = ns, float64(gas)
					b.ReportMetric(1e9/ns, "calls/s")
					if side == "metered" {
						b.ReportMetric(float64(gas), "gas/op")
						b.ReportMetric(float64(gas)/ns*1e3, "Mgas/s")
					}
					if side == "unmetered" {
						return
					}
					base, ok := nsOp[key{k.kernel, "unmetered", n}]
					if ok {
						b.ReportMetric(ns/base, "x-unmetered")
					}
					if n != k.large {
						return
					}
					smallNs, ok1 := nsOp[key{k.kernel, side, k.small}]
					smallBase, ok2 := nsOp[key{k.kernel, "unmetered", k.small}]
					if ok && ok1 && ok2 && base > smallBase && ns > smallNs {
						b.ReportMetric((ns-smallNs)/(base-smallBase), "x-unmetered-compute")
						if side == "metered" {
							if smallGas, ok := gasOp[key{k.kernel, side, k.small}]; ok {
								b.ReportMetric((float64(gas)-smallGas)/(ns-smallNs)*1e3, "Mgas/s-compute")
							}
						}
					}
				})
			}
		}
	}
}

// meteringGas is the gas limit of the benchmark's calls: enough for any of
// its round counts.
const meteringGas = 1 << 40

// warmInstance is one instance of a module whose entry point is called
// again and again, with no fresh start per call.
type warmInstance struct {
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
	return &warmInstance{s: s, cctx: cctx, fn: inst.ExportedFunction(EntryCall), close: func() {
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

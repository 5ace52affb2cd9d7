package vm

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/hypha-iot/hypha/errs"
	"github.com/hypha-iot/hypha/vm/vmtest"
	"github.com/tetratelabs/wabin/binary"
	"github.com/tetratelabs/wabin/wasm"
)

// verifyGasChecks checks where the instrumented code of mod checks the gas
// counter (doc.go, "Metering"): at every function entry, at the top of
// every loop body, right before every memory.grow, memory.copy and
// memory.fill, and on the exit of exactly the functions that have a charge
// not checked at once. mustValidate applies it to every module the tests
// validate.
func verifyGasChecks(tb testing.TB, mod *Module) {
	tb.Helper()
	m, err := binary.DecodeModule(mod.Code, decodeFeatures)
	if err != nil {
		tb.Fatalf("decoding the instrumented module: %v", err)
	}
	var gas, depth uint32
	for _, e := range m.ExportSection {
		switch e.Name {
		case exportGas:
			gas = e.Index
		case exportDepth:
			depth = e.Index
		}
	}
	for i, c := range m.CodeSection {
		if err := checkPlacement(c.Body, gas, depth); err != nil {
			tb.Fatalf("function %d: %v", len(m.ImportSection)+i, err)
		}
	}
}

// checkPlacement verifies the gas checks of one instrumented body.
func checkPlacement(code []byte, gas, depth uint32) error {
	var ins []instr
	r := reader{b: code}
	for r.pos < len(r.b) {
		in, err := r.next()
		if err != nil {
			return err
		}
		ins = append(ins, in)
	}
	is := func(k int, ops ...byte) bool {
		if k < 0 || k+len(ops) > len(ins) {
			return false
		}
		for i, op := range ops {
			if ins[k+i].op != op {
				return false
			}
		}
		return true
	}
	// isCheck: global.get gas; i64.const 0; i64.lt_s; if; unreachable; end.
	isCheck := func(k int) bool {
		return is(k, opGlobalGet, opI64Const, opI64LtS, opIf, opUnreachable, opEnd) && ins[k].idx == gas &&
			bytes.Equal(code[ins[k].end:ins[k+1].end], []byte{opI64Const, 0}) && ins[k+3].blockType == -64
	}
	// isCharge: global.get gas; i64.const cost; i64.sub; global.set gas.
	isCharge := func(k int) bool {
		return is(k, opGlobalGet, opI64Const, opI64Sub, opGlobalSet) && ins[k].idx == gas && ins[k+3].idx == gas
	}
	checked := func(k int) bool { return isCheck(k) || isCharge(k) && isCheck(k+4) }

	// Prologue: 10 instructions of call depth, then the wrapper block.
	if !is(0, opGlobalGet) || ins[0].idx != depth || !is(10, opBlock) {
		return errors.New("no call-depth prologue")
	}
	if !checked(11) {
		return errors.New("no gas check at the entry")
	}
	unchecked := false
	for k, in := range ins {
		switch {
		case in.op == opLoop && !checked(k+1):
			return fmt.Errorf("no gas check at the top of the loop at byte %d", in.end)
		case (in.op == opMemoryGrow || in.op == opMisc && (in.sub == miscMemoryCopy || in.sub == miscMemoryFill)) && !isCheck(k-6):
			return fmt.Errorf("no gas check before the memory operation at byte %d", in.end)
		case isCharge(k) && !isCheck(k+4):
			unchecked = true
		}
	}
	// Epilogue: [check]; global.get depth; i32.const; i32.sub; global.set depth; end.
	n := len(ins)
	if !is(n-5, opGlobalGet, opI32Const, opI32Sub, opGlobalSet, opEnd) || ins[n-5].idx != depth {
		return errors.New("no call-depth epilogue")
	}
	if exit := isCheck(n - 11); exit != unchecked {
		return fmt.Errorf("gas check on exit: %v; unchecked charges: %v", exit, unchecked)
	}
	return nil
}

// blocks is n basic blocks of straight-line code (block; end), 2 gas each
// with the default schedule, none of them checked.
func blocks(n int) []byte { return bytes.Repeat(op(opBlock, blockTypeEmpty, opEnd), n) }

// baseGas is what a call of a one-page module without a table costs before
// its code runs.
func baseGas() uint64 { g := DefaultGas(); return g.Instance + g.InstancePage }

// TestGasChecksInGoContracts verifies the checks' placement in Go's output.
func TestGasChecksInGoContracts(t *testing.T) {
	for _, name := range []string{"counter", "probe"} {
		mod := mustValidate(t, mustContract(t, name), DefaultLimits())
		t.Logf("%s: %d functions, %d metered blocks, %d gas checks", name, mod.Stats.Functions, mod.Stats.Blocks, mod.Stats.GasChecks)
		if mod.Stats.GasChecks >= mod.Stats.Blocks {
			t.Errorf("%s: %d checks for %d blocks", name, mod.Stats.GasChecks, mod.Stats.Blocks)
		}
	}
}

// TestRunawayCodeStops: code that would run for ever, or for 2^60 calls,
// stops out of gas. Each case relies on one kind of check: loop tops,
// function entries and exits.
func TestRunawayCodeStops(t *testing.T) {
	w := newWmod()
	// f(n): if n != 0 { f(n-1); f(n-1) } — 2^n calls, no loop.
	f := uint32(0)
	w.fn(ti, nil, nil, lget(0), op(opIf, blockTypeEmpty), lget(0), i32c(1), op(opI32Sub), call(f),
		lget(0), i32c(1), op(opI32Sub), call(f), op(opEnd))
	w.entry(EntryCall, nil, i32c(60), call(f))
	// g(n): table[n == 0](n-1) twice — the same without a branch: g is one
	// basic block, checked on entry only.
	w2 := newWmod()
	leaf, g := uint32(0), uint32(1)
	w2.fn(ti, nil, nil)
	gt := w2.typ(ti, nil)
	twice := append(append(lget(0), i32c(1)...), op(opI32Sub)...)
	twice = append(append(twice, lget(0)...), op(0x45, opCallIndirect, byte(gt), 0)...) // i32.eqz
	w2.fn(ti, nil, nil, twice, twice)
	w2.entry(EntryCall, nil, i32c(60), call(g))
	w2.m.TableSection = []*wasm.Table{{Min: 2, Type: wasm.RefTypeFuncref}}
	w2.m.ElementSection = []*wasm.ElementSegment{{OffsetExpr: &wasm.ConstantExpression{Opcode: wasm.OpcodeI32Const, Data: []byte{0}},
		Init: []*wasm.Index{&g, &leaf}, Type: wasm.RefTypeFuncref, Mode: wasm.ElementModeActive}}
	tests := map[string][]byte{
		"exponential recursion without a branch": w2.bytes(),
		"loop":                                   newWmod().entry(EntryCall, nil, op(opLoop, blockTypeEmpty, opBr, 0, opEnd)).bytes(),
		"loop of straight-line code":             newWmod().entry(EntryCall, nil, op(opLoop, blockTypeEmpty), blocks(50), op(opBr, 0, opEnd)).bytes(),
		"loop in a loop": newWmod().entry(EntryCall, nil, op(opLoop, blockTypeEmpty, opLoop, blockTypeEmpty),
			blocks(3), op(opBr, 1, opEnd, opEnd)).bytes(),
		"branch out of a block to a loop": newWmod().entry(EntryCall, nil, op(opLoop, blockTypeEmpty, opBlock, blockTypeEmpty),
			i32c(1), op(opBrIf, 1, opEnd, opEnd)).bytes(),
		"exponential recursion": w.bytes(),
	}
	for name, code := range tests {
		t.Run(name, func(t *testing.T) {
			res, _, err := run(t, code, DefaultLimits(), inv(EntryCall, nil, 5_000_000), nil)
			if !errors.Is(err, errs.ErrOutOfGas) || res.GasUsed != 5_000_000 {
				t.Fatalf("gas used %d, err %v; want ErrOutOfGas using the limit", res.GasUsed, err)
			}
		})
	}
}

// TestNoHostCallAfterTheGasRanOut: straight-line code runs the gas out
// without a check, then calls a host function: the host function must end
// the call out of gas before doing anything, whatever it is.
func TestNoHostCallAfterTheGasRanOut(t *testing.T) {
	var fns []struct{ module, name string }
	for _, m := range []struct {
		module string
		funcs  map[string]hostFunc
	}{{ABIModule, abiV1}, {wasiModule, wasiV1}} {
		for _, name := range slices.Sorted(maps.Keys(m.funcs)) {
			fns = append(fns, struct{ module, name string }{m.module, name})
		}
	}
	limit := baseGas() + 1000 // the code below needs 2,000 and more
	for _, fn := range fns {
		t.Run(fn.module+"."+fn.name, func(t *testing.T) {
			w := newWmod()
			f := w.hostImp(fn.module, fn.name)
			hf := wasiV1[fn.name]
			if fn.module == ABIModule {
				hf = abiV1[fn.name]
			}
			// Arguments that would work: stderr, an iovec at 32 of "hello" at 40.
			w.m.DataSection = append(w.m.DataSection, dataAt(32, "\x28\x00\x00\x00\x05\x00\x00\x00hello"))
			body := blocks(1000)
			for i, p := range hf.params {
				switch {
				case p == i64:
					body = append(body, i64c(0)...)
				case fn.name == "fd_write":
					body = append(body, i32c([]int32{2, 32, 1, 0}[i])...)
				default:
					body = append(body, i32c(int32(i)*8)...)
				}
			}
			body = append(body, call(f)...)
			for range hf.results {
				body = append(body, opDrop)
			}
			w.entry(EntryCall, nil, body)
			res, h, err := run(t, w.bytes(), DefaultLimits(), inv(EntryCall, []byte("in"), limit), func(h *vmtest.Host) {
				h.Store["\x00"] = []byte("v")
			})
			if !errors.Is(err, errs.ErrOutOfGas) || res.GasUsed != limit {
				t.Fatalf("gas used %d, err %v; want ErrOutOfGas using the limit", res.GasUsed, err)
			}
			if h.Calls != 0 || len(res.Output) != 0 || len(res.Return) != 0 {
				t.Errorf("the host function ran: %d host calls, output %q, return %q", h.Calls, res.Output, res.Return)
			}
		})
	}
	t.Run("after a callee ran the gas out", func(t *testing.T) {
		w := newWmod()
		set := w.hostImp(ABIModule, "storage_set")
		long := w.fn(nil, nil, nil, blocks(5000))
		w.m.DataSection = append(w.m.DataSection, dataAt(0, "kv"))
		w.entry(EntryCall, nil, call(long), i32c(0), i32c(1), i32c(1), i32c(1), call(set))
		res, h, err := run(t, w.bytes(), DefaultLimits(), inv(EntryCall, nil, limit), nil)
		if !errors.Is(err, errs.ErrOutOfGas) || res.GasUsed != limit || h.Calls != 0 || len(h.Store) != 0 {
			t.Fatalf("gas used %d, err %v, %d host calls, store %v; want ErrOutOfGas, no host call", res.GasUsed, err, h.Calls, h.Store)
		}
	})
}

// TestGasLimitBoundary: for calls that end in every way, with G the gas a
// call uses given plenty, a limit of G gives the same outcome and gas, and
// any limit below G gives out of gas using the limit — even when the gas
// runs out in unchecked code just before the trap, the depth overflow, the
// memory growth or the host call that ends the call with plenty of gas.
func TestGasLimitBoundary(t *testing.T) {
	type tcase struct {
		code    []byte
		input   []byte
		want    error // nil: success
		noHost  bool  // the host must not be called
		wantRet bool
	}
	tests := map[string]tcase{}
	{
		w := newWmod()
		ret := w.hostImp(ABIModule, "set_return")
		helper := w.fn(ti, ti, nil, blocks(10), lget(0), op(opIf, valI32), lget(0), op(opElse), i32c(7), op(opEnd))
		// i = 5; loop { blocks; i-- ; br_if i != 0 }; mem[0] = helper(i); set_return(0, 4)
		body := append(i32c(5), lset(0)...)
		body = append(body, op(opLoop, blockTypeEmpty)...)
		body = append(body, blocks(20)...)
		body = append(body, lget(0)...)
		body = append(body, i32c(1)...)
		body = append(body, op(opI32Sub, opLocalTee, 0, opBrIf, 0, opEnd)...)
		body = append(body, blocks(10)...)
		body = append(body, i32c(0)...)
		body = append(body, lget(0)...)
		body = append(body, call(helper)...)
		body = append(body, op(0x36, 2, 0)...) // i32.store
		body = append(body, blocks(10)...)
		body = append(body, i32c(0)...)
		body = append(body, i32c(4)...)
		body = append(body, call(ret)...)
		body = append(body, blocks(10)...)
		w.entry(EntryCall, ti, body)
		tests["success"] = tcase{code: w.bytes(), wantRet: true}
	}
	tests["trap"] = tcase{code: newWmod().entry(EntryCall, nil, blocks(100),
		append(append(i32c(1), i32c(0)...), 0x6d, opDrop), blocks(100)).bytes(), want: ErrTrap}
	{
		// f: blocks; f — the call that overflows the depth budget follows
		// unchecked charges.
		w := newWmod()
		w.fn(nil, nil, nil, blocks(3), call(0), blocks(3))
		w.entry(EntryCall, nil, blocks(3), call(0))
		tests["call depth"] = tcase{code: w.bytes(), want: ErrCallDepth}
	}
	tests["memory cap"] = tcase{code: newWmod().entry(EntryCall, nil, blocks(100), i32c(1000),
		op(opMemoryGrow, 0, opDrop)).bytes(), want: ErrMemoryLimit}
	tests["memory fill"] = tcase{code: newWmod().entry(EntryCall, nil, blocks(100), i32c(0), i32c(7), i32c(65536),
		op(opMisc, miscMemoryFill, 0), blocks(10), i32c(0), i32c(7), i32c(65537), op(opMisc, miscMemoryFill, 0)).bytes(), want: ErrTrap}
	{
		w := newWmod()
		set := w.hostImp(ABIModule, "storage_set")
		w.entry(EntryCall, nil, blocks(100), i32c(65530), i32c(10), i32c(0), i32c(1), call(set))
		tests["bad pointer"] = tcase{code: w.bytes(), want: ErrTrap, noHost: true}
	}
	{
		w := newWmod()
		rev := w.hostImp(ABIModule, "revert")
		w.entry(EntryCall, nil, blocks(100), i32c(0), i32c(2), call(rev))
		tests["revert"] = tcase{code: w.bytes(), want: ErrReverted}
	}
	{
		w := newWmod()
		exit := w.hostImp(wasiModule, "proc_exit")
		w.entry(EntryCall, nil, blocks(100), i32c(3), call(exit))
		tests["proc_exit"] = tcase{code: w.bytes(), want: ErrTrap}
	}
	if !testing.Short() {
		probe := mustContract(t, "probe")
		tests["Go: counter"] = tcase{code: mustContract(t, "counter"), input: encode("increment", 1), wantRet: true}
		tests["Go: recursion"] = tcase{code: probe, input: encode("recurse", 100_000), want: ErrCallDepth}
		tests["Go: panic"] = tcase{code: probe, input: encode("panic"), want: ErrTrap}
		tests["Go: memory hog"] = tcase{code: probe, input: encode("alloc", 64), want: ErrMemoryLimit}
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			res, h, err := run(t, tc.code, DefaultLimits(), inv(EntryCall, tc.input, 1<<40), nil)
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("with plenty of gas: err %v, want %v", err, tc.want)
			}
			if tc.noHost && h.Calls != 0 {
				t.Fatalf("the host was called %d times", h.Calls)
			}
			if tc.wantRet != (len(res.Return) > 0) {
				t.Fatalf("return %x", res.Return)
			}
			g := res.GasUsed
			at, _, errAt := run(t, tc.code, DefaultLimits(), inv(EntryCall, tc.input, g), nil)
			if at.GasUsed != g || errString(errAt) != errString(err) || !bytes.Equal(at.Return, res.Return) {
				t.Fatalf("with a limit of %d, the gas used: gas used %d, err %v; want %d, %v", g, at.GasUsed, errAt, g, err)
			}
			if g <= baseGas()+1 {
				t.Fatalf("uses only %d gas", g)
			}
			for _, limit := range []uint64{g - 1, g - 2, g - 100, (g + baseGas()) / 2, baseGas() + 1} {
				res, _, err := run(t, tc.code, DefaultLimits(), inv(EntryCall, tc.input, limit), nil)
				if !errors.Is(err, errs.ErrOutOfGas) || res.GasUsed != limit || res.Return != nil {
					t.Fatalf("limit %d (%d used with plenty): gas used %d, return %x, err %v; want ErrOutOfGas using the limit",
						limit, g, res.GasUsed, res.Return, err)
				}
			}
		})
	}
}

// withoutExitCheck returns mod with the gas check on exit of its one
// function that has one replaced by nops: that function returns with the
// counter negative when it ran the gas out.
func withoutExitCheck(t *testing.T, mod *Module) *Module {
	t.Helper()
	// The module has no globals of its own: gas is global 0, depth 1.
	check := []byte{opGlobalGet, 0, opI64Const, 0, opI64LtS, opIf, blockTypeEmpty, opUnreachable, opEnd}
	epilogue := []byte{opGlobalGet, 1, opI32Const}
	pattern := append(slices.Clip(check), epilogue...)
	if n := bytes.Count(mod.Code, pattern); n != 1 {
		t.Fatalf("%d exit checks, want 1", n)
	}
	i := bytes.Index(mod.Code, pattern)
	patched := *mod
	patched.Code = slices.Clone(mod.Code)
	copy(patched.Code[i:], bytes.Repeat([]byte{opNop}, len(check)))
	h := sha256.New()
	h.Write(patched.Hash[:])
	h.Write(patched.Code)
	h.Sum(patched.key[:0])
	return &patched
}

// TestNegativeCounterOnReturnIsOutOfGas: the engine treats a call or an
// initialiser that returns normally with the counter negative as out of
// gas. The instrumenter's exit checks prevent it; the module here has its
// exit check removed.
func TestNegativeCounterOnReturnIsOutOfGas(t *testing.T) {
	w := newWmod()
	ret := w.hostImp(ABIModule, "set_return")
	w.entry(EntryCall, nil, i32c(0), i32c(4), call(ret), blocks(1000))
	mod := withoutExitCheck(t, mustValidate(t, w.bytes(), DefaultLimits()))
	res, _, err := runModule(t, mod, inv(EntryCall, nil, 1<<40), nil)
	if err != nil || len(res.Return) != 4 {
		t.Fatalf("with plenty of gas: return %x, err %v", res.Return, err)
	}
	limit := res.GasUsed - 1000
	res, _, err = runModule(t, mod, inv(EntryCall, nil, limit), nil)
	if !errors.Is(err, errs.ErrOutOfGas) || res.GasUsed != limit || res.Return != nil {
		t.Fatalf("gas used %d, return %x, err %v; want ErrOutOfGas using the limit, no return", res.GasUsed, res.Return, err)
	}

	t.Run("initialiser", func(t *testing.T) {
		w := newWmod()
		w.entry(initExport, nil, blocks(1000))
		w.entry(EntryCall, nil)
		lim := DefaultLimits()
		lim.MaxInitGas = 1500
		small := withoutExitCheck(t, mustValidate(t, w.bytes(), lim))
		for name, e := range engines(t, lim) {
			if _, err := e.Load(context.Background(), small); !errors.Is(err, ErrInvalidModule) ||
				!strings.Contains(err.Error(), errs.ErrOutOfGas.Name) {
				t.Errorf("%s: Load: %v, want ErrInvalidModule, out of gas", name, err)
			}
		}
	})
}

// TestInitialiserGas: the initialiser's gas is exact, and running out —
// also in unchecked code right before a host call the initialiser may not
// make — fails the load as out of gas.
func TestInitialiserGas(t *testing.T) {
	w := newWmod()
	w.entry(initExport, nil, blocks(1000))
	w.entry(EntryCall, nil)
	code := w.bytes()
	want := uint64(1000*2 + 1) // the blocks and the final end
	for _, tc := range []struct {
		maxInit uint64
		ok      bool
	}{{want, true}, {want - 1, false}, {1500, false}} {
		lim := DefaultLimits()
		lim.MaxInitGas = tc.maxInit
		mod := mustValidate(t, code, lim)
		for name, e := range engines(t, lim) {
			got, err := e.Load(context.Background(), mod)
			switch {
			case tc.ok && (err != nil || got != want):
				t.Errorf("%s, MaxInitGas %d: Load: gas %d, err %v; want %d", name, tc.maxInit, got, err, want)
			case !tc.ok && (!errors.Is(err, ErrInvalidModule) || !strings.Contains(err.Error(), errs.ErrOutOfGas.Name)):
				t.Errorf("%s, MaxInitGas %d: Load: %v, want ErrInvalidModule, out of gas", name, tc.maxInit, err)
			}
		}
	}

	w = newWmod()
	in := w.hostImp(ABIModule, "input")
	w.entry(initExport, nil, blocks(1000), call(in), op(opDrop))
	w.entry(EntryCall, nil)
	for maxInit, want := range map[uint64]string{1500: errs.ErrOutOfGas.Name, 1 << 20: "called during"} {
		lim := DefaultLimits()
		lim.MaxInitGas = maxInit
		mod := mustValidate(t, w.bytes(), lim)
		for name, e := range engines(t, lim) {
			if _, err := e.Load(context.Background(), mod); !errors.Is(err, ErrInvalidModule) || !strings.Contains(err.Error(), want) {
				t.Errorf("%s, MaxInitGas %d: Load: %v, want ErrInvalidModule, %s", name, maxInit, err, want)
			}
		}
	}
}

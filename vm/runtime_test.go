package vm

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/hypha-iot/hypha/errs"
	"github.com/hypha-iot/hypha/vm/vmtest"
)

// run runs one invocation of code on both engines, each with a fresh host
// prepared by setup, checks that they agree on everything (gas, return
// data, output, error, host effects), and returns the compiler's outcome.
func run(t *testing.T, code []byte, lim Limits, in Invocation, setup func(*vmtest.Host)) (Result, *vmtest.Host, error) {
	t.Helper()
	return runModule(t, mustValidate(t, code, lim), in, setup)
}

// runModule is run on a module already validated.
func runModule(t *testing.T, mod *Module, in Invocation, setup func(*vmtest.Host)) (Result, *vmtest.Host, error) {
	t.Helper()
	lim := mod.Limits
	type outcome struct {
		res  Result
		host *vmtest.Host
		err  error
	}
	var got []outcome
	es := engines(t, lim)
	for _, name := range []string{"compiler", "interpreter"} {
		e := es[name]
		h := newHost()
		if setup != nil {
			setup(h)
		}
		res, err := e.Call(context.Background(), mod, in, h)
		got = append(got, outcome{res, h, err})
	}
	c, i := got[0], got[1]
	if c.res.GasUsed != i.res.GasUsed || !bytes.Equal(c.res.Return, i.res.Return) ||
		!bytes.Equal(c.res.Output, i.res.Output) || errString(c.err) != errString(i.err) ||
		c.host.Calls != i.host.Calls || !equalStores(c.host, i.host) {
		t.Fatalf("engines disagree:\ncompiler:    gas %d return %x err %v calls %d\ninterpreter: gas %d return %x err %v calls %d",
			c.res.GasUsed, c.res.Return, c.err, c.host.Calls, i.res.GasUsed, i.res.Return, i.err, i.host.Calls)
	}
	return c.res, c.host, c.err
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func equalStores(a, b *vmtest.Host) bool {
	if len(a.Store) != len(b.Store) || len(a.Events) != len(b.Events) {
		return false
	}
	for k, v := range a.Store {
		if !bytes.Equal(b.Store[k], v) {
			return false
		}
	}
	return true
}

func TestMinimalGas(t *testing.T) {
	g := DefaultGas()
	// The instance (one page, no table) and one block of one instruction: end.
	want := g.Instance + g.InstancePage + g.Instr
	res, _, err := run(t, minimal().bytes(), DefaultLimits(), inv(EntryCall, nil, want), nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.GasUsed != want {
		t.Errorf("gas used %d, want %d", res.GasUsed, want)
	}
	res, _, err = run(t, minimal().bytes(), DefaultLimits(), inv(EntryCall, nil, want-1), nil)
	if !errors.Is(err, errs.ErrOutOfGas) || res.GasUsed != want-1 {
		t.Errorf("with one gas too few: gas used %d, err %v; want ErrOutOfGas", res.GasUsed, err)
	}
	res, _, err = run(t, minimal().bytes(), DefaultLimits(), inv(EntryCall, nil, 100), nil)
	if !errors.Is(err, errs.ErrOutOfGas) || res.GasUsed != 100 {
		t.Errorf("below the instance's cost: gas used %d, err %v; want ErrOutOfGas", res.GasUsed, err)
	}
}

func TestInfiniteLoopRunsOutOfGas(t *testing.T) {
	w := newWmod().entry(EntryCall, nil, op(opLoop, blockTypeEmpty, opBr, 0, opEnd))
	res, _, err := run(t, w.bytes(), DefaultLimits(), inv(EntryCall, nil, 1_000_000), nil)
	if !errors.Is(err, errs.ErrOutOfGas) {
		t.Fatalf("err %v, want ErrOutOfGas", err)
	}
	if res.GasUsed != 1_000_000 {
		t.Errorf("gas used %d, want the limit", res.GasUsed)
	}
}

func TestDeepRecursionHitsTheDepthLimit(t *testing.T) {
	w := newWmod()
	f := w.fn(nil, nil, nil, call(1)) // calls itself: index 1 once call is 0
	w.export(EntryCall, w.fn(nil, nil, nil, call(f)))
	w.m.CodeSection[0].Body = append(call(0), opEnd)
	_, _, err := run(t, w.bytes(), DefaultLimits(), inv(EntryCall, nil, 1<<40), nil)
	if !errors.Is(err, ErrCallDepth) {
		t.Fatalf("err %v, want ErrCallDepth", err)
	}
}

func TestFrameUnitsWeighBigFrames(t *testing.T) {
	// A frame with 640 locals costs 1+640/64 = 11 units: 1024/11 = 93
	// nested frames fit.
	for _, tc := range []struct {
		n    int32
		fail bool
	}{{90, false}, {100, true}} {
		w := newWmod()
		// f(n): if n == 0 { return }; f(n-1)
		f := uint32(0)
		w.fn(ti, nil, bytes.Repeat([]byte{valI64}, 639),
			lget(0), op(0x45, opIf, blockTypeEmpty, opReturn, opEnd), lget(0), i32c(1), op(opI32Sub), call(f))
		w.entry(EntryCall, nil, i32c(tc.n), call(f))
		_, _, err := run(t, w.bytes(), DefaultLimits(), inv(EntryCall, nil, 1<<40), nil)
		if tc.fail != errors.Is(err, ErrCallDepth) {
			t.Errorf("depth %d: err %v", tc.n, err)
		}
	}
}

func TestEveryExitUnwindsTheDepth(t *testing.T) {
	// Functions leaving by each kind of exit, called 3,000 times in a loop:
	// if any exit skipped the epilogue, the depth budget would run out.
	w := newWmod()
	exits := []uint32{
		w.fn(nil, nil, nil),               // falls off the end
		w.fn(nil, nil, nil, op(opReturn)), // return
		w.fn(nil, nil, nil, op(opBlock, blockTypeEmpty, opBr, 1, opEnd)), // branch to the function's label
		w.fn(nil, nil, nil, i32c(0), op(opBrTable, 0, 0)),                // br_table to it
		w.fn(nil, nil, nil, i32c(1), op(opBrIf, 0)),                      // br_if to it
	}
	var body []byte
	for _, f := range exits {
		body = append(body, call(f)...)
	}
	// loop: calls; i++; br_if i < 3000
	loop := append(op(opLoop, blockTypeEmpty), body...)
	loop = append(loop, lget(0)...)
	loop = append(loop, i32c(1)...)
	loop = append(loop, op(opI32Add, opLocalTee, 0)...)
	loop = append(loop, i32c(3000)...)
	loop = append(loop, op(0x48, opBrIf, 0, opEnd)...) // i32.lt_s
	w.entry(EntryCall, ti, loop)
	if _, _, err := run(t, w.bytes(), DefaultLimits(), inv(EntryCall, nil, 1<<40), nil); err != nil {
		t.Fatal(err)
	}
}

func TestMultiValueAndEarlyReturn(t *testing.T) {
	// pair(x) returns (1, 2) early when x != 0, else (3, 4) off the end;
	// call returns pair(1) and pair(0) combined: 1*1000+2*100+3*10+4.
	w := newWmod()
	ret := w.hostImp(ABIModule, "set_return")
	pair := w.fn(ti, tii, nil,
		lget(0), op(opIf, blockTypeEmpty), i32c(1), i32c(2), op(opReturn, opEnd), i32c(3), i32c(4))
	sum := func(mul1, mul2 int32) []byte {
		return append(append(append(append([]byte{}, i32c(mul2)...), 0x6c, opLocalSet, 1), append(i32c(mul1), 0x6c)...),
			append(lget(1), opI32Add)...)
	}
	body := append(i32c(1), call(pair)...)
	body = append(body, sum(1000, 100)...)
	body = append(body, i32c(0)...)
	body = append(body, call(pair)...)
	body = append(body, op(opLocalSet, 2, opLocalSet, 3)...)
	body = append(body, lget(3)...)
	body = append(body, i32c(10)...)
	body = append(body, op(0x6c, opI32Add)...)
	body = append(body, lget(2)...)
	body = append(body, op(opI32Add, opLocalSet, 0)...)
	body = append(body, i32c(0)...)
	body = append(body, lget(0)...)
	body = append(body, op(0x36, 2, 0)...) // i32.store
	body = append(body, i32c(0)...)
	body = append(body, i32c(4)...)
	body = append(body, call(ret)...)
	w.entry(EntryCall, []byte{valI32, valI32, valI32, valI32}, body)
	res, _, err := run(t, w.bytes(), DefaultLimits(), inv(EntryCall, nil, 1<<40), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := binary.LittleEndian.Uint32(res.Return); got != 1234 {
		t.Errorf("got %d, want 1234", got)
	}
}

func TestMemoryGrow(t *testing.T) {
	grow := func(pages int32) []byte {
		return newWmod().entry(EntryCall, nil, i32c(pages), op(opMemoryGrow, 0, opDrop)).bytes()
	}
	small, _, err := run(t, grow(10), DefaultLimits(), inv(EntryCall, nil, 1<<40), nil)
	if err != nil {
		t.Fatal(err)
	}
	none, _, _ := run(t, grow(0), DefaultLimits(), inv(EntryCall, nil, 1<<40), nil)
	if d := small.GasUsed - none.GasUsed; d != 10*DefaultGas().MemoryPage {
		t.Errorf("growing 10 pages cost %d more gas, want %d", d, 10*DefaultGas().MemoryPage)
	}
	_, _, err = run(t, grow(1000), DefaultLimits(), inv(EntryCall, nil, 1<<40), nil)
	if !errors.Is(err, ErrMemoryLimit) {
		t.Fatalf("err %v, want ErrMemoryLimit", err)
	}
}

func TestBulkMemoryIsCharged(t *testing.T) {
	fill := func(n int32) []byte {
		return newWmod().entry(EntryCall, nil, i32c(0), i32c(7), i32c(n), op(opMisc, miscMemoryFill, 0)).bytes()
	}
	a, _, err := run(t, fill(16), DefaultLimits(), inv(EntryCall, nil, 1<<40), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := run(t, fill(65536), DefaultLimits(), inv(EntryCall, nil, 1<<40), nil)
	if err != nil {
		t.Fatal(err)
	}
	if d := b.GasUsed - a.GasUsed; d != (65536-16)/16 {
		t.Errorf("filling 64 KiB cost %d more gas, want %d", d, (65536-16)/16)
	}
	_, _, err = run(t, fill(65537), DefaultLimits(), inv(EntryCall, nil, 1<<40), nil)
	if !errors.Is(err, ErrTrap) {
		t.Errorf("fill past memory: err %v, want ErrTrap", err)
	}
}

func TestNaNsAreCanonical(t *testing.T) {
	// f64: 0/0; f32: sqrt(-1). Stored bit patterns are returned.
	w := newWmod()
	ret := w.hostImp(ABIModule, "set_return")
	body := append(i32c(0), opF64Const, 0, 0, 0, 0, 0, 0, 0, 0, opF64Const, 0, 0, 0, 0, 0, 0, 0, 0, 0xa3, 0xbd)
	body = append(body, 0x37, 3, 0) // i64.store
	body = append(body, i32c(8)...)
	body = append(body, opF32Const, 0, 0, 0x80, 0xbf, 0x91, 0xbc) // f32.const -1; f32.sqrt; i32.reinterpret
	body = append(body, 0x36, 2, 0)                               // i32.store
	body = append(body, i32c(0)...)
	body = append(body, i32c(12)...)
	body = append(body, call(ret)...)
	w.entry(EntryCall, nil, body)
	res, _, err := run(t, w.bytes(), DefaultLimits(), inv(EntryCall, nil, 1<<40), nil)
	if err != nil {
		t.Fatal(err)
	}
	if f64 := binary.LittleEndian.Uint64(res.Return); f64 != 0x7ff8000000000000 {
		t.Errorf("0/0 = %#x, want the canonical NaN 0x7ff8000000000000", f64)
	}
	if f32 := binary.LittleEndian.Uint32(res.Return[8:]); f32 != 0x7fc00000 {
		t.Errorf("sqrt(-1) = %#x, want the canonical NaN 0x7fc00000", f32)
	}
}

func TestTraps(t *testing.T) {
	for name, body := range map[string][]byte{
		"unreachable":        op(opUnreachable),
		"division by zero":   append(append(i32c(1), i32c(0)...), 0x6d, opDrop),
		"out of bounds load": append(i32c(70000), 0x28, 2, 0, opDrop),
	} {
		t.Run(name, func(t *testing.T) {
			_, _, err := run(t, newWmod().entry(EntryCall, nil, body).bytes(), DefaultLimits(), inv(EntryCall, nil, 1<<40), nil)
			if !errors.Is(err, ErrTrap) {
				t.Fatalf("err %v, want ErrTrap", err)
			}
		})
	}
}

func TestBadPointersNeverReachTheHost(t *testing.T) {
	tests := []struct {
		name string
		fn   string
		args []int32
		want error
	}{
		{"key past memory", "storage_set", []int32{65530, 10, 0, 1}, ErrTrap},
		{"value wrapping around", "storage_set", []int32{0, 1, -16, 32}, ErrTrap},
		{"key over the limit", "storage_get", []int32{0, 300}, errs.ErrPayloadTooLarge},
		{"return data past memory", "set_return", []int32{65535, 2}, ErrTrap},
		{"event past memory", "emit", []int32{0, 1, 65500, 100}, ErrTrap},
		{"read_result past memory", "read_result", []int32{65535}, ErrTrap},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWmod()
			f := w.hostImp(ABIModule, tt.fn)
			in := w.hostImp(ABIModule, "input")
			var body []byte
			if tt.fn == "read_result" { // fill the result buffer first
				body = append(call(in), opDrop)
			}
			for _, a := range tt.args {
				body = append(body, i32c(a)...)
			}
			body = append(body, call(f)...)
			if len(abiV1[tt.fn].results) > 0 {
				body = append(body, opDrop)
			}
			w.entry(EntryCall, nil, body)
			_, h, err := run(t, w.bytes(), DefaultLimits(), inv(EntryCall, []byte("xy"), 1<<40), nil)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err %v, want %v", err, tt.want)
			}
			if h.Calls != 0 {
				t.Errorf("the host was called %d times", h.Calls)
			}
		})
	}
}

func TestRevert(t *testing.T) {
	w := newWmod()
	rev := w.hostImp(ABIModule, "revert")
	w.m.DataSection = append(w.m.DataSection, dataAt(0, "not today"))
	w.entry(EntryCall, nil, i32c(0), i32c(9), call(rev))
	_, _, err := run(t, w.bytes(), DefaultLimits(), inv(EntryCall, nil, 1<<40), nil)
	if !errors.Is(err, ErrReverted) || !strings.Contains(err.Error(), "not today") {
		t.Fatalf("err %v, want ErrReverted with the reason", err)
	}
}

func TestHostFailureAbortsTheCall(t *testing.T) {
	w := newWmod()
	get := w.hostImp(ABIModule, "storage_get")
	w.entry(EntryCall, nil, i32c(0), i32c(1), call(get), op(opDrop))
	disk := errors.New("disk on fire")
	_, _, err := run(t, w.bytes(), DefaultLimits(), inv(EntryCall, nil, 1<<40), func(h *vmtest.Host) { h.Fail = disk })
	if !errors.Is(err, disk) {
		t.Fatalf("err %v, want the host's error", err)
	}
}

func TestStorageThroughTheABI(t *testing.T) {
	// set("k", input); v := get("k"); return v.
	w := newWmod()
	input, read := w.hostImp(ABIModule, "input"), w.hostImp(ABIModule, "read_result")
	set, get := w.hostImp(ABIModule, "storage_set"), w.hostImp(ABIModule, "storage_get")
	ret := w.hostImp(ABIModule, "set_return")
	w.m.DataSection = append(w.m.DataSection, dataAt(0, "k"))
	body := append(call(input), lset(0)...) // n = input()
	body = append(append(body, i32c(100)...), call(read)...)
	body = append(append(body, i32c(0)...), i32c(1)...)
	body = append(append(append(body, i32c(100)...), lget(0)...), call(set)...)
	body = append(append(append(body, i32c(0)...), i32c(1)...), call(get)...)
	body = append(body, lset(0)...)
	body = append(append(body, i32c(200)...), call(read)...)
	body = append(append(append(body, i32c(200)...), lget(0)...), call(ret)...)
	w.entry(EntryCall, ti, body)
	res, h, err := run(t, w.bytes(), DefaultLimits(), inv(EntryCall, []byte("hello"), 1<<40), nil)
	if err != nil {
		t.Fatal(err)
	}
	if string(res.Return) != "hello" || string(h.Store["k"]) != "hello" {
		t.Errorf("return %q, stored %q; want hello", res.Return, h.Store["k"])
	}
}

func TestInvocationChecks(t *testing.T) {
	lim := DefaultLimits()
	mod := mustValidate(t, minimal().bytes(), lim)
	e := engines(t, lim)["compiler"]
	other := lim
	other.MaxCallDepth = 10
	otherMod := mustValidate(t, minimal().bytes(), other)
	tests := []struct {
		name string
		mod  *Module
		in   Invocation
		want error
	}{
		{"no such entry point", mod, inv(EntryOnTick, nil, 1e6), ErrNoEntryPoint},
		{"input too large", mod, inv(EntryCall, make([]byte, lim.MaxInputBytes+1), 1e6), errs.ErrPayloadTooLarge},
		{"gas limit too high", mod, inv(EntryCall, nil, MaxGasLimit+1), errs.ErrGasLimitTooHigh},
		{"other limits", otherMod, inv(EntryCall, nil, 1e6), errOtherLimits},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := e.Call(context.Background(), tt.mod, tt.in, newHost()); !errors.Is(err, tt.want) {
				t.Errorf("err %v, want %v", err, tt.want)
			}
		})
	}
}

// panicky is a Host with a bug.
type panicky struct{ *vmtest.Host }

func (panicky) Get([]byte) ([]byte, error) { panic("nil map somewhere") }

func TestHostPanicIsInternal(t *testing.T) {
	w := newWmod()
	get := w.hostImp(ABIModule, "storage_get")
	w.entry(EntryCall, nil, i32c(0), i32c(1), call(get), op(opDrop))
	mod := mustValidate(t, w.bytes(), DefaultLimits())
	_, err := engines(t, DefaultLimits())["compiler"].Call(context.Background(), mod,
		inv(EntryCall, nil, 1e6), panicky{newHost()})
	if errs.Of(err) != errs.ErrInternal || errors.Is(err, ErrTrap) || !strings.Contains(err.Error(), "nil map") {
		t.Fatalf("err %v, want an internal error naming the panic", err)
	}
}

func TestWASI(t *testing.T) {
	// Each case calls one WASI function with the given i32 (or i64) args and
	// returns memory [0, 16) and the errno at 16.
	tests := []struct {
		name  string
		fn    string
		args  [][]byte
		check func(t *testing.T, mem []byte, errno uint32, res Result)
	}{
		{"realtime clock is the block time", "clock_time_get", [][]byte{i32c(0), i64c(1), i32c(0)},
			func(t *testing.T, mem []byte, errno uint32, _ Result) {
				got := binary.LittleEndian.Uint64(mem)
				if errno != 0 || got != uint64(blockTime.UnixNano())+clockTick {
					t.Errorf("errno %d, time %d, want %d", errno, got, blockTime.UnixNano()+clockTick)
				}
			}},
		{"random_get draws from the seed", "random_get", [][]byte{i32c(0), i32c(16)},
			func(t *testing.T, mem []byte, errno uint32, _ Result) {
				seed := inv("", nil, 0).Seed
				want := sha256.Sum256(append(seed[:], 0, 0, 0, 0, 0, 0, 0, 0))
				if errno != 0 || !bytes.Equal(mem, want[:16]) {
					t.Errorf("errno %d, bytes %x, want %x", errno, mem, want[:16])
				}
			}},
		{"fd_write to stderr is captured", "fd_write", [][]byte{i32c(2), i32c(32), i32c(1), i32c(0)},
			func(t *testing.T, mem []byte, errno uint32, res Result) {
				if errno != 0 || binary.LittleEndian.Uint32(mem) != 5 || string(res.Output) != "hello" {
					t.Errorf("errno %d, written %d, output %q", errno, binary.LittleEndian.Uint32(mem), res.Output)
				}
			}},
		{"fd_write to a file fails", "fd_write", [][]byte{i32c(3), i32c(32), i32c(1), i32c(0)},
			func(t *testing.T, _ []byte, errno uint32, res Result) {
				if errno != errnoBadf || len(res.Output) != 0 {
					t.Errorf("errno %d, output %q", errno, res.Output)
				}
			}},
		{"no preopened directories", "fd_prestat_get", [][]byte{i32c(3), i32c(0)},
			func(t *testing.T, _ []byte, errno uint32, _ Result) {
				if errno != errnoBadf {
					t.Errorf("errno %d", errno)
				}
			}},
		{"no arguments", "args_sizes_get", [][]byte{i32c(0), i32c(4)},
			func(t *testing.T, mem []byte, errno uint32, _ Result) {
				if errno != 0 || binary.LittleEndian.Uint64(mem) != 0 {
					t.Errorf("errno %d, sizes %x", errno, mem[:8])
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWmod()
			f := w.hostImp(wasiModule, tt.fn)
			ret := w.hostImp(ABIModule, "set_return")
			w.m.DataSection = append(w.m.DataSection, dataAt(0, strings.Repeat("\xee", 16)), dataAt(32, "\x28\x00\x00\x00\x05\x00\x00\x00hello"))
			body := i32c(16)
			for _, a := range tt.args {
				body = append(body, a...)
			}
			body = append(body, call(f)...)
			body = append(body, op(0x36, 2, 0)...) // errno at 16
			body = append(append(append(body, i32c(0)...), i32c(20)...), call(ret)...)
			w.entry(EntryCall, nil, body)
			res, _, err := run(t, w.bytes(), DefaultLimits(), inv(EntryCall, nil, 1e6), nil)
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, res.Return[:16], binary.LittleEndian.Uint32(res.Return[16:]), res)
		})
	}
	t.Run("proc_exit", func(t *testing.T) {
		w := newWmod()
		exit := w.hostImp(wasiModule, "proc_exit")
		w.entry(EntryCall, nil, i32c(3), call(exit))
		_, _, err := run(t, w.bytes(), DefaultLimits(), inv(EntryCall, nil, 1e6), nil)
		if !errors.Is(err, ErrTrap) || !strings.Contains(err.Error(), "code 3") {
			t.Fatalf("err %v, want ErrTrap with the exit code", err)
		}
	})
}

func TestLoadRejectsIllTypedCode(t *testing.T) {
	// Passes the static checks (no type checking), fails wazero's.
	mod := mustValidate(t, newWmod().entry(EntryCall, nil, op(opI32Add, opDrop)).bytes(), DefaultLimits())
	for name, e := range engines(t, DefaultLimits()) {
		if _, err := e.Load(context.Background(), mod); !errors.Is(err, ErrInvalidModule) {
			t.Errorf("%s: Load: %v, want ErrInvalidModule", name, err)
		}
	}
}

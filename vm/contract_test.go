package vm

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hypha-iot/hypha/errs"
	"github.com/hypha-iot/hypha/vm/sdk"
	"github.com/hypha-iot/hypha/vm/vmtest"
)

func encode(method string, args ...any) []byte {
	e := sdk.NewEncoder().String(method)
	for _, a := range args {
		switch a := a.(type) {
		case int:
			e.Uint(uint64(a))
		case string:
			e.String(a)
		case []byte:
			e.Bytes(a)
		}
	}
	return e.Encoded()
}

func decodeUint(tb testing.TB, b []byte) uint64 {
	tb.Helper()
	d := sdk.NewDecoder(b)
	v := d.Uint()
	if err := d.Done(); err != nil {
		tb.Fatalf("decode %x: %v", b, err)
	}
	return v
}

// TestCounter runs the SDK's example contract from source through Validate
// and both engines.
func TestCounter(t *testing.T) {
	code := mustContract(t, "counter")
	lim := DefaultLimits()
	mod := mustValidate(t, code, lim)
	t.Logf("counter: %d bytes, %d after instrumentation, %+v", len(code), len(mod.Code), mod.Stats)
	for _, want := range []string{EntryInstantiate, EntryCall} {
		if !mod.HasEntry(want) {
			t.Fatalf("entries %v lack %s", mod.Entries, want)
		}
	}
	var gas [2][]uint64
	for i, name := range []string{"compiler", "interpreter"} {
		e := engines(t, lim)[name]
		initGas, err := e.Load(context.Background(), mod)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: initialiser used %d gas", name, initGas)
		h := newHost()
		steps := []struct {
			entry string
			input []byte
			want  uint64
		}{
			{EntryInstantiate, nil, 0},
			{EntryCall, encode("increment", 2), 2},
			{EntryCall, encode("increment", 5), 7},
			{EntryCall, encode("get"), 7},
		}
		for _, s := range steps {
			res, err := e.Call(context.Background(), mod, inv(s.entry, s.input, 1_000_000), h)
			if err != nil {
				t.Fatalf("%s %s: %v (output %q)", name, s.entry, err, res.Output)
			}
			if s.entry == EntryCall {
				if got := decodeUint(t, res.Return); got != s.want {
					t.Errorf("%s: got %d, want %d", name, got, s.want)
				}
			}
			gas[i] = append(gas[i], res.GasUsed)
		}
		if len(h.Events) != 2 || h.Events[1].Topic != "incremented" || decodeUint(t, h.Events[1].Data) != 7 {
			t.Errorf("%s: events %+v", name, h.Events)
		}
		_, err = e.Call(context.Background(), mod, inv(EntryCall, encode("reset"), 1_000_000), h)
		if !errors.Is(err, ErrReverted) || !strings.Contains(err.Error(), "unknown method reset") {
			t.Errorf("%s: unknown method: %v", name, err)
		}
		_, err = e.Call(context.Background(), mod, inv(EntryCall, encode("increment", 1), 5000), h)
		if !errors.Is(err, errs.ErrOutOfGas) {
			t.Errorf("%s: with 5000 gas: %v, want ErrOutOfGas", name, err)
		}
	}
	t.Logf("gas per step: %v", gas[0])
	if !slicesEqual(gas[0], gas[1]) {
		t.Errorf("gas differs between engines: compiler %v, interpreter %v", gas[0], gas[1])
	}
}

func slicesEqual(a, b []uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// probe runs a method of the probe contract on both engines.
func probe(t *testing.T, in Invocation, setup func(*vmtest.Host)) (Result, *vmtest.Host, error) {
	t.Helper()
	return run(t, mustContract(t, "probe"), DefaultLimits(), in, setup)
}

// TestDeterminism runs a workload that touches NaN payloads, float rounding,
// map iteration order, memory growth and randomness: the same on both
// engines (run checks gas, output and effects) and on every run.
func TestDeterminism(t *testing.T) {
	in := inv(EntryCall, encode("work", 100), 50_000_000)
	first, _, err := probe(t, in, nil)
	if err != nil {
		t.Fatalf("%v (output %q)", err, first.Output)
	}
	again, _, err := probe(t, in, nil)
	if err != nil || again.GasUsed != first.GasUsed || !bytes.Equal(again.Return, first.Return) {
		t.Fatalf("second run: gas %d digest %x err %v; first gas %d digest %x", again.GasUsed, again.Return, err, first.GasUsed, first.Return)
	}
	t.Logf("work(100): %d gas, digest %x", first.GasUsed, first.Return)
	// Another seed draws other random bytes.
	in.Seed[0]++
	other, _, err := probe(t, in, nil)
	if err != nil || bytes.Equal(other.Return, first.Return) {
		t.Errorf("another seed: digest %x err %v, want a different digest", other.Return, err)
	}
}

func TestGoContractFailures(t *testing.T) {
	tests := []struct {
		name   string
		input  []byte
		gas    uint64
		want   error
		output string // in Result.Output and the error
	}{
		{"infinite loop", encode("loop"), 2_000_000, errs.ErrOutOfGas, ""},
		{"deep recursion", encode("recurse", 100_000), 1 << 40, ErrCallDepth, ""},
		{"memory hog", encode("alloc", 64), 1 << 40, ErrMemoryLimit, ""},
		{"panic", encode("panic"), 1 << 40, ErrTrap, "panic: boom"},
		{"unknown method", encode("nope"), 1 << 40, ErrReverted, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, _, err := probe(t, inv(EntryCall, tt.input, tt.gas), nil)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err %v, want %v (output %q)", err, tt.want, res.Output)
			}
			if tt.output != "" && (!strings.Contains(string(res.Output), tt.output) || !strings.Contains(err.Error(), tt.output)) {
				t.Errorf("output %q, err %v; want both to hold %q", res.Output, err, tt.output)
			}
		})
	}
}

func TestGoContractHost(t *testing.T) {
	t.Run("shallow recursion", func(t *testing.T) {
		res, _, err := probe(t, inv(EntryCall, encode("recurse", 200), 1<<40), nil)
		if err != nil || decodeUint(t, res.Return) != 200 {
			t.Fatalf("return %x err %v", res.Return, err)
		}
	})
	t.Run("alloc within the cap", func(t *testing.T) {
		res, _, err := probe(t, inv(EntryCall, encode("alloc", 8), 1<<40), nil)
		if err != nil || decodeUint(t, res.Return) != 8 {
			t.Fatalf("return %x err %v", res.Return, err)
		}
	})
	t.Run("time is the block time", func(t *testing.T) {
		res, _, err := probe(t, inv(EntryCall, encode("time"), 1<<40), nil)
		if err != nil {
			t.Fatal(err)
		}
		d := sdk.NewDecoder(res.Return)
		now, block := time.Unix(0, int64(d.Uint())), time.Unix(0, int64(d.Uint()))
		if !block.Equal(blockTime) || now.Before(blockTime) || now.Sub(blockTime) > time.Millisecond {
			t.Errorf("time.Now %v, block time %v; want both at %v", now, block, blockTime)
		}
	})
	t.Run("transfer refused", func(t *testing.T) {
		res, h, err := probe(t, inv(EntryCall, encode("transfer", []byte("bob"), 50), 1<<40),
			func(h *vmtest.Host) { h.Balances["c1"] = 10 })
		if err != nil {
			t.Fatal(err)
		}
		if st := decodeUint(t, res.Return); st != uint64(errs.ErrInsufficientFunds.Code) {
			t.Errorf("status %d, want %d", st, errs.ErrInsufficientFunds.Code)
		}
		if len(h.Transfers) != 0 {
			t.Errorf("transfers %v", h.Transfers)
		}
	})
	t.Run("transfer", func(t *testing.T) {
		res, h, err := probe(t, inv(EntryCall, encode("transfer", []byte("bob"), 5), 1<<40),
			func(h *vmtest.Host) { h.Balances["c1"] = 10 })
		if err != nil || decodeUint(t, res.Return) != 0 || h.Balances["bob"] != 5 {
			t.Fatalf("return %x err %v balances %v", res.Return, err, h.Balances)
		}
	})
	t.Run("iterate", func(t *testing.T) {
		res, _, err := probe(t, inv(EntryCall, encode("iterate", []byte("a/")), 1<<40), func(h *vmtest.Host) {
			for _, k := range []string{"a/2", "b/1", "a/1", "a", "a/3"} {
				h.Store[k] = []byte("v")
			}
		})
		if err != nil || string(res.Return) != "a/1,a/2,a/3," {
			t.Fatalf("return %q err %v", res.Return, err)
		}
	})
	t.Run("caller", func(t *testing.T) {
		res, _, err := probe(t, inv(EntryCall, encode("caller"), 1<<40), nil)
		d := sdk.NewDecoder(res.Return)
		if caller, self := d.String(), d.String(); err != nil || caller != "alice" || self != "c1" {
			t.Fatalf("caller %q self %q err %v", caller, self, err)
		}
	})
}

func TestInitialiserMayNotCallTheHost(t *testing.T) {
	mod := mustValidate(t, mustContract(t, "badinit"), DefaultLimits())
	e := engines(t, DefaultLimits())["compiler"]
	if _, err := e.Load(context.Background(), mod); !errors.Is(err, ErrInvalidModule) || !strings.Contains(err.Error(), "storage_get") {
		t.Fatalf("Load: %v, want ErrInvalidModule naming the host call", err)
	}
	if _, err := e.Call(context.Background(), mod, inv(EntryCall, nil, 1<<40), newHost()); !errors.Is(err, ErrInvalidModule) {
		t.Fatalf("Call: %v, want ErrInvalidModule", err)
	}
}

// TestImageIsEngineIndependent: the initialiser's snapshot, from which every
// call starts, is the same on both engines.
func TestImageIsEngineIndependent(t *testing.T) {
	mod := mustValidate(t, mustContract(t, "counter"), DefaultLimits())
	var imgs []*image
	for _, name := range []string{"compiler", "interpreter"} {
		e := engines(t, DefaultLimits())[name]
		c, err := e.acquire(context.Background(), mod)
		if err != nil {
			t.Fatal(err)
		}
		imgs = append(imgs, c.img)
		e.release(context.Background(), c)
	}
	a, b := imgs[0], imgs[1]
	same := a.pages == b.pages && a.mono == b.mono && a.initGas == b.initGas && a.callGas == b.callGas &&
		slicesEqual(a.globals, b.globals) && len(a.chunks) == len(b.chunks)
	for i := 0; same && i < len(a.chunks); i++ {
		same = a.chunks[i].off == b.chunks[i].off && bytes.Equal(a.chunks[i].data, b.chunks[i].data)
	}
	if !same {
		t.Fatalf("images differ: compiler %d pages %d chunks, interpreter %d pages %d chunks", a.pages, len(a.chunks), b.pages, len(b.chunks))
	}
	t.Logf("image: %d pages, %d chunks, globals %v, initialiser %d gas, %d gas per call", a.pages, len(a.chunks), a.globals, a.initGas, a.callGas)
}

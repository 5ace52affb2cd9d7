package vm

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/hypha-iot/hypha/errs"
	"github.com/hypha-iot/hypha/vm/vmtest"
)

// FuzzDeployAndCall feeds random and mutated modules through the whole
// path a contract takes: Validate, Load (compile and initialise) and a call
// of every entry point it exports, on the compiler and on the interpreter.
// Nothing may panic, every failure must be one of the runtime's classes,
// and the two engines must agree on everything consensus sees: whether
// the load failed, each call's gas, return data, error class and effects on
// the host.
func FuzzDeployAndCall(f *testing.F) {
	seeds := []*wmod{
		minimal(),
		newWmod().entry(EntryCall, nil, op(opLoop, blockTypeEmpty, opBr, 0, opEnd)),
		newWmod().entry(EntryCall, nil, i32c(3), op(opMemoryGrow, 0, opDrop)),
		newWmod().entry(EntryCall, nil, i32c(0), i32c(7), i32c(9), op(opMisc, miscMemoryFill, 0)),
		newWmod().entry(EntryCall, nil, op(opUnreachable)),
	}
	// Recursion without end.
	w := newWmod()
	self := uint32(len(w.m.FunctionSection))
	w.entry(EntryCall, nil, call(self))
	seeds = append(seeds, w)
	// Storage and events through the host.
	w = newWmod()
	set := w.hostImp(ABIModule, "storage_set")
	emit := w.hostImp(ABIModule, "emit")
	w.m.DataSection = append(w.m.DataSection, dataAt(8, "keyvalue"))
	w.entry(EntryCall, nil, i32c(8), i32c(3), i32c(11), i32c(5), call(set), i32c(8), i32c(3), i32c(11), i32c(5), call(emit))
	w.entry(EntryOnTick, nil, i32c(8), i32c(3), i32c(11), i32c(5), call(set))
	seeds = append(seeds, w)
	for _, s := range seeds {
		f.Add(s.bytes())
	}

	lim := DefaultLimits()
	lim.MaxCodeBytes = 1 << 16
	lim.MaxInitGas = 1_000_000
	es := engines(f, lim)
	names := []string{"compiler", "interpreter"}
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, code []byte) {
		mod, err := Validate(code, lim)
		if err != nil {
			if !errors.Is(err, ErrInvalidModule) && !errors.Is(err, errs.ErrPayloadTooLarge) {
				t.Fatalf("Validate failed outside its classes: %v", err)
			}
			return
		}
		var loadErr [2]error
		for i, n := range names {
			_, loadErr[i] = es[n].Load(ctx, mod)
		}
		if (loadErr[0] == nil) != (loadErr[1] == nil) {
			t.Fatalf("Load: compiler %v, interpreter %v", loadErr[0], loadErr[1])
		}
		if loadErr[0] != nil {
			if !errors.Is(loadErr[0], ErrInvalidModule) {
				t.Fatalf("Load failed outside ErrInvalidModule: %v", loadErr[0])
			}
			return
		}
		for _, entry := range mod.Entries {
			var outs [2]string
			for i, n := range names {
				h := vmtest.NewHost("c1")
				res, err := es[n].Call(ctx, mod, inv(entry, []byte("input"), 200_000), h)
				if err != nil && classOf(err) == "" {
					t.Fatalf("%s %s: error outside the runtime's classes: %v", n, entry, err)
				}
				h.Calls = 0
				outs[i] = fmt.Sprintf("gas=%d ret=%x err=%s host=%+v", res.GasUsed, res.Return, classOf(err),
					[]any{h.Store, h.Events, h.Transfers, h.Messages})
			}
			if !reflect.DeepEqual(outs[0], outs[1]) {
				t.Fatalf("%s: the engines disagree:\ncompiler    %s\ninterpreter %s", entry, outs[0], outs[1])
			}
		}
	})
}

// classOf names the class of a call's error, or "" if it has none of the
// runtime's.
func classOf(err error) string {
	if err == nil {
		return "ok"
	}
	for _, c := range []error{ErrTrap, ErrCallDepth, ErrMemoryLimit, ErrReverted, ErrNoEntryPoint} {
		if errors.Is(err, c) {
			return c.Error()
		}
	}
	for _, c := range []*errs.Class{errs.ErrOutOfGas, errs.ErrPayloadTooLarge, errs.ErrGasLimitTooHigh} {
		if errs.Of(err) == c {
			return c.Name
		}
	}
	return ""
}

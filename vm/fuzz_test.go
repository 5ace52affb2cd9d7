package vm

import (
	"context"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// FuzzValidate feeds arbitrary modules to Validate: it must not panic nor
// allocate beyond the input's reach, and whenever wazero accepts the
// original module, it must accept the instrumented one (instrumentation
// preserves validity). The gas checks must be where doc.go says.
func FuzzValidate(f *testing.F) {
	seeds := []*wmod{
		minimal(),
		newWmod().entry(EntryCall, nil, op(opLoop, blockTypeEmpty, opBr, 0, opEnd)),
		newWmod().entry(EntryCall, nil, i32c(3), op(opMemoryGrow, 0, opDrop)),
		newWmod().entry(EntryCall, nil, i32c(0), i32c(7), i32c(9), op(opMisc, miscMemoryFill, 0)),
		newWmod().entry(EntryCall, nil, op(opF64Const, 0, 0, 0, 0, 0, 0, 0, 0, opF64Const, 0, 0, 0, 0, 0, 0, 0, 0, 0xa3, opDrop)),
		newWmod().entry(EntryCall, ti, i32c(1), op(opIf, valI32), i32c(2), op(opReturn, opElse), i32c(3), op(opEnd, opDrop)),
	}
	w := newWmod()
	w.hostImp(ABIModule, "storage_get")
	w.hostImp(wasiModule, "fd_write")
	w.m.DataSection = append(w.m.DataSection, dataAt(8, "seed"))
	w.entry(EntryCall, nil, i32c(0), i32c(4), call(0), op(opDrop))
	seeds = append(seeds, w)
	for _, s := range seeds {
		f.Add(s.bytes())
	}

	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter().
		WithCoreFeatures(api.CoreFeaturesV2&^api.CoreFeatureSIMD))
	defer rt.Close(ctx)
	lim := DefaultLimits()
	lim.MaxCodeBytes = 1 << 16
	f.Fuzz(func(t *testing.T, code []byte) {
		mod, err := Validate(code, lim)
		if err != nil {
			return
		}
		verifyGasChecks(t, mod)
		orig, err := rt.CompileModule(ctx, code)
		if err != nil {
			return // invalid WebAssembly our static checks do not catch; wazero rejects it at Load
		}
		orig.Close(ctx)
		inst, err := rt.CompileModule(ctx, mod.Code)
		if err != nil {
			t.Fatalf("the original compiles, the instrumented module does not: %v", err)
		}
		inst.Close(ctx)
	})
}

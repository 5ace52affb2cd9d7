package vm

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/hypha-iot/hypha/errs"
	"github.com/tetratelabs/wabin/wasm"
)

// minimal is the smallest admitted module: a memory and an empty call.
func minimal() *wmod { return newWmod().entry(EntryCall, nil) }

func TestValidateAccepts(t *testing.T) {
	mod := mustValidate(t, minimal().bytes(), DefaultLimits())
	if !mod.HasEntry(EntryCall) || mod.HasEntry(EntryOnTick) {
		t.Errorf("entries %v, want [call]", mod.Entries)
	}
	if mod.Stats.Blocks != 1 {
		t.Errorf("blocks %d, want 1", mod.Stats.Blocks)
	}
	// Validation is deterministic.
	again := mustValidate(t, minimal().bytes(), DefaultLimits())
	if !bytes.Equal(mod.Code, again.Code) {
		t.Error("two validations of the same code differ")
	}
}

func TestValidateRejects(t *testing.T) {
	small := func(f func(*Limits)) Limits {
		l := DefaultLimits()
		f(&l)
		return l
	}
	tests := []struct {
		name string
		code func() []byte
		lim  Limits
		want string // in the error
	}{
		{"garbage", func() []byte { return []byte("not wasm") }, DefaultLimits(), "magic"},
		{"truncated section", func() []byte { return minimal().bytes()[:20] }, DefaultLimits(), "past the end"},
		{"oversized vector count", func() []byte {
			// A type section claiming 2^31 entries in 6 bytes.
			return append(append([]byte{}, wasmHeader...), secType, 5, 0x80, 0x80, 0x80, 0x80, 0x08)
		}, DefaultLimits(), "longer than its section"},
		{"SIMD", func() []byte {
			return newWmod().entry(EntryCall, nil, i32c(0), op(opSIMD, 0x0f, opDrop)).bytes()
		}, DefaultLimits(), "SIMD"},
		{"v128 local", func() []byte {
			return newWmod().entry(EntryCall, []byte{0x7b}).bytes()
		}, DefaultLimits(), "v128"},
		{"atomics", func() []byte {
			return newWmod().entry(EntryCall, nil, i32c(0), op(opAtomic, 0x10, 2, 0, opDrop)).bytes()
		}, DefaultLimits(), "atomic"},
		{"table.size", func() []byte {
			w := newWmod()
			w.m.TableSection = []*wasm.Table{{Min: 1, Type: wasm.RefTypeFuncref}}
			return w.entry(EntryCall, nil, op(opMisc, 16, 0, opDrop)).bytes()
		}, DefaultLimits(), "table or reference instruction"},
		{"ref.null", func() []byte {
			return newWmod().entry(EntryCall, nil, op(0xd0, 0x70, opDrop)).bytes()
		}, DefaultLimits(), "reference-type"},
		{"memory.init", func() []byte {
			return newWmod().entry(EntryCall, nil, i32c(0), i32c(0), i32c(0), op(opMisc, miscMemoryInit, 0, 0)).bytes()
		}, DefaultLimits(), "passive data"},
		{"tail call", func() []byte {
			w := newWmod()
			f := w.fn(nil, nil, nil)
			return w.entry(EntryCall, nil, op(0x12, byte(f))).bytes()
		}, DefaultLimits(), "tail call"},
		{"unknown import module", func() []byte {
			w := newWmod()
			w.imp("env", "abort", nil, nil)
			return w.entry(EntryCall, nil).bytes()
		}, DefaultLimits(), "unknown module"},
		{"unknown ABI function", func() []byte {
			w := newWmod()
			w.imp(ABIModule, "steal", nil, nil)
			return w.entry(EntryCall, nil).bytes()
		}, DefaultLimits(), "no such function"},
		{"unknown WASI function", func() []byte {
			w := newWmod()
			w.imp(wasiModule, "sock_open", tii, ti)
			return w.entry(EntryCall, nil).bytes()
		}, DefaultLimits(), "no such function"},
		{"ABI import with a wrong signature", func() []byte {
			w := newWmod()
			w.imp(ABIModule, "storage_get", ti, ti)
			return w.entry(EntryCall, nil).bytes()
		}, DefaultLimits(), "signature"},
		{"imported memory", func() []byte {
			w := minimal()
			w.m.MemorySection = nil
			w.m.ImportSection = append(w.m.ImportSection, &wasm.Import{Type: wasm.ExternTypeMemory,
				Module: ABIModule, Name: "memory", DescMem: &wasm.Memory{Min: 1}})
			return w.bytes()
		}, DefaultLimits(), "only functions may be imported"},
		{"start function", func() []byte {
			w := minimal()
			f := w.fn(nil, nil, nil)
			w.m.StartSection = &f
			return w.bytes()
		}, DefaultLimits(), "start function"},
		{"two memories", func() []byte {
			b := minimal().bytes()
			// Replace the memory section (id 5: count 1, flags 0, min 1)
			// by one with two memories.
			return bytes.Replace(b, []byte{secMemory, 3, 1, 0, 1}, []byte{secMemory, 5, 2, 0, 1, 0, 1}, 1)
		}, DefaultLimits(), "memory section: 2 entries"},
		{"no memory", func() []byte {
			w := minimal()
			w.m.MemorySection = nil
			return w.bytes()
		}, DefaultLimits(), "no memory"},
		{"memory above the cap", func() []byte {
			w := minimal()
			w.m.MemorySection = &wasm.Memory{Min: 600}
			return w.bytes()
		}, DefaultLimits(), "exceeds 512"},
		{"memory maximum above the cap", func() []byte {
			w := minimal()
			w.m.MemorySection = &wasm.Memory{Min: 1, Max: 1000, IsMaxEncoded: true}
			return w.bytes()
		}, DefaultLimits(), "maximum"},
		{"table above the cap", func() []byte {
			w := minimal()
			w.m.TableSection = []*wasm.Table{{Min: 1 << 17, Type: wasm.RefTypeFuncref}}
			return w.bytes()
		}, DefaultLimits(), "table of"},
		{"too many functions", func() []byte {
			w := minimal()
			for range 10 {
				w.fn(nil, nil, nil)
			}
			return w.bytes()
		}, small(func(l *Limits) { l.MaxFunctions = 5 }), "function section: 11 entries exceed the limit of 5"},
		{"too many locals", func() []byte {
			return newWmod().entry(EntryCall, bytes.Repeat([]byte{valI64}, 20)).bytes()
		}, small(func(l *Limits) { l.MaxLocals = 16 }), "locals"},
		{"too many globals", func() []byte {
			w := minimal()
			for range 4 {
				w.m.GlobalSection = append(w.m.GlobalSection, &wasm.Global{
					Type: &wasm.GlobalType{ValType: valI32, Mutable: true},
					Init: &wasm.ConstantExpression{Opcode: wasm.OpcodeI32Const, Data: []byte{0}}})
			}
			return w.bytes()
		}, small(func(l *Limits) { l.MaxGlobals = 3 }), "global section: 4 entries exceed the limit of 3"},
		{"function too large", func() []byte {
			return newWmod().entry(EntryCall, nil, bytes.Repeat([]byte{opNop}, 2000)).bytes()
		}, small(func(l *Limits) { l.MaxFunctionBytes = 1000 }), "function body"},
		{"reserved export", func() []byte {
			w := minimal()
			return w.export("__hypha_gas", 0).bytes()
		}, DefaultLimits(), "reserved"},
		{"entry point with parameters", func() []byte {
			w := newWmod()
			return w.export(EntryCall, w.fn(ti, nil, nil)).bytes()
		}, DefaultLimits(), "take and return nothing"},
		{"no entry point", func() []byte {
			w := newWmod()
			return w.export("main", w.fn(nil, nil, nil)).bytes()
		}, DefaultLimits(), "no entry point"},
		{"branch past the function", func() []byte {
			return newWmod().entry(EntryCall, nil, op(opBr, 1)).bytes()
		}, DefaultLimits(), "beyond depth"},
		{"br_table past the function", func() []byte {
			return newWmod().entry(EntryCall, nil, i32c(0), op(opBrTable, 1, 0, 1)).bytes()
		}, DefaultLimits(), "beyond depth"},
		{"global out of range", func() []byte {
			// Would address the injected gas counter.
			return newWmod().entry(EntryCall, nil, i64c(1<<40), op(opGlobalSet, 0)).bytes()
		}, DefaultLimits(), "global 0 out of range"},
		{"local out of range", func() []byte {
			return newWmod().entry(EntryCall, nil, lget(0), op(opDrop)).bytes()
		}, DefaultLimits(), "local 0 out of range"},
		{"code after the end", func() []byte {
			return newWmod().entry(EntryCall, nil, op(opEnd, opNop)).bytes()
		}, DefaultLimits(), "after the function's end"},
		{"data segment past the memory", func() []byte {
			w := minimal()
			w.m.DataSection = []*wasm.DataSegment{{OffsetExpression: &wasm.ConstantExpression{
				Opcode: wasm.OpcodeI32Const, Data: appendS64(nil, 65530)}, Init: make([]byte, 10)}}
			return w.bytes()
		}, DefaultLimits(), "past the end of the initial memory"},
		{"funcref global", func() []byte {
			w := minimal()
			w.m.GlobalSection = []*wasm.Global{{Type: &wasm.GlobalType{ValType: wasm.ValueTypeFuncref},
				Init: &wasm.ConstantExpression{Opcode: wasm.OpcodeRefNull, Data: []byte{0x70}}}}
			return w.bytes()
		}, DefaultLimits(), "constant expression"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Validate(tt.code(), tt.lim)
			if !errors.Is(err, ErrInvalidModule) {
				t.Fatalf("Validate: %v, want ErrInvalidModule", err)
			}
			t.Log(err)
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate: %v, want it to mention %q", err, tt.want)
			}
		})
	}
}

func TestValidateOversize(t *testing.T) {
	lim := DefaultLimits()
	lim.MaxCodeBytes = 64
	w := newWmod().entry(EntryCall, nil, bytes.Repeat([]byte{opNop}, 100))
	_, err := Validate(w.bytes(), lim)
	if !errors.Is(err, errs.ErrPayloadTooLarge) {
		t.Fatalf("Validate: %v, want ErrPayloadTooLarge", err)
	}
}

func TestLimitsValidate(t *testing.T) {
	if err := DefaultLimits().Validate(); err != nil {
		t.Fatal(err)
	}
	for name, f := range map[string]func(*Limits){
		"depth above the ceiling": func(l *Limits) { l.MaxCallDepth = 5000 },
		"no memory":               func(l *Limits) { l.MaxMemoryPages = 0 },
		"gas price":               func(l *Limits) { l.Gas.Instr = MaxGasPrice + 1 },
	} {
		l := DefaultLimits()
		f(&l)
		if err := l.Validate(); err == nil {
			t.Errorf("%s: Validate accepted", name)
		}
	}
}

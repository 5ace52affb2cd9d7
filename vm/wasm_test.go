package vm

import (
	"github.com/tetratelabs/wabin/binary"
	"github.com/tetratelabs/wabin/wasm"
)

// wmod assembles small modules for tests, in place of a text format.
type wmod struct{ m wasm.Module }

func newWmod() *wmod { return &wmod{m: wasm.Module{MemorySection: &wasm.Memory{Min: 1}}} }

func (w *wmod) typ(params, results []byte) uint32 {
	for i, t := range w.m.TypeSection {
		if t.EqualsSignature(params, results) {
			return uint32(i)
		}
	}
	w.m.TypeSection = append(w.m.TypeSection, &wasm.FunctionType{Params: params, Results: results})
	return uint32(len(w.m.TypeSection) - 1)
}

// imp imports a function; call before defining functions.
func (w *wmod) imp(module, name string, params, results []byte) uint32 {
	w.m.ImportSection = append(w.m.ImportSection, &wasm.Import{Type: wasm.ExternTypeFunc,
		Module: module, Name: name, DescFunc: w.typ(params, results)})
	return uint32(len(w.m.ImportSection) - 1)
}

// hostImp imports a function of the ABI or WASI tables with its signature.
func (w *wmod) hostImp(module, name string) uint32 {
	t := abiV1
	if module == wasiModule {
		t = wasiV1
	}
	return w.imp(module, name, t[name].params, t[name].results)
}

// fn defines a function; body gets its end appended.
func (w *wmod) fn(params, results, locals []byte, body ...[]byte) uint32 {
	w.m.FunctionSection = append(w.m.FunctionSection, w.typ(params, results))
	var b []byte
	for _, part := range body {
		b = append(b, part...)
	}
	w.m.CodeSection = append(w.m.CodeSection, &wasm.Code{LocalTypes: locals, Body: append(b, opEnd)})
	return uint32(len(w.m.ImportSection) + len(w.m.FunctionSection) - 1)
}

func (w *wmod) export(name string, fn uint32) *wmod {
	w.m.ExportSection = append(w.m.ExportSection, &wasm.Export{Type: wasm.ExternTypeFunc, Name: name, Index: fn})
	return w
}

// entry defines an exported [] -> [] function.
func (w *wmod) entry(name string, locals []byte, body ...[]byte) *wmod {
	return w.export(name, w.fn(nil, nil, locals, body...))
}

func (w *wmod) bytes() []byte { return binary.EncodeModule(&w.m) }

// Instruction helpers.
func i32c(v int32) []byte  { return appendS64([]byte{opI32Const}, int64(v)) }
func i64c(v int64) []byte  { return appendS64([]byte{opI64Const}, v) }
func call(f uint32) []byte { return appendU32([]byte{opCall}, f) }
func op(b ...byte) []byte  { return b }
func lget(i uint32) []byte { return appendU32([]byte{opLocalGet}, i) }
func lset(i uint32) []byte { return appendU32([]byte{opLocalSet}, i) }

var (
	t0  = []byte(nil)
	ti  = []byte{valI32}
	tii = []byte{valI32, valI32}
)

// dataAt is an active data segment.
func dataAt(off int32, s string) *wasm.DataSegment {
	return &wasm.DataSegment{OffsetExpression: &wasm.ConstantExpression{
		Opcode: wasm.OpcodeI32Const, Data: appendS64(nil, int64(off))}, Init: []byte(s)}
}

package vm

import (
	"crypto/sha256"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/hypha-iot/hypha/errs"
	"github.com/tetratelabs/wabin/binary"
	"github.com/tetratelabs/wabin/leb128"
	"github.com/tetratelabs/wabin/wasm"
)

// Module is a contract validated and instrumented for this runtime. It is
// immutable and safe to share.
type Module struct {
	// Hash is the SHA-256 of the code as deployed.
	Hash [32]byte
	// Code is the instrumented binary the Engine compiles.
	Code []byte
	// Entries are the entry points the module exports, in EntryPoints order.
	Entries []string
	// Limits are the limits the module was validated and instrumented
	// with; an Engine runs only modules of its own limits.
	Limits Limits
	// Stats describe the instrumentation.
	Stats Stats

	key         [32]byte // the engine's cache key: SHA-256 of Hash and Code
	initializes bool     // exports _initialize
	// The initial memory, which Code leaves out (see image.go): its size in
	// pages and the active data segments, in order.
	memPages  uint32
	tableSize uint32
	data      []chunk
	// globals names the exports of the module's own mutable globals.
	globals []string
}

// Stats describe a module and its instrumentation.
type Stats struct {
	Functions   int // defined functions
	Imports     int // imported functions
	Blocks      int // metered basic blocks
	GasChecks   int // places the gas counter is checked (see doc.go, "Metering")
	NaNFixups   int // canonicalised float instructions
	MemoryPages uint32
}

// HasEntry tells whether the module exports the entry point.
func (m *Module) HasEntry(name string) bool { return slices.Contains(m.Entries, name) }

// decodeFeatures are what wabin may decode; the opcode scan narrows them.
const decodeFeatures = wasm.CoreFeaturesV2 &^ wasm.CoreFeatureSIMD

// Validate checks that code is a module this runtime admits (see doc.go)
// and instruments it: gas metering, the call-depth budget, NaN
// canonicalisation. It is deterministic: the same code and limits give the
// same Module on every node. Errors: errs.ErrPayloadTooLarge for oversize
// code, ErrInvalidModule for everything else rejected (the message says
// what). Validation is static; Engine.Load also compiles the module, which
// the ledger should do at deployment to reject the few modules that pass
// these checks but fail WebAssembly's type checking.
func Validate(code []byte, lim Limits) (*Module, error) {
	if err := lim.Validate(); err != nil {
		return nil, err
	}
	if uint64(len(code)) > uint64(lim.MaxCodeBytes) {
		return nil, errs.ErrPayloadTooLarge.Wrap("contract code of %d bytes exceeds %d", len(code), lim.MaxCodeBytes)
	}
	stripped, err := skim(code, &lim)
	if err != nil {
		return nil, invalid("%v", err)
	}
	m, err := binary.DecodeModule(stripped, decodeFeatures)
	if err != nil {
		return nil, invalid("decode: %v", err)
	}
	mod := &Module{Hash: sha256.Sum256(code), Limits: lim}
	if err := checkModule(m, &lim, mod); err != nil {
		return nil, err
	}
	if err := instrumentModule(m, &lim, mod); err != nil {
		return nil, err
	}
	mod.Code = binary.EncodeModule(m)
	// The cache entry holds the compiled Code and the image, which also
	// depends on the data segments Code leaves out: key it by both.
	h := sha256.New()
	h.Write(mod.Hash[:])
	h.Write(mod.Code)
	h.Sum(mod.key[:0])
	return mod, nil
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidModule}, args...)...)
}

// checkModule applies the module-level rules: imports, memory, table,
// globals, exports, segments, counts.
func checkModule(m *wasm.Module, lim *Limits, mod *Module) error {
	for i, t := range m.TypeSection {
		for _, v := range append(slices.Clip(t.Params), t.Results...) {
			if !isNumType(v) {
				return invalid("type %d has a %s parameter or result", i, wasm.ValueTypeName(v))
			}
		}
	}
	nTypes := uint32(len(m.TypeSection))
	for _, im := range m.ImportSection {
		var table map[string]hostFunc
		switch im.Module {
		case ABIModule:
			table = abiV1
		case wasiModule:
			table = wasiV1
		default:
			return invalid("import %s.%s: unknown module (only %s and %s)", im.Module, im.Name, ABIModule, wasiModule)
		}
		hf, ok := table[im.Name]
		if !ok {
			return invalid("import %s.%s: no such function", im.Module, im.Name)
		}
		if im.DescFunc >= nTypes {
			return invalid("import %s.%s: type %d out of range", im.Module, im.Name, im.DescFunc)
		}
		if t := m.TypeSection[im.DescFunc]; !t.EqualsSignature(hf.params, hf.results) {
			return invalid("import %s.%s: signature %v -> %v, want %v -> %v", im.Module, im.Name,
				t.Params, t.Results, hf.params, hf.results)
		}
	}
	nImports := uint32(len(m.ImportSection))
	nFuncs := uint64(nImports) + uint64(len(m.FunctionSection))
	if nFuncs > uint64(lim.MaxFunctions) {
		return invalid("%d functions exceed %d", nFuncs, lim.MaxFunctions)
	}
	for i, ti := range m.FunctionSection {
		if ti >= nTypes {
			return invalid("function %d: type %d out of range", i, ti)
		}
	}
	if m.StartSection != nil {
		return invalid("start function: not admitted (use the instantiate entry point)")
	}

	// Memory: exactly one, defined here, within the cap.
	if m.MemorySection == nil {
		return invalid("no memory: a contract must define its memory")
	}
	mem := m.MemorySection
	if mem.Min > lim.MaxMemoryPages {
		return invalid("memory of %d pages exceeds %d", mem.Min, lim.MaxMemoryPages)
	}
	if mem.IsMaxEncoded && (mem.Max > lim.MaxMemoryPages || mem.Max < mem.Min) {
		return invalid("memory maximum of %d pages outside [%d, %d]", mem.Max, mem.Min, lim.MaxMemoryPages)
	}
	mod.Stats.MemoryPages = mem.Min

	// At most one funcref table, within the cap (it cannot grow: table
	// instructions are rejected).
	if len(m.TableSection) > 1 {
		return invalid("%d tables: at most one", len(m.TableSection))
	}
	var tableMin uint32
	if len(m.TableSection) == 1 {
		t := m.TableSection[0]
		if t.Type != wasm.RefTypeFuncref {
			return invalid("table of %s: only funcref", wasm.RefTypeName(t.Type))
		}
		if t.Min > lim.MaxTableElements || (t.Max != nil && (*t.Max > lim.MaxTableElements || *t.Max < t.Min)) {
			return invalid("table of %d elements exceeds %d", t.Min, lim.MaxTableElements)
		}
		tableMin = t.Min
		mod.tableSize = t.Min
	}
	for i, e := range m.ElementSection {
		off, ok := constI32(e.OffsetExpr)
		if e.Mode != wasm.ElementModeActive || e.TableIndex != 0 || !ok || len(m.TableSection) == 0 {
			return invalid("element segment %d: only active segments of table 0 at a constant offset", i)
		}
		if uint64(uint32(off))+uint64(len(e.Init)) > uint64(tableMin) {
			return invalid("element segment %d: past the end of the table", i)
		}
		for _, f := range e.Init {
			if f == nil || uint64(*f) >= nFuncs {
				return invalid("element segment %d: function index out of range", i)
			}
		}
	}
	for i, d := range m.DataSection {
		off, ok := constI32(d.OffsetExpression)
		if !ok {
			return invalid("data segment %d: only at a constant offset", i)
		}
		if uint64(uint32(off))+uint64(len(d.Init)) > uint64(mem.Min)*65536 {
			return invalid("data segment %d: past the end of the initial memory", i)
		}
	}

	if uint64(len(m.GlobalSection)) > uint64(lim.MaxGlobals) {
		return invalid("%d globals exceed %d", len(m.GlobalSection), lim.MaxGlobals)
	}
	for i, g := range m.GlobalSection {
		if !isNumType(g.Type.ValType) || g.Init.Opcode == wasm.OpcodeGlobalGet {
			return invalid("global %d: only numeric globals with a constant initialiser", i)
		}
	}

	if uint64(len(m.ExportSection)) > uint64(lim.MaxExports) {
		return invalid("%d exports exceed %d", len(m.ExportSection), lim.MaxExports)
	}
	for _, e := range m.ExportSection {
		if strings.HasPrefix(e.Name, reservedPrefix) {
			return invalid("export %q: names starting with %q are reserved", e.Name, reservedPrefix)
		}
		isEntry := slices.Contains(EntryPoints, e.Name)
		if !isEntry && e.Name != initExport {
			continue
		}
		if e.Type != wasm.ExternTypeFunc || e.Index < nImports || uint64(e.Index) >= nFuncs {
			return invalid("export %q: must be a function defined by the module", e.Name)
		}
		t := m.TypeSection[m.FunctionSection[e.Index-nImports]]
		if len(t.Params) != 0 || len(t.Results) != 0 {
			return invalid("export %q: must take and return nothing", e.Name)
		}
		if e.Name == initExport {
			mod.initializes = true
		}
	}
	for _, name := range EntryPoints {
		if slices.ContainsFunc(m.ExportSection, func(e *wasm.Export) bool { return e.Name == name }) {
			mod.Entries = append(mod.Entries, name)
		}
	}
	if len(mod.Entries) == 0 {
		return invalid("exports no entry point (one of %s)", strings.Join(EntryPoints, ", "))
	}
	mod.Stats.Imports = int(nImports)
	mod.Stats.Functions = len(m.FunctionSection)
	return nil
}

// constI32 returns the value of an i32.const constant expression.
func constI32(e *wasm.ConstantExpression) (int32, bool) {
	if e == nil || e.Opcode != wasm.OpcodeI32Const {
		return 0, false
	}
	r := reader{b: e.Data}
	v, err := r.sleb(32)
	return int32(v), err == nil
}

// instrumentModule adds the gas, depth and fault globals with their
// exports, and rewrites every function body (meter.go).
func instrumentModule(m *wasm.Module, lim *Limits, mod *Module) error {
	nImports := uint32(len(m.ImportSection))
	j := &injector{
		lim:      lim,
		nTypes:   uint32(len(m.TypeSection)),
		nGlobals: uint32(len(m.GlobalSection)),
		nFuncs:   nImports + uint32(len(m.FunctionSection)),
		nTables:  uint32(len(m.TableSection)),
	}
	j.gas, j.depth, j.fault = j.nGlobals, j.nGlobals+1, j.nGlobals+2
	m.GlobalSection = append(m.GlobalSection,
		&wasm.Global{Type: &wasm.GlobalType{ValType: wasm.ValueTypeI64, Mutable: true},
			Init: &wasm.ConstantExpression{Opcode: wasm.OpcodeI64Const, Data: leb128.EncodeInt64(0)}},
		&wasm.Global{Type: &wasm.GlobalType{ValType: wasm.ValueTypeI32, Mutable: true},
			Init: &wasm.ConstantExpression{Opcode: wasm.OpcodeI32Const, Data: leb128.EncodeInt32(0)}},
		&wasm.Global{Type: &wasm.GlobalType{ValType: wasm.ValueTypeI32, Mutable: true},
			Init: &wasm.ConstantExpression{Opcode: wasm.OpcodeI32Const, Data: leb128.EncodeInt32(0)}})
	m.ExportSection = append(m.ExportSection,
		&wasm.Export{Type: wasm.ExternTypeGlobal, Name: exportGas, Index: j.gas},
		&wasm.Export{Type: wasm.ExternTypeGlobal, Name: exportDepth, Index: j.depth},
		&wasm.Export{Type: wasm.ExternTypeGlobal, Name: exportFault, Index: j.fault})

	// Block types of the wrappers, per function type; a multi-result type
	// needs a [] -> results type, appended once.
	wrappers := make(map[uint32][]byte)
	wrapper := func(ti uint32) []byte {
		if w, ok := wrappers[ti]; ok {
			return w
		}
		var w []byte
		switch res := m.TypeSection[ti].Results; len(res) {
		case 0:
			w = []byte{blockTypeEmpty}
		case 1:
			w = []byte{res[0]}
		default:
			idx := slices.IndexFunc(m.TypeSection, func(t *wasm.FunctionType) bool {
				return len(t.Params) == 0 && slices.Equal(t.Results, res)
			})
			if idx < 0 {
				idx = len(m.TypeSection)
				m.TypeSection = append(m.TypeSection, &wasm.FunctionType{Results: slices.Clone(res)})
			}
			w = appendS64(nil, int64(idx))
		}
		wrappers[ti] = w
		return w
	}

	for i, c := range m.CodeSection {
		ti := m.FunctionSection[i]
		for _, v := range c.LocalTypes {
			if !isNumType(v) {
				return invalid("function %d: local of type %s", int(nImports)+i, wasm.ValueTypeName(v))
			}
		}
		nLocals := uint64(len(m.TypeSection[ti].Params)) + uint64(len(c.LocalTypes))
		if nLocals > uint64(lim.MaxLocals) {
			return invalid("function %d: %d params and locals exceed %d", int(nImports)+i, nLocals, lim.MaxLocals)
		}
		code, extra, err := j.instrument(body{
			code:    c.Body,
			nLocals: uint32(nLocals),
			wrapper: wrapper(ti),
			units:   frameUnits(uint32(nLocals), len(c.Body)),
		})
		if err != nil {
			return invalid("function %d: %v", int(nImports)+i, err)
		}
		c.Body = code
		c.LocalTypes = append(c.LocalTypes, extra...)
	}
	mod.Stats.Blocks = j.segments
	mod.Stats.GasChecks = j.checks
	mod.Stats.NaNFixups = j.nanFixups

	// The engine builds the initial memory itself (image.go): the compiled
	// code starts with an empty memory and no data segments, and exports
	// the mutable globals an image restores.
	mod.memPages = m.MemorySection.Min
	m.MemorySection.Min = 0
	for _, d := range m.DataSection {
		off, _ := constI32(d.OffsetExpression)
		mod.data = append(mod.data, chunk{off: uint32(off), data: d.Init})
	}
	m.DataSection = nil
	for i, g := range m.GlobalSection[:j.nGlobals] {
		if g.Type.Mutable {
			name := reservedPrefix + "_g" + strconv.Itoa(i)
			m.ExportSection = append(m.ExportSection, &wasm.Export{Type: wasm.ExternTypeGlobal, Name: name, Index: uint32(i)})
			mod.globals = append(mod.globals, name)
		}
	}
	return nil
}

package vm

import (
	"bytes"
	"fmt"
)

// Section ids of the WebAssembly binary format.
const (
	secCustom    = 0
	secType      = 1
	secImport    = 2
	secFunction  = 3
	secTable     = 4
	secMemory    = 5
	secGlobal    = 6
	secExport    = 7
	secStart     = 8
	secElement   = 9
	secCode      = 10
	secData      = 11
	secDataCount = 12
)

var wasmHeader = []byte{0x00, 'a', 's', 'm', 0x01, 0x00, 0x00, 0x00}

// sectionRank is the position each section must take (data count sits
// between element and code); 0 means unknown.
var sectionRank = [...]int{secType: 1, secImport: 2, secFunction: 3, secTable: 4, secMemory: 5,
	secGlobal: 6, secExport: 7, secStart: 8, secElement: 9, secDataCount: 10, secCode: 11, secData: 12}

var sectionNames = [...]string{"custom", "type", "import", "function", "table", "memory", "global",
	"export", "start", "element", "code", "data", "data count"}

// skim walks the module's sections before wabin sees them. wabin allocates
// every vector at the length its prefix claims, so a hostile 100-byte module
// could make it allocate gigabytes; skim checks that every count and length
// prefix fits in the bytes that follow it, that sections come in order,
// and the limits that are cheapest to check early (locals per function,
// body size). It returns the module with its custom sections removed (names
// and debug info play no part in execution and are not kept).
func skim(code []byte, lim *Limits) ([]byte, error) {
	if !bytes.HasPrefix(code, wasmHeader) {
		return nil, fmt.Errorf("not a WebAssembly 1.0 binary (bad magic or version)")
	}
	out := make([]byte, 0, len(code))
	out = append(out, wasmHeader...)
	r := reader{b: code, pos: len(wasmHeader)}
	last := 0
	for r.pos < len(r.b) {
		start := r.pos
		id, _ := r.byte()
		size, err := r.u32()
		if err != nil {
			return nil, fmt.Errorf("section header: %w", err)
		}
		if int(size) > len(r.b)-r.pos {
			return nil, fmt.Errorf("section %d: size %d past the end", id, size)
		}
		body := r.b[r.pos : r.pos+int(size)]
		r.pos += int(size)
		if id == secCustom {
			continue
		}
		if int(id) >= len(sectionRank) || sectionRank[id] == 0 {
			return nil, fmt.Errorf("unknown section id %d", id)
		}
		if sectionRank[id] <= last {
			return nil, fmt.Errorf("section %d out of order or repeated", id)
		}
		last = sectionRank[id]
		s := reader{b: body}
		if err := skimSection(id, &s, lim); err != nil {
			return nil, fmt.Errorf("%s section: %w", sectionNames[id], err)
		}
		if s.pos != len(body) {
			return nil, fmt.Errorf("%s section: %d trailing bytes", sectionNames[id], len(body)-s.pos)
		}
		out = append(out, code[start:r.pos]...)
	}
	return out, nil
}

// count reads a vector length and checks that at least min bytes per
// element remain.
func (r *reader) count(min int) (uint32, error) {
	n, err := r.u32()
	if err != nil {
		return 0, err
	}
	if uint64(n)*uint64(min) > uint64(len(r.b)-r.pos) {
		return 0, fmt.Errorf("vector of %d elements longer than its section", n)
	}
	return n, nil
}

func (r *reader) name() error {
	n, err := r.count(1)
	if err != nil {
		return err
	}
	return r.skip(int(n))
}

func (r *reader) limits() error {
	flag, err := r.byte()
	if err != nil {
		return err
	}
	if flag > 1 {
		return fmt.Errorf("limits flag 0x%02x (shared or 64-bit memories are not admitted)", flag)
	}
	if _, err := r.u32(); err != nil {
		return err
	}
	if flag == 1 {
		_, err = r.u32()
	}
	return err
}

// constExpr skips a constant expression: one instruction and end.
func (r *reader) constExpr() error {
	op, err := r.byte()
	if err != nil {
		return err
	}
	switch op {
	case opI32Const:
		_, err = r.sleb(32)
	case opI64Const:
		_, err = r.sleb(64)
	case opF32Const:
		err = r.skip(4)
	case opF64Const:
		err = r.skip(8)
	case opGlobalGet:
		_, err = r.u32()
	default:
		return fmt.Errorf("constant expression opcode 0x%02x not admitted", op)
	}
	if err != nil {
		return err
	}
	if end, err := r.byte(); err != nil || end != opEnd {
		return fmt.Errorf("constant expression longer than one instruction")
	}
	return nil
}

func skimSection(id byte, r *reader, lim *Limits) error {
	if id == secStart {
		_, err := r.u32()
		return err
	}
	if id == secDataCount {
		return fmt.Errorf("data count section: passive data segments are not admitted")
	}
	n, err := r.count(1)
	if err != nil {
		return err
	}
	// Limits on counts, checked before wabin sizes anything by them.
	max := map[byte]uint32{secType: lim.MaxFunctions, secImport: lim.MaxFunctions, secFunction: lim.MaxFunctions,
		secTable: 1, secMemory: 1, secGlobal: lim.MaxGlobals, secExport: lim.MaxExports}
	if m, ok := max[id]; ok && n > m {
		return fmt.Errorf("%d entries exceed the limit of %d", n, m)
	}
	elems := uint64(0)
	for i := uint32(0); i < n; i++ {
		if id == secElement {
			at := r.pos
			if err := skimEntry(id, r, lim); err != nil {
				return fmt.Errorf("entry %d: %w", i, err)
			}
			// Every element must fit in the (single, bounded) table.
			e := reader{b: r.b, pos: at}
			e.u32()
			e.constExpr()
			k, _ := e.u32()
			if elems += uint64(k); elems > uint64(lim.MaxTableElements) {
				return fmt.Errorf("more than %d table elements", lim.MaxTableElements)
			}
			continue
		}
		if err := skimEntry(id, r, lim); err != nil {
			return fmt.Errorf("entry %d: %w", i, err)
		}
	}
	return nil
}

func skimEntry(id byte, r *reader, lim *Limits) error {
	switch id {
	case secType:
		if form, err := r.byte(); err != nil || form != 0x60 {
			return fmt.Errorf("not a function type")
		}
		for range 2 { // params, results
			k, err := r.count(1)
			if err != nil {
				return err
			}
			if err := r.skip(int(k)); err != nil {
				return err
			}
		}
		return nil
	case secImport:
		if err := r.name(); err != nil {
			return err
		}
		if err := r.name(); err != nil {
			return err
		}
		kind, err := r.byte()
		if err != nil {
			return err
		}
		switch kind {
		case 0:
			_, err = r.u32()
			return err
		default:
			return fmt.Errorf("import of a %s: only functions may be imported", externName(kind))
		}
	case secFunction:
		_, err := r.u32()
		return err
	case secTable:
		if _, err := r.byte(); err != nil {
			return err
		}
		return r.limits()
	case secMemory:
		return r.limits()
	case secGlobal:
		if err := r.skip(2); err != nil { // type, mutability
			return err
		}
		return r.constExpr()
	case secExport:
		if err := r.name(); err != nil {
			return err
		}
		if err := r.skip(1); err != nil {
			return err
		}
		_, err := r.u32()
		return err
	case secElement:
		prefix, err := r.u32()
		if err != nil {
			return err
		}
		if prefix != 0 {
			return fmt.Errorf("element segment form %d: only active funcref segments of table 0 are admitted", prefix)
		}
		if err := r.constExpr(); err != nil {
			return err
		}
		k, err := r.count(1)
		if err != nil {
			return err
		}
		for range k {
			if _, err := r.u32(); err != nil {
				return err
			}
		}
		return nil
	case secCode:
		size, err := r.count(1)
		if err != nil {
			return err
		}
		if size > lim.MaxFunctionBytes {
			return fmt.Errorf("function body of %d bytes exceeds %d", size, lim.MaxFunctionBytes)
		}
		end := r.pos + int(size)
		f := reader{b: r.b[:end], pos: r.pos}
		groups, err := f.count(2)
		if err != nil {
			return err
		}
		var locals uint64
		for range groups {
			k, err := f.u32()
			if err != nil {
				return err
			}
			if locals += uint64(k); locals > uint64(lim.MaxLocals) {
				return fmt.Errorf("more than %d locals", lim.MaxLocals)
			}
			if err := f.skip(1); err != nil {
				return err
			}
		}
		r.pos = end
		return nil
	case secData:
		prefix, err := r.u32()
		if err != nil {
			return err
		}
		if prefix != 0 {
			return fmt.Errorf("data segment form %d: only active segments of memory 0 are admitted", prefix)
		}
		if err := r.constExpr(); err != nil {
			return err
		}
		k, err := r.count(1)
		if err != nil {
			return err
		}
		return r.skip(int(k))
	}
	return fmt.Errorf("unexpected section")
}

func externName(kind byte) string {
	switch kind {
	case 0:
		return "function"
	case 1:
		return "table"
	case 2:
		return "memory"
	case 3:
		return "global"
	}
	return fmt.Sprintf("kind 0x%02x", kind)
}

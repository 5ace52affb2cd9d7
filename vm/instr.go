package vm

import (
	"errors"
	"fmt"
)

// Opcodes this package treats specially. The numbering is the WebAssembly
// 2.0 binary format (https://webassembly.github.io/spec/core/binary/instructions.html).
const (
	opUnreachable  = 0x00
	opNop          = 0x01
	opBlock        = 0x02
	opLoop         = 0x03
	opIf           = 0x04
	opElse         = 0x05
	opEnd          = 0x0b
	opBr           = 0x0c
	opBrIf         = 0x0d
	opBrTable      = 0x0e
	opReturn       = 0x0f
	opCall         = 0x10
	opCallIndirect = 0x11
	opDrop         = 0x1a
	opSelect       = 0x1b
	opSelectT      = 0x1c
	opLocalGet     = 0x20
	opLocalSet     = 0x21
	opLocalTee     = 0x22
	opGlobalGet    = 0x23
	opGlobalSet    = 0x24
	opI32Load      = 0x28
	opI64Store32   = 0x3e
	opMemorySize   = 0x3f
	opMemoryGrow   = 0x40
	opI32Const     = 0x41
	opI64Const     = 0x42
	opF32Const     = 0x43
	opF64Const     = 0x44
	opI32Add       = 0x6a
	opI32Sub       = 0x6b
	opI32GtU       = 0x4b
	opI64LtS       = 0x53
	opI64Sub       = 0x7d
	opI64Mul       = 0x7e
	opI64ShrU      = 0x88
	opF32Eq        = 0x5b
	opF64Eq        = 0x61
	opI64ExtendU   = 0xad
	opMisc         = 0xfc // prefix: saturating truncation, bulk memory, tables
	opSIMD         = 0xfd // prefix: 128-bit SIMD
	opAtomic       = 0xfe // prefix: threads

	miscMemoryInit = 8
	miscDataDrop   = 9
	miscMemoryCopy = 10
	miscMemoryFill = 11

	blockTypeEmpty = 0x40

	valI32 = 0x7f
	valI64 = 0x7e
	valF32 = 0x7d
	valF64 = 0x7c
)

// instr is one decoded instruction of a function body. Only the immediates
// the validator and the instrumenter need are kept.
type instr struct {
	op  byte
	sub uint32 // the sub-opcode after the 0xfc prefix
	end int    // offset just past the instruction
	// idx is the first index immediate: label (br, br_if), function (call),
	// type (call_indirect), local, global, or data segment (memory.init).
	idx uint32
	// blockType is the block type of block, loop and if: -64 (0x40, empty),
	// a negative value type (-1 i32 … -4 f64), or a type index >= 0.
	blockType int64
	// table is the table of call_indirect; memFlags the alignment field of
	// loads and stores (bit 6 would select a memory index, which we reject).
	table    uint32
	memFlags uint32
	// brTable holds the label count of br_table (targets are re-read when needed).
	brTable uint32
	// charge is set by the instrumenter: the static gas cost of the basic
	// block that starts at this instruction, or 0 if none starts here.
	charge int64
}

var errEOF = errors.New("unexpected end of function body")

// reader decodes LEB128 and fixed-size immediates from a function body.
type reader struct {
	b   []byte
	pos int
}

func (r *reader) byte() (byte, error) {
	if r.pos >= len(r.b) {
		return 0, errEOF
	}
	c := r.b[r.pos]
	r.pos++
	return c, nil
}

// u32 reads an unsigned LEB128 of at most 5 bytes that fits 32 bits.
func (r *reader) u32() (uint32, error) {
	var v uint32
	for i := 0; i < 5; i++ {
		c, err := r.byte()
		if err != nil {
			return 0, err
		}
		if i == 4 && c&0xf0 != 0 {
			return 0, errors.New("u32 LEB128 overflows")
		}
		v |= uint32(c&0x7f) << (7 * i)
		if c&0x80 == 0 {
			return v, nil
		}
	}
	return 0, errors.New("u32 LEB128 too long")
}

// sleb skips a signed LEB128 of at most maxBytes bytes and returns its value
// (only meaningful for block types, which fit in 33 bits).
func (r *reader) sleb(bits int) (int64, error) {
	var v int64
	shift := 0
	maxBytes := (bits + 6) / 7
	for i := 0; i < maxBytes; i++ {
		c, err := r.byte()
		if err != nil {
			return 0, err
		}
		v |= int64(c&0x7f) << shift
		shift += 7
		if c&0x80 == 0 {
			if shift < 64 && c&0x40 != 0 {
				v |= -1 << shift
			}
			return v, nil
		}
	}
	return 0, fmt.Errorf("s%d LEB128 too long", bits)
}

func (r *reader) skip(n int) error {
	if len(r.b)-r.pos < n {
		return errEOF
	}
	r.pos += n
	return nil
}

// errRejected marks an instruction outside the admitted set; the caller
// wraps it with the opcode's name.
type errRejected struct{ what string }

func (e errRejected) Error() string { return e.what }

// next decodes the instruction at r.pos. It rejects every opcode outside the
// admitted set (see doc.go): SIMD, atomics, tail calls, exceptions,
// reference-type and table instructions, memory.init and data.drop.
func (r *reader) next() (in instr, err error) {
	op, err := r.byte()
	if err != nil {
		return in, err
	}
	in.op = op
	switch {
	case op == opUnreachable, op == opNop, op == opElse, op == opEnd, op == opReturn,
		op == opDrop, op == opSelect:
	case op == opBlock, op == opLoop, op == opIf:
		in.blockType, err = r.sleb(33)
	case op == opBr, op == opBrIf, op == opCall,
		op >= opLocalGet && op <= opGlobalSet:
		in.idx, err = r.u32()
	case op == opBrTable:
		if in.brTable, err = r.u32(); err != nil {
			return in, err
		}
		if int(in.brTable) > len(r.b)-r.pos { // each label takes at least a byte
			return in, errEOF
		}
		for i := uint32(0); i <= in.brTable && err == nil; i++ {
			_, err = r.u32()
		}
	case op == opCallIndirect:
		if in.idx, err = r.u32(); err == nil {
			in.table, err = r.u32()
		}
	case op == opSelectT:
		var n uint32
		if n, err = r.u32(); err != nil {
			return in, err
		}
		if n != 1 {
			return in, errRejected{"select with more than one type"}
		}
		var t byte
		if t, err = r.byte(); err == nil && !isNumType(t) {
			return in, errRejected{"select of a reference type"}
		}
	case op >= opI32Load && op <= opI64Store32:
		if in.memFlags, err = r.u32(); err != nil {
			return in, err
		}
		if in.memFlags >= 64 {
			return in, errRejected{"memory index in a load or store"}
		}
		_, err = r.u32()
	case op == opMemorySize, op == opMemoryGrow:
		var z byte
		if z, err = r.byte(); err == nil && z != 0 {
			return in, errRejected{"memory index other than 0"}
		}
	case op == opI32Const:
		_, err = r.sleb(32)
	case op == opI64Const:
		_, err = r.sleb(64)
	case op == opF32Const:
		err = r.skip(4)
	case op == opF64Const:
		err = r.skip(8)
	case op >= 0x45 && op <= 0xc4: // numeric, including sign extension (0xc0-0xc4)
	case op == opMisc:
		if in.sub, err = r.u32(); err != nil {
			return in, err
		}
		switch in.sub {
		case 0, 1, 2, 3, 4, 5, 6, 7: // saturating float-to-int
		case miscMemoryCopy:
			var a, b byte
			if a, err = r.byte(); err == nil {
				b, err = r.byte()
			}
			if err == nil && (a != 0 || b != 0) {
				return in, errRejected{"memory index other than 0"}
			}
		case miscMemoryFill:
			var z byte
			if z, err = r.byte(); err == nil && z != 0 {
				return in, errRejected{"memory index other than 0"}
			}
		case miscMemoryInit, miscDataDrop:
			return in, errRejected{"passive data segments (memory.init, data.drop)"}
		default:
			return in, errRejected{fmt.Sprintf("table or reference instruction 0xfc %d", in.sub)}
		}
	case op == opSIMD:
		return in, errRejected{"SIMD (v128) instruction"}
	case op == opAtomic:
		return in, errRejected{"threads (atomic) instruction"}
	case op == 0x12, op == 0x13:
		return in, errRejected{"tail call"}
	case op == 0x25, op == 0x26, op >= 0xd0 && op <= 0xd6:
		return in, errRejected{fmt.Sprintf("reference-type instruction 0x%02x", op)}
	default:
		return in, errRejected{fmt.Sprintf("unknown or unsupported opcode 0x%02x", op)}
	}
	in.end = r.pos
	return in, err
}

func isNumType(t byte) bool { return t == valI32 || t == valI64 || t == valF32 || t == valF64 }

// nanResult tells whether op is a float instruction whose NaN result the
// WebAssembly spec leaves nondeterministic (sign and payload), and which
// float type it yields: valF32, valF64, or 0 for none. Bitwise float
// operations (abs, neg, copysign, reinterpret, load, store, const), the
// comparisons and int-to-float conversions are deterministic and not listed.
func nanResult(op byte) byte {
	switch {
	case op >= 0x8d && op <= 0x97: // f32 ceil floor trunc nearest sqrt add sub mul div min max
		return valF32
	case op >= 0x9b && op <= 0xa5: // f64 ceil … max
		return valF64
	case op == 0xb6: // f32.demote_f64
		return valF32
	case op == 0xbb: // f64.promote_f32
		return valF64
	}
	return 0
}

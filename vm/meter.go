package vm

import (
	"fmt"
)

// injector rewrites function bodies at deploy time (see doc.go, "Metering"):
//
//   - every basic block starts by subtracting its static cost from the gas
//     global; the counter is checked (a trap when it is negative) only at
//     function entry, at the top of every loop body and, in a function
//     that has unchecked charges, on its exit;
//   - memory.grow charges per page asked for, memory.copy and memory.fill
//     per 16 bytes, both before the operation and checked;
//   - memory.grow that fails (past the memory cap) traps with ErrMemoryLimit
//     instead of returning -1;
//   - float instructions whose NaN results are nondeterministic are
//     followed by a canonicalisation of the NaN;
//   - each function adds its frame units to the depth global on entry, traps
//     past the budget, and subtracts them on every exit. The body is wrapped
//     in a block so that every exit — falling off the end, return (rewritten
//     as a branch to the wrapper), a branch to the function's label — passes
//     through the one epilogue.
//
// Only locals, globals and one type are appended; no index the code already
// uses moves, so exports, tables and calls need no remapping.
type injector struct {
	lim                         *Limits
	gas, depth, fault           uint32 // indices of the injected globals
	nTypes, nGlobals            uint32 // before injection: indices at or above are rejected
	nFuncs, nTables             uint32
	ins                         []instr // scratch, reused across functions
	segments, checks, nanFixups int     // statistics
}

// frameUnits is the call-stack cost of one active call of a function: it
// bounds the native stack a frame can take in any engine (spill slots grow
// with locals and code size), so that MaxCallDepth units fit every engine.
func frameUnits(locals uint32, bodyLen int) uint32 {
	return 1 + locals/64 + uint32(bodyLen/8192)
}

// body is one function to instrument.
type body struct {
	code    []byte // instructions, ending with the function's end
	nLocals uint32 // params plus declared locals
	wrapper []byte // encoded block type of the function's results
	units   uint32 // frame units
}

// instrument returns the rewritten instructions and the types of the locals
// to append.
func (j *injector) instrument(f body) ([]byte, []byte, error) {
	if err := j.scan(f); err != nil {
		return nil, nil, err
	}
	var extra []byte
	t32, tf32, tf64 := uint32(0), uint32(0), uint32(0)
	for _, in := range j.ins {
		switch {
		case in.op == opMemoryGrow, in.op == opMisc && (in.sub == miscMemoryCopy || in.sub == miscMemoryFill):
			if t32 == 0 {
				t32 = f.nLocals + uint32(len(extra))
				extra = append(extra, valI32)
			}
		case nanResult(in.op) == valF32:
			if tf32 == 0 {
				tf32 = f.nLocals + uint32(len(extra))
				extra = append(extra, valF32)
			}
		case nanResult(in.op) == valF64:
			if tf64 == 0 {
				tf64 = f.nLocals + uint32(len(extra))
				extra = append(extra, valF64)
			}
		}
	}

	out := make([]byte, 0, len(f.code)*2+64)
	// Prologue: depth += units; if depth > max { unreachable }.
	out = append(out, opGlobalGet)
	out = appendU32(out, j.depth)
	out = append(out, opI32Const)
	out = appendS64(out, int64(f.units))
	out = append(out, opI32Add, opGlobalSet)
	out = appendU32(out, j.depth)
	out = append(out, opGlobalGet)
	out = appendU32(out, j.depth)
	out = append(out, opI32Const)
	out = appendS64(out, int64(j.lim.MaxCallDepth))
	out = append(out, opI32GtU, opIf, blockTypeEmpty, opUnreachable, opEnd)
	out = append(out, opBlock)
	out = append(out, f.wrapper...)

	depth := uint32(0) // open blocks inside the wrapper
	prev := 0
	// check: the next instruction starts a function or loop body, where the
	// counter is checked. unchecked: some charge of the function is not
	// followed by a check, so the counter may be negative on exit.
	check, unchecked := true, false
	for i, in := range j.ins {
		start := prev
		prev = in.end
		if in.charge > 0 {
			out = j.charge(out, in.charge)
			unchecked = unchecked || !check
		}
		if check {
			out = j.checkGas(out)
			check = false
		}
		raw := f.code[start:in.end]
		switch {
		case in.op == opBlock, in.op == opLoop, in.op == opIf:
			depth++
			out = append(out, raw...)
			check = in.op == opLoop
		case in.op == opEnd && i == len(j.ins)-1:
			// Close the wrapper, then the epilogue, then the function. A
			// function that may leave with the counter negative checks it
			// on exit, so that no caller runs on (see doc.go, "Metering").
			out = append(out, opEnd)
			if unchecked {
				out = j.checkGas(out)
			}
			out = append(out, opGlobalGet)
			out = appendU32(out, j.depth)
			out = append(out, opI32Const)
			out = appendS64(out, int64(f.units))
			out = append(out, opI32Sub, opGlobalSet)
			out = appendU32(out, j.depth)
			out = append(out, opEnd)
		case in.op == opEnd:
			depth--
			out = append(out, raw...)
		case in.op == opReturn:
			out = append(out, opBr)
			out = appendU32(out, depth)
		case in.op == opMemoryGrow:
			out = j.chargeDynamic(out, t32, j.lim.Gas.MemoryPage, 0)
			out = append(out, raw...)
			// if result == -1 { fault = 1; unreachable }
			out = append(out, opLocalTee)
			out = appendU32(out, t32)
			out = append(out, opI32Const, 0x7f, 0x46, opIf, blockTypeEmpty, opI32Const, 1, opGlobalSet)
			out = appendU32(out, j.fault)
			out = append(out, opUnreachable, opEnd, opLocalGet)
			out = appendU32(out, t32)
		case in.op == opMisc && (in.sub == miscMemoryCopy || in.sub == miscMemoryFill):
			out = j.chargeDynamic(out, t32, j.lim.Gas.Bulk, 4)
			out = append(out, raw...)
		case nanResult(in.op) != 0:
			out = append(out, raw...)
			j.nanFixups++
			if nanResult(in.op) == valF32 {
				// x; tee t; canonical NaN; t == t; select → x unless x is NaN.
				out = append(out, opLocalTee)
				out = appendU32(out, tf32)
				out = append(out, opF32Const, 0x00, 0x00, 0xc0, 0x7f, opLocalGet)
				out = appendU32(out, tf32)
				out = append(out, opLocalGet)
				out = appendU32(out, tf32)
				out = append(out, opF32Eq, opSelect)
			} else {
				out = append(out, opLocalTee)
				out = appendU32(out, tf64)
				out = append(out, opF64Const, 0, 0, 0, 0, 0, 0, 0xf8, 0x7f, opLocalGet)
				out = appendU32(out, tf64)
				out = append(out, opLocalGet)
				out = appendU32(out, tf64)
				out = append(out, opF64Eq, opSelect)
			}
		default:
			out = append(out, raw...)
		}
	}
	return out, extra, nil
}

// charge appends: gas -= cost. The counter is not checked: see checkGas.
func (j *injector) charge(out []byte, cost int64) []byte {
	j.segments++
	out = append(out, opGlobalGet)
	out = appendU32(out, j.gas)
	out = append(out, opI64Const)
	out = appendS64(out, cost)
	out = append(out, opI64Sub, opGlobalSet)
	return appendU32(out, j.gas)
}

// checkGas appends: if gas < 0 { unreachable }.
func (j *injector) checkGas(out []byte) []byte {
	j.checks++
	out = append(out, opGlobalGet)
	out = appendU32(out, j.gas)
	out = append(out, opI64Const, 0, opI64LtS, opIf, blockTypeEmpty, opUnreachable, opEnd)
	return out
}

// chargeDynamic appends, with the i32 operand n on top of the stack and left
// there: gas -= (u64(n) >> shift) * price; if gas < 0 { unreachable }.
// n < 2^32 and price <= MaxGasPrice keep the product far below 2^63.
func (j *injector) chargeDynamic(out []byte, tmp uint32, price uint64, shift byte) []byte {
	out = append(out, opLocalTee)
	out = appendU32(out, tmp)
	out = append(out, opGlobalGet)
	out = appendU32(out, j.gas)
	out = append(out, opLocalGet)
	out = appendU32(out, tmp)
	out = append(out, opI64ExtendU)
	if shift > 0 {
		out = append(out, opI64Const, shift, opI64ShrU)
	}
	out = append(out, opI64Const)
	out = appendS64(out, int64(price))
	out = append(out, opI64Mul, opI64Sub, opGlobalSet)
	out = appendU32(out, j.gas)
	return j.checkGas(out)
}

// scan decodes f into j.ins, checks that every index refers to what the
// original module defines (so that nothing can address the injected
// globals, locals or type, nor branch past the wrapper), and computes the
// basic blocks: ins[k].charge is the static cost of the block starting at
// instruction k.
func (j *injector) scan(f body) error {
	j.ins = j.ins[:0]
	r := reader{b: f.code}
	depth := uint32(0) // open blocks; the function's own label is at depth
	segStart := 0
	var cost int64
	for r.pos < len(r.b) {
		at := r.pos
		in, err := r.next()
		if err != nil {
			if rej, ok := err.(errRejected); ok {
				return fmt.Errorf("at byte %d: %s", at, rej.what)
			}
			return fmt.Errorf("at byte %d: %w", at, err)
		}
		cost += int64(j.lim.Gas.Instr)
		boundary := false
		switch in.op {
		case opBlock, opLoop, opIf:
			if in.blockType >= 0 && in.blockType >= int64(j.nTypes) {
				return fmt.Errorf("at byte %d: block type %d out of range", at, in.blockType)
			}
			if in.blockType < 0 && in.blockType != -64 && !isNumType(byte(in.blockType&0x7f)) {
				return fmt.Errorf("at byte %d: block of a non-numeric type", at)
			}
			depth++
			boundary = in.op != opBlock
		case opElse:
			boundary = true
		case opEnd:
			if depth == 0 {
				if r.pos != len(r.b) {
					return fmt.Errorf("at byte %d: code after the function's end", at)
				}
			} else {
				depth--
			}
			boundary = true
		case opBr, opBrIf:
			if in.idx > depth {
				return fmt.Errorf("at byte %d: branch to label %d beyond depth %d", at, in.idx, depth)
			}
			boundary = true
		case opBrTable:
			t := reader{b: f.code, pos: at + 1}
			t.u32() // count, already checked
			for range in.brTable + 1 {
				if l, _ := t.u32(); l > depth {
					return fmt.Errorf("at byte %d: branch to label %d beyond depth %d", at, l, depth)
				}
			}
			boundary = true
		case opReturn, opUnreachable:
			boundary = true
		case opCall:
			if in.idx >= j.nFuncs {
				return fmt.Errorf("at byte %d: call of function %d out of range", at, in.idx)
			}
			cost += int64(j.lim.Gas.Call)
		case opCallIndirect:
			if in.idx >= j.nTypes || in.table != 0 || j.nTables == 0 {
				return fmt.Errorf("at byte %d: call_indirect of type %d, table %d out of range", at, in.idx, in.table)
			}
			cost += int64(j.lim.Gas.Call)
		case opLocalGet, opLocalSet, opLocalTee:
			if in.idx >= f.nLocals {
				return fmt.Errorf("at byte %d: local %d out of range", at, in.idx)
			}
		case opGlobalGet, opGlobalSet:
			if in.idx >= j.nGlobals {
				return fmt.Errorf("at byte %d: global %d out of range", at, in.idx)
			}
		}
		j.ins = append(j.ins, in)
		if boundary {
			j.ins[segStart].charge = cost
			segStart, cost = len(j.ins), 0
		}
	}
	if len(j.ins) == 0 || j.ins[len(j.ins)-1].op != opEnd || depth != 0 {
		return fmt.Errorf("function body does not end with its end")
	}
	return nil
}

func appendU32(b []byte, v uint32) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

func appendS64(b []byte, v int64) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if (v == 0 && c&0x40 == 0) || (v == -1 && c&0x40 != 0) {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

package wasm

import (
	"errors"
	"fmt"
)

// funcInstrumenter rewrites one function body in two passes: decode walks the
// instructions once, checks them against what the sandbox allows and computes
// the cost of every basic block; emit copies the code with the metering,
// call-depth, memory and NaN sequences inserted. One instance is reused
// across the functions of a module to keep allocations down.
//
// Metering follows Wasmtime's fuel: the function keeps its fuel in a local
// (a register once compiled) and every basic block subtracts its instruction
// count from it, a single subtraction. Function entries, loop headers, calls
// and exits compare it with zero and, below zero, call ipdm.refuel, which
// hands out more or traps: a run stops within one loop iteration or call of
// exhausting its budget, and never finishes (or calls the host) with a
// negative balance. The local is stored to the fuel global before each call
// and at every exit, and reloaded after each call, so callees and host
// functions see (and may charge) the same fuel. A trap between two stores
// leaves the global at its last stored value, which is still the same on
// every machine.
//
// Basic blocks start at the function entry, after loop, if, else and end,
// and after br, br_if, br_table, return and unreachable.
type funcInstrumenter struct {
	b   *moduleBuilder
	typ funcType

	numLocals  uint32 // params + declared locals of the original function
	localDecls []byte // the original local declarations, raw
	numDecls   uint32
	code       []byte // instructions, after the local declarations

	ins     []instr
	segCost []uint64 // cost of each basic block, in order of appearance
	frames  []frameKind

	hasCall, canonF32, canonF64, needI32 bool

	// indices of the locals added: the fuel accumulator and scratch values
	fuelL, tmp32, tmpF32, tmpF64 uint32

	out []byte
}

type instr struct {
	start, end int // in code, opcode included
	op         byte
	sub        uint32 // sub-opcode after the 0xfc prefix
	newSeg     bool   // a basic block starts after this instruction
}

type frameKind uint8

const (
	frameFunc frameKind = iota
	frameBlock
	frameLoop
	frameIf
	frameElse
)

func (f *funcInstrumenter) reset(b *moduleBuilder, t funcType) {
	f.b, f.typ = b, t
	f.ins, f.segCost, f.frames = f.ins[:0], f.segCost[:0], f.frames[:0]
	f.hasCall, f.canonF32, f.canonF64, f.needI32 = false, false, false, false
}

func (f *funcInstrumenter) rewrite(body []byte) ([]byte, error) {
	if err := f.decode(body); err != nil {
		return nil, err
	}
	return f.emit(), nil
}

// Opcodes the instrumenter treats specially.
const (
	opUnreachable  = 0x00
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
	opLocalGet     = 0x20
	opLocalSet     = 0x21
	opLocalTee     = 0x22
	opGlobalGet    = 0x23
	opGlobalSet    = 0x24
	opMemorySize   = 0x3f
	opMemoryGrow   = 0x40
	opI32Const     = 0x41
	opI64Const     = 0x42
	opF32Const     = 0x43
	opF64Const     = 0x44
	opI32LtS       = 0x48
	opI64LtS       = 0x53
	opI64GtU       = 0x56
	opF32Eq        = 0x5b
	opF64Eq        = 0x61
	opI32Add       = 0x6a
	opI32Sub       = 0x6b
	opI64Add       = 0x7c
	opI64Sub       = 0x7d
	opI64ShrU      = 0x88
	opI64ExtendU   = 0xad
	opSelect       = 0x1b
	opRefFunc      = 0xd2
	opPrefixFC     = 0xfc
)

// needsCanonF32 and needsCanonF64 report float instructions whose NaN results
// may differ between CPUs: arithmetic, rounding, min/max, sqrt and the
// conversions between the two widths. abs, neg and copysign only touch the
// sign bit and are exact everywhere.
func needsCanonF32(op byte) bool { return (op >= 0x8d && op <= 0x97) || op == 0xb6 }
func needsCanonF64(op byte) bool { return (op >= 0x9b && op <= 0xa5) || op == 0xbb }

// isBulk reports 0xfc sub-opcodes whose work is proportional to their length
// operand (on top of the stack): memory.init/copy/fill, table.init/copy/fill.
func isBulk(sub uint32) bool {
	switch sub {
	case 8, 10, 11, 12, 14, 17:
		return true
	}
	return false
}

func (f *funcInstrumenter) decode(body []byte) error {
	r := &reader{b: body}
	n, err := r.count(2)
	if err != nil {
		return fmt.Errorf("locals: %w", err)
	}
	total := uint64(len(f.typ.params))
	declStart := r.off
	for i := uint32(0); i < n; i++ {
		c, err := r.u32()
		if err != nil {
			return fmt.Errorf("locals: %w", err)
		}
		if _, err := readValType(r); err != nil {
			return fmt.Errorf("locals: %w", err)
		}
		total += uint64(c)
		if total > maxLocalsPerFunction {
			return fmt.Errorf("more than %d locals", maxLocalsPerFunction)
		}
	}
	f.numLocals, f.numDecls, f.localDecls = uint32(total), n, body[declStart:r.off]
	f.code = body[r.off:]

	r = &reader{b: f.code}
	f.frames = append(f.frames, frameFunc)
	f.segCost = append(f.segCost, 0)
	for len(f.frames) > 0 {
		start := r.off
		op, err := r.byte()
		if err != nil {
			return fmt.Errorf("code: missing end of function: %w", err)
		}
		sub, err := f.immediates(r, op)
		if err != nil {
			return fmt.Errorf("code offset %d (opcode 0x%02x): %w", start, op, err)
		}
		f.segCost[len(f.segCost)-1]++
		newSeg := false
		switch op {
		case opBlock:
			f.frames = append(f.frames, frameBlock)
		case opLoop:
			f.frames = append(f.frames, frameLoop)
			newSeg = true
		case opIf:
			f.frames = append(f.frames, frameIf)
			newSeg = true
		case opElse:
			if f.frames[len(f.frames)-1] != frameIf {
				return fmt.Errorf("code offset %d: else without if", start)
			}
			f.frames[len(f.frames)-1] = frameElse
			newSeg = true
		case opEnd:
			f.frames = f.frames[:len(f.frames)-1]
			newSeg = len(f.frames) > 0
		case opBr, opBrIf, opBrTable, opReturn, opUnreachable:
			newSeg = true
		case opCall, opCallIndirect:
			f.hasCall = true
		case opMemoryGrow:
			f.needI32 = true
		case opPrefixFC:
			if isBulk(sub) {
				f.needI32 = true // for the length-dependent charge
			}
		default:
			if needsCanonF32(op) {
				f.canonF32 = true
			} else if needsCanonF64(op) {
				f.canonF64 = true
			}
		}
		if newSeg {
			f.segCost = append(f.segCost, 0)
		}
		f.ins = append(f.ins, instr{start: start, end: r.off, op: op, sub: sub, newSeg: newSeg})
	}
	if !r.done() {
		return fmt.Errorf("code: %d bytes after the end of the function", len(f.code)-r.off)
	}
	if f.hasCall {
		f.needI32 = true
	}
	return nil
}

// immediates skips the immediates of op, rejecting instructions outside the
// allowed feature set and references to the locals and globals the
// instrumenter adds (a hostile module could otherwise refill its own fuel).
func (f *funcInstrumenter) immediates(r *reader, op byte) (uint32, error) {
	switch {
	case op == 0x00 || op == 0x01 || op == opElse || op == opEnd || op == opReturn ||
		op == 0x1a || op == opSelect || (op >= 0x45 && op <= 0xc4) || op == 0xd1:
		return 0, nil
	case op == opBlock || op == opLoop || op == opIf:
		return 0, f.blockType(r)
	case op == opBr || op == opBrIf || op == opCall || op == 0x25 || op == 0x26 || op == opRefFunc:
		return 0, r.skipLEB(5)
	case op == opBrTable:
		n, err := r.count(1)
		if err != nil {
			return 0, err
		}
		for i := uint32(0); i <= n; i++ {
			if err := r.skipLEB(5); err != nil {
				return 0, err
			}
		}
		return 0, nil
	case op == opCallIndirect:
		if err := r.skipLEB(5); err != nil {
			return 0, err
		}
		return 0, r.skipLEB(5)
	case op == 0x1c: // select with types
		n, err := r.count(1)
		if err != nil {
			return 0, err
		}
		for i := uint32(0); i < n; i++ {
			if _, err := readValType(r); err != nil {
				return 0, err
			}
		}
		return 0, nil
	case op >= opLocalGet && op <= opLocalTee:
		idx, err := r.u32()
		if err == nil && idx >= f.numLocals {
			err = fmt.Errorf("local index %d out of range (%d locals)", idx, f.numLocals)
		}
		return 0, err
	case op == opGlobalGet || op == opGlobalSet:
		idx, err := r.u32()
		if err == nil && idx >= f.b.numGlobals {
			err = fmt.Errorf("global index %d out of range (%d globals)", idx, f.b.numGlobals)
		}
		return 0, err
	case op >= 0x28 && op <= 0x3e: // loads and stores
		align, err := r.u32()
		if err != nil {
			return 0, err
		}
		if align&0x40 != 0 {
			return 0, errors.New("multiple memories are not supported")
		}
		return 0, r.skipLEB(5)
	case op == opMemorySize || op == opMemoryGrow:
		return 0, zeroByte(r)
	case op == opI32Const:
		return 0, r.skipLEB(5)
	case op == opI64Const:
		return 0, r.skipLEB(10)
	case op == opF32Const:
		_, err := r.bytes(4)
		return 0, err
	case op == opF64Const:
		_, err := r.bytes(8)
		return 0, err
	case op == 0xd0: // ref.null
		_, err := r.byte()
		return 0, err
	case op == opPrefixFC:
		return f.prefixFC(r)
	case op == 0xfd:
		return 0, errSIMD
	case op == 0xfe:
		return 0, errors.New("atomic instructions are not allowed: threads are disabled for determinism")
	case op == 0x12 || op == 0x13:
		return 0, errors.New("tail calls are not allowed")
	case (op >= 0x06 && op <= 0x0a) || op == 0x18 || op == 0x19 || op == 0x1f:
		return 0, errors.New("exception handling is not allowed")
	}
	return 0, fmt.Errorf("unknown or unsupported opcode 0x%02x", op)
}

func zeroByte(r *reader) error {
	c, err := r.byte()
	if err == nil && c != 0 {
		err = errors.New("multiple memories are not supported")
	}
	return err
}

func (f *funcInstrumenter) blockType(r *reader) error {
	c, err := r.byte()
	if err != nil {
		return err
	}
	switch c {
	case blockEmpty, valI32, valI64, valF32, valF64, valFuncref, valExternref:
		return nil
	case valV128:
		return errSIMD
	}
	r.off--
	idx, err := r.s33()
	if err != nil {
		return err
	}
	if idx < 0 || idx >= int64(len(f.b.types)) {
		return fmt.Errorf("block type %d out of range", idx)
	}
	return nil
}

func (f *funcInstrumenter) prefixFC(r *reader) (uint32, error) {
	sub, err := r.u32()
	if err != nil {
		return 0, err
	}
	switch {
	case sub <= 7: // saturating truncations
	case sub == 8: // memory.init data, mem
		if err = r.skipLEB(5); err == nil {
			err = zeroByte(r)
		}
	case sub == 9 || sub == 13 || sub == 15 || sub == 16 || sub == 17: // data.drop, elem.drop, table.grow/size/fill
		err = r.skipLEB(5)
	case sub == 10: // memory.copy
		if err = zeroByte(r); err == nil {
			err = zeroByte(r)
		}
	case sub == 11: // memory.fill
		err = zeroByte(r)
	case sub == 12 || sub == 14: // table.init, table.copy
		if err = r.skipLEB(5); err == nil {
			err = r.skipLEB(5)
		}
	default:
		err = fmt.Errorf("unknown or unsupported instruction 0xfc %d", sub)
	}
	return sub, err
}

// emit writes the instrumented body. It follows decode's basic-block
// numbering: blocks are numbered in the order they start.
func (f *funcInstrumenter) emit() []byte {
	b := f.b
	fuelG := b.numGlobals + addedFuel
	stackG := b.numGlobals + addedStack
	memG := b.numGlobals + addedMemLimit

	// The added locals follow the original ones.
	next := f.numLocals
	decls := f.numDecls + 1
	f.fuelL = next
	next++
	if f.needI32 {
		f.tmp32 = next
		next++
		decls++
	}
	if f.canonF32 {
		f.tmpF32 = next
		next++
		decls++
	}
	if f.canonF64 {
		f.tmpF64 = next
		decls++
	}

	out := f.out[:0]
	out = appendU32(out, decls)
	out = append(out, f.localDecls...)
	out = append(out, 1, valI64)
	if f.needI32 {
		out = append(out, 1, valI32)
	}
	if f.canonF32 {
		out = append(out, 1, valF32)
	}
	if f.canonF64 {
		out = append(out, 1, valF64)
	}

	// Functions that call others count call depth. Every body is wrapped in
	// a block whose end all exits pass (return becomes a branch to it), to
	// store the fuel and give the depth units back in one place.
	weight := int64(1 + f.numLocals/32)
	if f.hasCall {
		// global.get S; i32.const w; i32.sub; local.tee t; global.set S;
		// local.get t; i32.const 0; i32.lt_s; if unreachable end
		out = append(out, opGlobalGet)
		out = appendU32(out, stackG)
		out = append(out, opI32Const)
		out = appendS64(out, weight)
		out = append(out, opI32Sub, opLocalTee)
		out = appendU32(out, f.tmp32)
		out = append(out, opGlobalSet)
		out = appendU32(out, stackG)
		out = append(out, opLocalGet)
		out = appendU32(out, f.tmp32)
		out = append(out, opI32Const, 0, opI32LtS, opIf, blockEmpty, opUnreachable, opEnd)
	}
	out = append(out, opGlobalGet)
	out = appendU32(out, fuelG)
	out = append(out, opLocalSet)
	out = appendU32(out, f.fuelL)
	out = f.appendCharge(out, f.segCost[0])
	out = f.appendCheck(out, fuelG)
	out = append(out, opBlock)
	out = append(out, b.wrapperBlockType(f.typ.results)...)

	seg := 1
	depth := uint32(0)
	for _, in := range f.ins {
		raw := f.code[in.start:in.end]
		switch in.op {
		case opBlock, opLoop, opIf:
			out = append(out, raw...)
			depth++
		case opEnd:
			if depth > 0 {
				depth--
				out = append(out, raw...)
				break
			}
			// The wrapper's end, then the function's.
			out = append(out, opEnd)
			out = f.appendCheck(out, fuelG)
			out = f.appendStoreFuel(out, fuelG)
			if f.hasCall {
				out = append(out, opGlobalGet)
				out = appendU32(out, stackG)
				out = append(out, opI32Const)
				out = appendS64(out, weight)
				out = append(out, opI32Add, opGlobalSet)
				out = appendU32(out, stackG)
			}
			out = append(out, opEnd)
		case opReturn:
			out = append(out, opBr)
			out = appendU32(out, depth)
		case opCall, opCallIndirect:
			out = f.appendCheck(out, fuelG)
			out = f.appendStoreFuel(out, fuelG)
			if in.op == opCall {
				r := reader{b: raw, off: 1}
				idx, _ := r.u32() // checked by decode
				out = append(out, opCall)
				out = appendU32(out, b.remapFunc(idx))
			} else {
				out = append(out, raw...)
			}
			out = append(out, opGlobalGet)
			out = appendU32(out, fuelG)
			out = append(out, opLocalSet)
			out = appendU32(out, f.fuelL)
		case opRefFunc:
			r := reader{b: raw, off: 1}
			idx, _ := r.u32()
			out = append(out, opRefFunc)
			out = appendU32(out, b.remapFunc(idx))
		case opMemoryGrow:
			// local.set t; memory.size; i64.extend_i32_u; local.get t;
			// i64.extend_i32_u; i64.add; global.get M; i64.gt_u;
			// if (result i32) i32.const -1 else local.get t; memory.grow end
			out = append(out, opLocalSet)
			out = appendU32(out, f.tmp32)
			out = append(out, opMemorySize, 0, opI64ExtendU, opLocalGet)
			out = appendU32(out, f.tmp32)
			out = append(out, opI64ExtendU, opI64Add, opGlobalGet)
			out = appendU32(out, memG)
			out = append(out, opI64GtU, opIf, valI32, opI32Const, 0x7f, opElse, opLocalGet)
			out = appendU32(out, f.tmp32)
			out = append(out, opMemoryGrow, 0, opEnd)
		case opPrefixFC:
			if isBulk(in.sub) {
				out = f.appendBulkCharge(out)
			}
			out = append(out, raw...)
		default:
			out = append(out, raw...)
			if needsCanonF32(in.op) {
				// local.tee t; f32.const nan; local.get t; local.get t; f32.eq; select
				out = append(out, opLocalTee)
				out = appendU32(out, f.tmpF32)
				out = append(out, opF32Const, 0x00, 0x00, 0xc0, 0x7f, opLocalGet)
				out = appendU32(out, f.tmpF32)
				out = append(out, opLocalGet)
				out = appendU32(out, f.tmpF32)
				out = append(out, opF32Eq, opSelect)
			} else if needsCanonF64(in.op) {
				out = append(out, opLocalTee)
				out = appendU32(out, f.tmpF64)
				out = append(out, opF64Const, 0, 0, 0, 0, 0, 0, 0xf8, 0x7f, opLocalGet)
				out = appendU32(out, f.tmpF64)
				out = append(out, opLocalGet)
				out = appendU32(out, f.tmpF64)
				out = append(out, opF64Eq, opSelect)
			}
		}
		if in.newSeg {
			out = f.appendCharge(out, f.segCost[seg])
			if in.op == opLoop {
				out = f.appendCheck(out, fuelG)
			}
			seg++
		}
	}
	f.out = out
	return out
}

// appendCharge subtracts a basic block's cost from the fuel local:
// local.get L; i64.const c; i64.sub; local.set L.
func (f *funcInstrumenter) appendCharge(out []byte, cost uint64) []byte {
	if cost == 0 {
		return out
	}
	out = append(out, opLocalGet)
	out = appendU32(out, f.fuelL)
	out = append(out, opI64Const)
	out = appendS64(out, int64(cost))
	out = append(out, opI64Sub, opLocalSet)
	return appendU32(out, f.fuelL)
}

// appendCheck calls refuel when the fuel local is negative:
// local.get L; i64.const 0; i64.lt_s; if <store>; call refuel; <load> end.
func (f *funcInstrumenter) appendCheck(out []byte, fuelG uint32) []byte {
	out = append(out, opLocalGet)
	out = appendU32(out, f.fuelL)
	out = append(out, opI64Const, 0, opI64LtS, opIf, blockEmpty)
	out = f.appendStoreFuel(out, fuelG)
	out = append(out, opCall)
	out = appendU32(out, f.b.refuelIndex())
	out = append(out, opGlobalGet)
	out = appendU32(out, fuelG)
	out = append(out, opLocalSet)
	out = appendU32(out, f.fuelL)
	return append(out, opEnd)
}

// appendStoreFuel stores the fuel local to the global: local.get L; global.set F.
func (f *funcInstrumenter) appendStoreFuel(out []byte, fuelG uint32) []byte {
	out = append(out, opLocalGet)
	out = appendU32(out, f.fuelL)
	out = append(out, opGlobalSet)
	return appendU32(out, fuelG)
}

// appendBulkCharge charges len/64 units for a bulk operation whose i32 length
// is on top of the stack, leaving the stack as it was:
//
//	local.set t; local.get L; local.get t; i64.extend_i32_u; i64.const 6;
//	i64.shr_u; i64.sub; local.set L; local.get t
func (f *funcInstrumenter) appendBulkCharge(out []byte) []byte {
	out = append(out, opLocalSet)
	out = appendU32(out, f.tmp32)
	out = append(out, opLocalGet)
	out = appendU32(out, f.fuelL)
	out = append(out, opLocalGet)
	out = appendU32(out, f.tmp32)
	out = append(out, opI64ExtendU, opI64Const, 6, opI64ShrU, opI64Sub, opLocalSet)
	out = appendU32(out, f.fuelL)
	out = append(out, opLocalGet)
	return appendU32(out, f.tmp32)
}

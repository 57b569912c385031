package wasm

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
)

// The instrumenter rewrites a module before wazero compiles it, so that the
// limits the network agrees on are enforced by the guest code itself and
// therefore stop it at the same instruction on every machine:
//
//   - fuel: every basic block subtracts its instruction count from a fuel
//     counter (a local, stored to a global around calls; see
//     funcInstrumenter); bulk memory and table operations also charge one
//     unit per 64 elements. At function entries, loop headers, calls and
//     exits a negative counter makes the guest call the imported host
//     function ipdm.refuel, which hands out the next slice of the budget or
//     traps (see host.go).
//   - call depth: functions that call others take 1+locals/32 units from a
//     second global on entry and give them back on exit (the body is wrapped
//     in a block so every exit passes one place); below zero they trap. This
//     replaces wazero's own stack ceiling, which depends on the machine code
//     frame sizes of each CPU architecture.
//   - memory: memory.grow fails (returns -1) when the new size would exceed a
//     per-run page limit held in a third global.
//   - NaNs: every float instruction that may produce a NaN whose bits differ
//     between CPUs is followed by a canonicalisation to the positive quiet
//     NaN.
//
// The start section is removed and its function exported instead, so that the
// host can set the globals before any guest code runs. Custom sections other
// than "name" are dropped (DWARF would describe the original offsets).

// Exports the instrumenter adds. The "ipdm:" prefix is reserved: modules that
// export such names themselves are rejected.
const (
	exportFuel     = "ipdm:fuel"
	exportStack    = "ipdm:stack"
	exportMemLimit = "ipdm:memory_limit"
	exportStart    = "ipdm:start"
	reservedPrefix = "ipdm:"
)

// MeteringVersion identifies the cost model of the fuel counter. Fuel figures
// (and therefore results that depend on running out of fuel) are comparable
// only between nodes that use the same version.
const MeteringVersion = 1

// Value types and other constants of the binary format.
const (
	valI32       = 0x7f
	valI64       = 0x7e
	valF32       = 0x7d
	valF64       = 0x7c
	valV128      = 0x7b
	valFuncref   = 0x70
	valExternref = 0x6f
	blockEmpty   = 0x40
)

// Section ids.
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
	secTag       = 13
)

// sectionRank is the position each known section must take in a module.
var sectionRank = map[byte]int{
	secType: 1, secImport: 2, secFunction: 3, secTable: 4, secMemory: 5, secTag: 6,
	secGlobal: 7, secExport: 8, secStart: 9, secElement: 10, secDataCount: 11, secCode: 12, secData: 13,
}

// Limits of the rewriter that keep hostile modules from driving huge
// allocations on the host.
const (
	maxLocalsPerFunction = 50000
	maxTableElements     = 1 << 20
	maxFunctions         = 1 << 20
)

type funcType struct {
	params, results []byte
}

func (t funcType) String() string {
	return fmt.Sprintf("(%s) -> (%s)", valTypesString(t.params), valTypesString(t.results))
}

func valTypesString(ts []byte) string {
	s := make([]string, len(ts))
	for i, t := range ts {
		switch t {
		case valI32:
			s[i] = "i32"
		case valI64:
			s[i] = "i64"
		case valF32:
			s[i] = "f32"
		case valF64:
			s[i] = "f64"
		case valFuncref:
			s[i] = "funcref"
		case valExternref:
			s[i] = "externref"
		default:
			s[i] = fmt.Sprintf("0x%02x", t)
		}
	}
	return strings.Join(s, ", ")
}

// importedFunc is one function import of the original module.
type importedFunc struct {
	module, name string
	typ          funcType
}

// parsedModule is what the instrumenter learned about the original module.
type parsedModule struct {
	imports       []importedFunc
	definedFuncs  int
	hasMemory     bool
	memMin        uint32
	memMax        uint32 // after clamping to the runtime limit
	hasStart      bool   // the module had a start section
	kind          ModuleKind
	hasInitialize bool // a reactor exporting _initialize
	exportedFuncs []string
}

// instrumentOptions are the runtime-wide limits baked into the module.
type instrumentOptions struct {
	maxMemoryPages uint32
}

type rawSection struct {
	id      byte
	content []byte
}

// moduleBuilder carries the state of one instrumentation.
type moduleBuilder struct {
	opt        instrumentOptions
	pm         parsedModule
	types      []funcType
	extraTypes []funcType // appended to the type section for wrapper blocks
	funcTypes  []uint32   // type index of each defined function
	numImports uint32     // imported functions
	numGlobals uint32     // defined globals of the original module
	startFunc  uint32
	exports    []byte // export entries, function indices remapped
	numExports uint32
	exportIdx  map[string]uint32 // function exports: name -> function index
}

// globals the instrumenter appends (indices relative to numGlobals).
const (
	addedFuel = iota
	addedStack
	addedMemLimit
	numAddedGlobals
)

// instrument validates the structure of src, rejects what the sandbox does not
// allow, and returns the rewritten module. Errors are plain messages; the
// caller wraps them in ErrInvalidModule.
func instrument(src []byte, opt instrumentOptions) ([]byte, *parsedModule, error) {
	if len(src) < 8 || !bytes.Equal(src[:4], []byte("\x00asm")) {
		return nil, nil, errors.New("not a WebAssembly binary (bad magic number)")
	}
	if !bytes.Equal(src[4:8], []byte{1, 0, 0, 0}) {
		return nil, nil, fmt.Errorf("unsupported binary version % x (only core modules, version 1, are supported)", src[4:8])
	}
	b := &moduleBuilder{opt: opt, exportIdx: map[string]uint32{}}
	r := &reader{b: src, off: 8}
	var secs []rawSection
	lastRank := 0
	for !r.done() {
		id, _ := r.byte()
		size, err := r.u32()
		if err != nil {
			return nil, nil, fmt.Errorf("section header at offset %d: %w", r.off, err)
		}
		start := r.off
		content, err := r.bytes(size)
		if err != nil {
			return nil, nil, fmt.Errorf("section %d at offset %d: size %d: %w", id, start, size, err)
		}
		if id == secCustom {
			secs = append(secs, rawSection{id, content})
			continue
		}
		rank, ok := sectionRank[id]
		if !ok {
			return nil, nil, fmt.Errorf("unknown section id %d at offset %d", id, start)
		}
		if id == secTag {
			return nil, nil, errors.New("exception handling (tag section) is not allowed")
		}
		if rank <= lastRank {
			return nil, nil, fmt.Errorf("section %d at offset %d is out of order or duplicated", id, start)
		}
		lastRank = rank
		secs = append(secs, rawSection{id, content})
	}

	// One pass in section order parses each section and computes its new
	// content: everything a section's rewrite depends on comes earlier.
	contents := make([][]byte, len(secs))
	hasCode := false
	for i := range secs {
		s := &secs[i]
		var err error
		c := s.content
		switch s.id {
		case secType:
			err = b.parseTypes(c) // content computed below, once wrapper types are known
		case secImport:
			err = b.parseImports(c)
		case secFunction:
			err = b.parseFunctions(c)
		case secTable:
			c, err = b.tableSection(c)
		case secMemory:
			c, err = b.memorySection(c)
		case secGlobal:
			c, err = b.globalSection(c)
		case secExport:
			if err = b.parseExports(c); err == nil {
				err = b.checkEntryExports()
			}
		case secStart:
			err = b.parseStart(c)
		case secElement:
			c, err = b.elementSection(c)
		case secCode:
			hasCode = true
			b.planWrapperTypes()
			c, err = b.codeSection(c)
		case secCustom:
			c = b.nameSection(c)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("%s section: %w", sectionName(s.id), err)
		}
		contents[i] = c
	}
	if err := b.checkEntryExports(); err != nil { // also when there was no export section
		return nil, nil, err
	}
	if len(b.funcTypes) > 0 && !hasCode {
		return nil, nil, fmt.Errorf("%d functions declared but the code section is missing", len(b.funcTypes))
	}
	b.pm.definedFuncs = len(b.funcTypes)
	b.ensureVoidType()

	// Sections the rewrite needs even when the module has none.
	synthetic := []struct {
		id      byte
		content func() []byte
	}{
		{secType, func() []byte { return b.typeSection([]byte{0}) }},
		{secImport, func() []byte { return b.importSection(nil) }},
		{secGlobal, func() []byte { c, _ := b.globalSection(nil); return c }},
		{secExport, b.exportSection},
	}
	out := make([]byte, 0, len(src)+len(src)/2)
	out = append(out, src[:8]...)
	emitMissing := func(beforeRank int) {
		for len(synthetic) > 0 && sectionRank[synthetic[0].id] < beforeRank {
			out = appendSection(out, synthetic[0].id, synthetic[0].content())
			synthetic = synthetic[1:]
		}
	}
	for i := range secs {
		s := &secs[i]
		if s.id == secCustom {
			if contents[i] != nil {
				out = appendSection(out, secCustom, contents[i])
			}
			continue
		}
		emitMissing(sectionRank[s.id])
		if len(synthetic) > 0 && synthetic[0].id == s.id {
			synthetic = synthetic[1:] // present in the module
		}
		switch s.id {
		case secType:
			out = appendSection(out, secType, b.typeSection(s.content))
		case secImport:
			out = appendSection(out, secImport, b.importSection(s.content))
		case secExport:
			out = appendSection(out, secExport, b.exportSection())
		case secStart:
			// exported as exportStart instead
		default:
			out = appendSection(out, s.id, contents[i])
		}
	}
	emitMissing(1 << 30)
	return out, &b.pm, nil
}

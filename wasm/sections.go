package wasm

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
)

// The rewriting of each section of a module; instrument.go drives it.

func sectionName(id byte) string {
	switch id {
	case secCustom:
		return "custom"
	case secType:
		return "type"
	case secImport:
		return "import"
	case secFunction:
		return "function"
	case secTable:
		return "table"
	case secMemory:
		return "memory"
	case secGlobal:
		return "global"
	case secExport:
		return "export"
	case secStart:
		return "start"
	case secElement:
		return "element"
	case secCode:
		return "code"
	case secData:
		return "data"
	case secDataCount:
		return "data count"
	}
	return fmt.Sprintf("id %d", id)
}

func readValType(r *reader) (byte, error) {
	t, err := r.byte()
	if err != nil {
		return 0, err
	}
	switch t {
	case valI32, valI64, valF32, valF64, valFuncref, valExternref:
		return t, nil
	case valV128:
		return 0, errSIMD
	}
	return 0, fmt.Errorf("unsupported value type 0x%02x", t)
}

var errSIMD = errors.New("SIMD (v128) is not allowed: vector instructions are disabled for determinism")

func (b *moduleBuilder) parseTypes(c []byte) error {
	r := &reader{b: c}
	n, err := r.count(3)
	if err != nil {
		return err
	}
	b.types = make([]funcType, 0, n)
	for i := uint32(0); i < n; i++ {
		form, err := r.byte()
		if err != nil {
			return err
		}
		if form != 0x60 {
			return fmt.Errorf("type %d: unsupported type form 0x%02x (only function types)", i, form)
		}
		var t funcType
		for _, dst := range []*[]byte{&t.params, &t.results} {
			m, err := r.count(1)
			if err != nil {
				return fmt.Errorf("type %d: %w", i, err)
			}
			*dst = make([]byte, m)
			for j := range *dst {
				if (*dst)[j], err = readValType(r); err != nil {
					return fmt.Errorf("type %d: %w", i, err)
				}
			}
		}
		b.types = append(b.types, t)
	}
	if !r.done() {
		return errors.New("trailing bytes")
	}
	return nil
}

func (b *moduleBuilder) typeAt(idx uint32) (funcType, error) {
	if idx >= uint32(len(b.types)) {
		return funcType{}, fmt.Errorf("type index %d out of range (%d types)", idx, len(b.types))
	}
	return b.types[idx], nil
}

func (b *moduleBuilder) parseImports(c []byte) error {
	r := &reader{b: c}
	n, err := r.count(4)
	if err != nil {
		return err
	}
	for i := uint32(0); i < n; i++ {
		mod, err := r.name()
		if err != nil {
			return fmt.Errorf("import %d: %w", i, err)
		}
		name, err := r.name()
		if err != nil {
			return fmt.Errorf("import %d: %w", i, err)
		}
		kind, err := r.byte()
		if err != nil {
			return fmt.Errorf("import %d: %w", i, err)
		}
		if kind != 0 {
			what := map[byte]string{1: "a table", 2: "a memory", 3: "a global", 4: "a tag"}[kind]
			if what == "" {
				what = fmt.Sprintf("kind 0x%02x", kind)
			}
			return &ImportError{Module: mod, Name: name, Reason: "imports " + what + "; only functions may be imported"}
		}
		ti, err := r.u32()
		if err != nil {
			return fmt.Errorf("import %d: %w", i, err)
		}
		t, err := b.typeAt(ti)
		if err != nil {
			return fmt.Errorf("import %s.%s: %w", mod, name, err)
		}
		b.pm.imports = append(b.pm.imports, importedFunc{module: mod, name: name, typ: t})
	}
	if !r.done() {
		return errors.New("trailing bytes")
	}
	b.numImports = uint32(len(b.pm.imports))
	return nil
}

func (b *moduleBuilder) parseFunctions(c []byte) error {
	r := &reader{b: c}
	n, err := r.count(1)
	if err != nil {
		return err
	}
	if n > maxFunctions {
		return fmt.Errorf("%d functions exceed the limit of %d", n, maxFunctions)
	}
	b.funcTypes = make([]uint32, n)
	for i := range b.funcTypes {
		ti, err := r.u32()
		if err != nil {
			return err
		}
		if _, err := b.typeAt(ti); err != nil {
			return fmt.Errorf("function %d: %w", i, err)
		}
		b.funcTypes[i] = ti
	}
	if !r.done() {
		return errors.New("trailing bytes")
	}
	return nil
}

// readLimits reads memory or table limits.
func readLimits(r *reader) (min, max uint32, hasMax bool, err error) {
	flag, err := r.byte()
	if err != nil {
		return 0, 0, false, err
	}
	switch flag {
	case 0x00, 0x01:
	case 0x02, 0x03:
		return 0, 0, false, errors.New("shared memory is not allowed: threads are disabled for determinism")
	default:
		return 0, 0, false, fmt.Errorf("unsupported limits flag 0x%02x (64-bit memories and tables are not supported)", flag)
	}
	if min, err = r.u32(); err != nil {
		return 0, 0, false, err
	}
	if flag == 0x01 {
		if max, err = r.u32(); err != nil {
			return 0, 0, false, err
		}
		if max < min {
			return 0, 0, false, fmt.Errorf("maximum %d is smaller than minimum %d", max, min)
		}
		hasMax = true
	}
	return min, max, hasMax, nil
}

func appendLimits(out []byte, min, max uint32) []byte {
	out = append(out, 0x01)
	out = appendU32(out, min)
	return appendU32(out, max)
}

// tableSection clamps every table's maximum so that table.grow cannot make the
// host allocate gigabytes.
func (b *moduleBuilder) tableSection(c []byte) ([]byte, error) {
	r := &reader{b: c}
	n, err := r.count(3)
	if err != nil {
		return nil, err
	}
	out := appendU32(nil, n)
	for i := uint32(0); i < n; i++ {
		rt, err := r.byte()
		if err != nil {
			return nil, err
		}
		if rt != valFuncref && rt != valExternref {
			return nil, fmt.Errorf("table %d: unsupported element type 0x%02x", i, rt)
		}
		min, max, hasMax, err := readLimits(r)
		if err != nil {
			return nil, fmt.Errorf("table %d: %w", i, err)
		}
		if min > maxTableElements {
			return nil, fmt.Errorf("table %d: %d initial elements exceed the limit of %d", i, min, maxTableElements)
		}
		if !hasMax || max > maxTableElements {
			max = maxTableElements
		}
		out = append(out, rt)
		out = appendLimits(out, min, max)
	}
	if !r.done() {
		return nil, errors.New("trailing bytes")
	}
	return out, nil
}

// memorySection clamps the memory maximum to the runtime's limit and rejects
// memories whose initial size already exceeds it.
func (b *moduleBuilder) memorySection(c []byte) ([]byte, error) {
	r := &reader{b: c}
	n, err := r.count(2)
	if err != nil {
		return nil, err
	}
	if n > 1 {
		return nil, fmt.Errorf("%d memories declared; at most one is supported", n)
	}
	out := appendU32(nil, n)
	if n == 1 {
		min, max, hasMax, err := readLimits(r)
		if err != nil {
			return nil, fmt.Errorf("memory: %w", err)
		}
		limit := b.opt.maxMemoryPages
		if min > limit {
			return nil, fmt.Errorf("memory: initial size of %d pages (%d MiB) exceeds the limit of %d pages (%d MiB)",
				min, uint64(min)*64/1024, limit, uint64(limit)*64/1024)
		}
		b.pm.hasMemory, b.pm.memMin = true, min
		if !hasMax || max > limit {
			max = limit
		}
		b.pm.memMax = max
		out = appendLimits(out, min, max)
	}
	if !r.done() {
		return nil, errors.New("trailing bytes")
	}
	return out, nil
}

// constExpr copies a constant expression, its end included, to out with
// ref.func indices remapped.
func (b *moduleBuilder) constExpr(r *reader, out []byte) ([]byte, error) {
	for {
		start := r.off
		op, err := r.byte()
		if err != nil {
			return nil, err
		}
		switch op {
		case 0x0b:
			return append(out, op), nil
		case 0xd2: // ref.func
			idx, err := r.u32()
			if err != nil {
				return nil, err
			}
			out = appendU32(append(out, op), b.remapFunc(idx))
			continue
		case 0x41, 0x23: // i32.const, global.get
			err = r.skipLEB(5)
		case 0x42: // i64.const
			err = r.skipLEB(10)
		case 0x43:
			_, err = r.bytes(4)
		case 0x44:
			_, err = r.bytes(8)
		case 0xd0: // ref.null
			_, err = r.byte()
		case 0xfd:
			return nil, errSIMD
		default:
			return nil, fmt.Errorf("unsupported instruction 0x%02x in constant expression", op)
		}
		if err != nil {
			return nil, err
		}
		out = append(out, r.b[start:r.off]...)
	}
}

// globalSection re-emits the original globals (ref.func indices remapped)
// followed by the instrumenter's own. orig is nil when the module has none.
func (b *moduleBuilder) globalSection(orig []byte) ([]byte, error) {
	r := &reader{b: orig}
	var n uint32
	var entries []byte
	if orig != nil {
		var err error
		if n, err = r.count(3); err != nil {
			return nil, err
		}
		for i := uint32(0); i < n; i++ {
			t, err := readValType(r)
			if err != nil {
				return nil, fmt.Errorf("global %d: %w", i, err)
			}
			mut, err := r.byte()
			if err != nil {
				return nil, err
			}
			entries = append(entries, t, mut)
			if entries, err = b.constExpr(r, entries); err != nil {
				return nil, fmt.Errorf("global %d: %w", i, err)
			}
		}
		if !r.done() {
			return nil, errors.New("trailing bytes")
		}
	}
	b.numGlobals = n
	out := appendU32(nil, n+numAddedGlobals)
	out = append(out, entries...)
	// fuel (i64), stack units (i32), memory limit in pages (i64); all mutable
	// and set by the host before the guest runs.
	out = append(out, valI64, 1, 0x42, 0, 0x0b)
	out = append(out, valI32, 1, 0x41, 0, 0x0b)
	out = append(out, valI64, 1, 0x42, 0, 0x0b)
	return out, nil
}

func (b *moduleBuilder) parseExports(c []byte) error {
	r := &reader{b: c}
	n, err := r.count(3)
	if err != nil {
		return err
	}
	for i := uint32(0); i < n; i++ {
		name, err := r.name()
		if err != nil {
			return fmt.Errorf("export %d: %w", i, err)
		}
		if strings.HasPrefix(name, reservedPrefix) {
			return fmt.Errorf("export %q uses the reserved prefix %q", name, reservedPrefix)
		}
		kind, err := r.byte()
		if err != nil {
			return err
		}
		idx, err := r.u32()
		if err != nil {
			return err
		}
		if kind == 0 {
			b.exportIdx[name] = idx
			b.pm.exportedFuncs = append(b.pm.exportedFuncs, name)
			idx = b.remapFunc(idx)
		}
		b.exports = appendName(b.exports, name)
		b.exports = appendU32(append(b.exports, kind), idx)
	}
	if !r.done() {
		return errors.New("trailing bytes")
	}
	b.numExports = n
	return nil
}

func (b *moduleBuilder) parseStart(c []byte) error {
	r := &reader{b: c}
	idx, err := r.u32()
	if err != nil {
		return err
	}
	if !r.done() {
		return errors.New("trailing bytes")
	}
	b.startFunc, b.pm.hasStart = idx, true
	return nil
}

func (b *moduleBuilder) funcTypeOf(idx uint32) (funcType, error) {
	if idx < b.numImports {
		return b.pm.imports[idx].typ, nil
	}
	if d := idx - b.numImports; d < uint32(len(b.funcTypes)) {
		return b.types[b.funcTypes[d]], nil
	}
	return funcType{}, fmt.Errorf("function index %d out of range", idx)
}

// checkEntryExports classifies the module as a WASI command (an exported
// `_start` of type () -> ()) or a WASI reactor (no `_start`, an optional
// `_initialize` of type () -> (), and at least one other exported function
// for the host to call). The start section, if any, must reference a valid
// function.
func (b *moduleBuilder) checkEntryExports() error {
	for _, name := range []string{"_start", "_initialize"} {
		idx, ok := b.exportIdx[name]
		if !ok {
			continue
		}
		t, err := b.funcTypeOf(idx)
		if err != nil {
			return fmt.Errorf("export %s: %w", name, err)
		}
		if len(t.params) != 0 || len(t.results) != 0 {
			return fmt.Errorf("export %s has type %s; want () -> ()", name, t)
		}
	}
	_, hasStart := b.exportIdx["_start"]
	_, hasInit := b.exportIdx["_initialize"]
	switch {
	case hasStart && hasInit:
		return errors.New("exports both _start and _initialize: a module is either a WASI command or a WASI reactor")
	case hasStart:
		b.pm.kind = KindCommand
	case len(b.exportIdx) > 0 && !(hasInit && len(b.exportIdx) == 1):
		b.pm.kind, b.pm.hasInitialize = KindReactor, hasInit
	default:
		return errors.New("no exported function _start and no other exported function: a module is a WASI command " +
			"(exports _start; build with GOOS=wasip1 or clang --target=wasm32-wasi) or a WASI reactor " +
			"(exports entrypoints; build with -buildmode=c-shared or clang -mexec-model=reactor)")
	}
	if b.pm.hasStart {
		if _, err := b.funcTypeOf(b.startFunc); err != nil {
			return fmt.Errorf("start section: %w", err)
		}
	}
	return nil
}

func (b *moduleBuilder) exportSection() []byte {
	n := b.numExports + numAddedGlobals
	if b.pm.hasStart {
		n++
	}
	out := appendU32(nil, n)
	out = append(out, b.exports...)
	for i, name := range []string{exportFuel, exportStack, exportMemLimit} {
		out = appendName(out, name)
		out = append(out, 0x03)
		out = appendU32(out, b.numGlobals+uint32(i))
	}
	if b.pm.hasStart {
		out = appendName(out, exportStart)
		out = append(out, 0x00)
		out = appendU32(out, b.remapFunc(b.startFunc))
	}
	return out
}

// The refuel function: the instrumented code calls it when its fuel global
// goes negative (see host.go). It is imported after the module's own
// imports, so every function index at or above the original import count
// moves up by one.
const (
	refuelModule = hostModuleName
	refuelName   = "refuel"
)

func (b *moduleBuilder) remapFunc(idx uint32) uint32 {
	if idx < b.numImports {
		return idx
	}
	return idx + 1
}

func (b *moduleBuilder) refuelIndex() uint32 { return b.numImports }

// importSection re-emits the imports with refuel appended. orig is nil when
// the module has none.
func (b *moduleBuilder) importSection(orig []byte) []byte {
	out := appendU32(nil, b.numImports+1)
	if orig != nil {
		r := &reader{b: orig}
		_, _ = r.u32()
		out = append(out, orig[r.off:]...)
	}
	out = appendName(out, refuelModule)
	out = appendName(out, refuelName)
	out = append(out, 0x00)
	return appendU32(out, uint32(b.findBlockType(nil))) // () -> (), see ensureVoidType
}

// elementSection re-emits the element segments with function indices
// remapped, in all eight segment encodings.
func (b *moduleBuilder) elementSection(c []byte) ([]byte, error) {
	r := &reader{b: c}
	n, err := r.count(2)
	if err != nil {
		return nil, err
	}
	out := appendU32(nil, n)
	for i := uint32(0); i < n; i++ {
		flags, err := r.u32()
		if err != nil {
			return nil, err
		}
		if flags > 7 {
			return nil, fmt.Errorf("segment %d: unknown flags %d", i, flags)
		}
		out = appendU32(out, flags)
		active := flags&1 == 0
		if active && flags&2 != 0 { // explicit table index
			t, err := r.u32()
			if err != nil {
				return nil, err
			}
			out = appendU32(out, t)
		}
		if active {
			if out, err = b.constExpr(r, out); err != nil {
				return nil, fmt.Errorf("segment %d offset: %w", i, err)
			}
		}
		if flags&3 != 0 { // element kind or reference type
			k, err := r.byte()
			if err != nil {
				return nil, err
			}
			out = append(out, k)
		}
		m, err := r.count(1)
		if err != nil {
			return nil, fmt.Errorf("segment %d: %w", i, err)
		}
		out = appendU32(out, m)
		for j := uint32(0); j < m; j++ {
			if flags&4 == 0 {
				idx, err := r.u32()
				if err != nil {
					return nil, err
				}
				out = appendU32(out, b.remapFunc(idx))
			} else if out, err = b.constExpr(r, out); err != nil {
				return nil, fmt.Errorf("segment %d element %d: %w", i, j, err)
			}
		}
	}
	if !r.done() {
		return nil, errors.New("trailing bytes")
	}
	return out, nil
}

// nameSection keeps the "name" custom section, with function indices
// remapped, so that trap details name the guest's functions; it returns nil
// (drop) for every other custom section and for a malformed name section,
// which the specification allows engines to ignore. Only the module,
// function and local name subsections are kept.
func (b *moduleBuilder) nameSection(c []byte) []byte {
	r := &reader{b: c}
	if name, err := r.name(); err != nil || name != "name" {
		return nil
	}
	out := appendName(nil, "name")
	for !r.done() {
		id, _ := r.byte()
		size, err := r.u32()
		if err != nil {
			return nil
		}
		payload, err := r.bytes(size)
		if err != nil {
			return nil
		}
		var sub []byte
		switch id {
		case 0:
			sub = payload
		case 1, 2: // function names; local names (indexed by function)
			if sub = b.remapNameMap(payload, id == 2); sub == nil {
				return nil
			}
		default:
			continue
		}
		out = append(out, id)
		out = appendU32(out, uint32(len(sub)))
		out = append(out, sub...)
	}
	return out
}

func (b *moduleBuilder) remapNameMap(c []byte, indirect bool) []byte {
	r := &reader{b: c}
	n, err := r.count(2)
	if err != nil {
		return nil
	}
	out := appendU32(nil, n)
	for i := uint32(0); i < n; i++ {
		idx, err := r.u32()
		if err != nil {
			return nil
		}
		out = appendU32(out, b.remapFunc(idx))
		start := r.off
		if indirect { // a name map of locals follows
			m, err := r.count(2)
			if err != nil {
				return nil
			}
			for j := uint32(0); j < m; j++ {
				if _, err := r.u32(); err != nil {
					return nil
				}
				if _, err := r.name(); err != nil {
					return nil
				}
			}
		} else if _, err := r.name(); err != nil {
			return nil
		}
		out = append(out, c[start:r.off]...)
	}
	return out
}

// planWrapperTypes adds a type () -> results for every multi-result function
// type in use, for the block that wraps such function bodies.
func (b *moduleBuilder) planWrapperTypes() {
	seen := map[string]bool{}
	for _, ti := range b.funcTypes {
		res := b.types[ti].results
		if len(res) < 2 || seen[string(res)] {
			continue
		}
		seen[string(res)] = true
		if b.findBlockType(res) < 0 {
			b.extraTypes = append(b.extraTypes, funcType{results: res})
		}
	}
}

// findBlockType returns the index of a type () -> results, or -1.
func (b *moduleBuilder) findBlockType(results []byte) int {
	for i, t := range b.types {
		if len(t.params) == 0 && bytes.Equal(t.results, results) {
			return i
		}
	}
	for i, t := range b.extraTypes {
		if bytes.Equal(t.results, results) {
			return len(b.types) + i
		}
	}
	return -1
}

// ensureVoidType adds the type () -> () that the refuel import needs when
// the module lacks it (a command's _start always has it; a reactor may not).
func (b *moduleBuilder) ensureVoidType() {
	if b.findBlockType(nil) < 0 {
		b.extraTypes = append(b.extraTypes, funcType{})
	}
}

// typeSection re-emits the type section with the extra types appended; orig
// is the original content (an empty vector when the module had none).
func (b *moduleBuilder) typeSection(orig []byte) []byte {
	if len(b.extraTypes) == 0 {
		return orig
	}
	out := appendU32(nil, uint32(len(b.types)+len(b.extraTypes)))
	r := &reader{b: orig}
	_, _ = r.u32()
	out = append(out, orig[r.off:]...)
	for _, t := range b.extraTypes {
		out = append(out, 0x60)
		out = appendU32(out, uint32(len(t.params)))
		out = append(out, t.params...)
		out = appendU32(out, uint32(len(t.results)))
		out = append(out, t.results...)
	}
	return out
}

// wrapperBlockType encodes the block type () -> results.
func (b *moduleBuilder) wrapperBlockType(results []byte) []byte {
	switch len(results) {
	case 0:
		return []byte{blockEmpty}
	case 1:
		return []byte{results[0]}
	}
	return appendS64(nil, int64(b.findBlockType(results)))
}

func (b *moduleBuilder) codeSection(c []byte) ([]byte, error) {
	r := &reader{b: c}
	n, err := r.count(2)
	if err != nil {
		return nil, err
	}
	if n != uint32(len(b.funcTypes)) {
		return nil, fmt.Errorf("%d function bodies for %d declared functions", n, len(b.funcTypes))
	}
	out := appendU32(make([]byte, 0, len(c)+len(c)/2), n)
	var fi funcInstrumenter
	for i := uint32(0); i < n; i++ {
		size, err := r.u32()
		if err != nil {
			return nil, fmt.Errorf("function %d: %w", b.numImports+i, err)
		}
		body, err := r.bytes(size)
		if err != nil {
			return nil, fmt.Errorf("function %d: %w", b.numImports+i, err)
		}
		t := b.types[b.funcTypes[i]]
		fi.reset(b, t)
		nb, err := fi.rewrite(body)
		if err != nil {
			return nil, fmt.Errorf("function %d: %w", b.numImports+i, err)
		}
		out = appendU32(out, uint32(len(nb)))
		out = append(out, nb...)
	}
	if !r.done() {
		return nil, errors.New("trailing bytes")
	}
	return out, nil
}

package manifest

import (
	"fmt"
	"math"
	"path"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/ipfs/go-cid"
)

// Document identification.
const (
	APIVersion = "ipdm/v1"
	Kind       = "Pipeline"
)

// Segment sizes, in blocks.
const (
	DefaultSegmentSize = 1000
	MaxSegmentSize     = 1_000_000
)

// MaxStartBlock is the largest start block (block numbers and slots fit in
// an int64 everywhere they are stored).
const MaxStartBlock = math.MaxInt64

// MaxRuleWithin bounds a rule's window, in blocks.
const MaxRuleWithin = 10_000_000

// MaxManifestSize bounds the document Decode reads.
const MaxManifestSize = 1 << 20

// Manifest declares a pipeline: a DAG of modules over one chain's blocks,
// plus windows and rules over module outputs.
type Manifest struct {
	APIVersion  string // APIVersion
	Kind        string // Kind
	Name        string
	Description string
	// SegmentSize is the number of blocks processed as one unit of work;
	// zero means DefaultSegmentSize.
	SegmentSize uint64
	Modules     []Module
	Windows     []Window
	Rules       []Rule
}

// ModuleKind says what a module produces.
type ModuleKind string

const (
	// KindMap modules turn their inputs for one block into output bytes.
	KindMap ModuleKind = "map"
	// KindStore modules write key/value state through an update policy.
	KindStore ModuleKind = "store"
)

// Module is one node of the pipeline DAG.
type Module struct {
	Name string
	Kind ModuleKind
	// File is the Wasm binary as a slash-separated path relative to the
	// manifest, which must stay inside the manifest's directory. Exactly
	// one of File and CID is set.
	File string
	// CID names the Wasm binary by content.
	CID cid.Cid
	// Entrypoint is the exported function the runtime calls.
	Entrypoint string
	// StartBlock is the first block (or slot) the module processes. Decode
	// fills an absent start_block with the latest start block of the
	// modules it reads, 0 when it reads only sources.
	StartBlock uint64
	// Inputs are passed to the module in this order.
	Inputs []Input
	// Output is a map module's output type, "encoding:name" with encoding
	// json, proto or raw (for example "json:ipdm.erc20.Transfers").
	Output string
	// ValueType and UpdatePolicy define a store module's values.
	ValueType    ValueType
	UpdatePolicy Policy
}

// InputKind says what an input reads.
type InputKind string

const (
	InputSource InputKind = "source" // blocks from the chain
	InputMap    InputKind = "map"    // a map module's output for the same block
	InputStore  InputKind = "store"  // a store module's state or deltas
	InputParams InputKind = "params" // a constant string
)

// StoreMode says how a store input is read.
type StoreMode string

const (
	// ModeGet reads the store's state as of the current block.
	ModeGet StoreMode = "get"
	// ModeDeltas reads the changes the store made in the current block.
	ModeDeltas StoreMode = "deltas"
)

// Input is one input of a module. Kind selects which other field applies.
type Input struct {
	Kind   InputKind
	Source SourceKind // InputSource
	Module string     // InputMap, InputStore: the upstream module's name
	Mode   StoreMode  // InputStore; empty means ModeGet
	Params string     // InputParams
	// Type optionally declares the type a source or map input must have;
	// Validate checks it against the source's or upstream module's output.
	Type string
}

// SourceKind names a kind of block data from a chain.
type SourceKind string

const (
	SourceEthereumBlock      SourceKind = "ethereum-block"
	SourceEthereumLogs       SourceKind = "ethereum-logs"
	SourceSolanaInstructions SourceKind = "solana-instructions"
)

// sourceKinds maps each source kind to its chain and the type of the data
// modules receive (the versioned encodings of package pipeline/source).
var sourceKinds = map[SourceKind]struct{ chain, typ string }{
	SourceEthereumBlock:      {"ethereum", "json:ipdm.ethereum.block.v1"},
	SourceEthereumLogs:       {"ethereum", "json:ipdm.ethereum.logs.v1"},
	SourceSolanaInstructions: {"solana", "json:ipdm.solana.instructions.v1"},
}

// Type returns the type of the data a source of kind k yields, or "" for an
// unknown kind.
func (k SourceKind) Type() string { return sourceKinds[k].typ }

// Chain returns the chain a source kind reads, or "" for an unknown kind.
func (k SourceKind) Chain() string { return sourceKinds[k].chain }

// ValueType is the type of a store's values.
type ValueType string

const (
	ValueBigInt ValueType = "bigint" // arbitrary-precision integer, decimal text
	ValueInt64  ValueType = "int64"
	ValueString ValueType = "string"
	ValueBytes  ValueType = "bytes"
)

// Policy is a store's update policy: how a write merges with the value
// already stored. Every policy is merge-safe — merging segment results in
// block order gives the same state as one sequential run — which is what
// lets segments of a store be computed in parallel.
type Policy string

const (
	PolicySet         Policy = "set"           // last write wins
	PolicySetIfAbsent Policy = "set_if_absent" // first write wins
	PolicyAdd         Policy = "add"           // exact integer sum
	PolicyMin         Policy = "min"
	PolicyMax         Policy = "max"
	PolicyAppend      Policy = "append" // concatenation in block order
)

// policyTypes lists the value types each policy accepts.
var policyTypes = map[Policy][]ValueType{
	PolicySet:         {ValueBigInt, ValueInt64, ValueString, ValueBytes},
	PolicySetIfAbsent: {ValueBigInt, ValueInt64, ValueString, ValueBytes},
	PolicyAdd:         {ValueBigInt, ValueInt64},
	PolicyMin:         {ValueBigInt, ValueInt64},
	PolicyMax:         {ValueBigInt, ValueInt64},
	PolicyAppend:      {ValueString, ValueBytes},
}

// WindowKind is the shape of a window.
type WindowKind string

const (
	// Tumbling windows are consecutive and do not overlap (step = size).
	Tumbling WindowKind = "tumbling"
	// Sliding windows start every step and overlap when step < size.
	Sliding WindowKind = "sliding"
)

// Window groups a map module's rows by spans of blocks or of block time.
type Window struct {
	Name   string
	Module string // the map module whose output rows are windowed
	Kind   WindowKind
	Size   Span
	// Step is how far consecutive windows start apart: zero or Size for
	// tumbling windows, 0 < Step <= Size in the same unit for sliding ones.
	Step Span
	// GroupBy optionally names a field of the rows (dot-separated for
	// nested fields, like a rule's key) whose value splits each window's
	// aggregates into one result per value.
	GroupBy string
	// Sum optionally names integer fields of the rows (JSON integers or
	// decimal strings) to total exactly in each window and group, in this
	// order; at most MaxWindowSums, no repeats.
	Sum []string
}

// MaxWindowSums bounds the fields one window sums.
const MaxWindowSums = 16

// Span is a length in blocks or in block time; exactly one field is set.
type Span struct {
	Blocks uint64
	// Time is a span of block timestamps, in whole seconds.
	Time time.Duration
}

// IsZero reports whether neither field is set.
func (s Span) IsZero() bool { return s == Span{} }

func (s Span) String() string {
	if s.Time != 0 {
		return s.Time.String()
	}
	return fmt.Sprintf("%d blocks", s.Blocks)
}

// Rule declares a simple complex event: an event from First followed by an
// event from Then at most Within blocks later, both rows having the same
// value in field Key.
type Rule struct {
	Name   string
	First  string // map module emitting the first events
	Then   string // map module emitting the second events
	Within uint64 // blocks
	Key    string // a field of both rows, dot-separated for nested fields
}

var (
	nameRe       = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,63}$`)
	entrypointRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,127}$`)
	typeRe       = regexp.MustCompile(`^(json|proto|raw):[A-Za-z0-9_][A-Za-z0-9_./-]{0,199}$`)
	keyRe        = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$`)
)

// MaxParamsSize bounds a params input.
const MaxParamsSize = 64 << 10

// WithDefaults returns m with SegmentSize and store input modes filled.
func (m Manifest) WithDefaults() Manifest {
	if m.SegmentSize == 0 {
		m.SegmentSize = DefaultSegmentSize
	}
	m.Modules = slices.Clone(m.Modules)
	for i := range m.Modules {
		in := slices.Clone(m.Modules[i].Inputs)
		for j := range in {
			if in[j].Kind == InputStore && in[j].Mode == "" {
				in[j].Mode = ModeGet
			}
		}
		m.Modules[i].Inputs = in
	}
	return m
}

// Module returns the module named name.
func (m Manifest) Module(name string) (Module, bool) {
	for _, mod := range m.Modules {
		if mod.Name == name {
			return mod, true
		}
	}
	return Module{}, false
}

// Validate checks a manifest: fields, references between modules, input
// and output types, store policies, start blocks, cycles, windows and
// rules. It reports every problem in a *FieldErrors.
func (m Manifest) Validate() error {
	c := newCollector()
	m.validate(&c)
	return c.Err()
}

func (m Manifest) validate(c *collector) {
	const root = "manifest"
	check := func(path string, ok bool, format string, args ...any) {
		if !ok && !c.Covered(path) {
			c.Report(path, fmt.Sprintf(format, args...))
		}
	}
	check(field(root, "apiVersion"), m.APIVersion == APIVersion, "must be %q, not %q", APIVersion, m.APIVersion)
	check(field(root, "kind"), m.Kind == Kind, "must be %q, not %q", Kind, m.Kind)
	check(field(root, "name"), nameRe.MatchString(m.Name), "%s", notA(m.Name, nameRule))
	check(field(root, "segment_size"), m.SegmentSize <= MaxSegmentSize, "%d exceeds the maximum of %d blocks", m.SegmentSize, MaxSegmentSize)
	check(field(root, "modules"), len(m.Modules) > 0, "a pipeline needs at least one module")

	// Names are unique across modules, windows and rules.
	names := map[string]string{}
	claim := func(path, name string) {
		if !nameRe.MatchString(name) {
			check(path, false, "%s", notA(name, nameRule))
			return
		}
		if first, dup := names[name]; dup {
			check(path, false, "duplicate name %q (first used at %s)", name, first)
			return
		}
		names[name] = path
	}
	for i := range m.Modules {
		claim(field(index(field(root, "modules"), i), "name"), m.Modules[i].Name)
	}
	byName := modulesByName(m.Modules)
	for i, w := range m.Windows {
		claim(field(index(field(root, "windows"), i), "name"), w.Name)
	}
	for i, r := range m.Rules {
		claim(field(index(field(root, "rules"), i), "name"), r.Name)
	}

	chains := map[string]string{} // chain -> path of the first source reading it
	for i := range m.Modules {
		m.validateModule(c, check, index(field(root, "modules"), i), &m.Modules[i], byName, chains)
	}
	if len(chains) > 1 {
		var paths []string
		for _, p := range chains {
			paths = append(paths, p)
		}
		slices.Sort(paths)
		check(field(root, "modules"), false, "sources from more than one chain (%s): a pipeline indexes one chain", strings.Join(paths, ", "))
	}
	if cycle, at := findCycle(m.Modules, byName); cycle != nil {
		check(at, false, "cycle: %s", strings.Join(cycle, " -> "))
	}

	mapOf := func(path, name string) *Module {
		mod, ok := byName[name]
		switch {
		case name == "":
			check(path, false, "missing: name a map module")
		case !ok:
			check(path, false, "no module named %q", name)
		case mod.Kind == KindStore:
			check(path, false, "%q is a store; a map module's output is required", name)
		default:
			return mod
		}
		return nil
	}
	for i, w := range m.Windows {
		p := index(field(root, "windows"), i)
		if mod := mapOf(field(p, "module"), w.Module); mod != nil && mod.Output != "" && (w.GroupBy != "" || len(w.Sum) > 0) {
			check(field(p, "module"), strings.HasPrefix(mod.Output, "json:"),
				"%q outputs %s; a window's group_by and sum need JSON rows", w.Module, mod.Output)
		}
		if w.GroupBy != "" {
			check(field(p, "group_by"), keyRe.MatchString(w.GroupBy), "%s", notA(w.GroupBy, fieldRule))
		}
		check(field(p, "sum"), len(w.Sum) <= MaxWindowSums, "%d fields exceed the limit of %d", len(w.Sum), MaxWindowSums)
		for j, f := range w.Sum {
			sp := index(field(p, "sum"), j)
			check(sp, keyRe.MatchString(f), "%s", notA(f, fieldRule))
			if k := slices.Index(w.Sum, f); k < j {
				check(sp, false, "%q is already summed at sum[%d]", f, k)
			}
		}
		switch w.Kind {
		case Tumbling, Sliding:
		default:
			check(field(p, "kind"), false, "%s", notA(string(w.Kind), "tumbling or sliding"))
		}
		checkSpan(check, field(p, "size"), w.Size, true)
		checkSpan(check, field(p, "step"), w.Step, w.Kind == Sliding)
		sameUnit := (w.Size.Time == 0) == (w.Step.Time == 0)
		switch {
		case w.Kind == Tumbling && !w.Step.IsZero():
			check(field(p, "step"), w.Step == w.Size, "a tumbling window's step is its size (%s); omit it", w.Size)
		case w.Kind == Sliding && !w.Step.IsZero() && !w.Size.IsZero():
			check(field(p, "step"), sameUnit, "%s and size %s are in different units", w.Step, w.Size)
			if sameUnit {
				check(field(p, "step"), w.Step.Blocks <= w.Size.Blocks && w.Step.Time <= w.Size.Time,
					"%s exceeds the size %s: windows would leave gaps", w.Step, w.Size)
			}
		}
	}
	for i, r := range m.Rules {
		p := index(field(root, "rules"), i)
		for _, ref := range []struct{ key, name string }{{"first", r.First}, {"then", r.Then}} {
			if mod := mapOf(field(p, ref.key), ref.name); mod != nil && mod.Output != "" {
				check(field(p, ref.key), strings.HasPrefix(mod.Output, "json:"),
					"%q outputs %s; a rule's key needs JSON rows", ref.name, mod.Output)
			}
		}
		check(field(p, "within"), r.Within >= 1 && r.Within <= MaxRuleWithin, "%d is not between 1 and %d blocks", r.Within, MaxRuleWithin)
		check(field(p, "key"), keyRe.MatchString(r.Key), "%s", notA(r.Key, fieldRule))
	}
}

func checkSpan(check func(string, bool, string, ...any), path string, s Span, required bool) {
	switch {
	case s.IsZero():
		check(path, !required, "missing: a number of blocks or a duration of block time")
	case s.Blocks != 0 && s.Time != 0:
		check(path, false, "both blocks and time set")
	case s.Time < 0:
		check(path, false, "%s is negative", s.Time)
	case s.Time != 0:
		check(path, s.Time%time.Second == 0, "%s is not a whole number of seconds (block time has second resolution)", s.Time)
	}
}

func (m Manifest) validateModule(c *collector, check func(string, bool, string, ...any), p string, mod *Module, byName map[string]*Module, chains map[string]string) {
	switch mod.Kind {
	case KindMap:
		check(field(p, "output"), mod.Output != "", "missing: a map module declares its output type")
		if mod.Output != "" {
			check(field(p, "output"), typeRe.MatchString(mod.Output), "%s", notA(mod.Output, typeRule))
		}
		check(field(p, "value_type"), mod.ValueType == "", "only store modules have a value type")
		check(field(p, "update_policy"), mod.UpdatePolicy == "", "only store modules have an update policy")
	case KindStore:
		check(field(p, "output"), mod.Output == "", "a store module has no output type; it has value_type and update_policy")
		types, okPolicy := policyTypes[mod.UpdatePolicy]
		okType := slices.Contains(policyTypes[PolicySet], mod.ValueType) // set takes every value type
		check(field(p, "update_policy"), okPolicy, "%s", notA(string(mod.UpdatePolicy), "set, set_if_absent, add, min, max or append"))
		check(field(p, "value_type"), okType, "%s", notA(string(mod.ValueType), "bigint, int64, string or bytes"))
		if okPolicy && okType {
			check(field(p, "update_policy"), slices.Contains(types, mod.ValueType), "%s does not apply to %s values (it takes %s)", mod.UpdatePolicy, mod.ValueType, joinTypes(types))
		}
	default:
		check(field(p, "kind"), false, "%s", notA(string(mod.Kind), "map or store"))
	}
	hasFile, hasCID := mod.File != "", mod.CID.Defined()
	switch {
	case hasFile && hasCID:
		check(p, false, "both file and cid name the Wasm binary; give one")
	case !hasFile && !hasCID:
		check(field(p, "file"), false, "missing: name the Wasm binary with file (a path relative to the manifest) or cid")
	case hasFile:
		check(field(p, "file"), localPath(mod.File), "%q is not a relative path inside the manifest's directory", mod.File)
	}
	check(field(p, "entrypoint"), entrypointRe.MatchString(mod.Entrypoint), "%s", notA(mod.Entrypoint, "an exported function name (letters, digits, '_')"))
	check(field(p, "start_block"), mod.StartBlock <= MaxStartBlock, "%d exceeds %d", mod.StartBlock, uint64(MaxStartBlock))

	data, params := 0, 0
	seen := map[string]int{}
	for j, in := range mod.Inputs {
		ip := index(field(p, "inputs"), j)
		mode := in.Mode
		if in.Kind == InputStore && mode == "" {
			mode = ModeGet
		}
		key := string(in.Kind) + ":" + string(in.Source) + in.Module + ":" + string(mode)
		if in.Kind != InputParams {
			if first, dup := seen[key]; dup {
				check(ip, false, "the same input as inputs[%d]", first)
			}
			seen[key] = j
		}
		check(field(ip, "mode"), in.Kind == InputStore || in.Mode == "", "only store inputs have a mode")
		check(field(ip, "type"), in.Type == "" || in.Kind == InputSource || in.Kind == InputMap, "only source and map inputs declare a type")
		if in.Type != "" {
			check(field(ip, "type"), typeRe.MatchString(in.Type), "%s", notA(in.Type, typeRule))
		}
		switch in.Kind {
		case InputSource:
			data++
			kp := field(ip, "source")
			if in.Source.Type() == "" {
				check(kp, false, "%s", notA(string(in.Source), "a source kind ("+joinKinds()+")"))
				continue
			}
			if _, ok := chains[in.Source.Chain()]; !ok {
				chains[in.Source.Chain()] = kp
			}
			if in.Type != "" {
				check(field(ip, "type"), in.Type == in.Source.Type(), "declared %s, but source %s yields %s", in.Type, in.Source, in.Source.Type())
			}
		case InputMap, InputStore:
			kp := field(ip, string(in.Kind))
			if in.Kind == InputMap {
				data++
			} else {
				check(field(ip, "mode"), in.Mode == "" || in.Mode == ModeGet || in.Mode == ModeDeltas, "%s", notA(string(in.Mode), "get or deltas"))
			}
			up, ok := byName[in.Module]
			switch {
			case in.Module == "":
				check(kp, false, "missing: name an upstream module")
			case !ok:
				check(kp, false, "no module named %q", in.Module)
			case up == mod:
				check(kp, false, "module %q reads its own output", mod.Name)
			case in.Kind == InputMap && up.Kind == KindStore:
				check(kp, false, "%q is a store; a map module's output is required here (read a store with store: %s)", in.Module, in.Module)
			case in.Kind == InputStore && up.Kind == KindMap:
				check(kp, false, "%q is a map module, not a store (read its output with map: %s)", in.Module, in.Module)
			default:
				if in.Type != "" && in.Kind == InputMap && up.Output != "" {
					check(field(ip, "type"), in.Type == up.Output, "declared %s, but %q outputs %s", in.Type, in.Module, up.Output)
				}
				check(field(p, "start_block"), mod.StartBlock >= up.StartBlock,
					"%d is before %d, the start block of input %q: its output does not exist yet", mod.StartBlock, up.StartBlock, in.Module)
			}
		case InputParams:
			params++
			check(field(ip, "params"), params == 1, "a module takes at most one params input")
			check(field(ip, "params"), len(in.Params) <= MaxParamsSize, "%d bytes exceed the limit of %d", len(in.Params), MaxParamsSize)
		default:
			check(ip, false, "input kind %q is not source, map, store or params", in.Kind)
		}
	}
	if !c.Covered(field(p, "inputs")) {
		check(field(p, "inputs"), data > 0, "a module needs a source or map input (stores and params alone give it nothing per block)")
	}
}

const (
	fieldRule = "a field name (letters, digits, '_', dot-separated)"
	nameRule  = "a name (lowercase letters, digits, '_' and '-', starting with a letter, at most 64)"
	typeRule  = "a type (json:NAME, proto:NAME or raw:NAME)"
)

// notA says that value is not what it should be, or that it is missing.
func notA(value, what string) string {
	if value == "" {
		return "missing: " + what
	}
	return fmt.Sprintf("%q is not %s", value, what)
}

// localPath reports whether p is a clean relative slash path that stays
// inside its base directory.
func localPath(p string) bool {
	if p == "" || strings.ContainsAny(p, "\\\x00") || path.IsAbs(p) {
		return false
	}
	c := path.Clean(p)
	return c != "." && c != ".." && !strings.HasPrefix(c, "../")
}

func joinTypes(ts []ValueType) string {
	s := make([]string, len(ts))
	for i, t := range ts {
		s[i] = string(t)
	}
	return strings.Join(s, ", ")
}

func joinKinds() string {
	var s []string
	for k := range sourceKinds {
		s = append(s, string(k))
	}
	slices.Sort(s)
	return strings.Join(s, ", ")
}

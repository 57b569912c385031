package spec

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/ipdm/ipdm/capability"
	"github.com/ipfs/go-cid"
)

// Document identification.
const (
	// APIVersion is the only apiVersion this build reads and writes.
	APIVersion = "ipdm/v1"
	// KindJob is the only kind this build reads and writes.
	KindJob = "Job"
)

// Defaults filled in by Spec.WithDefaults for fields left zero.
const (
	// DefaultMemory is the memory limit of a job that sets none.
	DefaultMemory = 64 * MiB
	// DefaultFuel is the fuel budget of a job that sets none. A unit of fuel
	// is defined by the sandbox (roughly one WebAssembly instruction).
	DefaultFuel uint64 = 10_000_000_000
	// DefaultQueueTimeout bounds the time a job waits for its executors.
	DefaultQueueTimeout = time.Minute
	// DefaultExecutionTimeout bounds one execution, from assignment to the
	// executor's commitment.
	DefaultExecutionTimeout = 5 * time.Minute
	// DefaultReplicas is the number of executors of a job that sets none.
	// One executor means the result is not cross-checked; set replicas to 3
	// or more for verified results.
	DefaultReplicas = 1
)

// Limits enforced by Validate.
const (
	// MaxEncodedSize bounds the size of a document accepted by Decode and of
	// the canonical encoding, in bytes.
	MaxEncodedSize = 1 << 20
	// MaxInputs bounds the number of inputs.
	MaxInputs = 1024
	// MaxInputNameLen bounds the length of an input name in bytes.
	MaxInputNameLen = 255
	// MaxArgs bounds the number of arguments.
	MaxArgs = 1024
	// MaxEnv bounds the number of environment variables.
	MaxEnv = 256
	// MaxEnvNameLen bounds the length of an environment variable name.
	MaxEnvNameLen = 256
	// MaxStringLen bounds the length of an argument or environment value.
	MaxStringLen = 16 << 10
	// MinMemory is the smallest memory limit: one WebAssembly page.
	MinMemory = 64 * KiB
	// MaxMemory is the largest memory limit: all of a 32-bit linear memory.
	MaxMemory = 4 * GiB
	// MaxTimeout bounds each timeout.
	MaxTimeout = 7 * 24 * time.Hour
	// MaxReplicas bounds the number of executors of a job.
	MaxReplicas = 64
	// MaxPinOn bounds Publisher.PinOn.
	MaxPinOn = 64
	// MaxLabels bounds the number of label constraints.
	MaxLabels = 64
	// MaxLabelKeyLen and MaxLabelValueLen bound label keys and values.
	MaxLabelKeyLen   = 63
	MaxLabelValueLen = 63
)

// Runners.
const (
	RunnerWASI    = "wasi"
	RunnerSegment = "pipeline-segment/v1"
)

var runnerRe = regexp.MustCompile(`^[a-z0-9][a-z0-9./-]{0,63}$`)

// Spec is a job: which module to run on which inputs, with which limits, on
// how many executors. The zero value is not valid; see Decode, Validate and
// WithDefaults. Numeric fields left zero take the defaults documented on
// each field.
type Spec struct {
	// APIVersion must be APIVersion ("ipdm/v1").
	APIVersion string
	// Kind must be KindJob ("Job").
	Kind string
	// Runner says how executors run the job: empty (or RunnerWASI) runs
	// Module as a WASI command over Inputs; RunnerSegment runs a pipeline
	// segment described by the first input (package pipeline/engine), with
	// Module naming the segment's first Wasm module. Executors decline
	// runners they do not have.
	Runner string
	// Module is the WebAssembly module to run. Required.
	Module Module
	// Inputs are the content the job reads, in the order the module sees them.
	Inputs []Input
	// Args are the module's command-line arguments (argv[1:]).
	Args []string
	// Env is the module's environment. Names are [A-Za-z_][A-Za-z0-9_]*.
	Env map[string]string
	// Resources bounds one execution.
	Resources Resources
	// Replicas is K, the number of distinct executors that run the job
	// (1..MaxReplicas, default DefaultReplicas).
	Replicas int
	// Quorum is the number of executors that must report the same result
	// for it to be accepted (1..Replicas, default a majority: Replicas/2+1).
	// A quorum of at most half of Replicas allows two results to reach it;
	// such a tie fails the job.
	Quorum int
	// Constraints restrict which nodes may execute the job.
	Constraints Constraints
	// Publisher says where the result is kept.
	Publisher Publisher
	// Seed seeds the module's random source. When nil, executors derive the
	// seed from the job digest (see EffectiveSeed), so that runs stay
	// deterministic.
	Seed *uint64
}

// Input is one piece of content the job reads.
type Input struct {
	// CID identifies the content. Required.
	CID cid.Cid
	// Name is how the module sees the input (a file name: letters, digits,
	// '.', '_', '-', at most MaxInputNameLen bytes, not "." or ".."). When
	// empty the input is named by its CID string. Effective names are unique
	// within a job.
	Name string
}

// EffectiveName returns Name, or the CID string when Name is empty.
func (in Input) EffectiveName() string {
	if in.Name != "" {
		return in.Name
	}
	return in.CID.String()
}

// Resources bounds one execution of the job.
type Resources struct {
	// Memory limits the module's linear memory (MinMemory..MaxMemory,
	// default DefaultMemory). The sandbox rounds it down to whole 64 KiB
	// pages (see MemoryPages).
	Memory Size
	// Fuel limits the work the module may do (default DefaultFuel).
	Fuel uint64
	// Timeouts bound the job's phases.
	Timeouts Timeouts
}

// MemoryPages returns Memory in whole WebAssembly pages of 64 KiB.
func (r Resources) MemoryPages() uint32 { return uint32(uint64(r.Memory) / uint64(64*KiB)) }

// Timeouts bound the phases of a job. Each is positive and at most
// MaxTimeout; zero means the default.
type Timeouts struct {
	// Queue bounds the time from submission until the job has all its
	// executors (default DefaultQueueTimeout, capped by Total).
	Queue time.Duration
	// Execution bounds one execution, from assignment until the executor
	// commits to its result (default DefaultExecutionTimeout, capped by
	// Total).
	Execution time.Duration
	// Total bounds the whole job, from submission to the accepted result,
	// including retries (default Queue + 2×Execution, capped by MaxTimeout).
	// Queue and Execution must not exceed it.
	Total time.Duration
}

// Constraints restrict the nodes that may execute a job.
type Constraints struct {
	// Labels a node must carry with exactly these values. Keys are 1-63
	// letters, digits, '.', '_', '-', '/', starting and ending with a letter
	// or digit; values are at most 63 printable characters.
	Labels map[string]string
	// Roles a node must play (capability.RoleProcessing, RoleStorage,
	// RoleGateway), each at most once. Order is not significant.
	Roles []string
}

// IsZero reports whether c constrains nothing.
func (c Constraints) IsZero() bool { return len(c.Labels) == 0 && len(c.Roles) == 0 }

// Match reports whether a node carrying labels and roles satisfies c.
func (c Constraints) Match(labels map[string]string, roles []string) bool {
	for k, v := range c.Labels {
		if got, ok := labels[k]; !ok || got != v {
			return false
		}
	}
	for _, r := range c.Roles {
		if !slices.Contains(roles, r) {
			return false
		}
	}
	return true
}

// Publisher says where a job's result is kept besides the executors that
// produced it.
type Publisher struct {
	// Local asks the coordinator (the node the job was submitted to) to
	// fetch and pin the accepted result.
	Local bool
	// PinOn asks for the accepted result to be pinned on this many further
	// distinct storage nodes (0..MaxPinOn).
	PinOn int
}

// Majority returns the smallest strict majority of k: k/2+1.
func Majority(k int) int { return k/2 + 1 }

// InputCIDs returns the CIDs of the inputs, in order.
func (s Spec) InputCIDs() []cid.Cid {
	out := make([]cid.Cid, len(s.Inputs))
	for i, in := range s.Inputs {
		out[i] = in.CID
	}
	return out
}

// Clone returns a deep copy of s.
func (s Spec) Clone() Spec {
	s.Inputs = slices.Clone(s.Inputs)
	s.Args = slices.Clone(s.Args)
	s.Env = maps.Clone(s.Env)
	s.Constraints.Labels = maps.Clone(s.Constraints.Labels)
	s.Constraints.Roles = slices.Clone(s.Constraints.Roles)
	if s.Seed != nil {
		seed := *s.Seed
		s.Seed = &seed
	}
	return s
}

// WithDefaults returns a deep copy of s with every defaultable field that is
// zero set to its default: apiVersion and kind, memory, fuel, timeouts,
// replicas and quorum. It does not validate, and does not set Seed.
func (s Spec) WithDefaults() Spec {
	s = s.Clone()
	if s.APIVersion == "" {
		s.APIVersion = APIVersion
	}
	if s.Kind == "" {
		s.Kind = KindJob
	}
	r := &s.Resources
	if r.Memory == 0 {
		r.Memory = DefaultMemory
	}
	if r.Fuel == 0 {
		r.Fuel = DefaultFuel
	}
	r.Timeouts = r.Timeouts.withDefaults()
	if s.Replicas == 0 {
		s.Replicas = DefaultReplicas
	}
	if s.Quorum == 0 && s.Replicas > 0 {
		s.Quorum = Majority(s.Replicas)
	}
	return s
}

func (t Timeouts) withDefaults() Timeouts {
	if t.Total > 0 {
		if t.Queue == 0 {
			t.Queue = min(DefaultQueueTimeout, t.Total)
		}
		if t.Execution == 0 {
			t.Execution = min(DefaultExecutionTimeout, t.Total)
		}
		return t
	}
	if t.Queue == 0 {
		t.Queue = DefaultQueueTimeout
	}
	if t.Execution == 0 {
		t.Execution = DefaultExecutionTimeout
	}
	if t.Total == 0 && t.Queue > 0 && t.Execution > 0 {
		t.Total = min(t.Queue+2*t.Execution, MaxTimeout)
	}
	return t
}

// Validate checks s and returns a *FieldErrors listing every problem, or
// nil. Zero numeric fields are valid (they mean the default); apiVersion,
// kind and module are required.
func (s Spec) Validate() error {
	c := newCollector()
	s.validate(&c)
	return c.Err()
}

// validate records the problems of s that c does not already cover.
func (s Spec) validate(c *collector) {
	report := func(path, format string, args ...any) {
		if !c.Covered(path) {
			c.Report(path, fmt.Sprintf(format, args...))
		}
	}
	const root = "spec"

	switch s.APIVersion {
	case APIVersion:
	case "":
		report(root+".apiVersion", "is required (%q)", APIVersion)
	default:
		report(root+".apiVersion", "unsupported apiVersion %q (this build reads %q)", s.APIVersion, APIVersion)
	}
	switch s.Kind {
	case KindJob:
	case "":
		report(root+".kind", "is required (%q)", KindJob)
	default:
		report(root+".kind", "unsupported kind %q (want %q)", s.Kind, KindJob)
	}
	if s.Runner != "" && !runnerRe.MatchString(s.Runner) {
		report(root+".runner", "%q is not a runner name (lowercase letters, digits, '.', '/', '-'; at most 64)", s.Runner)
	}
	if err := s.Module.validate(); err != nil {
		report(root+".module", "%s", err.Error())
	}

	// Inputs.
	inputsPath := root + ".inputs"
	if len(s.Inputs) > MaxInputs {
		report(inputsPath, "%d inputs exceed the limit of %d", len(s.Inputs), MaxInputs)
	}
	seen := make(map[string]int, len(s.Inputs))
	for i, in := range s.Inputs {
		p := index(inputsPath, i)
		if !in.CID.Defined() {
			report(p+".cid", "is required")
			continue
		}
		if in.Name != "" && !validInputName(in.Name) {
			report(p+".name", "%q is not a valid input name (1-%d letters, digits, '.', '_' or '-'; not \".\" or \"..\")", in.Name, MaxInputNameLen)
			continue
		}
		name := in.EffectiveName()
		if j, dup := seen[name]; dup {
			what := ".cid"
			if in.Name != "" {
				what = ".name"
			}
			report(p+what, "input name %q duplicates %s", name, index(inputsPath, j))
			continue
		}
		seen[name] = i
	}

	// Args and env.
	if len(s.Args) > MaxArgs {
		report(root+".args", "%d arguments exceed the limit of %d", len(s.Args), MaxArgs)
	}
	for i, a := range s.Args {
		if msg := checkString(a, MaxStringLen); msg != "" {
			report(index(root+".args", i), "%s", msg)
		}
	}
	if len(s.Env) > MaxEnv {
		report(root+".env", "%d variables exceed the limit of %d", len(s.Env), MaxEnv)
	}
	for _, k := range slices.Sorted(maps.Keys(s.Env)) {
		p := field(root+".env", k)
		if !validEnvName(k) {
			report(p, "%q is not a valid variable name ([A-Za-z_][A-Za-z0-9_]*, at most %d bytes)", k, MaxEnvNameLen)
			continue
		}
		if msg := checkString(s.Env[k], MaxStringLen); msg != "" {
			report(p, "%s", msg)
		}
	}

	// Resources.
	res := root + ".resources"
	if m := s.Resources.Memory; m != 0 && (m < MinMemory || m > MaxMemory) {
		report(res+".memory", "%s is outside %s..%s", m, Size(MinMemory), Size(MaxMemory))
	}
	t := s.Resources.Timeouts
	tp := res + ".timeouts"
	okTimeouts := true
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"queue", t.Queue}, {"execution", t.Execution}, {"total", t.Total}} {
		switch {
		case d.v < 0:
			report(tp+"."+d.name, "%s is negative", d.v)
			okTimeouts = false
		case d.v > MaxTimeout:
			report(tp+"."+d.name, "%s exceeds the limit of %s", d.v, MaxTimeout)
			okTimeouts = false
		}
	}
	if okTimeouts {
		eff := t.withDefaults()
		if t.Queue > 0 && t.Queue > eff.Total {
			report(tp+".queue", "%s exceeds the total timeout %s", t.Queue, eff.Total)
		}
		if t.Execution > 0 && t.Execution > eff.Total {
			report(tp+".execution", "%s exceeds the total timeout %s", t.Execution, eff.Total)
		}
	}

	// Replicas and quorum.
	k := s.Replicas
	okK := true
	if k < 0 || k > MaxReplicas {
		report(root+".replicas", "%d is outside 1..%d", k, MaxReplicas)
		okK = false
	}
	if k == 0 {
		k = DefaultReplicas
	}
	switch {
	case s.Quorum < 0:
		report(root+".quorum", "%d is negative", s.Quorum)
	case okK && s.Quorum > k:
		report(root+".quorum", "%d exceeds replicas (%d)", s.Quorum, k)
	}

	// Constraints.
	cp := root + ".constraints"
	if len(s.Constraints.Labels) > MaxLabels {
		report(cp+".labels", "%d labels exceed the limit of %d", len(s.Constraints.Labels), MaxLabels)
	}
	for _, key := range slices.Sorted(maps.Keys(s.Constraints.Labels)) {
		p := field(cp+".labels", key)
		if !validLabelKey(key) {
			report(p, "%q is not a valid label key (1-%d letters, digits, '.', '_', '-' or '/', starting and ending with a letter or digit)", key, MaxLabelKeyLen)
			continue
		}
		if v := s.Constraints.Labels[key]; !validLabelValue(v) {
			report(p, "label value must be at most %d printable characters", MaxLabelValueLen)
		}
	}
	roles := make(map[string]bool)
	for i, r := range s.Constraints.Roles {
		p := index(cp+".roles", i)
		switch r {
		case capability.RoleProcessing, capability.RoleStorage, capability.RoleGateway:
		default:
			report(p, "unknown role %q (want %s, %s or %s)", r, capability.RoleProcessing, capability.RoleStorage, capability.RoleGateway)
			continue
		}
		if roles[r] {
			report(p, "duplicate role %q", r)
		}
		roles[r] = true
	}

	// Publisher.
	if n := s.Publisher.PinOn; n < 0 || n > MaxPinOn {
		report(root+".publisher.pin_on", "%d is outside 0..%d", n, MaxPinOn)
	}
}

func checkString(s string, max int) string {
	switch {
	case len(s) > max:
		return fmt.Sprintf("%d bytes exceed the limit of %d", len(s), max)
	case !utf8.ValidString(s):
		return "is not valid UTF-8"
	case strings.IndexByte(s, 0) >= 0:
		return "contains a NUL byte"
	}
	return ""
}

func validInputName(s string) bool {
	if s == "" || s == "." || s == ".." || len(s) > MaxInputNameLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

func validEnvName(s string) bool {
	if s == "" || len(s) > MaxEnvNameLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

func validLabelKey(s string) bool {
	if s == "" || len(s) > MaxLabelKeyLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		punct := c == '.' || c == '_' || c == '-' || c == '/'
		if !alnum && !(punct && i > 0 && i < len(s)-1) {
			return false
		}
	}
	return true
}

func validLabelValue(s string) bool {
	if len(s) > MaxLabelValueLen || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

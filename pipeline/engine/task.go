package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ipfs/boxo/ipld/merkledag"
	"github.com/ipfs/go-cid"

	"github.com/ipdm/ipdm/jobs/execute"
	"github.com/ipdm/ipdm/jobs/spec"
	"github.com/ipdm/ipdm/pipeline/manifest"
	"github.com/ipdm/ipdm/wasm"
)

// TaskVersion tags task files.
const TaskVersion = "ipdm.pipeline.segment.v1"

// MaxTaskSize bounds a task file.
const MaxTaskSize = 1 << 20

// Task is a segment job's description: which modules of which manifest to
// run over which blocks, with the upstream outputs and store snapshots they
// read, all by CID. It is the first input of a spec.RunnerSegment job; the
// others are the CIDs it names, so the job's receipts commit to all of it.
type Task struct {
	Version   string            `json:"version"`
	Manifest  string            `json:"manifest"`
	Output    string            `json:"output"`
	Wasm      map[string]string `json:"wasm"`
	Modules   []string          `json:"modules"`
	Start     uint64            `json:"start"`
	End       uint64            `json:"end"`
	Blocks    string            `json:"blocks"`
	Upstream  map[string]string `json:"upstream,omitempty"`
	Snapshots map[string]string `json:"snapshots,omitempty"`
	Fuel      uint64            `json:"fuel_per_block,omitempty"`
	Memory    uint32            `json:"memory_pages,omitempty"`
}

// DecodeTask reads and checks a task file.
func DecodeTask(data []byte) (Task, error) {
	var t Task
	if len(data) > MaxTaskSize {
		return t, fmt.Errorf("%w: task of %d bytes exceeds %d", ErrMalformed, len(data), MaxTaskSize)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&t); err != nil {
		return t, fmt.Errorf("%w: task: %v", ErrMalformed, err)
	}
	if dec.More() {
		return t, fmt.Errorf("%w: task: trailing data", ErrMalformed)
	}
	bad := func(format string, args ...any) (Task, error) {
		return t, fmt.Errorf("%w: task: %s", ErrMalformed, fmt.Sprintf(format, args...))
	}
	if t.Version != TaskVersion {
		return bad("version %q, want %q", t.Version, TaskVersion)
	}
	if t.End < t.Start {
		return bad("segment %d-%d ends before it starts", t.Start, t.End)
	}
	if len(t.Modules) == 0 {
		return bad("no modules")
	}
	for _, c := range t.cids() {
		if _, err := cid.Decode(c); err != nil {
			return bad("%q: %v", c, err)
		}
	}
	return t, nil
}

// cids lists every CID the task names, in a fixed order.
func (t Task) cids() []string {
	out := []string{t.Manifest, t.Blocks}
	for _, m := range [](map[string]string){t.Wasm, t.Upstream, t.Snapshots} {
		for _, k := range sortedKeys(m) {
			out = append(out, m[k])
		}
	}
	return out
}

func sortedKeys(m map[string]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// planKey identifies the plan a task builds: the manifest and Wasm it
// names, by CID, and the output module.
func (t Task) planKey() string {
	var b strings.Builder
	b.WriteString(t.Manifest)
	for _, name := range sortedKeys(t.Wasm) {
		b.WriteString("\x00" + name + "=" + t.Wasm[name])
	}
	b.WriteString("\x00" + t.Output)
	return b.String()
}

// PlanCache keeps the most recently used plans of segment tasks. Plans are
// read-only once built, so tasks running at once share them. The zero
// value keeps DefaultPlanCacheSize plans; a nil *PlanCache keeps none.
// Safe for concurrent use.
type PlanCache struct {
	// Size is how many plans are kept (0: DefaultPlanCacheSize).
	Size int

	mu    sync.Mutex
	plans map[string]*Plan
	order []string // least recently used first
}

// DefaultPlanCacheSize is how many plans a PlanCache keeps by default: a
// plan holds its modules' Wasm bytes.
const DefaultPlanCacheSize = 8

func (c *PlanCache) get(key string) *Plan {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.plans[key]
	if p != nil {
		c.touch(key)
	}
	return p
}

func (c *PlanCache) put(key string, p *Plan) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.plans == nil {
		c.plans = map[string]*Plan{}
	}
	if _, ok := c.plans[key]; !ok {
		c.order = append(c.order, key)
	}
	c.plans[key] = p
	c.touch(key)
	size := c.Size
	if size <= 0 {
		size = DefaultPlanCacheSize
	}
	for len(c.order) > size {
		delete(c.plans, c.order[0])
		c.order = c.order[1:]
	}
}

// touch moves key to the most recently used end of order.
func (c *PlanCache) touch(key string) {
	i := slices.Index(c.order, key)
	c.order = append(append(c.order[:i:i], c.order[i+1:]...), key)
}

// Files reads and stores UnixFS content for segment execution.
type Files interface {
	// Get reads a UnixFS file, fetching it from the network if needed.
	Get(ctx context.Context, c cid.Cid) ([]byte, error)
	// PutDir stores a flat UnixFS directory of files and returns its CID.
	PutDir(ctx context.Context, files map[string][]byte) (cid.Cid, error)
}

// ExecuteTask runs a spec.RunnerSegment job on an executor: it reads the
// task (the job's first input) and everything it names, rebuilds the plan
// from the manifest and Wasm CIDs (so the identities are the executor's own
// computation, not the coordinator's word), runs the stage and stores a
// result directory holding each module's Output as MODULE.out, plus
// exit_code and stderr. A module's own failure is a deterministic outcome
// (exit code 1, message in stderr and Trap), not an error. lie (TEST ONLY)
// alters one record of the first output and re-chains its digests: a
// well-formed wrong answer that only comparison with honest nodes exposes.
//
// plans (may be nil) keeps the plans of recent tasks: a plan is a pure
// function of the manifest and Wasm CIDs, so consecutive segments of a run
// skip re-reading and re-hashing the modules.
func ExecuteTask(ctx context.Context, rt *wasm.Runtime, fs Files, plans *PlanCache, sp spec.Spec, lie bool) (execute.Outcome, error) {
	if len(sp.Inputs) == 0 {
		return execute.Outcome{}, errors.New("segment job without a task input")
	}
	raw, err := fs.Get(ctx, sp.Inputs[0].CID)
	if err != nil {
		return execute.Outcome{}, fmt.Errorf("task: %w", err)
	}
	task, err := DecodeTask(raw)
	if err != nil {
		return failed(ctx, fs, err.Error())
	}
	get := func(s string) ([]byte, error) {
		c, _ := cid.Decode(s) // checked by DecodeTask
		return fs.Get(ctx, c)
	}
	key := task.planKey()
	p := plans.get(key)
	if p == nil {
		doc, err := get(task.Manifest)
		if err != nil {
			return execute.Outcome{}, fmt.Errorf("manifest: %w", err)
		}
		m, err := manifest.Decode(doc)
		if err != nil {
			return failed(ctx, fs, "manifest: "+err.Error())
		}
		wasmBytes := map[string][]byte{}
		for _, name := range sortedKeys(task.Wasm) {
			if wasmBytes[name], err = get(task.Wasm[name]); err != nil {
				return execute.Outcome{}, fmt.Errorf("module %s: %w", name, err)
			}
		}
		if p, err = NewPlan(ctx, doc, m, wasmBytes, task.Output); err != nil {
			return failed(ctx, fs, err.Error())
		}
		for name, c := range task.Wasm {
			if pm, ok := p.Module(name); !ok || pm.WasmCID.String() != c {
				return failed(ctx, fs, fmt.Sprintf("task names Wasm %s for module %q, which the manifest does not have", c, name))
			}
		}
		plans.put(key, p)
	}
	blocksRaw, err := get(task.Blocks)
	if err != nil {
		return execute.Outcome{}, fmt.Errorf("blocks: %w", err)
	}
	bs, err := DecodeBlocks(blocksRaw)
	if err != nil {
		return failed(ctx, fs, err.Error())
	}
	in := StageInput{Segment: Segment{task.Start, task.End}, Blocks: bs, Upstream: map[string]*Output{}, Snapshots: map[string][]byte{}}
	for _, name := range sortedKeys(task.Upstream) {
		data, err := get(task.Upstream[name])
		if err != nil {
			return execute.Outcome{}, fmt.Errorf("upstream %s: %w", name, err)
		}
		o, err := DecodeOutput(data)
		if err != nil {
			return failed(ctx, fs, fmt.Sprintf("upstream %s: %v", name, err))
		}
		pm, ok := p.Module(name)
		if !ok || o.Identity != pm.Identity || o.Segment != in.Segment {
			return failed(ctx, fs, fmt.Sprintf("upstream %s is not that module's output over %s", name, in.Segment))
		}
		in.Upstream[name] = o
	}
	for _, name := range sortedKeys(task.Snapshots) {
		if in.Snapshots[name], err = get(task.Snapshots[name]); err != nil {
			return execute.Outcome{}, fmt.Errorf("snapshot %s: %w", name, err)
		}
	}
	outs, err := RunStage(ctx, rt, p, task.Modules, in, RunOptions{FuelPerBlock: task.Fuel, MemoryPages: task.Memory})
	var me *ModuleError
	switch {
	case errors.As(err, &me):
		return failed(ctx, fs, me.Error())
	case err != nil:
		if ctx.Err() != nil {
			return execute.Outcome{}, err
		}
		return failed(ctx, fs, err.Error())
	}
	if lie {
		tamper(outs[task.Modules[0]])
	}
	files := map[string][]byte{"exit_code": []byte("0\n"), "stderr": nil}
	for name, o := range outs {
		files[name+".out"] = o.Encode()
	}
	root, err := fs.PutDir(ctx, files)
	if err != nil {
		return execute.Outcome{}, err
	}
	return execute.Outcome{Result: root}, nil
}

// failed stores the result of a deterministic failure.
func failed(ctx context.Context, fs Files, msg string) (execute.Outcome, error) {
	root, err := fs.PutDir(ctx, map[string][]byte{"exit_code": []byte("1\n"), "stderr": []byte(msg + "\n")})
	if err != nil {
		return execute.Outcome{}, err
	}
	return execute.Outcome{Result: root, ExitCode: 1, Trap: msg, Stderr: []byte(msg)}, nil
}

// tamper rewrites the last block's payload of o (adding a record) and
// re-chains the digests from there.
func tamper(o *Output) {
	if o == nil || len(o.Blocks) == 0 {
		return
	}
	last := o.Blocks[len(o.Blocks)-1]
	o.Blocks = o.Blocks[:len(o.Blocks)-1]
	var payload []byte
	if o.Store {
		payload = appendDelta(last.Payload, []byte("lie"), []byte("1"))
	} else {
		payload = appendRecord(last.Payload, []byte(`{"lie":true}`))
	}
	o.Append(last.Number, last.Ref, payload)
}

// Network runs stages as verified jobs: the segment's blocks, the
// upstream outputs and snapshots it reads, the manifest and Wasm are
// stored as CIDs; a spec.RunnerSegment job with Replicas executors runs it;
// the accepted result directory's outputs are read back and checked.
type Network struct {
	// Put stores bytes as a UnixFS file (on the coordinating node).
	Put func(ctx context.Context, data []byte) (cid.Cid, error)
	// Get reads a UnixFS file; Block reads one raw block.
	Get   func(ctx context.Context, c cid.Cid) ([]byte, error)
	Block func(ctx context.Context, c cid.Cid) ([]byte, error)
	// Submit submits a job and waits for it to end.
	Submit func(ctx context.Context, sp spec.Spec) (JobOutcome, error)
	// Replicas and Quorum of every segment job (defaults 1 and majority).
	Replicas, Quorum int
	// Resources of every segment job (zero fields: job defaults).
	Resources spec.Resources
	Options   RunOptions

	mu   sync.Mutex
	memo map[string]cid.Cid // content key -> stored CID
}

// JobOutcome is an ended job as the coordinator reports it.
type JobOutcome struct {
	ID      string
	State   string // "completed", "failed", "cancelled"
	Reason  string
	Result  cid.Cid
	Nodes   []string // agreeing executors
	Dissent []string // out-voted executors, "node: why"
	// Exec is each agreeing executor's time from assignment to commitment
	// (fetching inputs and running); Wait is the time from submission to
	// the first assignment (bidding and queueing).
	Exec map[string]time.Duration
	Wait time.Duration
}

func (n *Network) put(ctx context.Context, key string, data func() []byte) (cid.Cid, error) {
	n.mu.Lock()
	c, ok := n.memo[key]
	n.mu.Unlock()
	if ok {
		return c, nil
	}
	c, err := n.Put(ctx, data())
	if err != nil {
		return cid.Undef, err
	}
	n.mu.Lock()
	if n.memo == nil {
		n.memo = map[string]cid.Cid{}
	}
	n.memo[key] = c
	n.mu.Unlock()
	return c, nil
}

// RunStage implements Executor.
func (n *Network) RunStage(ctx context.Context, p *Plan, names []string, in StageInput) (StageResult, error) {
	opts := n.Options.withDefaults()
	task := Task{Version: TaskVersion, Output: p.Output, Wasm: map[string]string{}, Modules: names,
		Start: in.Segment.Start, End: in.Segment.End, Upstream: map[string]string{}, Snapshots: map[string]string{},
		Fuel: opts.FuelPerBlock, Memory: opts.MemoryPages}
	var inputs []cid.Cid
	add := func(key string, data func() []byte) (string, error) {
		c, err := n.put(ctx, key, data)
		if err != nil {
			return "", fmt.Errorf("pipeline: store %s: %w", key, err)
		}
		if !slices.ContainsFunc(inputs, c.Equals) {
			inputs = append(inputs, c)
		}
		return c.String(), nil
	}
	var err error
	if task.Manifest, err = add("manifest", func() []byte { return p.ManifestBytes }); err != nil {
		return StageResult{}, err
	}
	for _, pm := range p.Modules {
		if task.Wasm[pm.Name], err = add("wasm/"+pm.Name, func() []byte { return pm.Wasm }); err != nil {
			return StageResult{}, err
		}
	}
	if task.Blocks, err = add("blocks/"+in.Segment.String(), func() []byte { return EncodeBlocks(in.Blocks) }); err != nil {
		return StageResult{}, err
	}
	for name, o := range in.Upstream {
		if task.Upstream[name], err = add("out/"+o.Identity+"/"+o.Segment.String(), o.Encode); err != nil {
			return StageResult{}, err
		}
	}
	for name, s := range in.Snapshots {
		if task.Snapshots[name], err = add("snap/"+name+"/"+strconv.FormatUint(in.Segment.Start, 10), func() []byte { return s }); err != nil {
			return StageResult{}, err
		}
	}
	taskBytes, _ := json.Marshal(task)
	taskCID, err := n.Put(ctx, taskBytes)
	if err != nil {
		return StageResult{}, fmt.Errorf("pipeline: store task: %w", err)
	}
	first, _ := p.Module(names[0])
	sp := spec.Spec{APIVersion: spec.APIVersion, Kind: spec.KindJob, Runner: spec.RunnerSegment,
		Module: spec.Module{CID: first.WasmCID}, Inputs: []spec.Input{{CID: taskCID, Name: "task.json"}},
		Replicas: max(n.Replicas, 1), Quorum: n.Quorum, Resources: n.Resources}
	for i, c := range inputs {
		sp.Inputs = append(sp.Inputs, spec.Input{CID: c, Name: "in" + strconv.Itoa(i)})
	}
	job, err := n.Submit(ctx, sp)
	if err != nil {
		return StageResult{}, fmt.Errorf("pipeline: submit segment %s: %w", in.Segment, err)
	}
	if job.State != "completed" {
		return StageResult{}, fmt.Errorf("pipeline: segment %s job %s %s: %s", in.Segment, job.ID, job.State, job.Reason)
	}
	raw, err := n.Block(ctx, job.Result)
	if err != nil {
		return StageResult{}, fmt.Errorf("pipeline: segment %s result: %w", in.Segment, err)
	}
	links, err := DirLinks(raw)
	if err != nil {
		return StageResult{}, fmt.Errorf("pipeline: segment %s result: %w", in.Segment, err)
	}
	if c, ok := links["stderr"]; ok {
		if msg, err := n.Get(ctx, c); err == nil && len(bytes.TrimSpace(msg)) > 0 {
			return StageResult{}, fmt.Errorf("pipeline: segment %s (job %s): %s", in.Segment, job.ID, bytes.TrimSpace(msg))
		}
	}
	res := StageResult{Outputs: map[string]*Output{}, Nodes: job.Nodes, Dissent: job.Dissent, Job: job.ID, Result: job.Result.String(), Exec: job.Exec, Wait: job.Wait}
	for _, name := range names {
		c, ok := links[name+".out"]
		if !ok {
			return StageResult{}, fmt.Errorf("pipeline: segment %s (job %s): no output for %s", in.Segment, job.ID, name)
		}
		data, err := n.Get(ctx, c)
		if err != nil {
			return StageResult{}, fmt.Errorf("pipeline: segment %s output %s: %w", in.Segment, name, err)
		}
		o, err := DecodeOutput(data)
		if err != nil {
			return StageResult{}, fmt.Errorf("pipeline: segment %s output %s: %w", in.Segment, name, err)
		}
		res.Outputs[name] = o
		n.mu.Lock()
		if n.memo == nil {
			n.memo = map[string]cid.Cid{}
		}
		n.memo["out/"+o.Identity+"/"+o.Segment.String()] = c
		n.mu.Unlock()
	}
	return res, nil
}

// DirLinks decodes a UnixFS (dag-pb) directory block into its named links.
func DirLinks(block []byte) (map[string]cid.Cid, error) {
	nd, err := merkledag.DecodeProtobuf(block)
	if err != nil {
		return nil, fmt.Errorf("%w: directory: %v", ErrMalformed, err)
	}
	out := map[string]cid.Cid{}
	for _, l := range nd.Links() {
		out[l.Name] = l.Cid
	}
	return out, nil
}

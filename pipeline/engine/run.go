package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/ipdm/ipdm/pipeline/abi"
	"github.com/ipdm/ipdm/pipeline/manifest"
	"github.com/ipdm/ipdm/wasm"
)

// Defaults of RunOptions.
const (
	DefaultFuelPerBlock = 10_000_000_000
	DefaultMemoryPages  = 4096 // 256 MiB
	// MaxRecordSize bounds one output record or store value.
	MaxRecordSize = 16 << 20
)

// RunOptions tunes module execution.
type RunOptions struct {
	// FuelPerBlock is each module's instruction budget per block; zero
	// means DefaultFuelPerBlock. Running out is a deterministic failure.
	FuelPerBlock uint64
	// MemoryPages limits each instance's memory (64 KiB pages); zero means
	// DefaultMemoryPages.
	MemoryPages uint32
	// Native runs the named modules as Go functions instead of their Wasm:
	// for benchmarks that compare the two in one process. Identities do
	// not change, so never use it to produce outputs others rely on.
	Native map[string]NativeModule
}

// NativeModule is a module implemented in Go: it receives the framed input
// of one block and calls host like a Wasm module calls its imports.
type NativeModule func(input []byte, host wasm.StreamHost) error

func (o RunOptions) withDefaults() RunOptions {
	if o.FuelPerBlock == 0 {
		o.FuelPerBlock = DefaultFuelPerBlock
	}
	if o.MemoryPages == 0 {
		o.MemoryPages = DefaultMemoryPages
	}
	return o
}

// ModuleError is a module's own, deterministic failure — a trap, a
// panic, an exhausted budget or an invalid output — at a block. Every
// honest node fails the same way, so it is not retried elsewhere.
type ModuleError struct {
	Module  string
	Block   uint64
	Message string
}

func (e *ModuleError) Error() string {
	return fmt.Sprintf("module %s failed at block %d: %s", e.Module, e.Block, e.Message)
}

// StageInput is what one stage needs to process one segment.
type StageInput struct {
	Segment Segment
	Blocks  []BlockData
	// Upstream holds the outputs, over this segment, of the modules of
	// earlier stages that this stage reads.
	Upstream map[string]*Output
	// Snapshots holds the encoded state, as of the segment's first block,
	// of every store this stage reads.
	Snapshots map[string][]byte
}

// RunStage runs the modules named (all of one stage, in plan order) over
// one segment and returns their outputs. Every module gets a fresh
// instance, so nothing a module keeps in memory leaks from one segment to
// the next — and every node starts from the same state.
func RunStage(ctx context.Context, rt *wasm.Runtime, p *Plan, names []string, in StageInput, opts RunOptions) (map[string]*Output, error) {
	opts = opts.withDefaults()
	mods := make([]*Module, len(names))
	for i, name := range names {
		m, ok := p.Module(name)
		if !ok {
			return nil, fmt.Errorf("pipeline: no module %q in the plan", name)
		}
		mods[i] = m
	}

	// Stores read by this stage: their state as of the current block and
	// the writes of the current block.
	type storeView struct {
		st     *state
		out    *Output
		at     map[uint64]int
		deltas map[uint64][]abi.Delta
	}
	views := map[string]*storeView{}
	for _, m := range mods {
		for _, inp := range m.Inputs {
			if inp.Kind != manifest.InputStore || views[inp.Module] != nil {
				continue
			}
			up, _ := p.Module(inp.Module)
			st, err := decodeState(up, in.Snapshots[inp.Module])
			if err != nil {
				return nil, fmt.Errorf("pipeline: snapshot of store %q: %w", inp.Module, err)
			}
			out := in.Upstream[inp.Module]
			if out == nil {
				return nil, fmt.Errorf("pipeline: writes of store %q over segment %s missing", inp.Module, in.Segment)
			}
			views[inp.Module] = &storeView{st: st, out: out, at: blockIndex(out), deltas: map[uint64][]abi.Delta{}}
		}
	}

	outs := map[string]*Output{}
	index := map[string]map[uint64]int{}
	for name, o := range in.Upstream {
		index[name] = blockIndex(o)
	}
	insts := make([]instance, len(mods))
	defer func() {
		for _, inst := range insts {
			if inst != nil {
				inst.close(ctx)
			}
		}
	}()
	for i, m := range mods {
		outs[m.Name] = &Output{Identity: m.Identity, Store: m.Kind == manifest.KindStore, Segment: in.Segment}
		index[m.Name] = map[uint64]int{}
		inst, err := newInstance(ctx, rt, m, opts)
		if err != nil {
			return nil, err
		}
		insts[i] = inst
	}

	host := &stageHost{}
	for _, bd := range in.Blocks {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if !in.Segment.Contains(bd.Number) {
			return nil, fmt.Errorf("pipeline: block %d outside segment %s", bd.Number, in.Segment)
		}
		for name, v := range views {
			i, ok := v.at[bd.Number]
			if !ok {
				continue
			}
			writes, err := abi.DecodeDeltas(v.out.Blocks[i].Payload)
			if err != nil {
				return nil, fmt.Errorf("pipeline: store %q block %d: %w", name, bd.Number, err)
			}
			ds := make([]abi.Delta, 0, len(writes))
			for _, w := range writes {
				after, changed, err := v.st.apply(w.Key, w.Value)
				if err != nil {
					return nil, &ModuleError{Module: name, Block: bd.Number, Message: err.Error()}
				}
				if changed {
					ds = append(ds, abi.Delta{Key: w.Key, Value: after})
				}
			}
			v.deltas[bd.Number] = ds
		}
		for i, m := range mods {
			if bd.Number < m.StartBlock {
				continue
			}
			inputs := make([][]byte, len(m.Inputs))
			for j, inp := range m.Inputs {
				switch inp.Kind {
				case manifest.InputSource:
					data, ok := bd.Sources[inp.Source]
					if !ok {
						return nil, fmt.Errorf("pipeline: block %d has no %s data", bd.Number, inp.Source)
					}
					inputs[j] = data
				case manifest.InputMap:
					o := outs[inp.Module]
					if o == nil {
						o = in.Upstream[inp.Module]
					}
					if o == nil {
						return nil, fmt.Errorf("pipeline: output of %q over segment %s missing", inp.Module, in.Segment)
					}
					if k, ok := index[inp.Module][bd.Number]; ok {
						inputs[j] = o.Blocks[k].Payload
					} else {
						inputs[j] = abi.EncodeRecords(nil)
					}
				case manifest.InputStore:
					if inp.Mode == manifest.ModeDeltas {
						inputs[j] = abi.EncodeDeltas(views[inp.Module].deltas[bd.Number])
					}
				case manifest.InputParams:
					inputs[j] = []byte(inp.Params)
				}
			}
			host.reset(m, bd.Number)
			for j, inp := range m.Inputs {
				if inp.Kind == manifest.InputStore {
					host.stores[j] = views[inp.Module].st
				}
			}
			trap, err := insts[i].call(ctx, abi.EncodeInput(bd.Number, bd.Time, inputs), host, opts.FuelPerBlock)
			if err != nil {
				return nil, err
			}
			if trap == "" && host.err != nil {
				trap = host.err.Error()
			}
			if trap != "" {
				return nil, &ModuleError{Module: m.Name, Block: bd.Number, Message: trap}
			}
			o := outs[m.Name]
			index[m.Name][bd.Number] = len(o.Blocks)
			if m.Kind == manifest.KindStore {
				o.Append(bd.Number, bd.Ref, abi.EncodeDeltas(host.writes))
			} else {
				o.Append(bd.Number, bd.Ref, abi.EncodeRecords(host.records))
			}
		}
	}
	return outs, nil
}

func blockIndex(o *Output) map[uint64]int {
	at := make(map[uint64]int, len(o.Blocks))
	for i, b := range o.Blocks {
		at[b.Number] = i
	}
	return at
}

// stageHost serves one module's calls for one block.
type stageHost struct {
	mod     *Module
	block   uint64
	records [][]byte
	writes  []abi.Delta
	stores  []*state // by input index; nil for other inputs
	err     error    // the first invalid output, reported as the module's failure
}

func (h *stageHost) reset(m *Module, block uint64) {
	h.mod, h.block, h.records, h.writes, h.err = m, block, nil, nil, nil
	h.stores = make([]*state, len(m.Inputs))
}

func (h *stageHost) fail(err error) error {
	if h.err == nil {
		h.err = err
	}
	return err
}

func (h *stageHost) Output(rec []byte) error {
	switch {
	case h.mod.Kind != manifest.KindMap:
		return h.fail(errors.New("output called by a store module (stores write with store_write)"))
	case len(rec) > MaxRecordSize:
		return h.fail(fmt.Errorf("output record of %d bytes exceeds %d", len(rec), MaxRecordSize))
	case strings.HasPrefix(h.mod.Output, "json:") && !isJSONObject(rec):
		return h.fail(fmt.Errorf("output record is not a JSON object (the module declares %s): %.80q", h.mod.Output, rec))
	}
	h.records = append(h.records, append([]byte(nil), rec...))
	return nil
}

func (h *stageHost) StoreWrite(key, value []byte) error {
	if h.mod.Kind != manifest.KindStore {
		return h.fail(errors.New("store_write called by a map module"))
	}
	if len(key)+len(value) > MaxRecordSize {
		return h.fail(fmt.Errorf("store write of %d bytes exceeds %d", len(key)+len(value), MaxRecordSize))
	}
	if err := validValue(h.mod, key, value); err != nil {
		return h.fail(err)
	}
	h.writes = append(h.writes, abi.Delta{Key: append([]byte(nil), key...), Value: append([]byte(nil), value...)})
	return nil
}

func (h *stageHost) StoreGet(input int, key []byte) ([]byte, bool, error) {
	if input < 0 || input >= len(h.stores) || h.stores[input] == nil {
		return nil, false, h.fail(fmt.Errorf("store_get: input %d of module %s is not a store", input, h.mod.Name))
	}
	v, ok := h.stores[input].get(key)
	return v, ok, nil
}

func (h *stageHost) Log([]byte) {}

func isJSONObject(b []byte) bool {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t' || b[0] == '\n' || b[0] == '\r') {
		b = b[1:]
	}
	return len(b) > 0 && b[0] == '{' && json.Valid(b)
}

// instance is a module ready to run block after block: Wasm or native.
type instance interface {
	call(ctx context.Context, input []byte, host wasm.StreamHost, fuel uint64) (trap string, err error)
	close(ctx context.Context)
}

func newInstance(ctx context.Context, rt *wasm.Runtime, m *Module, opts RunOptions) (instance, error) {
	if fn, ok := opts.Native[m.Name]; ok {
		return nativeInstance(fn), nil
	}
	compiled, err := rt.Compile(ctx, m.Wasm)
	if err != nil {
		if errors.Is(err, wasm.ErrInvalidModule) {
			return nil, &ModuleError{Module: m.Name, Block: m.StartBlock, Message: err.Error()}
		}
		return nil, fmt.Errorf("pipeline: compile %s: %w", m.Name, err)
	}
	inst, err := rt.Instantiate(ctx, compiled, wasm.InstanceOptions{MemoryPages: opts.MemoryPages, Seed: []byte(m.Identity)})
	if err != nil {
		var te *wasm.TrapError
		if errors.Is(err, wasm.ErrInvalidModule) || errors.As(err, &te) {
			return nil, &ModuleError{Module: m.Name, Block: m.StartBlock, Message: err.Error()}
		}
		return nil, fmt.Errorf("pipeline: instantiate %s: %w", m.Name, err)
	}
	return &wasmInstance{inst: inst, entry: m.Entrypoint}, nil
}

type wasmInstance struct {
	inst  *wasm.Instance
	entry string
}

func (w *wasmInstance) call(ctx context.Context, input []byte, host wasm.StreamHost, fuel uint64) (string, error) {
	res, err := w.inst.Call(ctx, w.entry, input, host, fuel)
	if errors.Is(err, wasm.ErrInvalidCall) && ctx.Err() == nil {
		return err.Error(), nil // e.g. the entrypoint is not exported: the module's fault
	}
	if err != nil {
		return "", err
	}
	return res.Trap, nil
}

func (w *wasmInstance) close(ctx context.Context) { w.inst.Close(ctx) }

type nativeInstance NativeModule

func (n nativeInstance) call(_ context.Context, input []byte, host wasm.StreamHost, _ uint64) (string, error) {
	if err := n(input, host); err != nil {
		return err.Error(), nil
	}
	return "", nil
}

func (nativeInstance) close(context.Context) {}

package engine

import (
	"context"
	"fmt"

	"github.com/ipdm/ipdm/pipeline/manifest"
	"github.com/ipdm/ipdm/pipeline/sink"
)

// DefaultMaxUndo is how many recent blocks Follow can undo.
const DefaultMaxUndo = 128

// UndoSink is a Sink that can also delete the rows of blocks after a
// block, atomically with moving its cursor there (for chain reorgs).
type UndoSink interface {
	Sink
	Undo(ctx context.Context, to sink.Cursor) error
}

// Event is one step of a live chain: a new block, or an undo of every
// block after UndoTo (the chain reorganised; the blocks that follow are
// the new canonical ones).
type Event struct {
	Block   *BlockData
	UndoTo  uint64
	UndoRef string
}

// Follower processes a live chain block by block in this process: every
// stage over a one-block segment, store states kept in memory with enough
// history to undo the last MaxUndo blocks, rows written to the sink with
// the block as cursor. Windows and rules are not maintained in this mode
// (they need finality; run them in backfill mode).
type Follower struct {
	Plan     *Plan
	Executor Executor
	Sink     UndoSink
	// MaxUndo bounds the reorg depth (default DefaultMaxUndo); a deeper
	// reorg is an error.
	MaxUndo int
	// States are the stores' states before the first block given (from a
	// backfill's Result.Stores); absent stores start empty.
	States map[string][]byte

	live    map[string]*state
	history []undoPoint // oldest first
}

type undoPoint struct {
	number uint64
	before map[string][]byte // encoded store states before the block
}

// Handle processes one event.
func (f *Follower) Handle(ctx context.Context, ev Event) error {
	if f.live == nil {
		f.live = map[string]*state{}
		for _, m := range f.Plan.Modules {
			if m.Kind != manifest.KindStore {
				continue
			}
			st, err := decodeState(m, f.States[m.Name])
			if err != nil {
				return err
			}
			f.live[m.Name] = st
		}
		if f.MaxUndo <= 0 {
			f.MaxUndo = DefaultMaxUndo
		}
	}
	if ev.Block == nil {
		return f.undo(ctx, ev.UndoTo, ev.UndoRef)
	}
	return f.block(ctx, *ev.Block)
}

func (f *Follower) undo(ctx context.Context, to uint64, ref string) error {
	i := len(f.history)
	for i > 0 && f.history[i-1].number > to {
		i--
	}
	if i == len(f.history) {
		return f.Sink.Undo(ctx, sink.Cursor{Number: to, Hash: ref}) // nothing processed after it
	}
	if i == 0 && len(f.history) == f.MaxUndo {
		return fmt.Errorf("pipeline: reorg back to block %d is deeper than the %d blocks kept for undo", to, f.MaxUndo)
	}
	p := f.history[i]
	for name, enc := range p.before {
		m, _ := f.Plan.Module(name)
		st, err := decodeState(m, enc)
		if err != nil {
			return err
		}
		f.live[name] = st
	}
	f.history = f.history[:i]
	return f.Sink.Undo(ctx, sink.Cursor{Number: to, Hash: ref})
}

func (f *Follower) block(ctx context.Context, bd BlockData) error {
	seg := Segment{bd.Number, bd.Number}
	point := undoPoint{number: bd.Number, before: map[string][]byte{}}
	for name, st := range f.live {
		point.before[name] = st.encode()
	}
	outs := map[string]*Output{}
	for stage := 0; stage < f.Plan.Stages; stage++ {
		var names []string
		for _, m := range f.Plan.StageModules(stage) {
			if m.StartBlock <= bd.Number {
				names = append(names, m.Name)
			}
		}
		if len(names) == 0 {
			continue
		}
		in := StageInput{Segment: seg, Blocks: []BlockData{bd}, Upstream: map[string]*Output{}, Snapshots: map[string][]byte{}}
		for _, name := range names {
			m, _ := f.Plan.Module(name)
			for _, inp := range m.Inputs {
				if inp.Kind == manifest.InputMap || inp.Kind == manifest.InputStore {
					if o := outs[inp.Module]; o != nil {
						in.Upstream[inp.Module] = o
					}
				}
				if inp.Kind == manifest.InputStore {
					in.Snapshots[inp.Module] = point.before[inp.Module]
				}
			}
		}
		res, err := f.Executor.RunStage(ctx, f.Plan, names, in)
		if err != nil {
			return fmt.Errorf("block %d: %w", bd.Number, err)
		}
		for name, o := range res.Outputs {
			outs[name] = o
		}
	}
	for name, st := range f.live {
		if err := applyOutput(st, outs[name]); err != nil {
			return &ModuleError{Module: name, Block: bd.Number, Message: err.Error()}
		}
	}
	var rows []Row
	if o := outs[f.Plan.Output]; o != nil && len(o.Blocks) == 1 {
		recs, err := o.Records(0)
		if err != nil {
			return err
		}
		for i, rec := range recs {
			rows = append(rows, Row{Table: TableName(f.Plan.Output), Block: bd.Number, Index: i, JSON: rec})
		}
	}
	if err := f.Sink.Write(ctx, rows, sink.Cursor{Number: bd.Number, Hash: bd.Ref}); err != nil {
		return fmt.Errorf("pipeline: sink: %w", err)
	}
	f.history = append(f.history, point)
	if len(f.history) > f.MaxUndo {
		f.history = f.history[len(f.history)-f.MaxUndo:]
	}
	return nil
}

// State returns the encoded live state of a store.
func (f *Follower) State(name string) []byte {
	if st := f.live[name]; st != nil {
		return st.encode()
	}
	return nil
}

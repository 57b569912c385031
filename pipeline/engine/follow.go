package engine

import (
	"context"
	"errors"
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
// stage over a one-block segment, store states and the manifest's windows
// and rules kept in memory with enough history to undo the last MaxUndo
// blocks, rows written to the sink with the block as cursor.
//
// A block's rows — the output module's records, then the window results
// and rule matches its processing emitted — go to the sink in one Write,
// ordered and numbered as a backfill (Run) writes them, so a live run and
// a backfill over the same canonical blocks leave the same rows. Windows
// are never flushed: a window's result is written once the chain has passed
// its end. An undo restores the states and windows as they were after the
// block undone to and deletes the rows of later blocks (Sink.Undo); every
// result is filed under the block that emitted it, so none outlives the
// blocks it was computed from.
//
// A Follower is not safe for concurrent use.
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
	// Windows is the windows' and rules' state before the first block
	// given: Result.Windows of a backfill over the blocks before it, run
	// with Config.KeepWindowsOpen. The Follower continues from a copy. Nil
	// starts them empty, as a backfill starting at the first block given
	// does.
	Windows *WindowState

	live    map[string]*state
	post    *postProcessor
	history []undoPoint // oldest first
}

type undoPoint struct {
	number  uint64
	before  map[string][]byte // encoded store states before the block
	windows *postProcessor    // the windows and rules before the block
}

// Handle processes one event.
func (f *Follower) Handle(ctx context.Context, ev Event) error {
	if err := f.init(); err != nil {
		return err
	}
	if ev.Block == nil {
		return f.undo(ctx, ev.UndoTo, ev.UndoRef)
	}
	return f.block(ctx, *ev.Block, true)
}

// Resume brings a new Follower to where a sink's rows end, after a
// restart: blocks are the chain's blocks from the pipeline's first block
// through the sink's cursor, ascending, and nothing is written. All but
// the last MaxUndo of them go through a backfill (Run over Executor, with
// the windows kept open), which sets States and Windows; the last MaxUndo
// are then processed one by one, so that they can be undone like blocks
// Handle processed — the first event of a resumed source is an undo when
// the chain reorganised while nobody was watching. The Follower then
// continues as if it had processed the blocks itself: the windows and rules
// emit what an uninterrupted run would. Call it before the first Handle,
// on a Follower without States and Windows (Resume sets them).
func (f *Follower) Resume(ctx context.Context, blocks []BlockData) error {
	if f.live != nil {
		return errors.New("pipeline: resume after the follower started")
	}
	maxUndo := f.MaxUndo
	if maxUndo <= 0 {
		maxUndo = DefaultMaxUndo
	}
	split := max(0, len(blocks)-maxUndo)
	if split > 0 {
		res, err := Run(ctx, Config{Plan: f.Plan, Blocks: blocks[:split], Executor: f.Executor, KeepWindowsOpen: true})
		if err != nil {
			return err
		}
		f.States, f.Windows = res.Stores, res.Windows
	}
	if err := f.init(); err != nil {
		return err
	}
	for _, bd := range blocks[split:] {
		if err := f.block(ctx, bd, false); err != nil {
			return err
		}
	}
	return nil
}

func (f *Follower) init() error {
	if f.live != nil {
		return nil
	}
	live := map[string]*state{}
	for _, m := range f.Plan.Modules {
		if m.Kind != manifest.KindStore {
			continue
		}
		st, err := decodeState(m, f.States[m.Name])
		if err != nil {
			return err
		}
		live[m.Name] = st
	}
	if f.Windows != nil {
		f.post = f.Windows.pp.clone()
	} else {
		pp, err := newPostProcessor(f.Plan)
		if err != nil {
			return err
		}
		f.post = pp
	}
	if f.MaxUndo <= 0 {
		f.MaxUndo = DefaultMaxUndo
	}
	f.live = live
	return nil
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
	if err := f.restore(f.history[i]); err != nil {
		return err
	}
	f.history = f.history[:i]
	return f.Sink.Undo(ctx, sink.Cursor{Number: to, Hash: ref})
}

// restore sets the stores and windows to their state before p's block.
// The point's windows are taken over: p must not be used again.
func (f *Follower) restore(p undoPoint) error {
	live := make(map[string]*state, len(p.before))
	for name, enc := range p.before {
		m, _ := f.Plan.Module(name)
		st, err := decodeState(m, enc)
		if err != nil {
			return err
		}
		live[name] = st
	}
	f.live = live
	f.post = p.windows
	return nil
}

// block processes one block, writing its rows when write is set. On error
// the stores and windows are left as they were before the block.
func (f *Follower) block(ctx context.Context, bd BlockData, write bool) (err error) {
	seg := Segment{bd.Number, bd.Number}
	point := undoPoint{number: bd.Number, before: map[string][]byte{}, windows: f.post.clone()}
	for name, st := range f.live {
		point.before[name] = st.encode()
	}
	defer func() {
		if err != nil {
			if rerr := f.restore(point); rerr != nil {
				err = fmt.Errorf("%w (and restoring the state before block %d: %v)", err, bd.Number, rerr)
			}
		}
	}()
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
	// The windows and rules, as a backfill's segment feeds them, with this
	// block's rows (every result is filed under this block).
	extra, err := f.post.feed(func(mod string) *Output { return outs[mod] }, []BlockData{bd})
	if err != nil {
		return err
	}
	rows = append(rows, extra...)
	sortRows(rows)
	if write {
		if err := f.Sink.Write(ctx, rows, sink.Cursor{Number: bd.Number, Hash: bd.Ref}); err != nil {
			return fmt.Errorf("pipeline: sink: %w", err)
		}
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

package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/ipfs/go-cid"
	"golang.org/x/sync/errgroup"

	"github.com/ipdm/ipdm/pipeline/abi"
	"github.com/ipdm/ipdm/pipeline/manifest"
	"github.com/ipdm/ipdm/pipeline/sink"
	"github.com/ipdm/ipdm/storage/blocks"
	"github.com/ipdm/ipdm/storage/unixfs"
)

// Executor runs one stage of a plan over one segment, somewhere: in this
// process (Local) or as a verified job on the network.
type Executor interface {
	RunStage(ctx context.Context, p *Plan, names []string, in StageInput) (StageResult, error)
}

// StageResult is an executed stage.
type StageResult struct {
	Outputs map[string]*Output
	// Nodes are the executors whose result was accepted (empty when run
	// in this process); Dissent lists those out-voted, with reasons.
	Nodes   []string
	Dissent []string
	// Job is the job ID when the stage ran as a network job, Result the
	// result directory its quorum accepted; Exec and Wait are its
	// executors' times and its wait for them (see JobOutcome).
	Job    string
	Result string
	Exec   map[string]time.Duration
	Wait   time.Duration
}

// CacheKey names one module's output over one segment.
type CacheKey struct {
	Identity string
	Segment  Segment
}

func (k CacheKey) String() string { return k.Identity + "/" + k.Segment.String() }

// Cache keeps segment outputs by (module identity, segment), so a later
// run — on this node or, for a network cache, any node — does no Wasm work
// for segments already processed. Get returns ok=false on a miss.
type Cache interface {
	Get(ctx context.Context, k CacheKey) (out *Output, ok bool, err error)
	// Put stores out; from says how it was computed (zero for a stage run
	// in this process), so a cache shared with other nodes can give them
	// the evidence they need to trust it.
	Put(ctx context.Context, k CacheKey, out *Output, from Provenance) error
}

// Provenance is how an output was computed on the network: the job that
// ran its stage and the result directory the job's quorum accepted, which
// holds the output as MODULE.out.
type Provenance struct {
	Job    string
	Result string
}

// Block is one block from the source, in order.
type Block = BlockData

// Row is one row for a sink: the output module's records, window results
// and rule matches, in block order. Table is the module, window or rule
// name with '-' made '_' (see TableName).
type Row = sink.Row

// Sink receives rows. Write commits the rows of blocks up to and including
// through (a block number with its reference) atomically with that
// cursor; every sink of package sink is one.
type Sink interface {
	Write(ctx context.Context, rows []Row, through sink.Cursor) error
}

// TableName is the sink table of a module, window or rule: its name with
// '-' (allowed in names, not in table names) made '_'.
func TableName(name string) string { return strings.ReplaceAll(name, "-", "_") }

// Config is one backfill run.
type Config struct {
	Plan *Plan
	// Blocks are the range's blocks in ascending order.
	Blocks []BlockData
	// From and To bound the range (inclusive); zero values take the first
	// and last block of Blocks.
	From, To uint64
	// SegmentSize overrides the manifest's segment size when set.
	SegmentSize uint64
	Executor    Executor
	// Cache may be nil (no reuse).
	Cache Cache
	// Sink may be nil. Rows of blocks at or below After are not written
	// (they were, by the run that set the sink's cursor there).
	Sink  Sink
	After *uint64
	// Parallel bounds the segments in flight per stage (default 8).
	Parallel int
	// Progress, when set, is called after every segment of every stage.
	Progress func(Progress)
	Log      *slog.Logger
	// KeepWindowsOpen says the range is not the end of the chain: the
	// windows still open at its last block are not flushed (no incomplete
	// results are written for them), and Result.Windows holds the windows'
	// and rules' state for a Follower to continue from the next block.
	KeepWindowsOpen bool
}

// Progress reports a run's advance.
type Progress struct {
	Stage, Stages   int
	Done, Segments  int // segments of this stage
	Cached          int // segments of this stage served from the cache
	Blocks          int
	Elapsed         time.Duration
	Segment         Segment
	Nodes           []string
	SegmentDuration time.Duration
	// Exec and Wait are the segment job's executor times and wait.
	Exec map[string]time.Duration
	Wait time.Duration
}

// Result summarises a run.
type Result struct {
	From, To    uint64
	SegmentSize uint64
	Segments    int
	// Computed and Cached count (module, segment) outputs run and reused.
	Computed, Cached int
	Blocks           int
	Rows             int
	// OutputCID is the UnixFS CID of the output module's rows as JSON
	// lines: the same for every partitioning of the range.
	OutputCID cid.Cid
	// StoreCIDs maps each store to the CID of its encoded final state.
	StoreCIDs map[string]cid.Cid
	// Stores maps each store to its final state.
	Stores map[string][]byte
	// Digests maps module -> segment -> proof-of-processing digest (hex).
	Digests map[string][]SegmentDigest
	// Outputs holds every output, by module then segment index.
	Outputs map[string][]*Output
	// Jobs lists the network jobs run, by stage and segment.
	Jobs    []string
	Elapsed time.Duration
	// Windows is the windows' and rules' state after the range's last
	// block, unflushed: set only with Config.KeepWindowsOpen.
	Windows *WindowState
}

// SegmentDigest is one module's digest over one segment.
type SegmentDigest struct {
	Segment Segment
	Digest  string
}

// Run processes the blocks of cfg through the plan: stage by stage, the
// segments of a stage in parallel (cached outputs reused), store snapshots
// merged between stages, then rows written to the sink in block order.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	start := time.Now()
	p := cfg.Plan
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Parallel <= 0 {
		cfg.Parallel = 8
	}
	size := cfg.SegmentSize
	if size == 0 {
		size = p.Manifest.SegmentSize
	}
	if len(cfg.Blocks) == 0 && (cfg.From == 0 && cfg.To == 0) {
		return nil, errors.New("pipeline: the source has no blocks in the range")
	}
	from, to := cfg.From, cfg.To
	if from == 0 && len(cfg.Blocks) > 0 {
		from = cfg.Blocks[0].Number
	}
	if to == 0 && len(cfg.Blocks) > 0 {
		to = cfg.Blocks[len(cfg.Blocks)-1].Number
	}
	if to < from {
		return nil, fmt.Errorf("pipeline: range %d-%d is empty", from, to)
	}
	segs := Segments(from, to, size)
	bySeg := make([][]BlockData, len(segs))
	for _, b := range cfg.Blocks {
		if b.Number < from || b.Number > to {
			continue
		}
		i := sort.Search(len(segs), func(i int) bool { return segs[i].End >= b.Number })
		bySeg[i] = append(bySeg[i], b)
	}

	res := &Result{
		From: from, To: to, SegmentSize: size, Segments: len(segs), Blocks: 0,
		StoreCIDs: map[string]cid.Cid{}, Stores: map[string][]byte{},
		Digests: map[string][]SegmentDigest{}, Outputs: map[string][]*Output{},
	}
	for _, bs := range bySeg {
		res.Blocks += len(bs)
	}
	outs := res.Outputs
	for _, m := range p.Modules {
		outs[m.Name] = make([]*Output, len(segs))
	}
	snaps := map[string][][]byte{} // store -> snapshot before segment i (len segs+1)
	var mu sync.Mutex

	// Rows, windows and rules go to the sink in block order while the last
	// stage runs: segment i as soon as it and every segment before it is
	// done, so an interrupted run leaves a cursor to resume from.
	var all bytes.Buffer
	post, err := newPostProcessor(p)
	if err != nil {
		return nil, err
	}
	emit := func(si int) error {
		seg := segs[si]
		mu.Lock()
		o := outs[p.Output][si]
		mu.Unlock()
		var rows []Row
		for bi, bo := range o.Blocks {
			recs, err := o.Records(bi)
			if err != nil {
				return err
			}
			for i, rec := range recs {
				all.Write(rec)
				all.WriteByte('\n')
				rows = append(rows, Row{Table: TableName(p.Output), Block: bo.Number, Index: i, JSON: rec})
			}
			res.Rows += len(recs)
		}
		mu.Lock()
		extra, err := post.segment(outs, si, bySeg[si])
		mu.Unlock()
		if err != nil {
			return err
		}
		rows = append(rows, extra...)
		if si == len(segs)-1 && !cfg.KeepWindowsOpen {
			last, err := post.flush()
			if err != nil {
				return err
			}
			rows = append(rows, last...)
		}
		if cfg.Sink == nil {
			return nil
		}
		if cfg.After != nil {
			rows = slices.DeleteFunc(rows, func(r Row) bool { return r.Block <= *cfg.After })
			if seg.End <= *cfg.After {
				return nil
			}
		}
		ref := ""
		if bs := bySeg[si]; len(bs) > 0 && bs[len(bs)-1].Number == seg.End {
			ref = bs[len(bs)-1].Ref
		}
		sortRows(rows)
		if err := cfg.Sink.Write(ctx, rows, sink.Cursor{Number: seg.End, Hash: ref}); err != nil {
			return fmt.Errorf("pipeline: sink: %w", err)
		}
		return nil
	}

	for stage := 0; stage < p.Stages; stage++ {
		mods := p.StageModules(stage)
		done, cached := 0, 0
		// A failing sink stops the stage's segments too.
		sctx, stopStage := context.WithCancelCause(ctx)
		g, gctx := errgroup.WithContext(sctx)
		g.SetLimit(cfg.Parallel)
		final := stage == p.Stages-1
		segDone := make([]chan struct{}, len(segs))
		for i := range segDone {
			segDone[i] = make(chan struct{})
		}
		writerErr := make(chan error, 1)
		wctx, stopWriter := context.WithCancel(ctx)
		if final {
			go func() {
				for si := range segs {
					select {
					case <-segDone[si]:
					case <-wctx.Done():
						writerErr <- wctx.Err()
						return
					}
					if err := emit(si); err != nil {
						stopStage(err)
						writerErr <- err
						return
					}
				}
				writerErr <- nil
			}()
		} else {
			writerErr <- nil
		}
		for si, seg := range segs {
			g.Go(func() error {
				if err := gctx.Err(); err != nil {
					return err
				}
				t0 := time.Now()
				var run []string
				have := map[string]*Output{}
				for _, m := range mods {
					if m.StartBlock > seg.End {
						have[m.Name] = &Output{Identity: m.Identity, Store: m.Kind == manifest.KindStore, Segment: seg}
						continue
					}
					if cfg.Cache != nil {
						o, ok, err := cfg.Cache.Get(gctx, CacheKey{m.Identity, seg})
						if err != nil {
							cfg.Log.Warn("cache lookup failed", "module", m.Name, "segment", seg, "err", err)
						} else if ok {
							have[m.Name] = o
							continue
						}
					}
					run = append(run, m.Name)
				}
				var sr StageResult
				if len(run) > 0 {
					in := StageInput{Segment: seg, Blocks: bySeg[si], Upstream: map[string]*Output{}, Snapshots: map[string][]byte{}}
					for _, name := range run {
						m, _ := p.Module(name)
						for _, inp := range m.Inputs {
							switch inp.Kind {
							case manifest.InputMap, manifest.InputStore:
								if o := have[inp.Module]; o != nil {
									in.Upstream[inp.Module] = o
								} else if !slices.Contains(run, inp.Module) {
									mu.Lock()
									in.Upstream[inp.Module] = outs[inp.Module][si]
									mu.Unlock()
								}
								if inp.Kind == manifest.InputStore {
									mu.Lock()
									in.Snapshots[inp.Module] = snaps[inp.Module][si]
									mu.Unlock()
								}
							}
						}
					}
					var err error
					sr, err = cfg.Executor.RunStage(gctx, p, run, in)
					if err != nil {
						return fmt.Errorf("segment %s: %w", seg, err)
					}
					for _, name := range run {
						o := sr.Outputs[name]
						if o == nil {
							return fmt.Errorf("segment %s: the executor returned no output for %s", seg, name)
						}
						m, _ := p.Module(name)
						if o.Identity != m.Identity || o.Segment != seg {
							return fmt.Errorf("segment %s: output for %s is for %s over %s", seg, name, o.Identity, o.Segment)
						}
						have[name] = o
						if cfg.Cache != nil {
							if err := cfg.Cache.Put(gctx, CacheKey{m.Identity, seg}, o, Provenance{Job: sr.Job, Result: sr.Result}); err != nil {
								cfg.Log.Warn("cache store failed", "module", name, "segment", seg, "err", err)
							}
						}
					}
				}
				mu.Lock()
				for name, o := range have {
					outs[name][si] = o
				}
				done++
				res.Computed += len(run)
				res.Cached += len(mods) - len(run)
				if len(run) == 0 {
					cached++
				}
				if sr.Job != "" {
					res.Jobs = append(res.Jobs, sr.Job)
				}
				pr := Progress{Stage: stage, Stages: p.Stages, Done: done, Segments: len(segs), Cached: cached,
					Blocks: res.Blocks, Elapsed: time.Since(start), Segment: seg, Nodes: sr.Nodes, SegmentDuration: time.Since(t0),
					Exec: sr.Exec, Wait: sr.Wait}
				mu.Unlock()
				if cfg.Progress != nil {
					cfg.Progress(pr)
				}
				close(segDone[si])
				return nil
			})
		}
		err := g.Wait()
		if err != nil {
			stopWriter() // segments failed: the writer would wait for ever
		}
		werr := <-writerErr // nil, the sink's error, or the stop's
		stopWriter()
		sinkFailed := werr != nil && context.Cause(sctx) == werr
		stopStage(nil)
		switch {
		case sinkFailed:
			return nil, werr // the segments' errors, if any, are its echo
		case err != nil:
			return nil, err
		case werr != nil:
			return nil, werr
		}
		// Merge the stage's stores, segment by segment, into snapshots.
		for _, m := range mods {
			if m.Kind != manifest.KindStore {
				continue
			}
			st := newState(m)
			chain := [][]byte{st.encode()}
			for si := range segs {
				if err := applyOutput(st, outs[m.Name][si]); err != nil {
					return nil, &ModuleError{Module: m.Name, Block: segs[si].Start, Message: err.Error()}
				}
				chain = append(chain, st.encode())
			}
			snaps[m.Name] = chain
			final := chain[len(chain)-1]
			res.Stores[m.Name] = final
			c, err := bytesCID(ctx, final)
			if err != nil {
				return nil, err
			}
			res.StoreCIDs[m.Name] = c
		}
	}
	for _, m := range p.Modules {
		for si, o := range outs[m.Name] {
			res.Digests[m.Name] = append(res.Digests[m.Name], SegmentDigest{segs[si], o.DigestHex()})
		}
	}

	res.OutputCID, err = bytesCID(ctx, all.Bytes())
	if err != nil {
		return nil, err
	}
	if cfg.KeepWindowsOpen {
		res.Windows = &WindowState{pp: post}
	}
	res.Elapsed = time.Since(start)
	return res, nil
}

// sortRows orders rows by block, then table (output first as produced),
// keeping each table's own order, and renumbers Index per (table, block).
func sortRows(rows []Row) {
	slices.SortStableFunc(rows, func(a, b Row) int {
		if a.Block != b.Block {
			if a.Block < b.Block {
				return -1
			}
			return 1
		}
		return 0
	})
	type tb struct {
		t string
		b uint64
	}
	next := map[tb]int{}
	for i := range rows {
		k := tb{rows[i].Table, rows[i].Block}
		rows[i].Index = next[k]
		next[k]++
	}
}

// applyOutput applies a store's writes over one segment to st.
func applyOutput(st *state, o *Output) error {
	if o == nil {
		return nil
	}
	for _, b := range o.Blocks {
		ws, err := abi.DecodeDeltas(b.Payload)
		if err != nil {
			return err
		}
		for _, w := range ws {
			if _, _, err := st.apply(w.Key, w.Value); err != nil {
				return fmt.Errorf("block %d: %w", b.Number, err)
			}
		}
	}
	return nil
}

// bytesCID returns the UnixFS CID of data.
func bytesCID(ctx context.Context, data []byte) (cid.Cid, error) {
	return unixfs.ImportReader(ctx, blocks.NewMemory(), bytes.NewReader(data), unixfs.Options{})
}

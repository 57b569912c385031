package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/ipfs/boxo/files"
	"github.com/ipfs/go-cid"

	"github.com/ipdm/ipdm/api"
	"github.com/ipdm/ipdm/jobs/spec"
	"github.com/ipdm/ipdm/pipeline/abi"
	"github.com/ipdm/ipdm/pipeline/engine"
	"github.com/ipdm/ipdm/pipeline/manifest"
	"github.com/ipdm/ipdm/pipeline/sink"
	"github.com/ipdm/ipdm/pipeline/source"
	"github.com/ipdm/ipdm/verify"
	"github.com/ipdm/ipdm/wasm"
)

func cmdPipeline(ctx context.Context, e env) error {
	if len(e.args) == 0 {
		return usagef("pipeline needs run, status or diff")
	}
	switch e.args[0] {
	case "run":
		return pipelineRun(ctx, e, e.args[1:])
	case "status":
		return pipelineStatus(ctx, e, e.args[1:])
	case "diff":
		return pipelineDiff(ctx, e, e.args[1:])
	}
	return usagef("want 'pipeline run MANIFEST --source URI [--sink URI]', 'pipeline status NAME' or 'pipeline diff A B'")
}

// runSummary is what `pipeline run` records (and `pipeline status` shows).
type runSummary struct {
	Name        string                     `json:"name"`
	State       string                     `json:"state"` // running, completed, failed
	Error       string                     `json:"error,omitempty"`
	Manifest    string                     `json:"manifest"`
	Source      string                     `json:"source"`
	Sink        string                     `json:"sink,omitempty"`
	Mode        string                     `json:"mode"` // local or network
	From        uint64                     `json:"from"`
	To          uint64                     `json:"to"`
	SegmentSize uint64                     `json:"segment_size"`
	Resumed     *uint64                    `json:"resumed_after,omitempty"`
	Stage       int                        `json:"stage"`
	Stages      int                        `json:"stages"`
	Done        int                        `json:"segments_done"`
	Segments    int                        `json:"segments"`
	Cached      int                        `json:"segments_cached"`
	Blocks      int                        `json:"blocks"`
	BlocksPerS  float64                    `json:"blocks_per_second"`
	Rows        int                        `json:"rows"`
	ElapsedMS   int64                      `json:"elapsed_ms"` // the engine's time, after reading the source
	ModulesRun  int                        `json:"module_segments_computed"`
	ModulesHit  int                        `json:"module_segments_cached"`
	Output      string                     `json:"output,omitempty"`
	Stores      map[string]string          `json:"stores,omitempty"`
	Nodes       map[string]*nodeStat       `json:"nodes,omitempty"`
	Slow        []string                   `json:"slow,omitempty"`
	Digests     map[string][]segmentRecord `json:"digests,omitempty"`
	Started     time.Time                  `json:"started"`
	Updated     time.Time                  `json:"updated"`
}

type segmentRecord struct {
	Segment string `json:"segment"`
	Digest  string `json:"digest"`
	CID     string `json:"cid,omitempty"`
}

type nodeStat struct {
	Segments int     `json:"segments"`
	MeanMS   float64 `json:"mean_ms"`      // fetching inputs and running, per segment
	WaitMS   float64 `json:"mean_wait_ms"` // bidding and queueing before it, per segment
	totalMS  float64
	totalW   float64
}

func pipelineRun(ctx context.Context, e env, args []string) error {
	f := newFlags("pipeline run", e)
	src := f.String("source", "", "block source: file:PATH, ethereum-rpc:URL or solana-rpc:URL")
	snk := f.String("sink", "", "row sink: jsonl:PATH, sqlite:PATH or postgres:DSN (default: none)")
	from := f.Uint64("from", 0, "first block (default: the source's first block)")
	to := f.Uint64("to", 0, "last block (default: the source's last block)")
	segSize := f.Uint64("segment-size", 0, "blocks per segment (default: the manifest's)")
	module := f.String("module", "", "the map module whose rows are the output (default: the one no other module reads)")
	localOnly := f.Bool("local", false, "run every segment in this process even when the repo's daemon runs")
	replicas := f.Int("replicas", 1, "executors per segment job (network mode)")
	parallel := f.Int("parallel", 8, "segments in flight")
	summaryPath := f.String("summary", "", "also write the run summary (digests, output CIDs) to this JSON file")
	follow := f.Bool("follow", false, "after the backfill, follow the chain's head live (reorgs undone in the sink) until interrupted")
	until := f.Uint64("until", 0, "with --follow: stop once this block has been processed")
	poll := f.Duration("poll", 0, "with --follow: how often to ask an RPC source for a new head (default: the source's, 2s for Ethereum)")
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || *src == "" {
		return usagef("want 'pipeline run MANIFEST --source URI [--sink URI]'")
	}
	doc, m, wasmFiles, needCID, err := engine.Load(pos[0])
	if err != nil {
		return err
	}
	log, err := f.logger(e.stderr)
	if err != nil {
		return err
	}

	// Network mode when the repo's daemon runs; otherwise this process.
	var b backend
	repoDir, _ := f.repoPath()
	if !*localOnly {
		if rb, err := openBackend(ctx, f); err == nil {
			if _, isRemote := rb.(remote); isRemote {
				b = rb
				defer rb.Close()
			} else {
				rb.Close()
			}
		}
	}
	for name, c := range needCID {
		if b == nil {
			return fmt.Errorf("module %q names its Wasm by CID %s: start the daemon (ipdm daemon) so it can be fetched", name, c)
		}
		data, err := readAll(ctx, b, c, f.timeout)
		if err != nil {
			return fmt.Errorf("module %q: %w", name, err)
		}
		wasmFiles[name] = data
	}
	plan, err := engine.NewPlan(ctx, doc, m, wasmFiles, *module)
	if err != nil {
		return err
	}

	var after *uint64
	var sk sink.Sink
	if *snk != "" {
		sk, err = sink.Open(ctx, *snk, sink.Options{Name: plan.Manifest.Name, Table: engine.TableName(plan.Output)})
		if err != nil {
			return err
		}
		defer sk.Close()
		c, ok, err := sk.Cursor(ctx)
		if err != nil {
			return err
		}
		if ok {
			n := c.Number
			after = &n
			fmt.Fprintf(e.stderr, "resuming: the sink holds every row through block %d (%s)\n", c.Number, c.Hash)
		}
	}

	if *from == 0 {
		*from = plan.StartBlock()
	}
	if *follow {
		if sk == nil {
			return usagef("--follow needs a --sink (the sink's cursor is where a restart resumes)")
		}
		return pipelineFollow(ctx, e, plan, *src, *from, *until, *poll, sk)
	}
	blocks, err := readBlocks(ctx, plan, *src, *from, *to)
	if err != nil {
		return err
	}
	if len(blocks) == 0 {
		return fmt.Errorf("the source %s has no blocks in the range", *src)
	}

	sum := &runSummary{Name: plan.Manifest.Name, State: "running", Manifest: pos[0], Source: *src, Sink: *snk,
		Mode: "local", Stages: plan.Stages, Resumed: after, Nodes: map[string]*nodeStat{}, Started: time.Now().UTC()}
	statusPath := ""
	if repoDir != "" {
		if _, err := os.Stat(repoDir); err == nil {
			statusPath = filepath.Join(repoDir, "pipelines", plan.Manifest.Name+".json")
		}
	}
	var mu sync.Mutex
	save := func() {
		mu.Lock()
		defer mu.Unlock()
		sum.Updated = time.Now().UTC()
		data, _ := json.MarshalIndent(sum, "", "  ")
		for _, p := range []string{statusPath, *summaryPath} {
			if p != "" {
				writeFileAtomic(p, data)
			}
		}
	}

	cfg := engine.Config{Plan: plan, Blocks: blocks, From: *from, To: *to, SegmentSize: *segSize,
		After: after, Parallel: *parallel, Log: log}
	cacheDir := filepath.Join(repoDir, "pipeline-cache")
	if statusPath == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			base = os.TempDir()
		}
		cacheDir = filepath.Join(base, "ipdm", "pipeline-cache")
	}
	cfg.Cache = engine.DirCache{Dir: cacheDir}
	if b != nil {
		sum.Mode = "network"
		cfg.Executor = networkExecutor(b, *replicas, f.timeout)
		cfg.Cache = nodeCache{dir: engine.DirCache{Dir: cacheDir}, b: b, timeout: f.timeout, quorum: spec.Majority(max(*replicas, 1)),
			warn: func(msg string) { fmt.Fprintln(e.stderr, "warning: "+msg) }}
	} else {
		rt, err := wasm.New(ctx, wasm.Config{CacheDir: filepath.Join(filepath.Dir(cacheDir), "wasm-cache")})
		if err != nil {
			return err
		}
		defer rt.Close(context.Background())
		cfg.Executor = &engine.Local{Runtime: rt}
	}
	if sk != nil {
		cfg.Sink = sk
	}
	cfg.Progress = func(p engine.Progress) {
		mu.Lock()
		sum.Stage, sum.Done, sum.Segments, sum.Cached, sum.Blocks = p.Stage+1, p.Done, p.Segments, p.Cached, p.Blocks
		if s := p.Elapsed.Seconds(); s > 0 {
			sum.BlocksPerS = float64(p.Blocks) * float64(p.Done) / float64(max(p.Segments, 1)) / s
		}
		for _, n := range p.Nodes {
			st := sum.Nodes[n]
			if st == nil {
				st = &nodeStat{}
				sum.Nodes[n] = st
			}
			exec, ok := p.Exec[n]
			if !ok {
				exec = p.SegmentDuration
			}
			st.Segments++
			st.totalMS += float64(exec.Microseconds()) / 1000
			st.totalW += float64(p.Wait.Microseconds()) / 1000
			st.MeanMS, st.WaitMS = st.totalMS/float64(st.Segments), st.totalW/float64(st.Segments)
		}
		sum.Slow = slowNodes(sum.Nodes)
		line := fmt.Sprintf("stage %d/%d: %d/%d segments (%d cached), %.0f blocks/s", p.Stage+1, p.Stages, p.Done, p.Segments, p.Cached, sum.BlocksPerS)
		if len(sum.Slow) > 0 {
			line += "; " + strings.Join(sum.Slow, "; ")
		}
		mu.Unlock()
		if !f.json {
			fmt.Fprintln(e.stderr, line)
		}
		save()
	}
	save()
	res, err := engine.Run(ctx, cfg)
	if err != nil {
		sum.State, sum.Error = "failed", err.Error()
		save()
		return err
	}
	sum.State = "completed"
	sum.From, sum.To, sum.SegmentSize, sum.Segments, sum.Blocks, sum.Rows = res.From, res.To, res.SegmentSize, res.Segments, res.Blocks, res.Rows
	sum.Output = res.OutputCID.String()
	sum.ElapsedMS, sum.ModulesRun, sum.ModulesHit = res.Elapsed.Milliseconds(), res.Computed, res.Cached
	sum.Stores = map[string]string{}
	for name, c := range res.StoreCIDs {
		sum.Stores[name] = c.String()
	}
	sum.Digests = map[string][]segmentRecord{}
	for name, outs := range res.Outputs {
		for _, o := range outs {
			rec := segmentRecord{Segment: o.Segment.String(), Digest: o.DigestHex()}
			if b != nil {
				if c, err := putBytes(ctx, b, o.Encode()); err == nil {
					rec.CID = c.String()
				}
			}
			sum.Digests[name] = append(sum.Digests[name], rec)
		}
	}
	save()
	if f.json {
		return printJSON(e.stdout, sum)
	}
	fmt.Fprintf(e.stdout, "pipeline %s: blocks %d-%d, %d segments of %d blocks, %d module-segments computed, %d cached, %s\n",
		plan.Manifest.Name, res.From, res.To, res.Segments, res.SegmentSize, res.Computed, res.Cached, res.Elapsed.Round(time.Millisecond))
	fmt.Fprintf(e.stdout, "output %s: %d rows (CID %s)\n", plan.Output, res.Rows, res.OutputCID)
	for _, name := range sortedNames(res.StoreCIDs) {
		fmt.Fprintf(e.stdout, "store %s: %d bytes (CID %s)\n", name, len(res.Stores[name]), res.StoreCIDs[name])
	}
	if len(res.Jobs) > 0 {
		fmt.Fprintf(e.stdout, "verified segment jobs: %d\n", len(res.Jobs))
	}
	return nil
}

func sortedNames[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// slowNodes names the executors whose mean segment time is over twice the
// median of all executors, with the figures that make them slow.
func slowNodes(stats map[string]*nodeStat) []string {
	if len(stats) < 2 {
		return nil
	}
	var means []float64
	for _, s := range stats {
		means = append(means, s.MeanMS)
	}
	slices.Sort(means)
	median := means[len(means)/2]
	var out []string
	for _, n := range sortedNames(stats) {
		if s := stats[n]; median > 0 && s.MeanMS > 2*median && s.Segments >= 2 {
			out = append(out, fmt.Sprintf("slow: %s takes %.0f ms to fetch and run a segment (median %.0f ms over %d nodes)", short(n), s.MeanMS, median, len(stats)))
		}
	}
	for _, n := range sortedNames(stats) {
		if s := stats[n]; s.Segments >= 2 && s.WaitMS > 2*s.MeanMS && s.WaitMS > 100 {
			out = append(out, fmt.Sprintf("waiting: segments for %s wait %.0f ms for an executor before running %.0f ms (more nodes or --parallel would help)", short(n), s.WaitMS, s.MeanMS))
		}
	}
	return out
}

func short(id string) string {
	if len(id) > 12 {
		return id[:4] + "…" + id[len(id)-6:]
	}
	return id
}

func writeFileAtomic(path string, data []byte) {
	os.MkdirAll(filepath.Dir(path), 0o755)
	tmp := path + ".tmp"
	if os.WriteFile(tmp, data, 0o644) == nil {
		os.Rename(tmp, path)
	}
}

// readBlocks reads the range from the source into the blocks modules get.
func readBlocks(ctx context.Context, p *engine.Plan, uri string, from, to uint64) ([]engine.BlockData, error) {
	if to == 0 && !strings.HasPrefix(uri, "file:") {
		return nil, usagef("--to is required for an RPC source (live head following runs with 'pipeline run --follow')")
	}
	st, err := source.Open(ctx, uri, source.OpenOptions{From: from, To: to})
	if err != nil {
		return nil, err
	}
	defer st.Close()
	kinds := p.SourceKinds()
	var out []engine.BlockData
	for {
		ev, err := st.Next(ctx)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if ev.Kind == source.EventUndo {
			for len(out) > 0 && out[len(out)-1].Number > ev.UndoTo.Number {
				out = out[:len(out)-1]
			}
			continue
		}
		bd, err := blockData(ev.Unit, kinds)
		if err != nil {
			return nil, err
		}
		out = append(out, bd)
	}
}

func blockData(u source.Unit, kinds []manifest.SourceKind) (engine.BlockData, error) {
	bd := engine.BlockData{Number: u.Number, Time: u.Time, Ref: u.Hash, Sources: map[manifest.SourceKind][]byte{}}
	for _, k := range kinds {
		enc, err := u.Encode(k)
		if err != nil {
			return bd, fmt.Errorf("block %d: %w", u.Number, err)
		}
		bd.Sources[k] = enc
		if bd.Ref == "" {
			bd.Ref = source.ContentID(enc).String()
		}
	}
	return bd, nil
}

// pipelineFollow processes the chain block by block as it grows, in this
// process, windows and rules included, undoing reorganised blocks in the
// sink. A restart resumes after the sink's cursor: store states and the
// windows' and rules' state are rebuilt from the blocks up to it (a backfill
// that keeps windows open, then the last blocks one by one so that they
// stay undoable), and the source checks that the cursor's block is still
// canonical, undoing it first when it is not.
func pipelineFollow(ctx context.Context, e env, plan *engine.Plan, src string, from, until uint64, poll time.Duration, sk sink.Sink) error {
	rt, err := wasm.New(ctx, wasm.Config{})
	if err != nil {
		return err
	}
	defer rt.Close(context.Background())
	local := &engine.Local{Runtime: rt}
	fl := &engine.Follower{Plan: plan, Executor: local, Sink: sk}
	var after *source.Cursor
	if c, ok, err := sk.Cursor(ctx); err != nil {
		return err
	} else if ok {
		after = &source.Cursor{Number: c.Number, Hash: c.Hash}
		if c.Number >= from {
			blocks, err := readBlocks(ctx, plan, src, from, c.Number)
			if err != nil {
				return err
			}
			if err := fl.Resume(ctx, blocks); err != nil {
				return fmt.Errorf("rebuilding state up to the cursor: %w", err)
			}
		}
	}
	st, err := source.Open(ctx, src, source.OpenOptions{From: from, After: after, PollInterval: poll})
	if err != nil {
		return err
	}
	defer st.Close()
	kinds := plan.SourceKinds()
	for {
		ev, err := st.Next(ctx)
		if errors.Is(err, io.EOF) || (err != nil && ctx.Err() != nil) {
			return nil
		}
		if err != nil {
			return err
		}
		if ev.Kind == source.EventUndo {
			fmt.Fprintf(e.stderr, "reorg: undoing every block after %d (%s)\n", ev.UndoTo.Number, ev.UndoTo.Hash)
			if err := fl.Handle(ctx, engine.Event{UndoTo: ev.UndoTo.Number, UndoRef: ev.UndoTo.Hash}); err != nil {
				return err
			}
			continue
		}
		bd, err := blockData(ev.Unit, kinds)
		if err != nil {
			return err
		}
		if err := fl.Handle(ctx, engine.Event{Block: &bd}); err != nil {
			return err
		}
		fmt.Fprintf(e.stderr, "block %d %s\n", bd.Number, bd.Ref)
		if until != 0 && bd.Number >= until {
			return nil
		}
	}
}

func putBytes(ctx context.Context, b backend, data []byte) (cid.Cid, error) {
	res, err := b.Add(ctx, "", files.NewBytesFile(data), api.AddOptions{Pin: true})
	if err != nil {
		return cid.Undef, err
	}
	return cid.Decode(res.CID)
}

func readAll(ctx context.Context, b backend, c cid.Cid, timeout time.Duration) ([]byte, error) {
	rc, _, err := b.Cat(ctx, c.String(), timeout)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

// networkExecutor runs segments as verified jobs through the daemon.
func networkExecutor(b backend, replicas int, timeout time.Duration) *engine.Network {
	return &engine.Network{
		Replicas: replicas,
		Put:      func(ctx context.Context, data []byte) (cid.Cid, error) { return putBytes(ctx, b, data) },
		Get:      func(ctx context.Context, c cid.Cid) ([]byte, error) { return readAll(ctx, b, c, timeout) },
		Block:    func(ctx context.Context, c cid.Cid) ([]byte, error) { return b.BlockGet(ctx, c.String(), timeout) },
		Submit: func(ctx context.Context, sp spec.Spec) (engine.JobOutcome, error) {
			data, err := sp.Encode()
			if err != nil {
				return engine.JobOutcome{}, err
			}
			j, err := b.JobSubmit(ctx, data, true)
			if err != nil {
				return engine.JobOutcome{}, err
			}
			out := engine.JobOutcome{ID: j.ID, State: j.State, Reason: j.Reason, Nodes: j.Agreeing, Exec: map[string]time.Duration{}}
			assigned := map[string]time.Time{}
			for _, h := range j.History {
				switch h.Kind {
				case "assign":
					if out.Wait == 0 {
						out.Wait = h.At.Sub(j.Created)
					}
					assigned[h.Node] = h.At
				case "committed":
					if a, ok := assigned[h.Node]; ok && slices.Contains(j.Agreeing, h.Node) {
						out.Exec[h.Node] = h.At.Sub(a)
					}
				}
			}
			for _, x := range j.Executions {
				if slices.Contains(j.Dissenting, x.Node) {
					out.Dissent = append(out.Dissent, x.Node+": "+x.Reason)
				}
			}
			if j.Result != "" {
				if out.Result, err = cid.Decode(j.Result); err != nil {
					return out, err
				}
			}
			return out, nil
		},
	}
}

func pipelineStatus(ctx context.Context, e env, args []string) error {
	f := newFlags("pipeline status", e)
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("want 'pipeline status NAME' (the manifest's name) or 'pipeline status SUMMARY.json'")
	}
	path := pos[0]
	if !strings.HasSuffix(path, ".json") {
		dir, err := f.repoPath()
		if err != nil {
			return err
		}
		path = filepath.Join(dir, "pipelines", pos[0]+".json")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("pipeline status: no run recorded for %s: %w", pos[0], err)
	}
	var s runSummary
	if err := json.Unmarshal(data, &s); err != nil {
		return fmt.Errorf("pipeline status: %s: %w", path, err)
	}
	if f.json {
		_, err := e.stdout.Write(append(bytes.TrimSpace(data), '\n'))
		return err
	}
	fmt.Fprintf(e.stdout, "pipeline %s: %s (%s mode), updated %s\n", s.Name, s.State, s.Mode, s.Updated.Format(time.RFC3339))
	fmt.Fprintf(e.stdout, "source %s, sink %s\n", s.Source, s.Sink)
	fmt.Fprintf(e.stdout, "stage %d/%d: %d/%d segments done (%d cached), %d blocks, %.0f blocks/s\n", s.Stage, s.Stages, s.Done, s.Segments, s.Cached, s.Blocks, s.BlocksPerS)
	for _, n := range sortedNames(s.Nodes) {
		fmt.Fprintf(e.stdout, "node %s: %d segments, %.0f ms to fetch and run, %.0f ms waiting before (means)\n", n, s.Nodes[n].Segments, s.Nodes[n].MeanMS, s.Nodes[n].WaitMS)
	}
	for _, l := range s.Slow {
		fmt.Fprintln(e.stdout, l)
	}
	if s.Output != "" {
		fmt.Fprintf(e.stdout, "output: %d rows, CID %s\n", s.Rows, s.Output)
	}
	if s.Error != "" {
		fmt.Fprintf(e.stdout, "error: %s\n", s.Error)
	}
	return nil
}

// pipelineDiff compares two segment outputs (CIDs of MODULE.out files or
// of segment job result directories) or two run summaries, and reports the
// first block where they differ.
func pipelineDiff(ctx context.Context, e env, args []string) error {
	f := newFlags("pipeline diff", e)
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return usagef("want 'pipeline diff A B': two summary files, or two CIDs of segment outputs or segment job results")
	}
	if strings.HasSuffix(pos[0], ".json") && strings.HasSuffix(pos[1], ".json") {
		return diffSummaries(ctx, e, f, pos[0], pos[1])
	}
	b, ctx, done, err := f.open(ctx)
	if err != nil {
		return err
	}
	defer done()
	a, err := loadOutputs(ctx, b, pos[0], f.timeout)
	if err != nil {
		return err
	}
	c, err := loadOutputs(ctx, b, pos[1], f.timeout)
	if err != nil {
		return err
	}
	same := true
	for _, name := range sortedNames(a) {
		if c[name] == nil {
			fmt.Fprintf(e.stdout, "%s: only in %s\n", name, pos[0])
			same = false
			continue
		}
		if !reportDiff(e, name, a[name], c[name]) {
			same = false
		}
	}
	for _, name := range sortedNames(c) {
		if a[name] == nil {
			fmt.Fprintf(e.stdout, "%s: only in %s\n", name, pos[1])
			same = false
		}
	}
	if !same {
		return errors.New("the outputs differ")
	}
	return nil
}

// reportDiff prints where two outputs first differ; it reports whether
// they are identical.
func reportDiff(e env, name string, a, b *engine.Output) bool {
	d, differ := engine.Diff(a, b)
	if !differ {
		fmt.Fprintf(e.stdout, "%s %s: identical (digest %s)\n", name, a.Segment, a.DigestHex())
		return true
	}
	fmt.Fprintf(e.stdout, "%s %s: first difference at block %d (%s), found by bisecting %d digests\n", name, a.Segment, d.Block, d.Why, max(len(a.Blocks), len(b.Blocks)))
	for _, side := range []*engine.Output{a, b} {
		if d.Index < len(side.Blocks) && side.Blocks[d.Index].Number == d.Block {
			blk := side.Blocks[d.Index]
			fmt.Fprintf(e.stdout, "  block %d ref %s digest %x:\n", blk.Number, blk.Ref, blk.Digest[:8])
			if recs, err := abi.DecodeRecords(blk.Payload); err == nil && !side.Store {
				for _, r := range recs {
					fmt.Fprintf(e.stdout, "    %s\n", r)
				}
			} else if ds, err := abi.DecodeDeltas(blk.Payload); err == nil && side.Store {
				for _, w := range ds {
					fmt.Fprintf(e.stdout, "    %s <- %s\n", w.Key, w.Value)
				}
			}
		}
	}
	return false
}

// loadOutputs reads a MODULE.out file, or every MODULE.out of a segment
// job's result directory, by CID.
func loadOutputs(ctx context.Context, b backend, ref string, timeout time.Duration) (map[string]*engine.Output, error) {
	c, err := parseCID(ref)
	if err != nil {
		return nil, err
	}
	raw, err := b.BlockGet(ctx, c.String(), timeout)
	if err != nil {
		return nil, err
	}
	out := map[string]*engine.Output{}
	if links, err := engine.DirLinks(raw); err == nil && c.Type() == cid.DagProtobuf {
		for name, lc := range links {
			mod, ok := strings.CutSuffix(name, ".out")
			if !ok {
				continue
			}
			data, err := readAll(ctx, b, lc, timeout)
			if err != nil {
				return nil, err
			}
			if out[mod], err = engine.DecodeOutput(data); err != nil {
				return nil, fmt.Errorf("%s/%s: %w", ref, name, err)
			}
		}
		if len(out) > 0 {
			return out, nil
		}
	}
	data, err := readAll(ctx, b, c, timeout)
	if err != nil {
		return nil, err
	}
	o, err := engine.DecodeOutput(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ref, err)
	}
	out[o.Identity] = o
	return out, nil
}

func diffSummaries(ctx context.Context, e env, f *flags, pa, pb string) error {
	var sa, sb runSummary
	for _, x := range []struct {
		p string
		s *runSummary
	}{{pa, &sa}, {pb, &sb}} {
		data, err := os.ReadFile(x.p)
		if err != nil {
			return err
		}
		if err := json.Unmarshal(data, x.s); err != nil {
			return fmt.Errorf("%s: %w", x.p, err)
		}
	}
	same := true
	for _, name := range sortedNames(sa.Digests) {
		ra, rb := sa.Digests[name], sb.Digests[name]
		for i := range ra {
			if i >= len(rb) || ra[i].Segment != rb[i].Segment {
				fmt.Fprintf(e.stdout, "%s: segments differ from %s on (different ranges or segment sizes)\n", name, ra[i].Segment)
				same = false
				break
			}
			if ra[i].Digest == rb[i].Digest {
				continue
			}
			same = false
			fmt.Fprintf(e.stdout, "%s: first differing segment %s (digests %.16s… and %.16s…)\n", name, ra[i].Segment, ra[i].Digest, rb[i].Digest)
			if ra[i].CID != "" && rb[i].CID != "" {
				b, ctx, done, err := f.open(ctx)
				if err != nil {
					return err
				}
				oa, erra := loadOutputs(ctx, b, ra[i].CID, f.timeout)
				ob, errb := loadOutputs(ctx, b, rb[i].CID, f.timeout)
				if erra == nil && errb == nil {
					for id := range oa {
						if ob[id] != nil {
							reportDiff(e, name, oa[id], ob[id])
						}
					}
				}
				done()
			}
			break
		}
	}
	if same {
		fmt.Fprintln(e.stdout, "identical: every segment digest agrees")
		return nil
	}
	return errors.New("the runs differ")
}

// nodeCache keeps segment outputs on the node (pinned, recorded in its
// segment cache) so that runs from any node of the network reuse them, in
// front of a local directory cache. A record another run left is trusted
// only with its evidence: at least quorum distinct executors' valid signed
// receipts for the job's accepted result directory, which must hold the
// output. Anything less is reported and recomputed.
type nodeCache struct {
	dir     engine.DirCache
	b       backend
	timeout time.Duration
	quorum  int
	warn    func(msg string)
}

func (c nodeCache) Get(ctx context.Context, k engine.CacheKey) (*engine.Output, bool, error) {
	if o, ok, err := c.dir.Get(ctx, k); err == nil && ok {
		return o, true, nil
	}
	rec, err := c.b.SegmentCacheGet(ctx, k.Identity, k.Segment.String())
	if errors.Is(err, api.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	if err := c.trust(ctx, rec); err != nil {
		c.warn(fmt.Sprintf("segment %s: not reusing the output node %s recorded: %v", k, short(rec.Node), err))
		return nil, false, nil
	}
	oc, err := cid.Decode(rec.Output)
	if err != nil {
		return nil, false, err
	}
	data, err := readAll(ctx, c.b, oc, c.timeout)
	if err != nil {
		return nil, false, fmt.Errorf("segment %s output %s (from %s): %w", k, oc, rec.Node, err)
	}
	o, err := engine.DecodeOutput(data)
	if err != nil || o.Identity != k.Identity || o.Segment != k.Segment {
		return nil, false, fmt.Errorf("segment %s: the cached output %s (from %s) is not that output: %v", k, oc, rec.Node, err)
	}
	c.dir.Put(ctx, k, o, engine.Provenance{})
	return o, true, nil
}

// trust checks a record's evidence: receipts that verify, for its job and
// its result, from at least c.quorum distinct executors, and a result
// directory that holds the recorded output. (That the output is the
// module's over the segment is checked on the output itself.)
func (c nodeCache) trust(ctx context.Context, rec api.SegmentCacheRecord) error {
	if rec.Job == "" || rec.Result == "" || len(rec.Receipts) == 0 {
		return errors.New("it carries no job receipts")
	}
	signers := map[string]bool{}
	for i, raw := range rec.Receipts {
		r, err := verify.DecodeReceipt(raw)
		if err == nil {
			err = verify.Verify(r)
		}
		switch {
		case err != nil:
			return fmt.Errorf("receipt %d: %w", i, err)
		case r.JobID != rec.Job || r.ResultCID.String() != rec.Result || r.Error != "":
			return fmt.Errorf("receipt %d is for job %s result %s, not job %s result %s", i, r.JobID, r.ResultCID, rec.Job, rec.Result)
		}
		signers[r.NodeID] = true
	}
	if len(signers) < c.quorum {
		return fmt.Errorf("%d executors signed its result, this run asks for %d", len(signers), c.quorum)
	}
	raw, err := c.b.BlockGet(ctx, rec.Result, c.timeout)
	if err != nil {
		return fmt.Errorf("result %s: %w", rec.Result, err)
	}
	links, err := engine.DirLinks(raw)
	if err != nil {
		return fmt.Errorf("result %s: %w", rec.Result, err)
	}
	for name, l := range links {
		if strings.HasSuffix(name, ".out") && l.String() == rec.Output {
			return nil
		}
	}
	return fmt.Errorf("result %s does not hold output %s", rec.Result, rec.Output)
}

func (c nodeCache) Put(ctx context.Context, k engine.CacheKey, o *engine.Output, from engine.Provenance) error {
	if err := c.dir.Put(ctx, k, o, from); err != nil {
		return err
	}
	oc, err := putBytes(ctx, c.b, o.Encode())
	if err != nil {
		return err
	}
	rec := api.SegmentCacheRecord{Identity: k.Identity, Segment: k.Segment.String(), Output: oc.String(), Digest: o.DigestHex(),
		Job: from.Job, Result: from.Result}
	if from.Job != "" {
		all, err := c.b.JobReceipts(ctx, from.Job)
		if err != nil {
			return fmt.Errorf("receipts of job %s: %w", from.Job, err)
		}
		for _, raw := range all {
			if r, err := verify.DecodeReceipt(raw); err == nil && r.ResultCID.String() == from.Result && len(rec.Receipts) < api.MaxSegmentReceipts {
				rec.Receipts = append(rec.Receipts, raw)
			}
		}
	}
	return c.b.SegmentCachePut(ctx, rec)
}

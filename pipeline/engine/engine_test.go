package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ipdm/ipdm/pipeline/abi"
	"github.com/ipdm/ipdm/pipeline/manifest"
	"github.com/ipdm/ipdm/pipeline/sink"
	"github.com/ipdm/ipdm/wasm"
)

// The test pipeline: "rows" maps each block's items (source bytes like
// "a=5,b=7") to JSON rows; "totals" adds values per key (bigint add);
// "firsts" keeps the first block each key was seen (set_if_absent);
// "joined" reads rows, totals (get) and firsts (deltas) — a second stage.
const testManifest = `
apiVersion: ipdm/v1
kind: Pipeline
name: test
segment_size: 3
modules:
  - name: rows
    kind: map
    file: m.wasm
    entrypoint: map_rows
    inputs: [{source: ethereum-logs}]
    output: json:t.Rows
  - name: totals
    kind: store
    file: m.wasm
    entrypoint: store_totals
    inputs: [{map: rows}]
    value_type: bigint
    update_policy: add
  - name: firsts
    kind: store
    file: m.wasm
    entrypoint: store_firsts
    inputs: [{map: rows}]
    value_type: int64
    update_policy: set_if_absent
  - name: joined
    kind: map
    file: m.wasm
    entrypoint: map_joined
    inputs: [{map: rows}, {store: totals}, {store: firsts, mode: deltas}, {params: "x"}]
    output: json:t.Joined
`

type testRow struct {
	K     string `json:"k"`
	V     string `json:"v"`
	Block uint64 `json:"block"`
}

func natives() map[string]NativeModule {
	input := func(b []byte) abi.Input {
		in, err := abi.DecodeInput(b)
		if err != nil {
			panic(err)
		}
		return in
	}
	rowsOf := func(b []byte) []testRow {
		recs, err := abi.DecodeRecords(b)
		if err != nil {
			panic(err)
		}
		var out []testRow
		for _, r := range recs {
			var row testRow
			if err := json.Unmarshal(r, &row); err != nil {
				panic(err)
			}
			out = append(out, row)
		}
		return out
	}
	return map[string]NativeModule{
		"rows": func(b []byte, h wasm.StreamHost) error {
			in := input(b)
			if len(in.Inputs[0]) == 0 {
				return nil
			}
			for _, item := range strings.Split(string(in.Inputs[0]), ",") {
				k, v, ok := strings.Cut(item, "=")
				if !ok {
					return fmt.Errorf("bad item %q", item)
				}
				rec, _ := json.Marshal(testRow{k, v, in.Block})
				if err := h.Output(rec); err != nil {
					return err
				}
			}
			return nil
		},
		"totals": func(b []byte, h wasm.StreamHost) error {
			for _, r := range rowsOf(input(b).Inputs[0]) {
				if err := h.StoreWrite([]byte(r.K), []byte(r.V)); err != nil {
					return err
				}
			}
			return nil
		},
		"firsts": func(b []byte, h wasm.StreamHost) error {
			for _, r := range rowsOf(input(b).Inputs[0]) {
				if err := h.StoreWrite([]byte(r.K), []byte(strconv.FormatUint(r.Block, 10))); err != nil {
					return err
				}
			}
			return nil
		},
		"joined": func(b []byte, h wasm.StreamHost) error {
			in := input(b)
			ds, err := abi.DecodeDeltas(in.Inputs[2])
			if err != nil {
				return err
			}
			for _, r := range rowsOf(in.Inputs[0]) {
				total, ok, err := h.StoreGet(1, []byte(r.K))
				if err != nil || !ok {
					return fmt.Errorf("total of %s: ok=%v err=%v", r.K, ok, err)
				}
				rec := fmt.Sprintf(`{"k":%q,"total":%q,"first_deltas":%d,"params":%q}`, r.K, total, len(ds), in.Inputs[3])
				if err := h.Output([]byte(rec)); err != nil {
					return err
				}
			}
			return nil
		},
	}
}

// testBlocks makes n blocks from 100 on with items whose values exceed
// 2^64, so sums must be exact.
func testBlocks(n int) []BlockData {
	var out []BlockData
	for i := range n {
		num := uint64(100 + i)
		var items []string
		for j := range i % 4 {
			items = append(items, fmt.Sprintf("%c=%d%019d", 'a'+rune((i+j)%5), i+1, j))
		}
		out = append(out, BlockData{Number: num, Time: 1_700_000_000 + 12*num, Ref: fmt.Sprintf("0x%064x", num),
			Sources: map[manifest.SourceKind][]byte{manifest.SourceEthereumLogs: []byte(strings.Join(items, ","))}})
	}
	return out
}

// linear computes the expected joined rows and final totals by one
// sequential pass, independently of the engine.
func linear(bs []BlockData) (rows []string, totals map[string]*big.Int) {
	totals = map[string]*big.Int{}
	firsts := map[string]bool{}
	for _, b := range bs {
		src := string(b.Sources[manifest.SourceEthereumLogs])
		if src == "" {
			continue
		}
		items := strings.Split(src, ",")
		newKeys := 0
		for _, it := range items {
			k, v, _ := strings.Cut(it, "=")
			n, _ := new(big.Int).SetString(v, 10)
			if totals[k] == nil {
				totals[k] = new(big.Int)
			}
			totals[k].Add(totals[k], n)
			if !firsts[k] {
				firsts[k] = true
				newKeys++
			}
		}
		for _, it := range items {
			k, _, _ := strings.Cut(it, "=")
			rows = append(rows, fmt.Sprintf(`{"k":%q,"total":%q,"first_deltas":%d,"params":"x"}`, k, totals[k].String(), newKeys))
		}
	}
	return rows, totals
}

func testPlan(t testing.TB) *Plan {
	t.Helper()
	m, err := manifest.Decode([]byte(testManifest))
	if err != nil {
		t.Fatal(err)
	}
	w := []byte("not wasm: every module runs natively in this test")
	p, err := NewPlan(context.Background(), []byte(testManifest), m, map[string][]byte{"rows": w, "totals": w, "firsts": w, "joined": w}, "")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

type memSink struct {
	rows    []Row
	through []uint64
}

func (s *memSink) Write(_ context.Context, rows []Row, through sink.Cursor) error {
	s.rows = append(s.rows, rows...)
	s.through = append(s.through, through.Number)
	return nil
}

type memCache struct {
	mu         sync.Mutex
	m          map[CacheKey][]byte
	gets, hits int
}

func (c *memCache) Get(_ context.Context, k CacheKey) (*Output, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gets++
	b, ok := c.m[k]
	if !ok {
		return nil, false, nil
	}
	c.hits++
	o, err := DecodeOutput(b)
	return o, err == nil, err
}

func (c *memCache) Put(_ context.Context, k CacheKey, o *Output, _ Provenance) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[CacheKey][]byte{}
	}
	c.m[k] = o.Encode()
	return nil
}

func TestPlanStages(t *testing.T) {
	p := testPlan(t)
	if p.Output != "joined" || p.Stages != 2 {
		t.Fatalf("output %q, %d stages", p.Output, p.Stages)
	}
	for name, want := range map[string]int{"rows": 0, "totals": 0, "firsts": 0, "joined": 1} {
		if m, _ := p.Module(name); m.Stage != want {
			t.Errorf("%s: stage %d, want %d", name, m.Stage, want)
		}
	}
}

// TestPartitioningsAgree: every segment size and parallelism gives the
// rows and store state of a linear run, and the same output CID.
func TestPartitioningsAgree(t *testing.T) {
	ctx := context.Background()
	bs := testBlocks(23)
	wantRows, wantTotals := linear(bs)
	var firstCID string
	for _, size := range []uint64{1, 2, 3, 7, 1000} {
		for _, par := range []int{1, 8} {
			sk := &memSink{}
			res, err := Run(ctx, Config{Plan: testPlan(t), Blocks: bs, SegmentSize: size, Parallel: par,
				Executor: &Local{Options: RunOptions{Native: natives()}}, Sink: sk})
			if err != nil {
				t.Fatalf("size %d: %v", size, err)
			}
			var got []string
			for _, r := range sk.rows {
				if r.Table == "joined" {
					got = append(got, string(r.JSON))
				}
			}
			if !slices.Equal(got, wantRows) {
				t.Fatalf("size %d: rows differ from a linear run:\n got %v\nwant %v", size, got, wantRows)
			}
			st, err := decodeState(mustModule(t, res, "totals"), res.Stores["totals"])
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range wantTotals {
				if got, _ := st.get([]byte(k)); string(got) != v.String() {
					t.Errorf("size %d: total %s = %s, want %s", size, k, got, v)
				}
			}
			if firstCID == "" {
				firstCID = res.OutputCID.String() + " " + res.StoreCIDs["totals"].String()
			} else if got := res.OutputCID.String() + " " + res.StoreCIDs["totals"].String(); got != firstCID {
				t.Errorf("size %d par %d: CIDs %s, want %s", size, par, got, firstCID)
			}
			if !slices.IsSorted(sk.through) {
				t.Errorf("size %d: cursor went back: %v", size, sk.through)
			}
		}
	}
}

func mustModule(t *testing.T, _ *Result, name string) *Module {
	m, ok := testPlan(t).Module(name)
	if !ok {
		t.Fatal(name)
	}
	return m
}

// TestCachedRerun: a second run over the same range computes nothing;
// resuming after a cursor writes only later rows.
func TestCachedRerun(t *testing.T) {
	ctx := context.Background()
	bs := testBlocks(12)
	cache := &memCache{}
	ex := &countingExecutor{Local: Local{Options: RunOptions{Native: natives()}}}
	first, err := Run(ctx, Config{Plan: testPlan(t), Blocks: bs, Executor: ex, Cache: cache})
	if err != nil {
		t.Fatal(err)
	}
	calls := ex.calls.Load()
	sk := &memSink{}
	after := uint64(105)
	second, err := Run(ctx, Config{Plan: testPlan(t), Blocks: bs, Executor: ex, Cache: cache, Sink: sk, After: &after})
	if err != nil {
		t.Fatal(err)
	}
	if ex.calls.Load() != calls || second.Computed != 0 {
		t.Errorf("re-run executed %d stages (computed %d); want none", ex.calls.Load()-calls, second.Computed)
	}
	if second.OutputCID != first.OutputCID {
		t.Errorf("cached output CID %s, want %s", second.OutputCID, first.OutputCID)
	}
	for _, r := range sk.rows {
		if r.Block <= after {
			t.Errorf("resumed run wrote row of block %d (cursor %d)", r.Block, after)
		}
	}
	if len(sk.rows) == 0 {
		t.Error("resumed run wrote nothing")
	}
}

type countingExecutor struct {
	Local
	calls atomic.Int64
}

func (c *countingExecutor) RunStage(ctx context.Context, p *Plan, names []string, in StageInput) (StageResult, error) {
	c.calls.Add(1)
	return c.Local.RunStage(ctx, p, names, in)
}

// TestModuleErrorNamesBlock: a module's failure names module and block.
func TestModuleErrorNamesBlock(t *testing.T) {
	bs := testBlocks(9)
	bs[5].Sources[manifest.SourceEthereumLogs] = []byte("broken")
	_, err := Run(context.Background(), Config{Plan: testPlan(t), Blocks: bs, Executor: &Local{Options: RunOptions{Native: natives()}}})
	var me *ModuleError
	if !errors.As(err, &me) || me.Module != "rows" || me.Block != 105 || !strings.Contains(me.Message, "broken") {
		t.Fatalf("err = %v, want rows failing at block 105", err)
	}
}

// TestOutputJSONChecked: a json: module emitting a non-object fails.
func TestOutputJSONChecked(t *testing.T) {
	n := natives()
	n["rows"] = func(b []byte, h wasm.StreamHost) error { return h.Output([]byte("[1,2]")) }
	_, err := Run(context.Background(), Config{Plan: testPlan(t), Blocks: testBlocks(3), Executor: &Local{Options: RunOptions{Native: n}}})
	if err == nil || !strings.Contains(err.Error(), "not a JSON object") {
		t.Fatalf("err = %v", err)
	}
}

func TestSegments(t *testing.T) {
	for _, tc := range []struct {
		from, to, size uint64
		want           string
	}{
		{0, 9, 5, "[0-4 5-9]"},
		{3, 12, 5, "[3-4 5-9 10-12]"},
		{7, 7, 1000, "[7-7]"},
		{17173049, 17173050, 1000, "[17173049-17173050]"},
		{999, 1000, 1000, "[999-999 1000-1000]"},
		{5, 4, 10, "[]"},
	} {
		if got := fmt.Sprint(Segments(tc.from, tc.to, tc.size)); got != tc.want {
			t.Errorf("Segments(%d, %d, %d) = %s, want %s", tc.from, tc.to, tc.size, got, tc.want)
		}
	}
	if got := Segments(1<<64-3, 1<<64-1, 1<<63); len(got) != 1 {
		t.Errorf("top of range: %v", got)
	}
}

func TestOutputRoundTripAndDiff(t *testing.T) {
	a := &Output{Identity: "bafyid", Segment: Segment{10, 19}}
	for n := uint64(10); n < 20; n++ {
		a.Append(n, fmt.Sprint("ref", n), abi.EncodeRecords([][]byte{[]byte(fmt.Sprint(n))}))
	}
	b, err := DecodeOutput(a.Encode())
	if err != nil {
		t.Fatal(err)
	}
	if _, differ := Diff(a, b); differ || b.DigestHex() != a.DigestHex() {
		t.Fatal("round trip changed the output")
	}
	// A consistent lie at block 16 is found by bisection.
	lie := &Output{Identity: a.Identity, Segment: a.Segment}
	for _, bo := range a.Blocks {
		p := bo.Payload
		if bo.Number == 16 {
			p = abi.EncodeRecords([][]byte{[]byte("lie")})
		}
		lie.Append(bo.Number, bo.Ref, p)
	}
	if d, differ := Diff(a, lie); !differ || d.Block != 16 || d.Why != "output" {
		t.Fatalf("diff = %+v %v, want block 16 output", d, differ)
	}
	// Tampering without re-chaining is caught by the decoder.
	enc := a.Encode()
	i := bytes.Index(enc, []byte("ref13"))
	enc[i+3] = '9'
	if _, err := DecodeOutput(enc); !errors.Is(err, ErrMalformed) {
		t.Fatalf("tampered output decoded: %v", err)
	}
}

func TestBlocksRoundTrip(t *testing.T) {
	bs := testBlocks(5)
	got, err := DecodeBlocks(EncodeBlocks(bs))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 5 || got[3].Ref != bs[3].Ref || !bytes.Equal(got[3].Sources[manifest.SourceEthereumLogs], bs[3].Sources[manifest.SourceEthereumLogs]) {
		t.Fatalf("round trip: %+v", got)
	}
}

func FuzzDecodeOutput(f *testing.F) {
	o := &Output{Identity: "x", Store: true, Segment: Segment{1, 2}}
	o.Append(1, "r", abi.EncodeDeltas([]abi.Delta{{Key: []byte("k"), Value: []byte("1")}}))
	f.Add(o.Encode())
	f.Add([]byte(outputMagic))
	f.Fuzz(func(t *testing.T, data []byte) {
		o, err := DecodeOutput(data)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not match ErrMalformed", err)
			}
			return
		}
		if !bytes.Equal(o.Encode(), data) {
			t.Fatal("decoded output does not re-encode to its bytes")
		}
	})
}

func FuzzDecodeBlocks(f *testing.F) {
	f.Add(EncodeBlocks(testBlocks(3)))
	f.Add([]byte(blockDataMagic + "\xff\xff\xff\xff"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if _, err := DecodeBlocks(data); err != nil && !errors.Is(err, ErrMalformed) {
			t.Fatalf("error %v does not match ErrMalformed", err)
		}
	})
}

func FuzzDecodeTask(f *testing.F) {
	f.Add([]byte(`{"version":"ipdm.pipeline.segment.v1","manifest":"bafkqaaa","output":"o","wasm":{"a":"bafkqaaa"},"modules":["a"],"start":1,"end":2,"blocks":"bafkqaaa"}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		if _, err := DecodeTask(data); err != nil && !errors.Is(err, ErrMalformed) {
			t.Fatalf("error %v does not match ErrMalformed", err)
		}
	})
}

// failingSink fails its first write and closes failed.
type failingSink struct{ failed chan struct{} }

func (s failingSink) Write(context.Context, []Row, sink.Cursor) error {
	close(s.failed)
	return errors.New("disk on fire")
}

// gatedExecutor holds every last-stage segment but the first (which the
// sink writes first) until the sink has failed, then runs it unless the
// run was stopped.
type gatedExecutor struct {
	Local
	first  uint64 // the first block of the range
	failed <-chan struct{}
	ran    atomic.Int64 // last-stage segments executed
}

func (g *gatedExecutor) RunStage(ctx context.Context, p *Plan, names []string, in StageInput) (StageResult, error) {
	if names[0] == p.Output {
		if in.Segment.Start != g.first {
			<-g.failed
			select {
			case <-ctx.Done():
				return StageResult{}, ctx.Err()
			case <-time.After(50 * time.Millisecond): // the stop is not instant
			}
		}
		g.ran.Add(1)
	}
	return g.Local.RunStage(ctx, p, names, in)
}

// TestSinkFailureStopsRun: a sink that fails stops the run at once with
// the sink's error, rather than after computing every segment.
func TestSinkFailureStopsRun(t *testing.T) {
	failed := make(chan struct{})
	ex := &gatedExecutor{Local: Local{Options: RunOptions{Native: natives()}}, first: 100, failed: failed}
	_, err := Run(context.Background(), Config{Plan: testPlan(t), Blocks: testBlocks(50), SegmentSize: 1, Parallel: 2,
		Executor: ex, Sink: failingSink{failed}})
	if err == nil || !strings.Contains(err.Error(), "disk on fire") {
		t.Fatalf("err = %v, want the sink's", err)
	}
	if n := ex.ran.Load(); n > 1 {
		t.Errorf("%d last-stage segments ran after the sink failed, want only the first", n)
	}
}

// TestFinalStageErrorReported: a module failing in the last stage (while
// the sink writer waits for its segment) is reported as itself, not as the
// writer's cancellation.
func TestFinalStageErrorReported(t *testing.T) {
	n := natives()
	joined := n["joined"]
	n["joined"] = func(b []byte, h wasm.StreamHost) error {
		if in, _ := abi.DecodeInput(b); in.Block == 110 {
			return errors.New("boom")
		}
		return joined(b, h)
	}
	_, err := Run(context.Background(), Config{Plan: testPlan(t), Blocks: testBlocks(20), SegmentSize: 4,
		Executor: &Local{Options: RunOptions{Native: n}}, Sink: &memSink{}})
	var me *ModuleError
	if !errors.As(err, &me) || me.Module != "joined" || me.Block != 110 {
		t.Fatalf("err = %v, want joined failing at block 110", err)
	}
}

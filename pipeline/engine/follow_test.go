package engine

import (
	"cmp"
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ipdm/ipdm/pipeline/manifest"
	"github.com/ipdm/ipdm/pipeline/sink"
)

// windowManifest is the test pipeline with a tumbling window (a name with
// '-', so its table is keys_per_4), a sliding window over block time and
// two rules: one over one module, one across stages.
const windowManifest = testManifest + `
windows:
  - name: keys-per-4
    module: rows
    kind: tumbling
    size: 4
    group_by: k
    sum: [v]
  - name: per_minute
    module: rows
    kind: sliding
    size: 60s
    step: 24s
    group_by: k
    sum: [v]
rules:
  - name: repeat_key
    first: rows
    then: rows
    within: 3
    key: k
  - name: joined_after_rows
    first: rows
    then: joined
    within: 2
    key: k
`

var windowTables = []string{"keys_per_4", "per_minute", "repeat_key", "joined_after_rows"}

func windowPlan(t testing.TB) *Plan {
	t.Helper()
	m, err := manifest.Decode([]byte(windowManifest))
	if err != nil {
		t.Fatal(err)
	}
	w := []byte("not wasm: every module runs natively in this test")
	p, err := NewPlan(context.Background(), []byte(windowManifest), m, map[string][]byte{"rows": w, "totals": w, "firsts": w, "joined": w}, "")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// forkBlock is block num of another fork than testBlocks': a key of
// theirs with a value starting 777 and a key "f" they lack, another hash,
// a block time one second later.
func forkBlock(num uint64, fork int) BlockData {
	items := fmt.Sprintf("%c=777%d%019d,f=%d", 'a'+rune((num+uint64(fork))%5), fork, num, fork)
	return BlockData{Number: num, Time: 1_700_000_000 + 12*num + 1, Ref: fmt.Sprintf("0xf%d%062x", fork, num),
		Sources: map[manifest.SourceKind][]byte{manifest.SourceEthereumLogs: []byte(items)}}
}

// recSink is a real JSONL sink that also keeps the rows it was given
// (Index included, which JSONL does not store), undone as the sink undoes
// them. With oneBlock it checks that every Write holds only rows of the
// block it commits: a live run files each result under the block whose
// processing emitted it.
type recSink struct {
	t        *testing.T
	path     string
	oneBlock bool
	j        *sink.JSONL
	rows     []Row
}

func newRecSink(t *testing.T, oneBlock bool) *recSink {
	s := &recSink{t: t, path: filepath.Join(t.TempDir(), "out.jsonl"), oneBlock: oneBlock}
	s.reopen()
	t.Cleanup(func() { s.j.Close() })
	return s
}

// reopen closes the sink and opens it again, as a restarted process does.
func (s *recSink) reopen() {
	s.t.Helper()
	if s.j != nil {
		if err := s.j.Close(); err != nil {
			s.t.Fatal(err)
		}
	}
	j, err := sink.OpenJSONL(context.Background(), s.path, sink.Options{Name: "test", Table: "joined"})
	if err != nil {
		s.t.Fatal(err)
	}
	s.j = j
}

func (s *recSink) cursor() sink.Cursor {
	s.t.Helper()
	c, ok, err := s.j.Cursor(context.Background())
	if err != nil || !ok {
		s.t.Fatalf("cursor: %v %v", ok, err)
	}
	return c
}

func (s *recSink) Write(ctx context.Context, rows []Row, through sink.Cursor) error {
	for _, r := range rows {
		if s.oneBlock && r.Block != through.Number {
			s.t.Errorf("a %s row of block %d written with block %d", r.Table, r.Block, through.Number)
		}
	}
	if err := s.j.Write(ctx, rows, through); err != nil {
		return err
	}
	s.rows = append(s.rows, rows...)
	return nil
}

func (s *recSink) Undo(ctx context.Context, to sink.Cursor) error {
	if err := s.j.Undo(ctx, to); err != nil {
		return err
	}
	s.rows = slices.DeleteFunc(s.rows, func(r Row) bool { return r.Block > to.Number })
	return nil
}

// contents renders the rows given (sorted by table, block and index) and
// the rows the JSONL files hold, read back.
func (s *recSink) contents() (given, stored []string) {
	s.t.Helper()
	rows := slices.Clone(s.rows)
	slices.SortFunc(rows, func(a, b Row) int {
		return cmp.Or(strings.Compare(a.Table, b.Table), cmp.Compare(a.Block, b.Block), cmp.Compare(a.Index, b.Index))
	})
	for _, r := range rows {
		given = append(given, fmt.Sprintf("%s %d/%d %s", r.Table, r.Block, r.Index, r.JSON))
	}
	ctx := context.Background()
	tables, err := s.j.Tables(ctx)
	if err != nil {
		s.t.Fatal(err)
	}
	for _, tb := range tables {
		if err := s.j.Scan(ctx, tb, func(r Row) error {
			stored = append(stored, fmt.Sprintf("%s %d/%d %s", tb, r.Block, r.Index, r.JSON))
			return nil
		}); err != nil {
			s.t.Fatal(err)
		}
	}
	return given, stored
}

// follower returns a Follower of p resumed after the sink's cursor, as
// 'pipeline run --follow' does on a restart: the canonical blocks up to
// the cursor through Resume (when the sink has one).
func follower(t *testing.T, p *Plan, s *recSink, canon []BlockData, maxUndo int) *Follower {
	t.Helper()
	f := &Follower{Plan: p, Executor: &Local{Options: RunOptions{Native: natives()}}, Sink: s, MaxUndo: maxUndo}
	c, ok, err := s.j.Cursor(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if ok {
		var upTo []BlockData
		for _, b := range canon {
			if b.Number <= c.Number {
				upTo = append(upTo, b)
			}
		}
		if err := f.Resume(context.Background(), upTo); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

func handle(t *testing.T, f *Follower, evs ...Event) {
	t.Helper()
	for _, ev := range evs {
		if err := f.Handle(context.Background(), ev); err != nil {
			t.Fatalf("event %+v: %v", ev, err)
		}
	}
}

func blockEvents(bs ...BlockData) []Event {
	var evs []Event
	for i := range bs {
		evs = append(evs, Event{Block: &bs[i]})
	}
	return evs
}

// backfill runs the canonical chain through Run into a recording sink,
// the windows kept open as a live run's are.
func backfill(t *testing.T, p *Plan, canon []BlockData, keepOpen bool) *recSink {
	t.Helper()
	s := newRecSink(t, false)
	if _, err := Run(context.Background(), Config{Plan: p, Blocks: canon, SegmentSize: 4, Parallel: 3,
		Executor: &Local{Options: RunOptions{Native: natives()}}, Sink: s, KeepWindowsOpen: keepOpen}); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestFollowerWindowsReorgRestart: a live run with windows and rules that
// sees a reorg (two blocks undone, three others instead), two restarts —
// the second after the chain reorganised while the follower was down —
// leaves the sink holding exactly what a backfill of the canonical chain
// writes: output rows, window results and rule matches, block and index
// alike.
func TestFollowerWindowsReorgRestart(t *testing.T) {
	p := windowPlan(t)
	canon := testBlocks(31) // 100..130
	at := func(n uint64) BlockData { return canon[n-100] }
	const maxUndo = 4
	s := newRecSink(t, true)

	f := follower(t, p, s, canon, maxUndo)
	handle(t, f, blockEvents(canon[:11]...)...) // 100..110

	s.reopen() // restart: Run over 100..106, 107..110 replayed
	f = follower(t, p, s, canon, maxUndo)
	handle(t, f, blockEvents(at(111), at(112), at(113), at(114), at(115), forkBlock(116, 1), forkBlock(117, 1))...)
	handle(t, f, Event{UndoTo: 115, UndoRef: at(115).Ref}) // two blocks undone, three others follow
	handle(t, f, blockEvents(at(116), at(117), at(118), at(119), at(120), forkBlock(121, 2), forkBlock(122, 2))...)
	if c := s.cursor(); c.Number != 122 || c.Hash != forkBlock(122, 2).Ref {
		t.Fatalf("cursor %v before the second restart", c)
	}

	// While the follower is down the chain drops 121 and 122 of fork 2:
	// the restart replays the canonical ones, and the source's first event
	// is the undo back to 120.
	s.reopen()
	f = follower(t, p, s, canon, maxUndo)
	handle(t, f, Event{UndoTo: 120, UndoRef: at(120).Ref})
	handle(t, f, blockEvents(canon[21:]...)...) // 121..130

	want := backfill(t, p, canon, true)
	wantGiven, wantStored := want.contents()
	gotGiven, gotStored := s.contents()
	if !slices.Equal(gotGiven, wantGiven) {
		t.Errorf("rows written by the live run\n%s\nwant (backfill)\n%s", strings.Join(gotGiven, "\n"), strings.Join(wantGiven, "\n"))
	}
	if !slices.Equal(gotStored, wantStored) {
		t.Errorf("sink contents after the live run\n%s\nwant (backfill)\n%s", strings.Join(gotStored, "\n"), strings.Join(wantStored, "\n"))
	}
	for _, tb := range append([]string{"joined"}, windowTables...) {
		if !slices.ContainsFunc(wantStored, func(l string) bool { return strings.HasPrefix(l, tb+" ") }) {
			t.Errorf("the backfill wrote no %s rows: the test proves nothing about them", tb)
		}
	}
	// The fork blocks left nothing: each of their rows was filed under them.
	for _, l := range gotStored {
		if strings.Contains(l, `"f"`) || strings.Contains(l, `"v":"777`) {
			t.Errorf("a row of an undone block survived: %s", l)
		}
	}
}

// TestFollowerResumeAnywhere: a follower restarted after any block, with
// any undo depth, writes what an uninterrupted one writes.
func TestFollowerResumeAnywhere(t *testing.T) {
	p := windowPlan(t)
	canon := testBlocks(20)
	whole := newRecSink(t, true)
	handle(t, follower(t, p, whole, canon, 0), blockEvents(canon...)...)
	wantGiven, wantStored := whole.contents()
	for cut := 1; cut < len(canon); cut++ {
		for _, maxUndo := range []int{1, 3, 128} {
			s := newRecSink(t, true)
			handle(t, follower(t, p, s, canon, maxUndo), blockEvents(canon[:cut]...)...)
			s.reopen()
			handle(t, follower(t, p, s, canon, maxUndo), blockEvents(canon[cut:]...)...)
			gotGiven, gotStored := s.contents()
			if !slices.Equal(gotGiven, wantGiven) || !slices.Equal(gotStored, wantStored) {
				t.Fatalf("restart after block %d (undo depth %d): rows\n%s\nwant\n%s", canon[cut-1].Number, maxUndo,
					strings.Join(gotStored, "\n"), strings.Join(wantStored, "\n"))
			}
		}
	}
}

// TestKeepWindowsOpen: a backfill that keeps its windows open writes what
// one that flushes writes, less the incomplete results of the windows
// still open at its last block.
func TestKeepWindowsOpen(t *testing.T) {
	p := windowPlan(t)
	canon := testBlocks(23)
	last := canon[len(canon)-1].Number
	open, _ := backfill(t, p, canon, true).contents()
	flushed, _ := backfill(t, p, canon, false).contents()
	var extra []string
	for _, l := range flushed {
		if !slices.Contains(open, l) {
			extra = append(extra, l)
		}
	}
	if len(extra) == 0 || len(flushed)-len(extra) != len(open) {
		t.Fatalf("flushing added %d rows (%d in all, %d kept open)", len(extra), len(flushed), len(open))
	}
	for _, l := range extra {
		if !strings.Contains(l, fmt.Sprintf(" %d/", last)) || !strings.Contains(l, `"complete":false`) {
			t.Errorf("a flushed row is not an incomplete result at block %d: %s", last, l)
		}
	}
	res, err := Run(context.Background(), Config{Plan: p, Blocks: canon, Executor: &Local{Options: RunOptions{Native: natives()}}})
	if err != nil || res.Windows != nil {
		t.Fatalf("a run that flushes returned window state %v (err %v)", res.Windows, err)
	}
}

// An undo restores the windows as they were: replaying the same blocks
// after undoing them writes the same rows again (a window or rule that
// kept the undone rows would count them twice).
func TestFollowerUndoRestoresWindows(t *testing.T) {
	p := windowPlan(t)
	canon := testBlocks(16)
	s := newRecSink(t, true)
	f := follower(t, p, s, canon, 0)
	handle(t, f, blockEvents(canon...)...)
	before, _ := s.contents()
	handle(t, f, Event{UndoTo: canon[5].Number, UndoRef: canon[5].Ref})
	handle(t, f, blockEvents(canon[6:]...)...)
	after, _ := s.contents()
	if !slices.Equal(after, before) {
		t.Fatalf("after undo and replay\n%s\nwant\n%s", strings.Join(after, "\n"), strings.Join(before, "\n"))
	}
	// The undone blocks emitted results of every window and rule.
	for _, tb := range windowTables {
		if !slices.ContainsFunc(before, func(l string) bool {
			var block uint64
			_, err := fmt.Sscanf(strings.TrimPrefix(l, tb+" "), "%d/", &block)
			return strings.HasPrefix(l, tb+" ") && err == nil && block > canon[5].Number
		}) {
			t.Errorf("no %s results after block %d: the test proves nothing about them", tb, canon[5].Number)
		}
	}
}

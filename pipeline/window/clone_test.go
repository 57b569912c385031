package window

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/ipdm/ipdm/pipeline/manifest"
)

// op is an Aggregator or a Matcher.
type op interface {
	Add(string, ...Row) ([]Output, error)
	Advance(uint64, uint64) ([]Output, error)
	Flush() ([]Output, error)
}

// scriptStep is one Add of a module's rows, or an Advance (rows nil).
type scriptStep struct {
	module  string
	rows    []Row
	advance [2]uint64
}

// play feeds steps, then Flush, and renders the outputs as "block: json".
func play(t *testing.T, o op, steps []scriptStep, flush bool) []string {
	t.Helper()
	var got []string
	for _, s := range steps {
		got = append(got, playOne(t, o, s)...)
	}
	if flush {
		out, err := o.Flush()
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, render(out)...)
	}
	return got
}

func playOne(t *testing.T, o op, s scriptStep) []string {
	t.Helper()
	var out []Output
	var err error
	if s.rows == nil {
		out, err = o.Advance(s.advance[0], s.advance[1])
	} else {
		out, err = o.Add(s.module, s.rows...)
	}
	if err != nil {
		t.Fatal(err)
	}
	return render(out)
}

func render(out []Output) []string {
	var got []string
	for _, o := range out {
		got = append(got, fmt.Sprintf("%d: %s", o.Block, o.JSON))
	}
	return got
}

// windowScript makes the steps of genRows' rows: random batches within a
// block, Advance after every block.
func windowScript(r *rand.Rand) []scriptStep {
	rows, blocks := genRows(r)
	var steps []scriptStep
	i := 0
	for _, b := range blocks {
		for i < len(rows) && rows[i].block == b[0] {
			n := 1 + r.IntN(3)
			var batch []Row
			for _, g := range rows[i:] {
				if g.block != b[0] || len(batch) == n {
					break
				}
				batch = append(batch, Row{Block: g.block, Time: g.time, JSON: []byte(g.json)})
			}
			i += len(batch)
			steps = append(steps, scriptStep{module: "m", rows: batch})
		}
		steps = append(steps, scriptStep{advance: b})
	}
	return steps
}

// ruleScript makes the steps of genEvents' rows: batches of one module's
// rows within a block, Advance after every block.
func ruleScript(r *rand.Rand, same bool) []scriptStep {
	evs := genEvents(r, same)
	var steps []scriptStep
	for i := 0; i < len(evs); {
		n := 1 + r.IntN(4)
		var batch []Row
		j := i
		for ; j < len(evs) && j-i < n && evs[j].module == evs[i].module && evs[j].block == evs[i].block; j++ {
			batch = append(batch, Row{Block: evs[j].block, JSON: []byte(evs[j].json)})
		}
		steps = append(steps, scriptStep{module: evs[i].module, rows: batch})
		if j == len(evs) || evs[j].block != evs[i].block {
			steps = append(steps, scriptStep{advance: [2]uint64{evs[i].block, 0}})
		}
		i = j
	}
	return steps
}

// mutate returns other steps at the same positions: every batch twice,
// plus extra rows whose values differ from the original ones, so that a
// state shared between a clone and its original would show.
func mutate(steps []scriptStep, extra string) []scriptStep {
	out := make([]scriptStep, len(steps))
	for i, s := range steps {
		out[i] = s
		if s.rows == nil {
			continue
		}
		rows := slices.Concat(s.rows, s.rows)
		rows = append(rows, Row{Block: s.rows[0].Block, Time: s.rows[0].Time, JSON: []byte(extra)})
		out[i].rows = rows
	}
	return out
}

// checkClone cuts a script at every point: a clone taken there continues
// exactly as an uncloned run does (clone+continue = continue), while the
// original, fed other rows in alternation with the clone, gives what a
// fresh run fed those rows gives (neither sees the other's rows).
func checkClone[T op](t *testing.T, name string, fresh func() T, clone func(T) T, steps, other []scriptStep) {
	t.Helper()
	whole := play(t, fresh(), steps, true)
	for cut := 0; cut <= len(steps); cut++ {
		orig := fresh()
		head := play(t, orig, steps[:cut], false)
		c := clone(orig)
		otherWhole := play(t, fresh(), slices.Concat(steps[:cut], other[cut:]), true)
		var gotClone, gotOrig []string
		for i := cut; i < len(steps); i++ {
			gotOrig = append(gotOrig, playOne(t, orig, other[i])...)
			gotClone = append(gotClone, playOne(t, c, steps[i])...)
		}
		gotClone = append(gotClone, play(t, c, nil, true)...)
		gotOrig = append(gotOrig, play(t, orig, nil, true)...)
		if got := slices.Concat(head, gotClone); !slices.Equal(got, whole) {
			t.Fatalf("%s cut %d: clone and continue\n%q\nwant (continue)\n%q", name, cut, got, whole)
		}
		if got := slices.Concat(head, gotOrig); !slices.Equal(got, otherWhole) {
			t.Fatalf("%s cut %d: the original, after cloning, gave\n%q\nwant\n%q", name, cut, got, otherWhole)
		}
	}
}

func TestAggregatorClone(t *testing.T) {
	r := rand.New(rand.NewPCG(56, 78))
	specs := []manifest.Window{
		{Kind: manifest.Tumbling, Size: manifest.Span{Blocks: 1}},
		{Kind: manifest.Tumbling, Size: manifest.Span{Blocks: 7}, GroupBy: "k.g", Sum: []string{"v"}},
		{Kind: manifest.Sliding, Size: manifest.Span{Blocks: 10}, Step: manifest.Span{Blocks: 4}, Sum: []string{"v"}},
		{Kind: manifest.Sliding, Size: manifest.Span{Blocks: 9}, Step: manifest.Span{Blocks: 1}, GroupBy: "k.g", Sum: []string{"v"}},
		{Kind: manifest.Tumbling, Size: manifest.Span{Time: 10 * time.Second}, GroupBy: "k.g", Sum: []string{"v"}},
		{Kind: manifest.Sliding, Size: manifest.Span{Time: 15 * time.Second}, Step: manifest.Span{Time: 6 * time.Second}, GroupBy: "k.g", Sum: []string{"v"}},
	}
	for i, w := range specs {
		w.Name, w.Module = fmt.Sprintf("w%d", i), "m"
		for range 6 {
			steps := windowScript(r)
			other := mutate(steps, `{"k":{"g":"other"},"v":"123456789012345678901234567890"}`)
			checkClone(t, w.Name, func() *Aggregator { return mustAggregator(t, w) }, (*Aggregator).Clone, steps, other)
		}
	}
}

func TestMatcherClone(t *testing.T) {
	r := rand.New(rand.NewPCG(57, 79))
	for _, same := range []bool{true, false} {
		rule := manifest.Rule{Name: "r", First: "A", Then: "B", Within: 4, Key: "who.id"}
		if same {
			rule.Then = "A"
		}
		for range 12 {
			steps := ruleScript(r, same)
			other := mutate(steps, `{"who":{"id":"x"},"other":true}`)
			checkClone(t, fmt.Sprintf("same=%v", same), func() *Matcher { return mustMatcher(t, rule) }, (*Matcher).Clone, steps, other)
		}
	}
}

// A clone of a flushed aggregator or matcher is flushed too.
func TestCloneAfterFlush(t *testing.T) {
	a := mustAggregator(t, manifest.Window{Name: "w", Module: "m", Kind: manifest.Tumbling, Size: manifest.Span{Blocks: 5}})
	m := mustMatcher(t, manifest.Rule{Name: "r", First: "m", Then: "m", Within: 3, Key: "k"})
	for _, o := range []op{a, m} {
		if _, err := o.Add("m", Row{Block: 1, JSON: []byte(`{"k":1}`)}); err != nil {
			t.Fatal(err)
		}
		if _, err := o.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	for _, o := range []op{a.Clone(), m.Clone()} {
		if _, err := o.Add("m", Row{Block: 2, JSON: []byte(`{"k":1}`)}); !errors.Is(err, ErrFlushed) {
			t.Errorf("%T: add to a clone of a flushed one: %v, want ErrFlushed", o, err)
		}
	}
}

// A clone keeps its own expiry queue: a matcher and its clone, fed
// different keys, each still forget their own old First rows.
func TestMatcherCloneForgets(t *testing.T) {
	m := mustMatcher(t, manifest.Rule{Name: "r", First: "m", Then: "m", Within: 10, Key: "k"})
	for b := range uint64(5) { // the expiry queue now has room to grow in place
		if _, err := m.Add("m", Row{Block: b, JSON: []byte(fmt.Sprintf(`{"k":"start-%d"}`, b))}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := m.Advance(4, 0); err != nil {
		t.Fatal(err)
	}
	if len(m.expiry) == cap(m.expiry) {
		t.Fatalf("expiry queue %d/%d: the test needs spare capacity", len(m.expiry), cap(m.expiry))
	}
	c := m.Clone()
	for b := uint64(5); b < 2000; b++ {
		for i, x := range []*Matcher{m, c} {
			if _, err := x.Add("m", Row{Block: b, JSON: []byte(fmt.Sprintf(`{"k":"%d-%d"}`, i, b))}); err != nil {
				t.Fatal(err)
			}
			if len(x.latest) > 12 {
				t.Fatalf("block %d: matcher %d keeps %d keys", b, i, len(x.latest))
			}
		}
	}
}

// A clone counts the rows of the current block on its own: errors name
// the row's index among its module's rows of the block.
func TestCloneRowIndex(t *testing.T) {
	a := mustAggregator(t, manifest.Window{Name: "w", Module: "m", Kind: manifest.Tumbling, Size: manifest.Span{Blocks: 5}, GroupBy: "g"})
	row := Row{Block: 3, JSON: []byte(`{"g":1}`)}
	if _, err := a.Add("m", row, row); err != nil {
		t.Fatal(err)
	}
	c := a.Clone()
	if _, err := a.Add("m", row, row, row); err != nil {
		t.Fatal(err)
	}
	_, err := c.Add("m", Row{Block: 3, JSON: []byte(`[]`)})
	var re *RowError
	if !errors.As(err, &re) || re.Row != 2 {
		t.Fatalf("err = %v, want row 2 of the block", err)
	}
}

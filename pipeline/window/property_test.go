package window

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ipdm/ipdm/pipeline/manifest"
)

// A generated value: how a row writes it, and what it means.
type genValue struct {
	raw   string // JSON, "" = the member is absent
	canon string // canonical group JSON ("null" when absent)
	num   int64  // the integer it sums as (0 when absent)
	big   string // or, when set, this big integer
}

var groupValues = []genValue{
	{raw: `"a"`, canon: `"a"`}, {raw: `"\u0061"`, canon: `"a"`}, {raw: `"b"`, canon: `"b"`},
	{raw: `7`, canon: `7`}, {raw: `-0`, canon: `0`}, {raw: `0`, canon: `0`}, {raw: `"0"`, canon: `"0"`},
	{raw: `false`, canon: `false`}, {raw: `null`, canon: `null`}, {raw: "", canon: `null`},
}

var sumValues = []genValue{
	{raw: `1`, num: 1}, {raw: `"25"`, num: 25}, {raw: `-3`, num: -3}, {raw: `"-0004"`, num: -4},
	{raw: `null`}, {raw: ``}, {raw: `"340282366920938463463374607431768211455"`, big: "340282366920938463463374607431768211455"},
}

type genRow struct {
	block, time uint64
	group       genValue
	sum         genValue
	json        string
}

// genRows returns rows over blocks with gaps, and the blocks to advance
// to (every block in the range, with or without rows). Times rise by 0 to
// 7 seconds per block and sometimes go back. The first and last blocks have
// rows.
func genRows(r *rand.Rand) ([]genRow, [][2]uint64) {
	var out []genRow
	var blocks [][2]uint64
	block, t := uint64(r.IntN(50)), uint64(1000+r.IntN(50))
	n := 1 + r.IntN(40)
	for i := 0; i < n; i++ {
		blocks = append(blocks, [2]uint64{block, t})
		k := r.IntN(4)
		if i == 0 || i == n-1 {
			k = 1 + r.IntN(3)
		}
		for range k {
			g, s := groupValues[r.IntN(len(groupValues))], sumValues[r.IntN(len(sumValues))]
			var members []string
			if g.raw != "" {
				members = append(members, `"k": {"g": `+g.raw+`}`)
			}
			if s.raw != "" {
				members = append(members, `"v": `+s.raw)
			}
			members = append(members, `"pad": "x"`)
			r.Shuffle(len(members), func(i, j int) { members[i], members[j] = members[j], members[i] })
			out = append(out, genRow{block: block, time: t, group: g, sum: s, json: "{" + strings.Join(members, ", ") + "}"})
		}
		block += 1 + uint64(r.IntN(3))
		switch r.IntN(10) {
		case 0:
			t -= uint64(r.IntN(5)) // block times can go back
		default:
			t += uint64(r.IntN(8))
		}
	}
	return out, blocks
}

// expectWindows computes a window's results from the definition: every
// aligned window holding rows, its groups, counts and sums, complete when
// it lies within the run. positions are the (block, time) pairs the
// aggregator sees, rows included: a row's time counts as the latest time
// seen up to its block.
func expectWindows(w manifest.Window, rows []genRow, positions [][2]uint64) []string {
	unitBlocks := w.Size.Blocks != 0
	size, step := w.Size.Blocks, w.Step.Blocks
	if !unitBlocks {
		size, step = uint64(w.Size.Time/time.Second), uint64(w.Step.Time/time.Second)
	}
	if step == 0 {
		step = size
	}
	latestAt := func(block uint64) uint64 {
		var latest uint64
		for _, p := range positions {
			if p[0] <= block {
				latest = max(latest, p[1])
			}
		}
		return latest
	}
	xs := make([]uint64, len(rows))
	for i, r := range rows {
		xs[i] = r.block
		if !unitBlocks {
			xs[i] = latestAt(r.block)
		}
	}
	lastBlock := positions[len(positions)-1][0]
	first, done := positions[0][0], lastBlock+1
	if !unitBlocks {
		first, done = latestAt(positions[0][0]), latestAt(lastBlock)
	}
	starts := map[uint64]bool{}
	for _, x := range xs {
		for s := x / step * step; s+size > x; s -= step {
			starts[s] = true
			if s < step {
				break
			}
		}
	}
	var out []string
	for _, s := range slices.Sorted(func(yield func(uint64) bool) {
		for s := range starts {
			if !yield(s) {
				return
			}
		}
	}) {
		type agg struct {
			n   int
			sum big.Int
		}
		groups := map[string]*agg{}
		for i, r := range rows {
			if xs[i] < s || xs[i] >= s+size {
				continue
			}
			key := ""
			if w.GroupBy != "" {
				key = r.group.canon
			}
			g := groups[key]
			if g == nil {
				g = &agg{}
				groups[key] = g
			}
			g.n++
			if r.sum.big != "" {
				b, _ := new(big.Int).SetString(r.sum.big, 10)
				g.sum.Add(&g.sum, b)
			} else {
				g.sum.Add(&g.sum, big.NewInt(r.sum.num))
			}
		}
		complete := s+size <= done && (s >= first && (unitBlocks || s > first))
		unit := "seconds"
		if unitBlocks {
			unit = "blocks"
		}
		keys := slices.Sorted(func(yield func(string) bool) {
			for k := range groups {
				if !yield(k) {
					return
				}
			}
		})
		for _, k := range keys {
			line := fmt.Sprintf(`{"window":%q,"start":%d,"end":%d,"unit":%q`, w.Name, s, s+size, unit)
			if w.GroupBy != "" {
				line += `,"group":` + k
			}
			line += fmt.Sprintf(`,"count":%d`, groups[k].n)
			if len(w.Sum) > 0 {
				line += fmt.Sprintf(`,"sums":{"v":"%s"}`, &groups[k].sum)
			}
			out = append(out, line+fmt.Sprintf(`,"complete":%v}`, complete))
		}
	}
	return out
}

// Results equal the definition's whatever the window shape, whether
// Advance is called, and however rows are split between Add calls.
func TestWindowsMatchDefinition(t *testing.T) {
	r := rand.New(rand.NewPCG(12, 34))
	specs := []manifest.Window{
		{Kind: manifest.Tumbling, Size: manifest.Span{Blocks: 1}},
		{Kind: manifest.Tumbling, Size: manifest.Span{Blocks: 7}, GroupBy: "k.g", Sum: []string{"v"}},
		{Kind: manifest.Sliding, Size: manifest.Span{Blocks: 10}, Step: manifest.Span{Blocks: 4}, Sum: []string{"v"}},
		{Kind: manifest.Sliding, Size: manifest.Span{Blocks: 6}, Step: manifest.Span{Blocks: 6}, GroupBy: "k.g"},
		{Kind: manifest.Sliding, Size: manifest.Span{Blocks: 9}, Step: manifest.Span{Blocks: 1}, GroupBy: "k.g", Sum: []string{"v"}},
		{Kind: manifest.Tumbling, Size: manifest.Span{Time: 10 * time.Second}, GroupBy: "k.g", Sum: []string{"v"}},
		{Kind: manifest.Sliding, Size: manifest.Span{Time: 15 * time.Second}, Step: manifest.Span{Time: 6 * time.Second}, GroupBy: "k.g", Sum: []string{"v"}},
		{Kind: manifest.Sliding, Size: manifest.Span{Time: 7 * time.Second}, Step: manifest.Span{Time: 2 * time.Second}},
	}
	for i, w := range specs {
		w.Name, w.Module = fmt.Sprintf("w%d", i), "m"
		for range 60 {
			rows, blocks := genRows(r)
			var rowPositions [][2]uint64
			for _, g := range rows {
				rowPositions = append(rowPositions, [2]uint64{g.block, g.time})
			}
			for mode := range 3 {
				positions := rowPositions
				if mode == 2 {
					positions = blocks // Advance shows the times of blocks without rows too
				}
				want := strings.Join(expectWindows(w, rows, positions), "\n")
				got := feedWindow(t, r, mustAggregator(t, w), rows, blocks, mode)
				if strings.Join(got, "\n") != want {
					t.Fatalf("%s %+v mode %d:\ngot\n%s\nwant\n%s\nrows %+v", w.Name, w, mode, strings.Join(got, "\n"), want, rows)
				}
			}
		}
	}
}

// feedWindow runs rows through a in mode 0 (one Add per row), 1 (random
// batches across blocks) or 2 (random batches, Advance after every block).
// It checks that output blocks never decrease nor pass the last block.
func feedWindow(t *testing.T, r *rand.Rand, a *Aggregator, rows []genRow, blocks [][2]uint64, mode int) []string {
	t.Helper()
	var got []string
	var lastOut uint64
	collect := func(out []Output, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range out {
			if o.Block < lastOut || o.Block > blocks[len(blocks)-1][0] {
				t.Fatalf("output block %d after %d (last block %d)", o.Block, lastOut, blocks[len(blocks)-1][0])
			}
			lastOut = o.Block
			got = append(got, string(o.JSON))
		}
	}
	toRow := func(g genRow) Row { return Row{Block: g.block, Time: g.time, JSON: []byte(g.json)} }
	switch mode {
	case 0:
		for _, g := range rows {
			collect(a.Add("m", toRow(g)))
		}
	case 1:
		for i := 0; i < len(rows); {
			n := 1 + r.IntN(8)
			var batch []Row
			for _, g := range rows[i:min(i+n, len(rows))] {
				batch = append(batch, toRow(g))
			}
			i += len(batch)
			collect(a.Add("m", batch...))
		}
	case 2:
		i := 0
		for _, b := range blocks {
			for i < len(rows) && rows[i].block == b[0] {
				n := 1 + r.IntN(3)
				var batch []Row
				for _, g := range rows[i:] {
					if g.block != b[0] || len(batch) == n {
						break
					}
					batch = append(batch, toRow(g))
				}
				i += len(batch)
				collect(a.Add("m", batch...))
			}
			collect(a.Advance(b[0], b[1]))
		}
	}
	collect(a.Flush())
	return got
}

type genEvent struct {
	module string // "A" or "B"
	block  uint64
	key    string // canonical, "" = none
	json   string
}

var ruleKeys = []genValue{
	{raw: `"x"`, canon: `"x"`}, {raw: `"\u0078"`, canon: `"x"`}, {raw: `"y"`, canon: `"y"`},
	{raw: `3`, canon: `3`}, {raw: `-0`, canon: `0`}, {raw: `0`, canon: `0`}, {raw: `true`, canon: `true`},
	{raw: `null`}, {raw: ``},
}

// genEvents returns rows of modules A and B (only A when same) in a valid
// global order: blocks ascending, the two modules' rows of a block
// interleaved at random.
func genEvents(r *rand.Rand, same bool) []genEvent {
	var out []genEvent
	block := uint64(r.IntN(5))
	for range 1 + r.IntN(30) {
		var a, b []genEvent
		for i := range r.IntN(4) {
			for _, mod := range []string{"A", "B"} {
				if mod == "B" && same {
					continue
				}
				k := ruleKeys[r.IntN(len(ruleKeys))]
				obj := `{"seq": ` + fmt.Sprint(len(out)+len(a)+len(b)) + `, "i": ` + fmt.Sprint(i)
				if k.raw != "" {
					obj += `, "who": {"id": ` + k.raw + `}`
				}
				ev := genEvent{module: mod, block: block, key: k.canon, json: obj + ` }`}
				if mod == "A" {
					a = append(a, ev)
				} else {
					b = append(b, ev)
				}
			}
		}
		for len(a) > 0 || len(b) > 0 { // random interleaving keeping each module's order
			if len(b) == 0 || (len(a) > 0 && r.IntN(2) == 0) {
				out, a = append(out, a[0]), a[1:]
			} else {
				out, b = append(out, b[0]), b[1:]
			}
		}
		block += uint64(1 + r.IntN(4))
	}
	return out
}

// expectMatches applies the pairing definition by brute force.
func expectMatches(rule manifest.Rule, evs []genEvent) []string {
	same := rule.First == rule.Then
	// Each module's rows in their order; the output follows blocks, then
	// Then's row order within a block.
	var firsts, thens []int
	for i, e := range evs {
		if e.module == rule.First {
			firsts = append(firsts, i)
		}
		if e.module == rule.Then {
			thens = append(thens, i)
		}
	}
	var out []string
	for ti, t := range thens {
		te := evs[t]
		if te.key == "" {
			continue
		}
		best := -1
		for fi, f := range firsts {
			fe := evs[f]
			earlier := fe.block < te.block || (fe.block == te.block && (!same || fi < ti))
			if fe.key == te.key && earlier && te.block-fe.block <= rule.Within {
				best = f // firsts are in order: the last one found is the most recent
			}
		}
		if best < 0 {
			continue
		}
		var fj, tj bytes.Buffer
		_ = json.Compact(&fj, []byte(evs[best].json))
		_ = json.Compact(&tj, []byte(te.json))
		out = append(out, fmt.Sprintf(`%d: {"rule":%q,"key":%s,"first_block":%d,"then_block":%d,"first":%s,"then":%s}`,
			te.block, rule.Name, te.key, evs[best].block, te.block, fj.Bytes(), tj.Bytes()))
	}
	// Stable sort by block: within a block, Then's row order is kept.
	slices.SortStableFunc(out, func(a, b string) int {
		var x, y uint64
		fmt.Sscanf(a, "%d:", &x)
		fmt.Sscanf(b, "%d:", &y)
		return int(int64(x) - int64(y))
	})
	return out
}

// Matches equal the definition's for one module or two, whatever the
// batching and the interleaving of the modules' rows within a block.
func TestRulesMatchDefinition(t *testing.T) {
	r := rand.New(rand.NewPCG(56, 78))
	for _, rule := range []manifest.Rule{
		{Name: "same", First: "A", Then: "A", Within: 1, Key: "who.id"},
		{Name: "same3", First: "A", Then: "A", Within: 3, Key: "who.id"},
		{Name: "two", First: "A", Then: "B", Within: 2, Key: "who.id"},
		{Name: "back", First: "B", Then: "A", Within: 5, Key: "who.id"},
	} {
		for range 200 {
			evs := genEvents(r, rule.First == rule.Then)
			want := strings.Join(expectMatches(rule, evs), "\n")
			for mode := range 3 {
				m, err := NewMatcher(rule)
				if err != nil {
					t.Fatal(err)
				}
				got := feedRule(t, r, m, evs, mode)
				if strings.Join(got, "\n") != want {
					t.Fatalf("%s mode %d:\ngot\n%s\nwant\n%s\nevents %+v", rule.Name, mode, strings.Join(got, "\n"), want, evs)
				}
			}
		}
	}
}

// feedRule runs events in mode 0 (one Add per row), 1 (batches of one
// module's consecutive rows, across blocks) or 2 (batches, and Advance
// after every block).
func feedRule(t *testing.T, r *rand.Rand, m *Matcher, evs []genEvent, mode int) []string {
	t.Helper()
	var got []string
	collect := func(out []Output, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range out {
			got = append(got, fmt.Sprintf("%d: %s", o.Block, o.JSON))
		}
	}
	for i := 0; i < len(evs); {
		n := 1
		if mode > 0 {
			n = 1 + r.IntN(6)
		}
		var batch []Row
		j := i
		for ; j < len(evs) && j-i < n && evs[j].module == evs[i].module; j++ {
			if mode == 2 && evs[j].block != evs[i].block {
				break
			}
			batch = append(batch, Row{Block: evs[j].block, JSON: []byte(evs[j].json)})
		}
		collect(m.Add(evs[i].module, batch...))
		if mode == 2 && (j == len(evs) || evs[j].block != evs[i].block) {
			collect(m.Advance(evs[i].block, 0))
		}
		i = j
	}
	collect(m.Flush())
	return got
}

// A range split into two runs gives the same complete windows as one run,
// and the results of each window (complete or not) add up to one run's.
func TestSplitRunsAddUp(t *testing.T) {
	r := rand.New(rand.NewPCG(90, 12))
	specs := []manifest.Window{
		{Kind: manifest.Tumbling, Size: manifest.Span{Blocks: 7}, GroupBy: "k.g", Sum: []string{"v"}},
		{Kind: manifest.Sliding, Size: manifest.Span{Blocks: 9}, Step: manifest.Span{Blocks: 3}, GroupBy: "k.g", Sum: []string{"v"}},
		{Kind: manifest.Sliding, Size: manifest.Span{Time: 15 * time.Second}, Step: manifest.Span{Time: 5 * time.Second}, GroupBy: "k.g", Sum: []string{"v"}},
	}
	type result struct {
		Start    uint64
		Group    json.RawMessage
		Count    int
		Sums     map[string]string
		Complete bool
	}
	parse := func(lines []string) []result {
		var out []result
		for _, l := range lines {
			var res result
			if err := json.Unmarshal([]byte(l), &res); err != nil {
				t.Fatal(err)
			}
			out = append(out, res)
		}
		return out
	}
	for i, w := range specs {
		w.Name, w.Module = fmt.Sprintf("w%d", i), "m"
		for range 100 {
			rows, blocks := genRows(r)
			// Times do not go back here: a second run cannot know the first
			// run's latest time.
			for j := range blocks {
				if j > 0 {
					blocks[j][1] = max(blocks[j][1], blocks[j-1][1])
				}
			}
			for j := range rows {
				for _, b := range blocks {
					if b[0] == rows[j].block {
						rows[j].time = b[1]
					}
				}
			}
			cut := r.IntN(len(blocks)) // the second run starts at blocks[cut]
			var first, second []genRow
			for _, g := range rows {
				if g.block < blocks[cut][0] {
					first = append(first, g)
				} else {
					second = append(second, g)
				}
			}
			whole := parse(feedWindow(t, r, mustAggregator(t, w), rows, blocks, 2))
			split := parse(feedWindow(t, r, mustAggregator(t, w), first, blocks[:cut], 2))
			split = append(split, parse(feedWindow(t, r, mustAggregator(t, w), second, blocks[cut:], 2))...)

			type id struct {
				start uint64
				group string
			}
			totals := map[id]*result{}
			for _, res := range split {
				k := id{res.Start, string(res.Group)}
				if res.Complete && !slices.ContainsFunc(whole, func(x result) bool {
					return x.Start == res.Start && string(x.Group) == string(res.Group) && x.Count == res.Count && x.Sums["v"] == res.Sums["v"]
				}) {
					t.Fatalf("%s: complete result %+v of a split run is not in the whole run's %+v", w.Name, res, whole)
				}
				if totals[k] == nil {
					totals[k] = &result{Sums: map[string]string{"v": "0"}}
				}
				tot := totals[k]
				tot.Count += res.Count
				a, _ := new(big.Int).SetString(tot.Sums["v"], 10)
				b, _ := new(big.Int).SetString(res.Sums["v"], 10)
				tot.Sums["v"] = a.Add(a, b).String()
			}
			if len(totals) != len(whole) {
				t.Fatalf("%s: %d windows and groups in the split runs, %d in the whole", w.Name, len(totals), len(whole))
			}
			for _, res := range whole {
				tot := totals[id{res.Start, string(res.Group)}]
				if tot == nil || tot.Count != res.Count || tot.Sums["v"] != res.Sums["v"] {
					t.Fatalf("%s: window %d group %s: whole %+v, split runs add up to %+v", w.Name, res.Start, res.Group, res, tot)
				}
			}
		}
	}
}

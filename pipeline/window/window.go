package window

import (
	"fmt"
	"math"
	"math/big"
	"slices"
	"strconv"
	"time"

	"github.com/ipdm/ipdm/pipeline/manifest"
)

// MaxOverlap bounds how many windows of a sliding window cover one point
// (size / step, rounded up): each row is counted in that many results.
const MaxOverlap = 10_000

// Aggregator computes one manifest window over its module's rows.
//
// Windows are aligned to multiples of the step from block 0 or from the
// unix epoch, so a window's bounds never depend on where a run starts: a
// window covers [start, end) with start a multiple of the step and end =
// start + size, in blocks or in whole seconds of block time.
//
// A window's results are emitted once the stream has passed its end: when
// a row or an Advance shows that no row can still fall inside it. One
// result per group (one in all without group_by), groups in the byte order
// of their JSON values; windows without rows give no result, so an absent
// window means a count of zero. A result is complete when the run saw every
// block of the window; Flush emits the windows still open at the end of a
// range as incomplete ones.
type Aggregator struct {
	name, module string
	unitBlocks   bool
	size, step   uint64
	pane         uint64 // gcd(size, step): windows are unions of panes
	groupBy      []string
	groupName    string
	sums         [][]string
	sumNames     []string
	pos          position
	panes        []*pane // non-empty panes, ascending
	next         uint64  // the earliest start of a window not yet emitted
	flushed      bool
}

type pane struct {
	index  uint64 // the pane covers [index*pane, (index+1)*pane)
	groups map[string]*tally
}

type tally struct {
	count uint64
	sums  []big.Int
}

// NewAggregator returns an aggregator for w. It checks w as the manifest
// does (kind, size, step, field paths), and that w's windows overlap at
// most MaxOverlap times; errors match ErrInvalidSpec.
func NewAggregator(w manifest.Window) (*Aggregator, error) {
	a := &Aggregator{name: w.Name, module: w.Module}
	fail := func(format string, args ...any) (*Aggregator, error) {
		return nil, fmt.Errorf("window %s: %s: %w", w.Name, fmt.Sprintf(format, args...), ErrInvalidSpec)
	}
	if w.Name == "" || w.Module == "" {
		return fail("no name or no module")
	}
	size, sizeBlocks, err := spanUnits(w.Size)
	if err != nil {
		return fail("size: %v", err)
	}
	step, stepBlocks := size, sizeBlocks
	switch w.Kind {
	case manifest.Tumbling:
		if !w.Step.IsZero() && w.Step != w.Size {
			return fail("a tumbling window's step is its size")
		}
	case manifest.Sliding:
		if step, stepBlocks, err = spanUnits(w.Step); err != nil {
			return fail("step: %v", err)
		}
		if stepBlocks != sizeBlocks || step > size {
			return fail("step %s is not at most the size %s, in the same unit", w.Step, w.Size)
		}
	default:
		return fail("kind %q is not tumbling or sliding", w.Kind)
	}
	if (size+step-1)/step > MaxOverlap {
		return fail("size %s over step %s makes every row count in more than %d windows", w.Size, w.Step, MaxOverlap)
	}
	a.unitBlocks, a.size, a.step, a.pane = sizeBlocks, size, step, gcd(size, step)
	if w.GroupBy != "" {
		var ok bool
		if a.groupBy, ok = parsePath(w.GroupBy); !ok {
			return fail("group_by %q is not a field path", w.GroupBy)
		}
		a.groupName = w.GroupBy
	}
	if len(w.Sum) > manifest.MaxWindowSums {
		return fail("%d sums exceed %d", len(w.Sum), manifest.MaxWindowSums)
	}
	for i, f := range w.Sum {
		p, ok := parsePath(f)
		if !ok || slices.Index(w.Sum, f) < i {
			return fail("sum %q is not a field path, or is repeated", f)
		}
		a.sums, a.sumNames = append(a.sums, p), append(a.sumNames, f)
	}
	a.pos = position{op: "window " + w.Name, timed: !sizeBlocks}
	return a, nil
}

// spanUnits returns a span as a count of blocks or of seconds.
func spanUnits(s manifest.Span) (n uint64, blocks bool, err error) {
	switch {
	case s.Blocks != 0 && s.Time != 0, s.IsZero():
		return 0, false, fmt.Errorf("%v: give blocks or time", s)
	case s.Blocks != 0:
		if s.Blocks > math.MaxInt64 {
			return 0, false, fmt.Errorf("%d blocks exceed %d", s.Blocks, int64(math.MaxInt64))
		}
		return s.Blocks, true, nil
	case s.Time < 0 || s.Time%time.Second != 0:
		return 0, false, fmt.Errorf("%s is not a positive whole number of seconds", s.Time)
	}
	return uint64(s.Time / time.Second), false, nil
}

func gcd(a, b uint64) uint64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// Name returns the window's name.
func (a *Aggregator) Name() string { return a.name }

// Inputs returns the module whose rows the window reads.
func (a *Aggregator) Inputs() []string { return []string{a.module} }

// Add feeds rows of module (the window's module) in block order, and
// returns the results the rows complete. Rows must not go back to an
// earlier block, nor to a block already passed to Advance (ErrOutOfOrder).
// Rows of one block have one time; a time window needs it (not 0), and
// counts a row at the latest block time seen so far, so a block whose time
// goes back (Solana's can) falls in the current window, never in one
// already emitted. Block windows ignore times. Rows are decoded only when
// the window groups or sums, and must then be JSON objects
// (ErrMalformedRow, a *RowError naming the block); a missing or null
// group_by field is the group null, a missing or null summed field adds 0.
//
// On error, the results of the rows before the failing one are returned
// with it; the failing row and those after it are not used. The results
// depend only on the sequence of rows and Advance calls, not on how rows
// are split between calls.
func (a *Aggregator) Add(module string, rows ...Row) ([]Output, error) {
	if a.flushed {
		return nil, fmt.Errorf("window %s: add after flush: %w", a.name, ErrFlushed)
	}
	if module != a.module {
		return nil, fmt.Errorf("window %s: rows of %q, but the window reads %q: %w", a.name, module, a.module, ErrUnknownModule)
	}
	var out []Output
	for _, r := range rows {
		g, sums, err := a.decode(r)
		if err != nil {
			return out, err
		}
		x, err := a.pos.row(module, r)
		if err != nil {
			return out, err
		}
		if !a.unitBlocks {
			x = a.pos.time
		}
		out = a.emit(out, x, false)
		a.count(x, g, sums)
	}
	return out, nil
}

// decode extracts a row's group and summed values.
func (a *Aggregator) decode(r Row) (string, []big.Int, error) {
	if a.groupBy == nil && a.sums == nil {
		return "", nil, nil
	}
	bad := func(detail string) error {
		return &RowError{Op: "window " + a.name, Module: a.module, Block: r.Block, Row: a.pos.rowIndex(a.module, r.Block), Detail: detail}
	}
	obj, why := parseObject(r.JSON)
	if why != "" {
		return "", nil, bad(why)
	}
	group := ""
	if a.groupBy != nil {
		group = "null"
		if v := lookup(obj, a.groupBy); v != nil {
			if group, why = keyOf(a.groupName, v); why != "" {
				return "", nil, bad(why)
			}
		}
	}
	sums := make([]big.Int, len(a.sums))
	for i, p := range a.sums {
		if v := lookup(obj, p); v != nil {
			if why := intOf(a.sumNames[i], v, &sums[i]); why != "" {
				return "", nil, bad(why)
			}
		}
	}
	return group, sums, nil
}

func (a *Aggregator) count(x uint64, group string, sums []big.Int) {
	idx := x / a.pane
	if n := len(a.panes); n == 0 || a.panes[n-1].index != idx {
		a.panes = append(a.panes, &pane{index: idx, groups: map[string]*tally{}})
	}
	p := a.panes[len(a.panes)-1]
	t := p.groups[group]
	if t == nil {
		t = &tally{sums: make([]big.Int, len(a.sums))}
		p.groups[group] = t
	}
	t.count++
	for i := range sums {
		t.sums[i].Add(&t.sums[i], &sums[i])
	}
}

// Advance tells the aggregator that every row of blocks up to block has
// been added, and that block's time (ignored by block windows), and returns
// the results this completes. Calling it once per block, rows or none,
// emits each window as soon as its last block is done.
func (a *Aggregator) Advance(block, time uint64) ([]Output, error) {
	if a.flushed {
		return nil, fmt.Errorf("window %s: advance after flush: %w", a.name, ErrFlushed)
	}
	if err := a.pos.advance(block, time); err != nil {
		return nil, err
	}
	done := block + 1
	if !a.unitBlocks {
		done = a.pos.time
	}
	return a.emit(nil, done, false), nil
}

// Flush ends the stream at the end of a range: the last block added or
// advanced to counts as done, the windows this completes are emitted, and
// then every window still holding rows is emitted with "complete": false
// (a later run over the following blocks emits the rest of such a window
// as another incomplete result: counts and sums of a window's results add
// up). Later calls fail with ErrFlushed.
func (a *Aggregator) Flush() ([]Output, error) {
	if a.flushed {
		return nil, fmt.Errorf("window %s: flushed twice: %w", a.name, ErrFlushed)
	}
	a.flushed = true
	if !a.pos.started {
		return nil, nil
	}
	done := a.pos.block + 1
	if !a.unitBlocks {
		done = a.pos.time
	}
	out := a.emit(nil, done, false)
	return a.emit(out, math.MaxUint64, true), nil
}

// emit appends the results of the windows holding rows that end at or
// before done (every one when final), in order of start.
func (a *Aggregator) emit(out []Output, done uint64, final bool) []Output {
	for len(a.panes) > 0 {
		first := a.panes[0].index * a.pane
		start := uint64(0) // the earliest window start covering the first pane
		if first >= a.size {
			start = ((first-a.size)/a.step + 1) * a.step
		}
		start = max(start, a.next)
		end := start + a.size
		if end > done && !final {
			break
		}
		out = a.result(out, start, end, !final)
		a.next = start + a.step
		drop := 0
		for drop < len(a.panes) && (a.panes[drop].index+1)*a.pane <= a.next {
			drop++
		}
		a.panes = slices.Delete(a.panes, 0, drop)
	}
	return out
}

// result appends the results of window [start, end), one per group.
func (a *Aggregator) result(out []Output, start, end uint64, ended bool) []Output {
	groups := map[string]*tally{}
	for _, p := range a.panes {
		if p.index*a.pane >= end {
			break
		}
		for g, t := range p.groups {
			sum := groups[g]
			if sum == nil {
				sum = &tally{sums: make([]big.Int, len(a.sums))}
				groups[g] = sum
			}
			sum.count += t.count
			for i := range t.sums {
				sum.sums[i].Add(&sum.sums[i], &t.sums[i])
			}
		}
	}
	// Complete: the run covered the whole window. A time window starting at
	// the first time seen may have had rows in the blocks before the run.
	complete := ended && (start >= a.pos.first && (a.unitBlocks || start > a.pos.first))
	unit := "seconds"
	if a.unitBlocks {
		unit = "blocks"
	}
	keys := make([]string, 0, len(groups))
	for g := range groups {
		keys = append(keys, g)
	}
	slices.Sort(keys)
	for _, g := range keys {
		t := groups[g]
		b := append([]byte(`{"window":`), appendString(nil, a.name)...)
		b = append(b, `,"start":`...)
		b = strconv.AppendUint(b, start, 10)
		b = append(b, `,"end":`...)
		b = strconv.AppendUint(b, end, 10)
		b = append(b, `,"unit":"`...)
		b = append(b, unit...)
		b = append(b, '"')
		if a.groupBy != nil {
			b = append(b, `,"group":`...)
			b = append(b, g...)
		}
		b = append(b, `,"count":`...)
		b = strconv.AppendUint(b, t.count, 10)
		if a.sums != nil {
			b = append(b, `,"sums":{`...)
			for i, name := range a.sumNames {
				if i > 0 {
					b = append(b, ',')
				}
				b = appendString(b, name)
				b = append(b, ':', '"')
				b = t.sums[i].Append(b, 10)
				b = append(b, '"')
			}
			b = append(b, '}')
		}
		b = append(b, `,"complete":`...)
		b = strconv.AppendBool(b, complete)
		out = append(out, Output{Block: a.pos.block, JSON: append(b, '}')})
	}
	return out
}

package engine

import (
	"fmt"

	"github.com/ipdm/ipdm/pipeline/window"
)

// windowed is a manifest window or rule at work (package window).
type windowed interface {
	Name() string
	Inputs() []string
	Add(module string, rows ...window.Row) ([]window.Output, error)
	Advance(block, time uint64) ([]window.Output, error)
	Flush() ([]window.Output, error)
	// Clone returns an independent copy that continues exactly as this
	// one would.
	Clone() windowed
}

// aggregator and matcher adapt the window package's types to windowed.
type aggregator struct{ *window.Aggregator }

func (a aggregator) Clone() windowed { return aggregator{a.Aggregator.Clone()} }

type matcher struct{ *window.Matcher }

func (m matcher) Clone() windowed { return matcher{m.Matcher.Clone()} }

// postProcessor runs the manifest's windows and rules over map outputs in
// block order, after the segments are computed (Run) or block by block
// (Follower). They are cheap and sequential by nature (a window spans
// segments), so they run on the coordinator rather than as jobs.
//
// Every result is filed under the block whose processing emitted it (a
// window's under the block that showed it ended, a match under its Then
// row's block): undoing that block in a sink removes it, and a backfill and
// a live run over the same blocks file the same rows under the same blocks.
type postProcessor struct{ ws []windowed }

func newPostProcessor(p *Plan) (*postProcessor, error) {
	pp := &postProcessor{}
	for _, w := range p.Manifest.Windows {
		a, err := window.NewAggregator(w)
		if err != nil {
			return nil, err
		}
		pp.ws = append(pp.ws, aggregator{a})
	}
	for _, r := range p.Manifest.Rules {
		m, err := window.NewMatcher(r)
		if err != nil {
			return nil, err
		}
		pp.ws = append(pp.ws, matcher{m})
	}
	return pp, nil
}

// clone returns an independent copy of every window and rule.
func (pp *postProcessor) clone() *postProcessor {
	c := &postProcessor{ws: make([]windowed, len(pp.ws))}
	for i, w := range pp.ws {
		c.ws[i] = w.Clone()
	}
	return c
}

// segment feeds the blocks of one segment and returns the results they
// complete, as rows of tables named after the windows and rules.
func (pp *postProcessor) segment(outs map[string][]*Output, si int, blocks []BlockData) ([]Row, error) {
	return pp.feed(func(mod string) *Output { return outs[mod][si] }, blocks)
}

// feed feeds blocks, in order, and returns the results they complete;
// output(mod) is module mod's output over the blocks (nil when the module
// did not run). Rows' Index is left 0: sortRows numbers them.
func (pp *postProcessor) feed(output func(mod string) *Output, blocks []BlockData) ([]Row, error) {
	if len(pp.ws) == 0 {
		return nil, nil
	}
	index := map[string]map[uint64]int{}
	var rows []Row
	for _, bd := range blocks {
		for _, w := range pp.ws {
			for _, mod := range w.Inputs() {
				o := output(mod)
				if o == nil {
					continue
				}
				at, ok := index[mod]
				if !ok {
					at = blockIndex(o)
					index[mod] = at
				}
				i, ok := at[bd.Number]
				if !ok {
					continue
				}
				recs, err := o.Records(i)
				if err != nil {
					return nil, err
				}
				in := make([]window.Row, len(recs))
				for j, rec := range recs {
					in[j] = window.Row{Block: bd.Number, Time: bd.Time, JSON: rec}
				}
				res, err := w.Add(mod, in...)
				rows = appendResults(rows, w.Name(), res)
				if err != nil {
					return nil, fmt.Errorf("pipeline: %w", err)
				}
			}
			res, err := w.Advance(bd.Number, bd.Time)
			rows = appendResults(rows, w.Name(), res)
			if err != nil {
				return nil, fmt.Errorf("pipeline: %w", err)
			}
		}
	}
	return rows, nil
}

// flush ends the range: windows still open are emitted (marked incomplete).
func (pp *postProcessor) flush() ([]Row, error) {
	var rows []Row
	for _, w := range pp.ws {
		res, err := w.Flush()
		rows = appendResults(rows, w.Name(), res)
		if err != nil {
			return nil, fmt.Errorf("pipeline: %w", err)
		}
	}
	return rows, nil
}

func appendResults(rows []Row, table string, res []window.Output) []Row {
	for _, r := range res {
		rows = append(rows, Row{Table: TableName(table), Block: r.Block, JSON: r.JSON})
	}
	return rows
}

// WindowState is the manifest's windows and rules part-way through a
// chain: the rows and positions they hold after the last block fed, none
// flushed. A backfill run with Config.KeepWindowsOpen returns it in
// Result.Windows; a Follower given it (Follower.Windows) continues from the
// next block as if one run had processed both, so a live run resumed after
// a restart emits what an uninterrupted one would. It is opaque, and not
// safe for concurrent use.
type WindowState struct{ pp *postProcessor }

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
}

// postProcessor runs the manifest's windows and rules over map outputs in
// block order, after the segments are computed. They are cheap and
// sequential by nature (a window spans segments), so they run on the
// coordinator rather than as jobs.
type postProcessor struct{ ws []windowed }

func newPostProcessor(p *Plan) (*postProcessor, error) {
	pp := &postProcessor{}
	for _, w := range p.Manifest.Windows {
		a, err := window.NewAggregator(w)
		if err != nil {
			return nil, err
		}
		pp.ws = append(pp.ws, a)
	}
	for _, r := range p.Manifest.Rules {
		m, err := window.NewMatcher(r)
		if err != nil {
			return nil, err
		}
		pp.ws = append(pp.ws, m)
	}
	return pp, nil
}

// segment feeds the blocks of one segment and returns the results they
// complete, as rows of tables named after the windows and rules.
func (pp *postProcessor) segment(outs map[string][]*Output, si int, blocks []BlockData) ([]Row, error) {
	if len(pp.ws) == 0 {
		return nil, nil
	}
	index := map[string]map[uint64]int{}
	var rows []Row
	for _, bd := range blocks {
		for _, w := range pp.ws {
			for _, mod := range w.Inputs() {
				o := outs[mod][si]
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

package window

import (
	"fmt"
	"math"
)

// position tracks where a stream of rows is: the current block, whether it
// is done (passed to Advance), and for timed streams the block time.
type position struct {
	op      string // "window NAME" or "rule NAME", for errors
	timed   bool   // rows and Advance need block times
	started bool
	first   uint64 // the first block, or for timed streams the first time
	block   uint64 // the current block
	done    bool   // the current block was passed to Advance
	btime   uint64 // the current block's own time (timed)
	time    uint64 // the latest time seen: block times never go back (timed)
	rows    map[string]int
}

func (p *position) rowIndex(module string, block uint64) int {
	if p.started && block == p.block {
		return p.rows[module]
	}
	return 0
}

// check reports whether the stream may move to block with time t; module
// is "" for Advance.
func (p *position) check(module string, block, t uint64) error {
	bad := func(format string, args ...any) error {
		row := -1
		if module != "" {
			row = p.rowIndex(module, block)
		}
		return &RowError{Op: p.op, Module: module, Block: block, Row: row, Detail: fmt.Sprintf(format, args...)}
	}
	switch {
	case block > math.MaxInt64:
		return bad("block number exceeds %d", int64(math.MaxInt64))
	case p.started && block < p.block:
		return fmt.Errorf("%s: block %d after block %d: %w", p.op, block, p.block, ErrOutOfOrder)
	case p.started && block == p.block && p.done && module != "":
		return fmt.Errorf("%s: a row of block %d after Advance(%d): %w", p.op, block, block, ErrOutOfOrder)
	case !p.timed:
		return nil
	case t == 0:
		return bad("no block time (0: unknown); a time window needs it")
	case t > math.MaxInt64:
		return bad("block time %d exceeds %d", t, int64(math.MaxInt64))
	case p.started && block == p.block && t != p.btime:
		return bad("time %d differs from time %d given earlier for this block", t, p.btime)
	}
	return nil
}

// move records a row (module != "") or an Advance (module == "") that
// check accepted.
func (p *position) move(module string, block, t uint64) {
	if !p.started || block != p.block {
		p.block, p.done, p.btime = block, false, t
		clear(p.rows)
	}
	if p.timed {
		p.time = max(p.time, t)
	}
	if !p.started {
		p.started, p.first = true, block
		if p.timed {
			p.first = p.time
		}
	}
	if module == "" {
		p.done = true
		return
	}
	if p.rows == nil {
		p.rows = map[string]int{}
	}
	p.rows[module]++
}

// row checks and records a row.
func (p *position) row(module string, r Row) (uint64, error) {
	if err := p.check(module, r.Block, r.Time); err != nil {
		return 0, err
	}
	p.move(module, r.Block, r.Time)
	return r.Block, nil
}

// advance checks and records an Advance.
func (p *position) advance(block, t uint64) error {
	if err := p.check("", block, t); err != nil {
		return err
	}
	p.move("", block, t)
	return nil
}

package window

import (
	"maps"
	"math/big"
	"slices"
)

// Clone returns an independent copy of the aggregator: its open windows,
// tallies (sums included), position and flushed state. The copy and the
// original then run on separately — what one is fed never shows in the
// other — and the copy gives exactly the results the original would from
// that point on. It is how a live run keeps the state before a block, to
// go back to when a chain reorganisation undoes the block.
func (a *Aggregator) Clone() *Aggregator {
	c := *a // the spec (name, paths, sizes) is never modified: shared
	c.pos = a.pos.clone()
	c.panes = make([]*pane, len(a.panes))
	for i, p := range a.panes {
		q := &pane{index: p.index, groups: make(map[string]*tally, len(p.groups))}
		for g, t := range p.groups {
			u := &tally{count: t.count, sums: make([]big.Int, len(t.sums))}
			for j := range t.sums {
				u.sums[j].Set(&t.sums[j])
			}
			q.groups[g] = u
		}
		c.panes[i] = q
	}
	return &c
}

// Clone returns an independent copy of the matcher: its pending rows,
// the First rows it remembers, their expiry queue, its position and
// flushed state. As with [Aggregator.Clone], the two run on separately and
// the copy continues exactly as the original would.
func (m *Matcher) Clone() *Matcher {
	c := *m // the spec (name, modules, key path, within) is never modified: shared
	c.pos = m.pos.clone()
	// Events' row bytes are never modified once stored: sharing them is
	// safe. The slices and the map holding events are copied.
	c.pending = slices.Clone(m.pending)
	c.latest = maps.Clone(m.latest)
	c.expiry = slices.Clone(m.expiry[m.head:])
	c.head = 0
	return &c
}

func (p position) clone() position {
	p.rows = maps.Clone(p.rows)
	return p
}

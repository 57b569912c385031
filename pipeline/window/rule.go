package window

import (
	"fmt"
	"strconv"

	"github.com/ipdm/ipdm/pipeline/manifest"
)

// Matcher detects one manifest rule: a row of First followed, at most
// Within blocks later, by a row of Then with the same value at Key.
//
// Pairing: each Then row matches the most recent earlier First row with the
// same key that is at most Within blocks older (then_block - first_block <=
// Within), if any; it gives at most one match, and a First row may be
// matched by any number of Then rows. "Earlier" is:
//
//   - when First and Then are the same module, an earlier row of it (an
//     earlier block, or earlier in the same block): a row never matches
//     itself;
//   - when they differ, a First row of an earlier block or of the same
//     block: within one block, First rows count as before Then rows, since
//     the modules' rows carry no common order.
//
// A key is a string, an integer or a boolean, compared by value (escapes
// and "-0" do not split equal keys). Rows whose key is missing or null take
// no part; a key that is an object, an array or a fraction is an error.
//
// Memory is bounded by the distinct keys of First rows in the last Within
// blocks (only the most recent First row per key is kept) plus the rows of
// the current block.
type Matcher struct {
	name, first, then string
	key               []string
	keyName           string
	within            uint64
	pos               position
	pending           []event // rows of the current block with a key
	latest            map[string]event
	expiry            []expiring // (block, key) in block order, for dropping old First rows
	head              int
	flushed           bool
}

type event struct {
	first, then bool // the row's roles
	block       uint64
	key         string
	row         []byte // compact JSON
}

type expiring struct {
	block uint64
	key   string
}

// NewMatcher returns a matcher for r; errors match ErrInvalidSpec.
func NewMatcher(r manifest.Rule) (*Matcher, error) {
	fail := func(format string, args ...any) (*Matcher, error) {
		return nil, fmt.Errorf("rule %s: %s: %w", r.Name, fmt.Sprintf(format, args...), ErrInvalidSpec)
	}
	switch {
	case r.Name == "" || r.First == "" || r.Then == "":
		return fail("no name, first or then")
	case r.Within < 1 || r.Within > manifest.MaxRuleWithin:
		return fail("within %d is not between 1 and %d blocks", r.Within, manifest.MaxRuleWithin)
	}
	key, ok := parsePath(r.Key)
	if !ok {
		return fail("key %q is not a field path", r.Key)
	}
	return &Matcher{name: r.Name, first: r.First, then: r.Then, key: key, keyName: r.Key, within: r.Within,
		pos: position{op: "rule " + r.Name}, latest: map[string]event{}}, nil
}

// Name returns the rule's name.
func (m *Matcher) Name() string { return m.name }

// Inputs returns the modules whose rows the rule reads: First, then Then
// if it differs.
func (m *Matcher) Inputs() []string {
	if m.first == m.then {
		return []string{m.first}
	}
	return []string{m.first, m.then}
}

// Add feeds rows of module (First or Then) and returns the matches that
// completed blocks give. Rows of all modules together must come in block
// order (ErrOutOfOrder); within a block, the rows of First and Then may
// come in any order and in any number of calls. A block's matches are
// emitted when a later block's row, an Advance or Flush shows the block is
// done; each Output is filed under the Then row's block. Every row must be
// a JSON object (ErrMalformedRow, a *RowError naming the block).
//
// On error, the matches found before the failing row are returned with it;
// the failing row and those after it are not used.
func (m *Matcher) Add(module string, rows ...Row) ([]Output, error) {
	if m.flushed {
		return nil, fmt.Errorf("rule %s: add after flush: %w", m.name, ErrFlushed)
	}
	if module != m.first && module != m.then {
		return nil, fmt.Errorf("rule %s: rows of %q, but the rule reads %q and %q: %w", m.name, module, m.first, m.then, ErrUnknownModule)
	}
	var out []Output
	for _, r := range rows {
		obj, why := parseObject(r.JSON)
		key := ""
		if why == "" {
			if v := lookup(obj, m.key); v != nil {
				key, why = keyOf(m.keyName, v)
			}
		}
		if why != "" {
			return out, &RowError{Op: "rule " + m.name, Module: module, Block: r.Block, Row: m.pos.rowIndex(module, r.Block), Detail: why}
		}
		if err := m.pos.check(module, r.Block, r.Time); err != nil {
			return out, err
		}
		if m.pos.started && r.Block != m.pos.block {
			out = m.match(out)
		}
		m.pos.move(module, r.Block, r.Time)
		if key != "" {
			m.pending = append(m.pending, event{first: module == m.first, then: module == m.then, block: r.Block, key: key, row: compact(nil, r.JSON)})
		}
	}
	return out, nil
}

// Advance tells the matcher that every row of blocks up to block has been
// added (time is ignored), and returns the matches of the blocks this
// completes.
func (m *Matcher) Advance(block, time uint64) ([]Output, error) {
	if m.flushed {
		return nil, fmt.Errorf("rule %s: advance after flush: %w", m.name, ErrFlushed)
	}
	if err := m.pos.advance(block, time); err != nil {
		return nil, err
	}
	return m.match(nil), nil
}

// Flush ends the stream: the last block counts as done and its matches are
// returned. Later calls fail with ErrFlushed.
func (m *Matcher) Flush() ([]Output, error) {
	if m.flushed {
		return nil, fmt.Errorf("rule %s: flushed twice: %w", m.name, ErrFlushed)
	}
	m.flushed = true
	return m.match(nil), nil
}

// match resolves the pending rows of one block, all of block b.
func (m *Matcher) match(out []Output) []Output {
	if len(m.pending) == 0 {
		return out
	}
	b := m.pending[0].block
	// Drop First rows too old for any Then row of block b or later.
	for m.head < len(m.expiry) && m.expiry[m.head].block+m.within < b {
		e := m.expiry[m.head]
		if m.latest[e.key].block == e.block {
			delete(m.latest, e.key)
		}
		m.head++
	}
	if m.head > 1024 && m.head > len(m.expiry)/2 {
		m.expiry = append(m.expiry[:0], m.expiry[m.head:]...)
		m.head = 0
	}
	record := func(ev event) {
		if prev, ok := m.latest[ev.key]; !ok || prev.block != ev.block {
			m.expiry = append(m.expiry, expiring{block: ev.block, key: ev.key})
		}
		m.latest[ev.key] = ev
	}
	if m.first == m.then {
		for _, ev := range m.pending {
			out = m.pair(out, ev)
			record(ev)
		}
	} else {
		for _, ev := range m.pending {
			if ev.first {
				record(ev)
			}
		}
		for _, ev := range m.pending {
			if ev.then {
				out = m.pair(out, ev)
			}
		}
	}
	clear(m.pending)
	m.pending = m.pending[:0]
	return out
}

// pair appends the match of Then row ev, if any.
func (m *Matcher) pair(out []Output, ev event) []Output {
	f, ok := m.latest[ev.key]
	if !ok || ev.block-f.block > m.within {
		return out
	}
	b := append([]byte(`{"rule":`), appendString(nil, m.name)...)
	b = append(b, `,"key":`...)
	b = append(b, ev.key...)
	b = append(b, `,"first_block":`...)
	b = strconv.AppendUint(b, f.block, 10)
	b = append(b, `,"then_block":`...)
	b = strconv.AppendUint(b, ev.block, 10)
	b = append(b, `,"first":`...)
	b = append(b, f.row...)
	b = append(b, `,"then":`...)
	b = append(b, ev.row...)
	return append(out, Output{Block: ev.block, JSON: append(b, '}')})
}

package store

import (
	"fmt"
	"math"
	"math/big"
	"slices"
	"strconv"
	"strings"

	"github.com/ipdm/ipdm/pipeline/manifest"
)

// BlockOps is one block's writes, in write order.
type BlockOps struct {
	Block uint64
	Ops   []Op
}

// Partial is the reduction of a run of writes (typically one segment's)
// under a store's policy: per key, the last value (set), the first
// (set_if_absent), the sum (add), the smallest or largest (min, max), or the
// concatenation (append). Merging it into the state before the run gives
// exactly the state the writes give one by one; see State.Merge.
type Partial struct {
	policy manifest.Policy
	vtype  manifest.ValueType
	st     *State            // every policy but add
	acc    map[string]*accum // add
}

// accum is an add partial for one key: the sum of its writes and, for
// int64 values, the least and greatest running sums after each write, all
// relative to the value before the run. The bounds let a merge fail exactly
// when one of the writes would have overflowed.
type accum struct{ sum, lo, hi big.Int }

// NewPartial returns an empty partial for a store with update policy p and
// values of type vt.
func NewPartial(p manifest.Policy, vt manifest.ValueType) (*Partial, error) {
	if err := Supported(p, vt); err != nil {
		return nil, err
	}
	pt := &Partial{policy: p, vtype: vt}
	if p == manifest.PolicyAdd {
		pt.acc = map[string]*accum{}
	} else {
		pt.st = &State{policy: p, vtype: vt, m: map[string][]byte{}}
	}
	return pt, nil
}

// Reduce returns the partial of a run of blocks' writes.
func Reduce(p manifest.Policy, vt manifest.ValueType, blocks []BlockOps) (*Partial, error) {
	pt, err := NewPartial(p, vt)
	if err != nil {
		return nil, err
	}
	for _, b := range blocks {
		for _, op := range b.Ops {
			if err := pt.Apply(op); err != nil {
				return nil, &blockError{block: b.Block, err: err}
			}
		}
	}
	return pt, nil
}

// blockError names the block of a failing write.
type blockError struct {
	block uint64
	err   error
}

func (e *blockError) Error() string {
	return "store: block " + strconv.FormatUint(e.block, 10) + ": " + strings.TrimPrefix(e.err.Error(), "store: ")
}

func (e *blockError) Unwrap() error { return e.err }

// Len returns the number of keys the run wrote.
func (p *Partial) Len() int {
	if p.acc != nil {
		return len(p.acc)
	}
	return p.st.Len()
}

// span is the width of the int64 range, 2^64-1: running sums relative to an
// int64 base that spread wider than this overflow whatever the base.
var span = new(big.Int).SetUint64(math.MaxUint64)

// Apply adds one write to the run. Errors are those of State.Apply, except
// that an int64 add run fails with ErrOverflow only when it would overflow
// from any starting value; a merge reports the other overflows. On error the
// partial is unchanged.
func (p *Partial) Apply(op Op) error {
	if p.acc == nil {
		return p.st.Apply(op)
	}
	if err := CheckValue(p.vtype, op.Key, op.Value); err != nil {
		return err
	}
	a, had := p.acc[string(op.Key)]
	if p.vtype == manifest.ValueBigInt {
		if !had {
			a = new(accum)
			p.acc[string(op.Key)] = a
		}
		var v big.Int
		a.sum.Add(&a.sum, parseDecimal(&v, op.Value))
		return nil
	}
	v, _ := strconv.ParseInt(string(op.Value), 10, 64)
	var next accum
	if had {
		next.sum.Add(&a.sum, big.NewInt(v))
		next.lo.Set(&a.lo)
		next.hi.Set(&a.hi)
		if next.sum.Cmp(&next.lo) < 0 {
			next.lo.Set(&next.sum)
		}
		if next.sum.Cmp(&next.hi) > 0 {
			next.hi.Set(&next.sum)
		}
	} else {
		next.sum.SetInt64(v)
		next.lo.SetInt64(v)
		next.hi.SetInt64(v)
	}
	// A base b must satisfy MinInt64 <= b+lo and b+hi <= MaxInt64 with b
	// itself an int64.
	var width, neg big.Int
	width.Sub(&next.hi, &next.lo)
	neg.Neg(&next.lo)
	if width.Cmp(span) > 0 || next.hi.Cmp(span) > 0 || neg.Cmp(span) > 0 {
		return fmt.Errorf("store: key %s: int64 sum of writes spans %s to %s, beyond the int64 range from any value: %w", quote(op.Key), &next.lo, &next.hi, ErrOverflow)
	}
	p.acc[string(op.Key)] = &next
	return nil
}

// Merge folds a partial into the state: the state becomes what it would be
// had the partial's writes been applied to it one by one. Merging the
// partials of consecutive runs in order therefore gives the state of one
// linear run. The policies and value types must match (ErrUnsupported); an
// int64 add merge fails with ErrOverflow exactly when a linear run would
// have. On error the state is unchanged. The partial is not modified and
// remains usable.
func (s *State) Merge(p *Partial) error {
	if s.policy != p.policy || s.vtype != p.vtype {
		return fmt.Errorf("store: merge of a %s %s partial into a %s %s state: %w", p.policy, p.vtype, s.policy, s.vtype, ErrUnsupported)
	}
	if p.acc == nil {
		for _, k := range p.st.sortedKeys() {
			old, had := s.m[k]
			// combine cannot fail here: only int64 sums overflow.
			nv, err := s.combine([]byte(k), old, had, p.st.m[k])
			if err != nil {
				return err
			}
			s.put(k, old, had, nv, true)
		}
		return nil
	}
	keys := make([]string, 0, len(p.acc))
	for k := range p.acc {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	next := make([][]byte, len(keys))
	minInt, maxInt := big.NewInt(math.MinInt64), big.NewInt(math.MaxInt64)
	for i, k := range keys {
		a := p.acc[k]
		var base, lo, hi big.Int
		if old, ok := s.m[k]; ok {
			parseDecimal(&base, old)
		}
		if s.vtype == manifest.ValueBigInt {
			next[i] = base.Add(&base, &a.sum).Append(nil, 10)
			continue
		}
		lo.Add(&base, &a.lo)
		hi.Add(&base, &a.hi)
		reach := &hi
		if lo.Cmp(minInt) < 0 {
			reach = &lo
		}
		if reach == &lo || hi.Cmp(maxInt) > 0 {
			return fmt.Errorf("store: key %s: int64 sum from %s reaches %s, outside the int64 range: %w", quote([]byte(k)), &base, reach, ErrOverflow)
		}
		next[i] = base.Add(&base, &a.sum).Append(nil, 10)
	}
	for i, k := range keys {
		old, had := s.m[k]
		s.put(k, old, had, next[i], true)
	}
	return nil
}

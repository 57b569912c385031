package store

import (
	"iter"
	"slices"

	"github.com/ipdm/ipdm/pipeline/manifest"
)

// Op is one write of a store module: Value written under Key, merged with
// the stored value by the store's update policy.
type Op struct{ Key, Value []byte }

// Delta is the effect of one write: Key and its value after the write. Its
// fields have the layout of abi.Delta, so a conversion turns one into the
// other.
type Delta struct{ Key, Value []byte }

// State is a store's content: a map from keys to values under one update
// policy and value type. The zero value is not usable; call New.
//
// Values handed out (Get, All, deltas) share memory with the state: callers
// must not modify them. They stay valid and unchanged after later writes.
type State struct {
	policy manifest.Policy
	vtype  manifest.ValueType
	m      map[string][]byte
	size   int
	sorted []string // the keys in order; nil when a key was added or removed since
}

// New returns an empty state for a store with update policy p and values of
// type vt; the error matches ErrUnsupported when p does not apply to vt.
func New(p manifest.Policy, vt manifest.ValueType) (*State, error) {
	if err := Supported(p, vt); err != nil {
		return nil, err
	}
	return &State{policy: p, vtype: vt, m: map[string][]byte{}}, nil
}

// Policy returns the state's update policy.
func (s *State) Policy() manifest.Policy { return s.policy }

// ValueType returns the type of the state's values.
func (s *State) ValueType() manifest.ValueType { return s.vtype }

// Len returns the number of keys.
func (s *State) Len() int { return len(s.m) }

// Size returns the bytes of all keys and values. An encoded state takes
// Size() plus at most 20 bytes per key (lengths) and 17 bytes (header and
// count).
func (s *State) Size() int { return s.size }

// Get returns the value stored under key.
func (s *State) Get(key []byte) ([]byte, bool) {
	v, ok := s.m[string(key)]
	return v[:len(v):len(v)], ok
}

// Apply writes op under the state's policy:
//
//   - set: the value replaces the stored one;
//   - set_if_absent: the value is stored only if the key has none;
//   - add: the stored value becomes the exact sum (an absent key counts as
//     0); an int64 sum outside the int64 range fails with ErrOverflow;
//   - min, max: the smaller or larger number is kept;
//   - append: the value is appended to the stored bytes.
//
// A value that is not of the state's value type fails with ErrInvalidValue.
// On error the state is unchanged.
func (s *State) Apply(op Op) error {
	_, err := s.write(op.Key, op.Value, nil)
	return err
}

// ApplyBlock applies one block's ops in order and returns one Delta per op,
// in the same order: the key and its value after that op (for a
// set_if_absent write to a present key, the unchanged value). On error the
// state is as it was before the block.
func (s *State) ApplyBlock(ops []Op) ([]Delta, error) {
	deltas := make([]Delta, 0, len(ops))
	var undo []undoEntry
	for _, op := range ops {
		v, err := s.write(op.Key, op.Value, &undo)
		if err != nil {
			s.rollback(undo)
			return nil, err
		}
		deltas = append(deltas, Delta{Key: []byte(string(op.Key)), Value: v})
	}
	return deltas, nil
}

type undoEntry struct {
	key string
	old []byte
	had bool
}

func (s *State) rollback(undo []undoEntry) {
	for _, u := range slices.Backward(undo) {
		s.put(u.key, s.m[u.key], true, u.old, u.had)
	}
}

// write applies one write and returns the value after it; undo, when not
// nil, records how to revert it.
func (s *State) write(key, value []byte, undo *[]undoEntry) ([]byte, error) {
	if err := CheckValue(s.vtype, key, value); err != nil {
		return nil, err
	}
	old, had := s.m[string(key)]
	nv, err := s.combine(key, old, had, value)
	if err != nil {
		return nil, err
	}
	k := string(key)
	if undo != nil {
		*undo = append(*undo, undoEntry{key: k, old: old, had: had})
	}
	s.put(k, old, had, nv, true)
	return nv[:len(nv):len(nv)], nil
}

// combine returns the value after writing v (valid for the value type) over
// old under the state's policy, without changing the state. It may grow
// old's backing array beyond len(old), which nobody else sees.
func (s *State) combine(key, old []byte, had bool, v []byte) ([]byte, error) {
	if !had {
		return slices.Clone(v), nil
	}
	switch s.policy {
	case manifest.PolicySetIfAbsent:
		return old, nil
	case manifest.PolicyAdd:
		return addDecimal(s.vtype, key, old, v)
	case manifest.PolicyMin:
		if cmpDecimal(v, old) < 0 {
			return slices.Clone(v), nil
		}
		return old, nil
	case manifest.PolicyMax:
		if cmpDecimal(v, old) > 0 {
			return slices.Clone(v), nil
		}
		return old, nil
	case manifest.PolicyAppend:
		return append(old, v...), nil
	}
	return slices.Clone(v), nil // set
}

// put replaces key's value old (present if had) with nv (present if has),
// keeping the size and the key order current.
func (s *State) put(key string, old []byte, had bool, nv []byte, has bool) {
	if had {
		s.size -= len(key) + len(old)
	}
	if has {
		s.size += len(key) + len(nv)
		s.m[key] = nv
	} else {
		delete(s.m, key)
	}
	if had != has {
		s.sorted = nil
	}
}

// Keys returns the keys in ascending byte order.
func (s *State) Keys() [][]byte {
	keys := s.sortedKeys()
	out := make([][]byte, len(keys))
	for i, k := range keys {
		out[i] = []byte(k)
	}
	return out
}

// All yields every key and its value in ascending key order. The state must
// not be written during the iteration.
func (s *State) All() iter.Seq2[[]byte, []byte] {
	return func(yield func([]byte, []byte) bool) {
		for _, k := range s.sortedKeys() {
			v := s.m[k]
			if !yield([]byte(k), v[:len(v):len(v)]) {
				return
			}
		}
	}
}

func (s *State) sortedKeys() []string {
	if s.sorted == nil {
		s.sorted = make([]string, 0, len(s.m))
		for k := range s.m {
			s.sorted = append(s.sorted, k)
		}
		slices.Sort(s.sorted)
	}
	return s.sorted
}

// Clone returns an independent copy of the state. It copies the map, not
// the values, which are never modified in place.
func (s *State) Clone() *State {
	c := &State{policy: s.policy, vtype: s.vtype, m: make(map[string][]byte, len(s.m)), size: s.size, sorted: s.sorted}
	for k, v := range s.m {
		c.m[k] = v[:len(v):len(v)] // appends to c reallocate rather than share
	}
	return c
}

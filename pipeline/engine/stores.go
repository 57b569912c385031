package engine

import (
	"bytes"
	"fmt"

	"github.com/ipdm/ipdm/pipeline/abi"
	"github.com/ipdm/ipdm/pipeline/store"
)

// state is a store module's key/value state as the engine uses it.
type state struct{ s *store.State }

func newState(m *Module) *state {
	s, err := store.New(m.UpdatePolicy, m.ValueType)
	if err != nil { // the manifest was validated: policy and type agree
		panic(fmt.Sprintf("pipeline: store %s: %v", m.Name, err))
	}
	return &state{s}
}

// decodeState reads a snapshot of store m; empty data is the empty state.
func decodeState(m *Module, data []byte) (*state, error) {
	if len(data) == 0 {
		return newState(m), nil
	}
	s, err := store.Decode(data)
	if err != nil {
		return nil, err
	}
	if s.Policy() != m.UpdatePolicy || s.ValueType() != m.ValueType {
		return nil, fmt.Errorf("%w: snapshot of store %s is %s/%s, the module declares %s/%s",
			ErrMalformed, m.Name, s.Policy(), s.ValueType(), m.UpdatePolicy, m.ValueType)
	}
	return &state{s}, nil
}

// apply writes one operand under the store's policy and returns the value
// after the write and whether the write changed the state.
func (st *state) apply(key, value []byte) (after []byte, changed bool, err error) {
	before, had := st.s.Get(key)
	if err := st.s.Apply(store.Op{Key: key, Value: value}); err != nil {
		return nil, false, err
	}
	after, _ = st.s.Get(key)
	return after, !had || !bytes.Equal(before, after), nil
}

func (st *state) get(key []byte) ([]byte, bool) { return st.s.Get(key) }

func (st *state) encode() []byte { return st.s.Encode() }

// validValue checks a store write's operand against the module's value
// type, so an invalid write fails the module at the block it was made.
func validValue(m *Module, key, value []byte) error {
	return store.CheckValue(m.ValueType, key, value)
}

// appendRecord adds a record to a framed records payload.
func appendRecord(payload, rec []byte) []byte {
	recs, err := abi.DecodeRecords(payload)
	if err != nil {
		recs = nil
	}
	return abi.EncodeRecords(append(recs, rec))
}

// appendDelta adds a write to a framed writes payload.
func appendDelta(payload, key, value []byte) []byte {
	ds, err := abi.DecodeDeltas(payload)
	if err != nil {
		ds = nil
	}
	return abi.EncodeDeltas(append(ds, abi.Delta{Key: key, Value: value}))
}

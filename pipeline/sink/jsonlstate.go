package sink

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
)

// stateFormat identifies version 1 of the JSONL cursor file.
const stateFormat = "ipdm-jsonl-sink/1"

// maxStateSize bounds the cursor file read from disk.
const maxStateSize = 1 << 24

// state is the JSONL cursor file (PATH.ipdm-cursor): the commit record of a
// JSONL sink. Files may hold bytes past the sizes it records (from a Write
// that did not commit); they are cut off when the sink is opened.
type state struct {
	// Format is stateFormat.
	Format string `json:"format"`
	// Name is the pipeline name (Options.Name) the output belongs to.
	Name string `json:"name"`
	// Cursor is the committed cursor; nil before the first Write.
	Cursor *stateCursor `json:"cursor"`
	// Main is the table written to PATH itself; "" until known.
	Main string `json:"main"`
	// IndexSize is the committed length of PATH.ipdm-index.
	IndexSize int64 `json:"index_size"`
	// Tables lists the tables in creation order; a table's position is its
	// ID in index records.
	Tables []stateTable `json:"tables"`
}

type stateCursor struct {
	Number uint64 `json:"number"`
	Hash   string `json:"hash"`
}

type stateTable struct {
	Name string `json:"name"`
	// Size is the committed length of the table's file.
	Size int64 `json:"size"`
}

func (st *state) clone() state {
	c := *st
	c.Tables = slices.Clone(st.Tables)
	if st.Cursor != nil {
		cur := *st.Cursor
		c.Cursor = &cur
	}
	return c
}

func (st *state) table(name string) int {
	for i := range st.Tables {
		if st.Tables[i].Name == name {
			return i
		}
	}
	return -1
}

func encodeState(st state) []byte {
	if st.Tables == nil {
		st.Tables = []stateTable{}
	}
	b, err := json.Marshal(st)
	if err != nil { // plain strings and integers always marshal
		panic("sink: encode state: " + err.Error())
	}
	return append(b, '\n')
}

// decodeState parses and validates a cursor file.
func decodeState(b []byte) (state, error) {
	var st state
	if len(b) > maxStateSize {
		return st, fmt.Errorf("%w: cursor file is %d bytes, more than %d", ErrCorrupt, len(b), maxStateSize)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&st); err != nil {
		return state{}, fmt.Errorf("%w: cursor file: %w", ErrCorrupt, err)
	}
	if dec.More() {
		return state{}, fmt.Errorf("%w: cursor file: data after the JSON object", ErrCorrupt)
	}
	if err := st.check(); err != nil {
		return state{}, fmt.Errorf("%w: cursor file: %w", ErrCorrupt, err)
	}
	return st, nil
}

func (st *state) check() error {
	if st.Format != stateFormat {
		return fmt.Errorf("format %q, want %q", st.Format, stateFormat)
	}
	if st.Name == "" {
		return errors.New("empty pipeline name")
	}
	if st.Cursor != nil && st.Cursor.Number > maxBlock {
		return fmt.Errorf("cursor block %d exceeds 2^63-1", st.Cursor.Number)
	}
	if st.Main != "" {
		if err := checkTableName(st.Main); err != nil {
			return fmt.Errorf("main: %w", err)
		}
	}
	if len(st.Tables) > 0 && st.Main == "" {
		return errors.New("tables but no main table")
	}
	if len(st.Tables) > math.MaxUint32 {
		return errors.New("too many tables")
	}
	for i, t := range st.Tables {
		if err := checkTableName(t.Name); err != nil {
			return fmt.Errorf("tables[%d]: %w", i, err)
		}
		if st.table(t.Name) != i {
			return fmt.Errorf("tables[%d]: table %s listed twice", i, t.Name)
		}
		if t.Size < 0 {
			return fmt.Errorf("tables[%d]: negative size", i)
		}
	}
	if st.IndexSize < 0 || st.IndexSize%recordSize != 0 {
		return fmt.Errorf("index size %d is not a multiple of %d", st.IndexSize, recordSize)
	}
	if len(st.Tables) == 0 && st.IndexSize != 0 {
		return errors.New("index entries but no tables")
	}
	return nil
}

// recordSize is the length of one index record.
const recordSize = 20

// record is one entry of PATH.ipdm-index: the first row of block in table
// (an ID: a position in state.Tables) starts at offset in the table's file.
// Records are appended in write order, so their blocks never decrease and
// each table's offsets increase.
type record struct {
	block  uint64
	table  uint32
	offset int64
}

func appendRecord(b []byte, r record) []byte {
	b = binary.LittleEndian.AppendUint64(b, r.block)
	b = binary.LittleEndian.AppendUint32(b, r.table)
	return binary.LittleEndian.AppendUint64(b, uint64(r.offset))
}

// decodeRecord decodes one record, checking it against st.
func decodeRecord(b []byte, st *state) (record, error) {
	if len(b) != recordSize {
		return record{}, fmt.Errorf("%w: index record of %d bytes", ErrCorrupt, len(b))
	}
	r := record{
		block: binary.LittleEndian.Uint64(b),
		table: binary.LittleEndian.Uint32(b[8:]),
	}
	off := binary.LittleEndian.Uint64(b[12:])
	if int(r.table) >= len(st.Tables) {
		return record{}, fmt.Errorf("%w: index record names table %d of %d", ErrCorrupt, r.table, len(st.Tables))
	}
	if off >= uint64(st.Tables[r.table].Size) {
		return record{}, fmt.Errorf("%w: index record offset %d is past the end (%d) of table %s", ErrCorrupt, off, st.Tables[r.table].Size, st.Tables[r.table].Name)
	}
	r.offset = int64(off)
	return r, nil
}

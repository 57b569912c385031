package sink

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// SQL is a sink writing to an SQL database: SQLite (OpenSQLite) or
// PostgreSQL (OpenPostgres). Both use the same layout; see the package
// documentation.
type SQL struct {
	mu        sync.Mutex
	d         dialect
	name      string
	batchRows int
	access
	// noNUL rejects strings containing U+0000, which PostgreSQL TEXT
	// cannot hold.
	noNUL bool

	// Metadata cache: the tables (all pipelines'), with their columns, and
	// this pipeline's cursor. It is reloaded after a failed transaction,
	// since the database then holds the state before it.
	loaded bool
	schema schema
	cur    Cursor
	has    bool
}

// dialect is the database-specific half of an SQL sink. Each method that
// changes data runs one transaction.
type dialect interface {
	// load reads the metadata: every table with its owner and columns, and
	// the cursor of the pipeline called name. A database without sink
	// metadata yields an empty schema and no cursor.
	load(ctx context.Context, name string) (schema, Cursor, bool, error)
	// write applies p in one transaction, sending at most batchRows rows
	// per INSERT statement.
	write(ctx context.Context, name string, p *writePlan, batchRows int) error
	// undo deletes the rows above to.Number from tables and, if setCursor,
	// sets name's cursor to to, in one transaction.
	undo(ctx context.Context, name string, tables []string, to Cursor, setCursor bool) error
	// scan reads table in (_block, _index) order.
	scan(ctx context.Context, table string, cols []column, fn func(Row) error) error
	// label names the database for error messages ("sqlite", "postgres").
	label() string
	close() error
}

// Cursor returns the pipeline's committed cursor.
func (s *SQL) Cursor(ctx context.Context) (Cursor, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.ready(ctx); err != nil {
		return Cursor{}, false, err
	}
	return s.cur, s.has, nil
}

// Write stores rows and moves the cursor to through in one transaction
// (see Sink).
func (s *SQL) Write(ctx context.Context, rows []Row, through Cursor) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.writable(); err != nil {
		return err
	}
	if err := checkBatch(rows, through); err != nil {
		return err
	}
	if err := s.ready(ctx); err != nil {
		return err
	}
	fresh, advance, err := planWrite(rows, through, s.cur, s.has)
	if err != nil {
		return err
	}
	if len(fresh) == 0 && !advance {
		return nil
	}
	p, err := buildPlan(s.schema, s.name, fresh, len(rows)-len(fresh), s.noNUL)
	if err != nil {
		return err
	}
	p.cursor, p.setCursor = through, advance
	if err := s.d.write(ctx, s.name, p, s.batchRows); err != nil {
		s.loaded = false
		return fmt.Errorf("sink: %s: write through %s: %w", s.d.label(), through, err)
	}
	s.schema = p.next
	if advance {
		s.cur, s.has = through, true
	}
	return nil
}

// Undo deletes the pipeline's rows above to.Number and rewinds the cursor
// in one transaction (see Sink).
func (s *SQL) Undo(ctx context.Context, to Cursor) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.undoable(to); err != nil {
		return err
	}
	if err := s.ready(ctx); err != nil {
		return err
	}
	var tables []string
	for name, t := range s.schema {
		if t.owner == s.name {
			tables = append(tables, name)
		}
	}
	slices.Sort(tables)
	setCursor := s.has && to.Number <= s.cur.Number
	if err := s.d.undo(ctx, s.name, tables, to, setCursor); err != nil {
		s.loaded = false
		return fmt.Errorf("sink: %s: undo to %s: %w", s.d.label(), to, err)
	}
	if setCursor {
		s.cur = to
	}
	return nil
}

// Tables lists the tables of every pipeline in the database, sorted.
func (s *SQL) Tables(ctx context.Context) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	sc, _, _, err := s.d.load(ctx, s.name)
	if err != nil {
		return nil, fmt.Errorf("sink: %s: %w", s.d.label(), err)
	}
	return slices.Sorted(maps.Keys(sc)), nil
}

// Scan reads table in (Block, Index) order (see Reader).
func (s *SQL) Scan(ctx context.Context, table string, fn func(Row) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	sc, _, _, err := s.d.load(ctx, s.name)
	if err != nil {
		return fmt.Errorf("sink: %s: %w", s.d.label(), err)
	}
	t, ok := sc[table]
	if !ok {
		return fmt.Errorf("sink: %s: %w: %q", s.d.label(), ErrNoTable, table)
	}
	return s.d.scan(ctx, table, t.cols, fn)
}

// Close closes the database connection. It is idempotent.
func (s *SQL) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	return s.d.close()
}

// ready loads the metadata cache if needed.
func (s *SQL) ready(ctx context.Context) error {
	if s.closed {
		return ErrClosed
	}
	if s.loaded {
		return nil
	}
	sc, cur, has, err := s.d.load(ctx, s.name)
	if err != nil {
		return fmt.Errorf("sink: %s: %w", s.d.label(), err)
	}
	s.schema, s.cur, s.has, s.loaded = sc, cur, has, true
	return nil
}

// maxBlock is the largest block number a BIGINT holds.
const maxBlock = 1<<63 - 1

// column is one data column of a table.
type column struct {
	name string
	kind kind
}

// table is the metadata of one table.
type table struct {
	owner string   // pipeline name
	cols  []column // data columns in order; _block and _index come first in the database
}

func (t *table) col(name string) int {
	for i := range t.cols {
		if t.cols[i].name == name {
			return i
		}
	}
	return -1
}

// schema maps table names to their metadata. Tables are never mutated in
// place once cached: a write plan copies the tables it changes.
type schema map[string]*table

// checkSchema validates metadata read from a database.
func checkSchema(sc schema) error {
	for name, t := range sc {
		if err := checkTableName(name); err != nil {
			return fmt.Errorf("%w: ipdm_tables: %w", ErrCorrupt, err)
		}
		for _, c := range t.cols {
			if err := checkIdent(c.name); err != nil {
				return fmt.Errorf("%w: ipdm_columns: table %s: %w", ErrCorrupt, name, err)
			}
			if !c.kind.valid() {
				return fmt.Errorf("%w: ipdm_columns: table %s column %s has unknown kind %q", ErrCorrupt, name, c.name, c.kind)
			}
		}
	}
	return nil
}

type changeOp int

const (
	opCreateTable changeOp = iota // create table (with _block, _index) and record its owner
	opAddColumn                   // add col at position pos
	opSetKind                     // a column that held only nulls gets col.kind
)

// change is one schema change, applied in order before a write's inserts.
type change struct {
	op    changeOp
	table string
	col   column
	pos   int
}

// value is one cell to insert; kind null means NULL.
type value struct {
	kind kind
	text string
}

// insert holds one table's rows of a write, column by column.
type insert struct {
	table   string
	cols    []column  // the table's columns after the write's changes
	blocks  []int64   // _block per row
	indexes []int32   // _index per row
	vals    [][]value // vals[column][row]
}

// writePlan is everything one Write does, decided before any I/O.
type writePlan struct {
	changes   []change
	inserts   []*insert // in order of each table's first row
	next      schema    // the schema after the write
	cursor    Cursor
	setCursor bool
}

// buildPlan turns rows (already checked by checkBatch, posBase being the
// position of rows[0] in the caller's slice) into the schema changes and
// inserts that store them. It validates every row and fails without side
// effects; noNUL rejects strings containing U+0000.
func buildPlan(cur schema, name string, rows []Row, posBase int, noNUL bool) (*writePlan, error) {
	p := &writePlan{next: maps.Clone(cur)}
	if p.next == nil {
		p.next = schema{}
	}
	copied := map[string]bool{}
	byTable := map[string]*insert{}
	added := map[[2]string]int{} // (table, column) -> index in p.changes of its opAddColumn
	for i := range rows {
		r := &rows[i]
		fail := func(col string, sentinel, err error) error {
			return &RowError{Pos: posBase + i, Table: r.Table, Block: r.Block, Index: r.Index, Column: col,
				Err: fmt.Errorf("%w: %w", sentinel, err)}
		}
		fields, err := parseObject(r.JSON)
		if err != nil {
			return nil, fail("", ErrInvalidRow, err)
		}
		t := p.next[r.Table]
		switch {
		case t == nil:
			t = &table{owner: name}
			p.next[r.Table], copied[r.Table] = t, true
			p.changes = append(p.changes, change{op: opCreateTable, table: r.Table})
		case t.owner != name:
			return nil, fail("", ErrNameConflict, fmt.Errorf("table belongs to pipeline %q", t.owner))
		case !copied[r.Table]:
			t = &table{owner: t.owner, cols: slices.Clone(t.cols)}
			p.next[r.Table], copied[r.Table] = t, true
		}
		ins := byTable[r.Table]
		if ins == nil {
			ins = &insert{table: r.Table, vals: make([][]value, len(t.cols))}
			byTable[r.Table] = ins
			p.inserts = append(p.inserts, ins)
		}
		n := len(ins.blocks) // this row's position in ins
		ins.blocks = append(ins.blocks, int64(r.Block))
		ins.indexes = append(ins.indexes, int32(r.Index))
		for c := range ins.vals {
			ins.vals[c] = append(ins.vals[c], value{kind: kindNull})
		}
		for _, f := range fields {
			c := t.col(f.key)
			if c < 0 {
				c = len(t.cols)
				t.cols = append(t.cols, column{name: f.key, kind: f.kind})
				added[[2]string{r.Table, f.key}] = len(p.changes)
				p.changes = append(p.changes, change{op: opAddColumn, table: r.Table, col: t.cols[c], pos: c})
				ins.vals = append(ins.vals, make([]value, n+1))
				for j := range ins.vals[c] {
					ins.vals[c][j].kind = kindNull
				}
			}
			if noNUL && f.kind == kindString && strings.IndexByte(f.text, 0) >= 0 {
				return nil, fail(f.key, ErrInvalidRow, errors.New("string contains NUL (\\u0000), which PostgreSQL text cannot hold"))
			}
			col := &t.cols[c]
			switch {
			case f.kind == kindNull || f.kind == col.kind:
			case col.kind == kindNull:
				col.kind = f.kind
				if k, ok := added[[2]string{r.Table, f.key}]; ok {
					p.changes[k].col.kind = f.kind
				} else {
					p.changes = append(p.changes, change{op: opSetKind, table: r.Table, col: *col, pos: c})
				}
			default:
				return nil, fail(f.key, ErrInvalidRow, fmt.Errorf("column holds %s values, this row has a %s", kindNoun(col.kind), kindNoun(f.kind)))
			}
			ins.vals[c][n] = value{kind: f.kind, text: f.text}
		}
	}
	for _, ins := range p.inserts {
		ins.cols = slices.Clone(p.next[ins.table].cols)
	}
	return p, nil
}

func kindNoun(k kind) string {
	switch k {
	case kindJSON:
		return "object/array"
	case kindBool:
		return "boolean"
	}
	return string(k)
}

// appendCell appends a stored value as JSON, given the column's kind:
// strings are quoted, numbers, booleans and JSON text copied. v is what the
// database returned: nil (NULL), int64, string or []byte.
func appendCell(out []byte, k kind, v any) ([]byte, error) {
	var s string
	switch v := v.(type) {
	case nil:
		return append(out, "null"...), nil
	case int64:
		if k == kindBool {
			return strconv.AppendBool(out, v != 0), nil
		}
		s = strconv.FormatInt(v, 10)
	case string:
		s = v
	case []byte:
		s = string(v)
	default:
		return nil, fmt.Errorf("%w: unexpected stored value of type %T", ErrCorrupt, v)
	}
	if k == kindString {
		return appendString(out, s), nil
	}
	if s == "" {
		return nil, fmt.Errorf("%w: empty %s value", ErrCorrupt, k)
	}
	return append(out, s...), nil
}

// rowJSON builds the JSON object of one stored row.
func rowJSON(buf []byte, cols []column, cells []any) ([]byte, error) {
	buf = append(buf[:0], '{')
	for i, c := range cols {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = appendString(buf, c.name)
		buf = append(buf, ':')
		var err error
		if buf, err = appendCell(buf, c.kind, cells[i]); err != nil {
			return nil, fmt.Errorf("column %s: %w", c.name, err)
		}
	}
	return append(buf, '}'), nil
}

// addLoadedColumn adds a column read from ipdm_columns (rows ordered by
// table, then position) to sc.
func addLoadedColumn(sc schema, tbl, col string, pos int64, k string) error {
	t := sc[tbl]
	if t == nil {
		return fmt.Errorf("%w: ipdm_columns: column %s of unknown table %s", ErrCorrupt, col, tbl)
	}
	if pos != int64(len(t.cols)) {
		return fmt.Errorf("%w: ipdm_columns: table %s column %s at position %d, want %d", ErrCorrupt, tbl, col, pos, len(t.cols))
	}
	t.cols = append(t.cols, column{name: col, kind: kind(k)})
	return nil
}

// loadedCursor checks a cursor read from ipdm_cursor.
func loadedCursor(number int64, hash string) (Cursor, error) {
	if number < 0 {
		return Cursor{}, fmt.Errorf("%w: ipdm_cursor: negative block number %d", ErrCorrupt, number)
	}
	return Cursor{Number: uint64(number), Hash: hash}, nil
}

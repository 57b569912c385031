package sink

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Cursor names the last block a sink has fully stored. It mirrors
// source.Cursor; the engine converts between the two so this package does
// not depend on package source.
type Cursor struct {
	// Number is the block number (or Solana slot). It must not exceed
	// math.MaxInt64, the range of the SQL BIGINT columns that hold it.
	Number uint64
	// Hash is the chain's block hash, "" when the source has none.
	Hash string
}

// String formats the cursor as "NUMBER:HASH".
func (c Cursor) String() string { return strconv.FormatUint(c.Number, 10) + ":" + c.Hash }

// Row is one output row of a pipeline.
type Row struct {
	// Table names the table the row belongs to: [a-z][a-z0-9_]*, at most
	// 63 bytes, not starting with "ipdm_" (reserved for sink metadata).
	Table string
	// Block is the block number the row was derived from.
	Block uint64
	// Index is the row's position among the rows of Block for Table,
	// from 0; (Block, Index) is the table's primary key.
	Index int
	// JSON is one JSON object: the row's columns in order.
	JSON []byte
}

// Sink stores pipeline rows together with the cursor of the last block
// stored, so that a pipeline resumes exactly where the stored data ends.
//
// Write stores rows of blocks up to and including through.Number and moves
// the cursor to through, atomically: after a crash the sink holds either all
// of a Write or none of it. Rows at or below the committed cursor are
// skipped, so replaying blocks after a restart never duplicates rows. A
// Write through a block number at or below the committed one leaves the
// cursor where it is; through the committed number with another hash is
// ErrCursorConflict. Rows must be sorted by block, then by index within a
// table, and no row may lie above through; violations are ErrInvalidBatch.
//
// Undo deletes every row of the pipeline's tables with Block > to.Number
// and, when that is not above the committed cursor, sets the cursor to to,
// atomically. It is how a sink follows a chain reorganisation.
//
// Cursor returns the committed cursor, false when nothing was committed.
//
// Methods are safe for concurrent use (calls are serialised), but only one
// Sink, in one process, may write to a location under one pipeline name at a
// time. Close releases files and connections; it is idempotent.
type Sink interface {
	Cursor(ctx context.Context) (Cursor, bool, error)
	Write(ctx context.Context, rows []Row, through Cursor) error
	Undo(ctx context.Context, to Cursor) error
	Close() error
}

// Reader dumps stored tables. Every sink type of this package implements it;
// OpenReader opens one without modifying the location.
//
// Cursor is Sink.Cursor: the committed cursor of the pipeline named by
// Options.Name (for JSONL, of the output's pipeline, whatever the name).
// Tables lists the tables the location holds, sorted by name. Scan calls fn
// with every row of table in (Block, Index) order, stopping at fn's first
// error, which it returns; a table the location does not hold is
// ErrNoTable. Row.JSON is the stored object: exactly the written bytes for
// JSONL; for SQL sinks the columns in column order, compact, with NULL read
// as null (so a row that lacked a column comes back with it set to null).
// fn must not call back into the Reader.
type Reader interface {
	Cursor(ctx context.Context) (Cursor, bool, error)
	Tables(ctx context.Context) ([]string, error)
	Scan(ctx context.Context, table string, fn func(Row) error) error
	Close() error
}

// Options configures a sink. The zero value is ready to use.
type Options struct {
	// Name identifies the pipeline: it keys the cursor in the ipdm_cursor
	// table, so several pipelines can share a database, and it owns the
	// tables the pipeline creates (another name writing them, or undoing
	// them, fails with ErrNameConflict). A JSONL output records its name
	// and refuses another. Empty means "default".
	Name string
	// BatchRows bounds the rows sent in one INSERT statement by the SQL
	// sinks; a larger Write is split into several statements inside its one
	// transaction. Zero means 1000. SQLite further caps a statement at 512
	// bound values (see sqliteMaxParams). JSONL ignores it.
	BatchRows int
	// Table names the table JSONL writes to PATH itself; other tables go to
	// PATH-derived files (see the package documentation). Empty means the
	// first table written. SQL sinks ignore it.
	Table string
	// Schema is the Postgres schema holding the tables and the sink
	// metadata; it is created when missing. Empty means the connection's
	// default (normally "public"). Other sinks ignore it.
	Schema string
}

// DefaultName is the pipeline name used when Options.Name is empty.
const DefaultName = "default"

// DefaultBatchRows is the statement size used when Options.BatchRows is 0.
const DefaultBatchRows = 1000

// Validate reports the first invalid field.
func (o Options) Validate() error {
	if o.BatchRows < 0 {
		return fmt.Errorf("%w: BatchRows %d is negative", ErrInvalidOptions, o.BatchRows)
	}
	if o.Table != "" {
		if err := checkTableName(o.Table); err != nil {
			return fmt.Errorf("%w: Table: %w", ErrInvalidOptions, err)
		}
	}
	if o.Schema != "" {
		if err := checkIdent(o.Schema); err != nil {
			return fmt.Errorf("%w: Schema: %w", ErrInvalidOptions, err)
		}
	}
	return nil
}

func (o Options) name() string {
	if o.Name == "" {
		return DefaultName
	}
	return o.Name
}

func (o Options) batchRows() int {
	if o.BatchRows == 0 {
		return DefaultBatchRows
	}
	return o.BatchRows
}

// Open opens the sink named by uri, creating it when missing:
//
//	jsonl:PATH        JSON lines files (see OpenJSONL)
//	sqlite:PATH       an SQLite database file (see OpenSQLite)
//	postgres:DSN      a PostgreSQL database (see OpenPostgres); a bare
//	                  postgres://… or postgresql://… URL is accepted too
func Open(ctx context.Context, uri string, opts Options) (Sink, error) {
	scheme, loc, err := parseURI(uri)
	if err != nil {
		return nil, err
	}
	switch scheme {
	case "jsonl":
		return nilIfErr(OpenJSONL(ctx, loc, opts))
	case "sqlite":
		return nilIfErr(OpenSQLite(ctx, loc, opts))
	default:
		return nilIfErr(OpenPostgres(ctx, loc, opts))
	}
}

// nilIfErr returns a nil interface on error rather than a typed nil
// pointer, which would compare non-nil.
func nilIfErr[T Sink](s T, err error) (Sink, error) {
	if err != nil {
		return nil, err
	}
	return s, nil
}

// OpenReader opens the sink named by uri for reading only: nothing is
// created, repaired or locked, and Write and Undo fail with ErrReadOnly. A
// JSONL or SQLite location that does not exist is an error matching
// fs.ErrNotExist. Only opts.Schema and opts.Name (for Cursor) matter.
func OpenReader(ctx context.Context, uri string, opts Options) (Reader, error) {
	scheme, loc, err := parseURI(uri)
	if err != nil {
		return nil, err
	}
	var s Sink
	switch scheme {
	case "jsonl":
		s, err = nilIfErr(openJSONL(ctx, loc, opts, true))
	case "sqlite":
		s, err = nilIfErr(openSQLite(ctx, loc, opts, true))
	default:
		s, err = nilIfErr(openPostgres(ctx, loc, opts, true))
	}
	if err != nil {
		return nil, err
	}
	return s.(Reader), nil
}

// Rows reads a whole table through OpenReader, in (Block, Index) order.
func Rows(ctx context.Context, uri string, opts Options, table string) ([]Row, error) {
	r, err := OpenReader(ctx, uri, opts)
	if err != nil {
		return nil, err
	}
	var rows []Row
	err = r.Scan(ctx, table, func(row Row) error {
		rows = append(rows, row)
		return nil
	})
	return rows, errors.Join(err, r.Close())
}

// parseURI splits "scheme:location" and checks both parts.
func parseURI(uri string) (scheme, loc string, err error) {
	if strings.HasPrefix(uri, "postgres://") || strings.HasPrefix(uri, "postgresql://") {
		return "postgres", uri, nil
	}
	scheme, loc, ok := strings.Cut(uri, ":")
	if !ok || scheme == "" {
		return "", "", fmt.Errorf("sink: %w: %q: want jsonl:PATH, sqlite:PATH or postgres:DSN", ErrInvalidURI, uri)
	}
	switch scheme {
	case "jsonl", "sqlite", "postgres":
	default:
		return "", "", fmt.Errorf("sink: %w %q in %q: want jsonl, sqlite or postgres", ErrUnknownScheme, scheme, uri)
	}
	if loc == "" {
		return "", "", fmt.Errorf("sink: %w: %q has an empty location", ErrInvalidURI, uri)
	}
	if scheme == "sqlite" && strings.ContainsRune(loc, '?') {
		return "", "", fmt.Errorf("sink: %w: sqlite path %q contains '?'", ErrInvalidURI, loc)
	}
	return scheme, loc, nil
}

// maxIdent is PostgreSQL's identifier length limit (NAMEDATALEN-1).
const maxIdent = 63

// checkIdent accepts [a-z][a-z0-9_]* up to maxIdent bytes: names that need
// no quoting anywhere and mean the same in every database.
func checkIdent(s string) error {
	if s == "" {
		return errors.New("empty name")
	}
	if len(s) > maxIdent {
		return fmt.Errorf("name %q is longer than %d bytes", s, maxIdent)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || i > 0 && (c >= '0' && c <= '9' || c == '_') {
			continue
		}
		return fmt.Errorf("name %q does not match [a-z][a-z0-9_]*", s)
	}
	return nil
}

// checkTableName is checkIdent plus the reserved "ipdm_" prefix.
func checkTableName(s string) error {
	if err := checkIdent(s); err != nil {
		return err
	}
	if strings.HasPrefix(s, "ipdm_") {
		return fmt.Errorf("table name %q uses the reserved prefix ipdm_", s)
	}
	return nil
}

// access is what every sink checks before it acts: whether it was opened
// read-only and whether it has been closed. The sink's mutex guards it.
type access struct {
	readOnly bool
	closed   bool
}

// writable returns ErrClosed or ErrReadOnly when the sink cannot change.
func (a *access) writable() error {
	switch {
	case a.closed:
		return ErrClosed
	case a.readOnly:
		return ErrReadOnly
	}
	return nil
}

// undoable checks what every sink requires of an Undo: the sink is
// writable and to is in BIGINT range.
func (a *access) undoable(to Cursor) error {
	if err := a.writable(); err != nil {
		return err
	}
	if to.Number > maxBlock {
		return fmt.Errorf("sink: %w: undo to block %d exceeds 2^63-1", ErrInvalidBatch, to.Number)
	}
	return nil
}

// checkBatch checks what every sink requires of a Write: valid table names,
// indexes in range, block numbers in BIGINT range, and rows sorted by block
// and by index within each table, none above through.
func checkBatch(rows []Row, through Cursor) error {
	if through.Number > math.MaxInt64 {
		return fmt.Errorf("sink: %w: cursor block %d exceeds 2^63-1", ErrInvalidBatch, through.Number)
	}
	last := make(map[string]int, 4) // table -> position of its previous row
	for i := range rows {
		r := &rows[i]
		fail := func(sentinel error, format string, args ...any) error {
			return &RowError{Pos: i, Table: r.Table, Block: r.Block, Index: r.Index,
				Err: fmt.Errorf("%w: %s", sentinel, fmt.Sprintf(format, args...))}
		}
		if err := checkTableName(r.Table); err != nil {
			return fail(ErrInvalidRow, "%v", err)
		}
		if r.Index < 0 || r.Index > math.MaxInt32 {
			return fail(ErrInvalidRow, "index %d outside 0..2^31-1", r.Index)
		}
		if r.Block > through.Number {
			return fail(ErrInvalidBatch, "block %d is above the cursor written through (%s)", r.Block, through)
		}
		if i > 0 && r.Block < rows[i-1].Block {
			return fail(ErrInvalidBatch, "block %d follows block %d: blocks must ascend", r.Block, rows[i-1].Block)
		}
		if j, ok := last[r.Table]; ok && rows[j].Block == r.Block && rows[j].Index >= r.Index {
			return fail(ErrInvalidBatch, "index %d follows index %d in the same block: indexes must ascend", r.Index, rows[j].Index)
		}
		last[r.Table] = i
	}
	return nil
}

// plan decides what a Write does given the committed cursor: which rows are
// new (those above the committed block) and whether the cursor moves.
func planWrite(rows []Row, through, cur Cursor, has bool) (fresh []Row, advance bool, err error) {
	if !has {
		return rows, true, nil
	}
	if through.Number == cur.Number && through.Hash != cur.Hash {
		return nil, false, fmt.Errorf("sink: %w: write through %s but the committed cursor is %s; undo first", ErrCursorConflict, through, cur)
	}
	i := 0
	for i < len(rows) && rows[i].Block <= cur.Number {
		i++
	}
	return rows[i:], through.Number > cur.Number, nil
}

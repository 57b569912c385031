package sink

import (
	"errors"
	"strconv"
	"strings"
)

// Sentinel errors; match them with errors.Is.
var (
	// ErrInvalidURI reports a sink URI that cannot be parsed: empty, no
	// "scheme:" prefix, or an empty or unusable location.
	ErrInvalidURI = errors.New("invalid sink URI")
	// ErrUnknownScheme reports a URI whose scheme is not jsonl, sqlite or
	// postgres.
	ErrUnknownScheme = errors.New("unknown sink scheme")
	// ErrInvalidOptions reports an Options field that is out of range.
	ErrInvalidOptions = errors.New("invalid sink options")
	// ErrInvalidRow reports a row a sink cannot store: not a JSON object,
	// an invalid table or column name, a value of another kind than its
	// column holds. It arrives inside a *RowError locating the row.
	ErrInvalidRow = errors.New("invalid row")
	// ErrInvalidBatch reports rows handed to Write in a wrong order: a
	// block above the cursor written through, blocks not ascending, or a
	// (block, index) repeated for a table. It arrives inside a *RowError.
	ErrInvalidBatch = errors.New("invalid write batch")
	// ErrCursorConflict reports a Write through the committed block number
	// with a different block hash: the chain was reorganised and the
	// caller must Undo first.
	ErrCursorConflict = errors.New("cursor conflict")
	// ErrNameConflict reports a sink or table that belongs to another
	// pipeline (another Options.Name).
	ErrNameConflict = errors.New("owned by another pipeline")
	// ErrNotSink reports an existing JSONL file that has no cursor file
	// beside it, so it was not written by a sink and is left alone.
	ErrNotSink = errors.New("not a sink output")
	// ErrCorrupt reports sink files or metadata on disk that are
	// inconsistent with each other.
	ErrCorrupt = errors.New("sink data corrupt")
	// ErrNoTable reports a read of a table the sink does not hold.
	ErrNoTable = errors.New("no such table")
	// ErrReadOnly reports Write or Undo on a sink opened with OpenReader.
	ErrReadOnly = errors.New("sink opened read-only")
	// ErrClosed reports use of a sink after Close.
	ErrClosed = errors.New("sink closed")
)

// RowError locates a problem with one row passed to Write. Its Err wraps
// ErrInvalidRow, ErrInvalidBatch or (a table of another pipeline)
// ErrNameConflict.
type RowError struct {
	// Pos is the row's position in the slice passed to Write.
	Pos int
	// Table, Block and Index are the row's fields.
	Table string
	Block uint64
	Index int
	// Column is the offending JSON key, when the problem is with one value.
	Column string
	// Err says what is wrong.
	Err error
}

// Error formats the problem as "sink: row P (table T, block B, index I),
// column C: detail".
func (e *RowError) Error() string {
	var b strings.Builder
	b.WriteString("sink: row ")
	b.WriteString(strconv.Itoa(e.Pos))
	b.WriteString(" (table ")
	b.WriteString(strconv.Quote(e.Table))
	b.WriteString(", block ")
	b.WriteString(strconv.FormatUint(e.Block, 10))
	b.WriteString(", index ")
	b.WriteString(strconv.Itoa(e.Index))
	b.WriteString(")")
	if e.Column != "" {
		b.WriteString(", column ")
		b.WriteString(strconv.Quote(e.Column))
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the underlying problem.
func (e *RowError) Unwrap() error { return e.Err }

package fieldpath

import (
	"strconv"
	"strings"
)

// DefaultMax is the number of problems a Collector lists when its Max is
// zero.
const DefaultMax = 50

// Error is one problem found in a document.
type Error struct {
	// Path locates the offending field, for example "spec.inputs[2].cid".
	Path string
	// Detail says what is wrong, for example `"12QB" is not a size`.
	Detail string
	// Line and Column locate the field in the decoded document (1-based);
	// for a missing field, the mapping that lacks it. Both are zero for
	// problems found on a value that was not decoded.
	Line, Column int
	// ShowLine puts a known Line into the text: "path (line N): detail"
	// instead of "path: detail".
	ShowLine bool
}

// Error formats the problem as "path: detail", or "path (line N): detail"
// when ShowLine is set and Line is known.
func (e Error) Error() string {
	if e.ShowLine && e.Line > 0 {
		return e.Path + " (line " + strconv.Itoa(e.Line) + "): " + e.Detail
	}
	return e.Path + ": " + e.Detail
}

// Errors lists the problems found in a document. It matches Kind with
// errors.Is.
type Errors struct {
	// Errors holds the listed problems, in the order they were found.
	Errors []Error
	// Truncated counts the problems left out of Errors.
	Truncated int
	// Prefix starts the text of Error, for example "manifest: ".
	Prefix string
	// Kind is the sentinel that errors.Is matches, for example a package's
	// ErrInvalidSpec. A nil Kind matches nothing.
	Kind error
}

// Error is Prefix followed by the problems joined with "; ", and
// "; and N more" when Truncated is N > 0.
func (e *Errors) Error() string {
	var b strings.Builder
	b.WriteString(e.Prefix)
	for i, fe := range e.Errors {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(fe.Error())
	}
	if e.Truncated > 0 {
		b.WriteString("; and ")
		b.WriteString(strconv.Itoa(e.Truncated))
		b.WriteString(" more")
	}
	return b.String()
}

// Is reports whether target is Kind.
func (e *Errors) Is(target error) bool { return e.Kind != nil && target == e.Kind }

// Has reports whether a problem is listed for path exactly.
func (e *Errors) Has(path string) bool {
	for _, fe := range e.Errors {
		if fe.Path == path {
			return true
		}
	}
	return false
}

// Collector accumulates the problems found in a document and the positions
// of its decoded fields (in a Tracker), so that a problem gets the position
// of its field or closest decoded ancestor, and validation can skip what
// decoding already reported. Set the exported fields before first use; the
// zero value is usable and reports to an *Errors with no Kind. A Collector
// is not safe for concurrent use.
type Collector struct {
	// Kind is the Kind of the *Errors that Err returns.
	Kind error
	// Prefix is the Prefix of the *Errors that Err returns.
	Prefix string
	// Max bounds the problems listed; further ones are only counted (in
	// Truncated). Zero means DefaultMax.
	Max int
	// ShowLine sets Error.ShowLine on every problem recorded.
	ShowLine bool
	// KeepFirst keeps the first position recorded for a path rather than
	// the last (see Tracker.KeepFirst).
	KeepFirst bool

	t         Tracker
	errs      []Error
	truncated int
}

// At records where path was decoded.
func (c *Collector) At(path string, line, col int) {
	c.t.KeepFirst = c.KeepFirst
	c.t.At(path, line, col)
}

// Report records a problem at path, located at path or, when path was not
// in the document (a missing field), at its closest ancestor that was.
func (c *Collector) Report(path, detail string) {
	line, col := c.t.Locate(path)
	c.ReportAt(path, line, col, detail)
}

// ReportAt records a problem at path located at line and col, for problems
// with a specific node such as a repeated key.
func (c *Collector) ReportAt(path string, line, col int, detail string) {
	c.t.Mark(path)
	limit := c.Max
	if limit == 0 {
		limit = DefaultMax
	}
	if len(c.errs) >= limit {
		c.truncated++
		return
	}
	c.errs = append(c.errs, Error{Path: path, Detail: detail, Line: line, Column: col, ShowLine: c.ShowLine})
}

// Count returns the number of problems recorded, listed or not.
func (c *Collector) Count() int { return len(c.errs) + c.truncated }

// Covered reports whether a problem was already recorded at path or below
// it, or exactly at one of its ancestors (see Tracker.Covered).
func (c *Collector) Covered(path string) bool { return c.t.Covered(path) }

// Err returns the recorded problems as an *Errors, or nil when there are
// none. The *Errors does not change when more problems are recorded.
func (c *Collector) Err() error {
	if c.Count() == 0 {
		return nil
	}
	return &Errors{
		Errors:    c.errs[:len(c.errs):len(c.errs)],
		Truncated: c.truncated,
		Prefix:    c.Prefix,
		Kind:      c.Kind,
	}
}

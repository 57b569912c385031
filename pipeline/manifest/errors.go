package manifest

import (
	"errors"
	"strconv"
	"strings"

	"github.com/ipdm/ipdm/fieldpath"
)

// ErrInvalidManifest is matched (via errors.Is) by every error reporting a
// malformed or invalid manifest, in particular by *FieldErrors.
var ErrInvalidManifest = errors.New("invalid pipeline manifest")

// MaxFieldErrors bounds the problems a *FieldErrors lists; further problems
// are counted in Truncated.
const MaxFieldErrors = 50

// FieldError is one problem found in a manifest.
type FieldError struct {
	// Path locates the offending field, rooted at "manifest": for example
	// "manifest.modules[2].inputs[0].map" or "manifest.windows[0].step".
	Path string
	// Detail says what is wrong.
	Detail string
	// Line and Column locate the field in the decoded document (1-based);
	// for a missing field, the mapping that lacks it. Both are zero for
	// problems found by Validate on a manifest that was not decoded.
	Line, Column int
}

// Error formats the problem as "path: detail", with the line when known.
func (e FieldError) Error() string {
	if e.Line > 0 {
		return e.Path + " (line " + strconv.Itoa(e.Line) + "): " + e.Detail
	}
	return e.Path + ": " + e.Detail
}

// FieldErrors lists every problem found in a manifest: decoding problems in
// document order, then validation problems. It matches ErrInvalidManifest.
type FieldErrors struct {
	// Errors holds at most MaxFieldErrors problems.
	Errors []FieldError
	// Truncated counts the problems left out of Errors.
	Truncated int
}

// Error joins the problems with "; ".
func (e *FieldErrors) Error() string {
	var b strings.Builder
	b.WriteString("manifest: ")
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

// Is reports whether target is ErrInvalidManifest.
func (e *FieldErrors) Is(target error) bool { return target == ErrInvalidManifest }

// Has reports whether a problem is listed for path exactly.
func (e *FieldErrors) Has(path string) bool {
	for _, fe := range e.Errors {
		if fe.Path == path {
			return true
		}
	}
	return false
}

// collector accumulates field errors and the positions of decoded fields.
// A decoded path keeps its key's position, recorded before its value's.
type collector struct {
	errs FieldErrors
	t    fieldpath.Tracker
}

// at records the position of a decoded path.
func (c *collector) at(path string, line, col int) { c.t.At(path, line, col) }

// addf records a problem at path, located at path or, when path was not in
// the document, at its closest ancestor that was.
func (c *collector) addf(path, detail string) {
	line, col := c.t.Locate(path)
	c.add(FieldError{Path: path, Detail: detail, Line: line, Column: col})
}

// addAt records a problem at path located at line and col, for problems
// with a specific node such as a repeated key.
func (c *collector) addAt(path string, line, col int, detail string) {
	c.add(FieldError{Path: path, Detail: detail, Line: line, Column: col})
}

func (c *collector) add(fe FieldError) {
	c.t.Mark(fe.Path)
	if len(c.errs.Errors) >= MaxFieldErrors {
		c.errs.Truncated++
		return
	}
	c.errs.Errors = append(c.errs.Errors, fe)
}

// covered reports whether a problem was already recorded at path or below
// it, or exactly at one of its ancestors.
func (c *collector) covered(path string) bool { return c.t.Covered(path) }

// err returns the collected problems, or nil when there are none.
func (c *collector) err() error {
	if len(c.errs.Errors) == 0 && c.errs.Truncated == 0 {
		return nil
	}
	out := c.errs
	return &out
}

func field(parent, name string) string { return parent + "." + name }

func index(parent string, i int) string { return parent + "[" + strconv.Itoa(i) + "]" }

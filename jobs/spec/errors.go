package spec

import (
	"errors"
	"strconv"
	"strings"

	"github.com/ipdm/ipdm/fieldpath"
)

// ErrInvalidSpec is matched (via errors.Is) by every error that reports a
// malformed or invalid job spec, in particular by *FieldErrors.
var ErrInvalidSpec = errors.New("invalid job spec")

// MaxFieldErrors bounds the number of problems a *FieldErrors lists; further
// problems are summarised by its Truncated count.
const MaxFieldErrors = 50

// FieldError is one problem found in a spec.
type FieldError struct {
	// Path locates the offending field, rooted at "spec": for example
	// "spec.resources.memory", "spec.inputs[2].cid" or "spec.env.HOME".
	Path string
	// Detail says what is wrong, for example `"12QB" is not a size`.
	Detail string
	// Line and Column locate the field in the decoded document (1-based);
	// for a missing field, the mapping that lacks it. Both are zero for
	// problems found by Spec.Validate on a value that was not decoded.
	Line, Column int
}

// Error formats the problem as "path: detail".
func (e FieldError) Error() string { return e.Path + ": " + e.Detail }

// FieldErrors lists every problem found in a spec, in document order for
// decoding problems followed by validation problems. It matches
// ErrInvalidSpec with errors.Is.
type FieldErrors struct {
	// Errors holds at most MaxFieldErrors problems.
	Errors []FieldError
	// Truncated counts the problems left out of Errors.
	Truncated int
}

// Error joins the problems with "; ".
func (e *FieldErrors) Error() string {
	var b strings.Builder
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

// Is reports whether target is ErrInvalidSpec.
func (e *FieldErrors) Is(target error) bool { return target == ErrInvalidSpec }

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
type collector struct {
	errs FieldErrors
	t    fieldpath.Tracker
}

// at records the position of path.
func (c *collector) at(path string, line, col int) { c.t.At(path, line, col) }

func (c *collector) add(fe FieldError) {
	c.t.Mark(fe.Path)
	if len(c.errs.Errors) >= MaxFieldErrors {
		c.errs.Truncated++
		return
	}
	c.errs.Errors = append(c.errs.Errors, fe)
}

// addf records a problem at path, located at path or, when path was not
// in the document (a missing field), at its closest ancestor that was.
func (c *collector) addf(path, detail string) {
	line, col := c.t.Locate(path)
	c.add(FieldError{Path: path, Detail: detail, Line: line, Column: col})
}

func (c *collector) count() int { return len(c.errs.Errors) + c.errs.Truncated }

// err returns the collected problems, or a nil error when there are none.
func (c *collector) err() error {
	if c.count() == 0 {
		return nil
	}
	out := c.errs
	return &out
}

// covered reports whether a problem was already recorded at path or at one
// of its ancestors or descendants, so that validation does not repeat what
// decoding already reported (a field that failed to decode is left zero).
func (c *collector) covered(path string) bool { return c.t.Covered(path) }

// Path helpers.

func field(parent, name string) string {
	if isIdent(name) {
		return parent + "." + name
	}
	return parent + "[" + strconv.Quote(name) + "]"
}

func index(parent string, i int) string {
	return parent + "[" + strconv.Itoa(i) + "]"
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '_':
		case c >= '0' && c <= '9', c == '-':
			if i == 0 {
				return false
			}
		default:
			return false
		}
	}
	return true
}

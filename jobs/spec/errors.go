package spec

import (
	"errors"
	"strconv"
	"strings"
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

// collector accumulates field errors.
type collector struct {
	errs FieldErrors
	// exact holds every path with a problem; under additionally holds every
	// ancestor of such a path. Both include truncated problems.
	exact, under map[string]bool
	// pos maps the paths seen while decoding to their line and column, so
	// that validation problems can be located too.
	pos map[string][2]int
}

// at records the position of path.
func (c *collector) at(path string, line, col int) {
	if c.pos == nil {
		c.pos = make(map[string][2]int)
	}
	c.pos[path] = [2]int{line, col}
}

func (c *collector) add(fe FieldError) {
	if c.exact == nil {
		c.exact, c.under = make(map[string]bool), make(map[string]bool)
	}
	c.exact[fe.Path] = true
	for p := fe.Path; p != ""; p = parentPath(p) {
		c.under[p] = true
	}
	if len(c.errs.Errors) >= MaxFieldErrors {
		c.errs.Truncated++
		return
	}
	c.errs.Errors = append(c.errs.Errors, fe)
}

// addf records a problem at path, located at path or, when path was not
// in the document (a missing field), at its closest ancestor that was.
func (c *collector) addf(path, detail string) {
	fe := FieldError{Path: path, Detail: detail}
	for p := path; p != ""; p = parentPath(p) {
		if lc, ok := c.pos[p]; ok {
			fe.Line, fe.Column = lc[0], lc[1]
			break
		}
	}
	c.add(fe)
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
func (c *collector) covered(path string) bool {
	if c.under[path] {
		return true
	}
	for p := parentPath(path); p != ""; p = parentPath(p) {
		if c.exact[p] {
			return true
		}
	}
	return false
}

// parentPath returns the path one level up ("spec.a[2]" -> "spec.a"), or ""
// for the root. Quoted keys (`spec.env["a.b"]`) are one level.
func parentPath(p string) string {
	if strings.HasSuffix(p, "\"]") {
		if i := strings.LastIndex(p, "[\""); i >= 0 {
			return p[:i]
		}
	}
	i := strings.LastIndexAny(p, ".[")
	if i < 0 {
		return ""
	}
	return p[:i]
}

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

// Package fieldpath tracks paths into decoded documents (job specs,
// pipeline manifests): where each decoded field was (line, column), and
// which paths already have a reported problem, so validation neither loses
// the position of a problem nor repeats what decoding reported.
//
// Paths look like "spec.inputs[2].cid" or `spec.env["a.b"]`.
//
// A Collector gathers the problems found while decoding and validating one
// document, each an Error with its path and position, and returns them as
// an *Errors that errors.Is matches against the document kind's sentinel
// (Collector.Kind). Packages expose these under their own names, for
// example `type FieldErrors = fieldpath.Errors`. Tracker and Collector are
// not safe for concurrent use.
package fieldpath

import "strings"

// Parent returns the path one level up ("spec.a[2]" -> "spec.a"), or ""
// for the root. A quoted key (`spec.env["a.b"]`) is one level.
func Parent(p string) string {
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

// Tracker remembers decoded positions and problem paths. The zero value is
// ready to use.
type Tracker struct {
	// KeepFirst keeps the first position recorded for a path (a key's,
	// recorded before its value's) instead of the last.
	KeepFirst bool

	pos          map[string][2]int
	exact, under map[string]bool
}

// At records where path was decoded.
func (t *Tracker) At(path string, line, col int) {
	if t.pos == nil {
		t.pos = make(map[string][2]int)
	}
	if _, ok := t.pos[path]; ok && t.KeepFirst {
		return
	}
	t.pos[path] = [2]int{line, col}
}

// Locate returns the position of path or, when it was not in the document
// (a missing field), of its closest ancestor that was; zeros when none was.
func (t *Tracker) Locate(path string) (line, col int) {
	for p := path; p != ""; p = Parent(p) {
		if lc, ok := t.pos[p]; ok {
			return lc[0], lc[1]
		}
	}
	return 0, 0
}

// Mark records a problem at path.
func (t *Tracker) Mark(path string) {
	if t.exact == nil {
		t.exact, t.under = make(map[string]bool), make(map[string]bool)
	}
	t.exact[path] = true
	for p := path; p != ""; p = Parent(p) {
		t.under[p] = true
	}
}

// Covered reports whether a problem is marked at path, below it, or exactly
// at one of its ancestors.
func (t *Tracker) Covered(path string) bool {
	if t.under[path] {
		return true
	}
	for p := Parent(path); p != ""; p = Parent(p) {
		if t.exact[p] {
			return true
		}
	}
	return false
}

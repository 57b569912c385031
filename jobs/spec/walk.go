package spec

import (
	"fmt"
	"strconv"
	"time"

	"github.com/ipfs/go-cid"
)

// walker converts a parsed document into a Spec, recording a FieldError for
// every field it cannot convert and leaving that field zero.
type walker struct {
	c collector
}

func (w *walker) errAt(path string, line, col int, format string, args ...any) {
	w.c.ReportAt(path, line, col, fmt.Sprintf(format, args...))
}

func (w *walker) err(path string, n *node, format string, args ...any) {
	w.errAt(path, n.line, n.col, format, args...)
}

// object walks the fields of a mapping node, calling set for every known
// field with a non-null value. Unknown and duplicate fields are errors.
func (w *walker) object(path string, n *node, known []string, set func(key, path string, v *node)) {
	if n.kind != mapNode {
		w.err(path, n, "must be a mapping")
		return
	}
	seen := make(map[string]bool, len(n.pairs))
	for _, p := range n.pairs {
		fp := field(path, p.key)
		if !seen[p.key] {
			w.c.At(fp, p.line, p.col)
		}
		if !contains(known, p.key) {
			w.errAt(fp, p.line, p.col, "unknown field")
			continue
		}
		if seen[p.key] {
			w.errAt(fp, p.line, p.col, "duplicate field")
			continue
		}
		seen[p.key] = true
		if p.val.kind == nullNode {
			continue
		}
		set(p.key, fp, p.val)
	}
}

// stringMap walks a mapping of strings to strings.
func (w *walker) stringMap(path string, n *node) map[string]string {
	if n.kind != mapNode {
		w.err(path, n, "must be a mapping")
		return nil
	}
	out := make(map[string]string, len(n.pairs))
	for _, p := range n.pairs {
		fp := field(path, p.key)
		if _, dup := out[p.key]; !dup {
			w.c.At(fp, p.line, p.col)
		}
		if _, dup := out[p.key]; dup {
			w.errAt(fp, p.line, p.col, "duplicate key")
			continue
		}
		if p.val.kind == nullNode {
			w.err(fp, p.val, "must be a string, not null")
			continue
		}
		if v, ok := w.str(fp, p.val); ok {
			out[p.key] = v
		}
	}
	return out
}

func (w *walker) seq(path string, n *node) ([]*node, bool) {
	if n.kind != seqNode {
		w.err(path, n, "must be a list")
		return nil, false
	}
	for i, it := range n.items {
		w.c.At(index(path, i), it.line, it.col)
	}
	return n.items, true
}

// str accepts any scalar and returns its text, so that `args: [--n, 10]`
// means the strings "--n" and "10".
func (w *walker) str(path string, n *node) (string, bool) {
	if n.kind != scalarNode {
		w.err(path, n, "must be a string")
		return "", false
	}
	return n.text, true
}

func (w *walker) boolean(path string, n *node) (bool, bool) {
	if n.kind != scalarNode || n.typ != boolScalar {
		w.err(path, n, "must be true or false")
		return false, false
	}
	switch n.text {
	case "true", "True", "TRUE":
		return true, true
	case "false", "False", "FALSE":
		return false, true
	}
	w.err(path, n, "must be true or false")
	return false, false
}

// isDecimal reports whether s is an optionally negative decimal integer
// without leading zeros or sign noise.
func isDecimal(s string) bool {
	if len(s) > 0 && s[0] == '-' {
		s = s[1:]
	}
	if s == "" || (len(s) > 1 && s[0] == '0') {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// integer parses an integer literal in [min, max].
func (w *walker) integer(path string, n *node, min, max int64) (int64, bool) {
	if n.kind != scalarNode || (n.typ != intScalar && n.typ != floatScalar) {
		w.err(path, n, "must be an integer")
		return 0, false
	}
	if !isDecimal(n.text) {
		w.err(path, n, "%s is not a decimal integer", n.text)
		return 0, false
	}
	v, err := strconv.ParseInt(n.text, 10, 64)
	if err != nil || v < min || v > max {
		w.err(path, n, "%s is out of range", n.text)
		return 0, false
	}
	return v, true
}

func (w *walker) unsigned(path string, n *node) (uint64, bool) {
	if n.kind != scalarNode || (n.typ != intScalar && n.typ != floatScalar) {
		w.err(path, n, "must be an integer")
		return 0, false
	}
	if !isDecimal(n.text) || n.text[0] == '-' {
		w.err(path, n, "%s is not a non-negative decimal integer", n.text)
		return 0, false
	}
	v, err := strconv.ParseUint(n.text, 10, 64)
	if err != nil {
		w.err(path, n, "%s is out of range", n.text)
		return 0, false
	}
	return v, true
}

func (w *walker) size(path string, n *node) (Size, bool) {
	if n.kind == scalarNode && n.typ == intScalar {
		v, ok := w.unsigned(path, n)
		return Size(v), ok
	}
	if n.kind != scalarNode || n.typ != strScalar {
		w.err(path, n, "must be a number of bytes or a size such as \"64MiB\"")
		return 0, false
	}
	z, err := ParseSize(n.text)
	if err != nil {
		w.err(path, n, "%s", err.Error())
		return 0, false
	}
	return z, true
}

func (w *walker) duration(path string, n *node) (time.Duration, bool) {
	if n.kind != scalarNode || n.typ != strScalar {
		w.err(path, n, "must be a duration such as \"30s\" or \"5m\"")
		return 0, false
	}
	d, err := time.ParseDuration(n.text)
	if err != nil {
		w.err(path, n, "%q is not a duration (use e.g. \"30s\" or \"5m\")", n.text)
		return 0, false
	}
	return d, true
}

func (w *walker) cid(path string, n *node) (cid.Cid, bool) {
	if n.kind != scalarNode || n.typ != strScalar {
		w.err(path, n, "must be a CID string")
		return cid.Undef, false
	}
	c, err := cid.Decode(n.text)
	if err != nil {
		w.err(path, n, "%q is not a CID", n.text)
		return cid.Undef, false
	}
	return c, true
}

// spec walks the root node.
func (w *walker) spec(n *node) Spec {
	var s Spec
	const root = "spec"
	w.c.At(root, n.line, n.col)
	known := []string{"apiVersion", "kind", "runner", "module", "inputs", "args", "env", "resources", "replicas", "quorum", "constraints", "publisher", "seed"}
	w.object(root, n, known, func(key, path string, v *node) {
		switch key {
		case "apiVersion":
			s.APIVersion, _ = w.str(path, v)
		case "kind":
			s.Kind, _ = w.str(path, v)
		case "runner":
			s.Runner, _ = w.str(path, v)
		case "module":
			if t, ok := w.str(path, v); ok {
				m, err := ParseModule(t)
				if err != nil {
					w.err(path, v, "%s", err.Error())
				}
				s.Module = m
			}
		case "inputs":
			s.Inputs = w.inputs(path, v)
		case "args":
			if items, ok := w.seq(path, v); ok {
				s.Args = make([]string, 0, len(items))
				for i, it := range items {
					a, _ := w.str(index(path, i), it)
					s.Args = append(s.Args, a)
				}
			}
		case "env":
			s.Env = w.stringMap(path, v)
		case "resources":
			s.Resources = w.resources(path, v)
		case "replicas":
			k, _ := w.integer(path, v, -1<<31, 1<<31-1)
			s.Replicas = int(k)
		case "quorum":
			q, _ := w.integer(path, v, -1<<31, 1<<31-1)
			s.Quorum = int(q)
		case "constraints":
			w.object(path, v, []string{"labels", "roles"}, func(key, path string, v *node) {
				switch key {
				case "labels":
					s.Constraints.Labels = w.stringMap(path, v)
				case "roles":
					if items, ok := w.seq(path, v); ok {
						for i, it := range items {
							r, _ := w.str(index(path, i), it)
							s.Constraints.Roles = append(s.Constraints.Roles, r)
						}
					}
				}
			})
		case "publisher":
			w.object(path, v, []string{"local", "pin_on"}, func(key, path string, v *node) {
				switch key {
				case "local":
					s.Publisher.Local, _ = w.boolean(path, v)
				case "pin_on":
					p, _ := w.integer(path, v, -1<<31, 1<<31-1)
					s.Publisher.PinOn = int(p)
				}
			})
		case "seed":
			if seed, ok := w.unsigned(path, v); ok {
				s.Seed = &seed
			}
		}
	})
	return s
}

func (w *walker) inputs(path string, n *node) []Input {
	items, ok := w.seq(path, n)
	if !ok {
		return nil
	}
	out := make([]Input, 0, len(items))
	for i, it := range items {
		ip := index(path, i)
		var in Input
		switch it.kind {
		case scalarNode: // shorthand: a bare CID
			in.CID, _ = w.cid(ip, it)
		case mapNode:
			w.object(ip, it, []string{"cid", "name"}, func(key, path string, v *node) {
				switch key {
				case "cid":
					in.CID, _ = w.cid(path, v)
				case "name":
					in.Name, _ = w.str(path, v)
				}
			})
			if !in.CID.Defined() && !w.c.Covered(ip+".cid") {
				w.err(ip+".cid", it, "is required")
			}
		default:
			w.err(ip, it, "must be a CID or a mapping with cid and name")
		}
		out = append(out, in)
	}
	return out
}

func (w *walker) resources(path string, n *node) Resources {
	var r Resources
	w.object(path, n, []string{"memory", "fuel", "timeouts"}, func(key, path string, v *node) {
		switch key {
		case "memory":
			r.Memory, _ = w.size(path, v)
		case "fuel":
			r.Fuel, _ = w.unsigned(path, v)
		case "timeouts":
			w.object(path, v, []string{"queue", "execution", "total"}, func(key, path string, v *node) {
				d, _ := w.duration(path, v)
				switch key {
				case "queue":
					r.Timeouts.Queue = d
				case "execution":
					r.Timeouts.Execution = d
				case "total":
					r.Timeouts.Total = d
				}
			})
		}
	})
	return r
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

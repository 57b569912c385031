package manifest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/ipfs/go-cid"
	"gopkg.in/yaml.v3"
)

// Decode parses a pipeline manifest written in YAML (JSON, being YAML, is
// accepted too) and validates it. Decoding is strict: unknown and duplicate
// fields, values of the wrong type, anchors, aliases, merge keys and
// explicit tags are errors, and so is more than one document. A null field
// is the same as an absent one.
//
// An absent start_block is filled with the latest start block among the
// modules the module reads (0 when it reads only sources). Decode does not
// otherwise fill defaults; see WithDefaults.
//
// On failure the error is a *FieldErrors listing every problem found, each
// with its path and line; syntax errors are reported at path "manifest".
func Decode(data []byte) (Manifest, error) {
	d := decoder{c: newCollector()}
	if len(data) > MaxManifestSize {
		d.c.Report("manifest", fmt.Sprintf("document of %d bytes exceeds the limit of %d", len(data), MaxManifestSize))
		return Manifest{}, d.c.Err()
	}
	root, err := parseYAML(data)
	if err != nil {
		d.c.Report("manifest", "syntax: "+err.Error())
		return Manifest{}, d.c.Err()
	}
	m, ok := d.manifest(root)
	if ok {
		d.inheritStartBlocks(&m)
		m.validate(&d.c)
	}
	if err := d.c.Err(); err != nil {
		return Manifest{}, err
	}
	return m, nil
}

func parseYAML(data []byte) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("empty document")
		}
		return nil, errors.New(strings.TrimPrefix(err.Error(), "yaml: "))
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, errors.New("more than one YAML document")
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		return nil, errors.New("empty document")
	}
	return doc.Content[0], nil
}

type decoder struct {
	c collector
	// startGiven marks the modules whose start_block the document sets.
	startGiven map[int]bool
}

// node records n's position and rejects what the schema never uses:
// aliases, anchors and explicit tags. It reports whether n is usable.
func (d *decoder) node(n *yaml.Node, path string) bool {
	d.c.At(path, n.Line, n.Column)
	switch {
	case n.Kind == yaml.AliasNode:
		d.c.Report(path, "aliases are not allowed")
	case n.Anchor != "":
		d.c.Report(path, "anchors are not allowed")
	case n.Style&yaml.TaggedStyle != 0:
		d.c.Report(path, fmt.Sprintf("explicit tags (%s) are not allowed", n.Tag))
	default:
		return true
	}
	return false
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.Tag == "!!null" }

// mapping walks a mapping's pairs, reporting duplicate and unknown keys, and
// calls fn for each known key with a non-null value.
func (d *decoder) mapping(n *yaml.Node, path string, keys []string, fn func(key string, v *yaml.Node, vp string)) bool {
	if !d.node(n, path) {
		return false
	}
	if n.Kind != yaml.MappingNode {
		d.c.Report(path, "must be a mapping, not "+describe(n))
		return false
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Tag == "!!merge" {
			d.c.ReportAt(path, k.Line, k.Column, "merge keys (<<) are not allowed")
			continue
		}
		if k.Kind != yaml.ScalarNode || k.Tag != "!!str" {
			d.c.ReportAt(path, k.Line, k.Column, "a key must be a string, not "+describe(k))
			continue
		}
		vp := field(path, k.Value)
		if seen[k.Value] {
			d.c.ReportAt(vp, k.Line, k.Column, "duplicate field")
			continue
		}
		d.c.At(vp, k.Line, k.Column)
		seen[k.Value] = true
		known := false
		for _, want := range keys {
			known = known || want == k.Value
		}
		if !known {
			d.c.Report(vp, fmt.Sprintf("unknown field (known: %s)", strings.Join(keys, ", ")))
			continue
		}
		if isNull(v) {
			continue
		}
		if d.node(v, vp) {
			fn(k.Value, v, vp)
		}
	}
	return true
}

func (d *decoder) seq(n *yaml.Node, path string, fn func(i int, item *yaml.Node, ip string)) {
	if n.Kind != yaml.SequenceNode {
		d.c.Report(path, "must be a list, not "+describe(n))
		return
	}
	for i, item := range n.Content {
		ip := index(path, i)
		if d.node(item, ip) {
			fn(i, item, ip)
		}
	}
}

func (d *decoder) str(n *yaml.Node, path string) string {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!str" {
		d.c.Report(path, "must be a string, not "+describe(n)+" (quote it)")
		return ""
	}
	return n.Value
}

func (d *decoder) uint(n *yaml.Node, path string) uint64 {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!float" && strings.Trim(n.Value, "0123456789") == "" {
		d.c.Report(path, fmt.Sprintf("%s does not fit in 64 bits", n.Value)) // YAML reads a huge integer as a float
		return 0
	}
	if n.Kind != yaml.ScalarNode || n.Tag != "!!int" {
		d.c.Report(path, "must be a non-negative integer, not "+describe(n))
		return 0
	}
	if strings.HasPrefix(n.Value, "-") {
		d.c.Report(path, fmt.Sprintf("%s is negative", n.Value))
		return 0
	}
	v, err := strconv.ParseUint(strings.TrimPrefix(n.Value, "+"), 0, 64)
	if err != nil {
		d.c.Report(path, fmt.Sprintf("%s does not fit in 64 bits", n.Value))
		return 0
	}
	return v
}

// describe names a node's type for error messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	}
	switch n.Tag {
	case "!!str":
		return fmt.Sprintf("the string %q", n.Value)
	case "!!int":
		return "the integer " + n.Value
	case "!!float":
		return "the number " + n.Value
	case "!!bool":
		return "the boolean " + n.Value
	case "!!null":
		return "null"
	}
	return fmt.Sprintf("%q (%s)", n.Value, n.Tag)
}

func (d *decoder) manifest(n *yaml.Node) (Manifest, bool) {
	var m Manifest
	ok := d.mapping(n, "manifest", []string{"apiVersion", "kind", "name", "description", "segment_size", "modules", "windows", "rules"},
		func(key string, v *yaml.Node, p string) {
			switch key {
			case "apiVersion":
				m.APIVersion = d.str(v, p)
			case "kind":
				m.Kind = d.str(v, p)
			case "name":
				m.Name = d.str(v, p)
			case "description":
				m.Description = d.str(v, p)
			case "segment_size":
				if m.SegmentSize = d.uint(v, p); m.SegmentSize == 0 && !d.c.Covered(p) {
					d.c.Report(p, "must be positive (omit it for the default of 1000)")
				}
			case "modules":
				d.seq(v, p, func(i int, item *yaml.Node, ip string) { m.Modules = append(m.Modules, d.module(i, item, ip)) })
			case "windows":
				d.seq(v, p, func(_ int, item *yaml.Node, ip string) { m.Windows = append(m.Windows, d.window(item, ip)) })
			case "rules":
				d.seq(v, p, func(_ int, item *yaml.Node, ip string) { m.Rules = append(m.Rules, d.rule(item, ip)) })
			}
		})
	return m, ok
}

func (d *decoder) module(i int, n *yaml.Node, path string) Module {
	var mod Module
	d.mapping(n, path, []string{"name", "kind", "file", "cid", "entrypoint", "start_block", "inputs", "output", "value_type", "update_policy"},
		func(key string, v *yaml.Node, p string) {
			switch key {
			case "name":
				mod.Name = d.str(v, p)
			case "kind":
				mod.Kind = ModuleKind(d.str(v, p))
			case "file":
				mod.File = d.str(v, p)
			case "cid":
				if s := d.str(v, p); s != "" {
					c, err := cid.Decode(s)
					if err != nil {
						d.c.Report(p, fmt.Sprintf("%q is not a CID: %v", s, err))
						return
					}
					mod.CID = c
				}
			case "entrypoint":
				mod.Entrypoint = d.str(v, p)
			case "start_block":
				mod.StartBlock = d.uint(v, p)
				if d.startGiven == nil {
					d.startGiven = map[int]bool{}
				}
				d.startGiven[i] = true
			case "inputs":
				d.seq(v, p, func(_ int, item *yaml.Node, ip string) { mod.Inputs = append(mod.Inputs, d.input(item, ip)) })
			case "output":
				mod.Output = d.str(v, p)
			case "value_type":
				mod.ValueType = ValueType(d.str(v, p))
			case "update_policy":
				mod.UpdatePolicy = Policy(d.str(v, p))
			}
		})
	return mod
}

func (d *decoder) input(n *yaml.Node, path string) Input {
	var in Input
	kinds := 0
	ok := d.mapping(n, path, []string{"source", "map", "store", "params", "mode", "type"},
		func(key string, v *yaml.Node, p string) {
			switch key {
			case "source", "map", "store", "params":
				kinds++
				if kinds > 1 {
					d.c.Report(p, "an input is one of source, map, store or params")
					return
				}
				in.Kind = InputKind(key)
				s := d.str(v, p)
				switch key {
				case "source":
					in.Source = SourceKind(s)
				case "map", "store":
					in.Module = s
				case "params":
					in.Params = s
				}
			case "mode":
				in.Mode = StoreMode(d.str(v, p))
			case "type":
				in.Type = d.str(v, p)
			}
		})
	if ok && kinds == 0 {
		d.c.Report(path, "missing: an input is one of source, map, store or params")
	}
	return in
}

func (d *decoder) window(n *yaml.Node, path string) Window {
	var w Window
	d.mapping(n, path, []string{"name", "module", "kind", "size", "step", "group_by", "sum"}, func(key string, v *yaml.Node, p string) {
		switch key {
		case "name":
			w.Name = d.str(v, p)
		case "module":
			w.Module = d.str(v, p)
		case "kind":
			w.Kind = WindowKind(d.str(v, p))
		case "size":
			w.Size = d.span(v, p)
		case "step":
			w.Step = d.span(v, p)
		case "group_by":
			w.GroupBy = d.str(v, p)
		case "sum":
			d.seq(v, p, func(_ int, item *yaml.Node, ip string) { w.Sum = append(w.Sum, d.str(item, ip)) })
		}
	})
	return w
}

// span reads a number of blocks (an integer) or a duration of block time
// (a string such as "1h30m").
func (d *decoder) span(n *yaml.Node, path string) Span {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!str" {
		t, err := time.ParseDuration(n.Value)
		if err != nil {
			d.c.Report(path, fmt.Sprintf("%q is neither a number of blocks nor a duration such as \"1h\"", n.Value))
			return Span{}
		}
		if t <= 0 {
			d.c.Report(path, fmt.Sprintf("%s is not positive", n.Value))
			return Span{}
		}
		return Span{Time: t}
	}
	if n.Kind != yaml.ScalarNode || n.Tag != "!!int" {
		d.c.Report(path, "must be a number of blocks or a duration such as \"1h\", not "+describe(n))
		return Span{}
	}
	b := d.uint(n, path)
	if b == 0 && !d.c.Covered(path) {
		d.c.Report(path, "must be positive")
	}
	return Span{Blocks: b}
}

func (d *decoder) rule(n *yaml.Node, path string) Rule {
	var r Rule
	d.mapping(n, path, []string{"name", "first", "then", "within", "key"}, func(key string, v *yaml.Node, p string) {
		switch key {
		case "name":
			r.Name = d.str(v, p)
		case "first":
			r.First = d.str(v, p)
		case "then":
			r.Then = d.str(v, p)
		case "within":
			r.Within = d.uint(v, p)
		case "key":
			r.Key = d.str(v, p)
		}
	})
	return r
}

// inheritStartBlocks gives every module without a start_block the latest
// start block among the modules it reads. Iterating len(modules) times
// reaches the fixpoint on any graph, cyclic ones included.
func (d *decoder) inheritStartBlocks(m *Manifest) {
	byName := modulesByName(m.Modules)
	for range m.Modules {
		for i := range m.Modules {
			if d.startGiven[i] {
				continue
			}
			mod := &m.Modules[i]
			for _, up := range upstream(mod, byName) {
				mod.StartBlock = max(mod.StartBlock, up.StartBlock)
			}
		}
	}
}

package spec

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"gopkg.in/yaml.v3"
)

// The decoder first turns a JSON or YAML document into a small tree of
// nodes that keeps key order, duplicate keys, scalar types and positions,
// then walks that tree against the schema (walk.go). Doing the walk by hand
// rather than with struct tags is what lets Decode report every problem
// with its path instead of stopping at the first.

type nodeKind uint8

const (
	nullNode nodeKind = iota
	scalarNode
	mapNode
	seqNode
)

// scalarType is the type a scalar had in the source document.
type scalarType uint8

const (
	strScalar   scalarType = iota // a string (or a YAML timestamp, kept as text)
	intScalar                     // an integer literal
	floatScalar                   // a number with a fraction or exponent
	boolScalar                    // true or false
)

type pair struct {
	key       string
	line, col int // position of the key
	val       *node
}

type node struct {
	kind  nodeKind
	typ   scalarType
	text  string // scalar value: the string, or the number/bool literal
	line  int
	col   int
	pairs []pair  // mapNode, in document order, duplicates kept
	items []*node // seqNode
}

// maxDepth bounds nesting; the schema needs 4 levels.
const maxDepth = 32

var errTooDeep = errors.New("document nests deeper than 32 levels")

// parseDocument parses data as JSON when it is a valid JSON object, and as
// YAML otherwise.
func parseDocument(data []byte) (*node, error) {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) > 0 && trimmed[0] == '{' && json.Valid(trimmed) {
		return parseJSON(data)
	}
	return parseYAML(data)
}

// JSON front end.

type jsonParser struct {
	data  []byte
	dec   *json.Decoder
	lines []int // offsets of line starts
}

func parseJSON(data []byte) (*node, error) {
	p := &jsonParser{data: data, dec: json.NewDecoder(bytes.NewReader(data))}
	p.dec.UseNumber()
	p.lines = append(p.lines, 0)
	for i, b := range data {
		if b == '\n' {
			p.lines = append(p.lines, i+1)
		}
	}
	n, err := p.value(0)
	if err != nil {
		return nil, err
	}
	if _, err := p.dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("trailing data after the document")
	}
	return n, nil
}

// pos returns the line and column of the next token.
func (p *jsonParser) pos() (int, int) {
	off := int(p.dec.InputOffset())
	for off < len(p.data) {
		switch p.data[off] {
		case ' ', '\t', '\r', '\n', ':', ',':
			off++
			continue
		}
		break
	}
	// Binary search for the line.
	lo, hi := 0, len(p.lines)-1
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if p.lines[mid] <= off {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return lo + 1, off - p.lines[lo] + 1
}

func (p *jsonParser) value(depth int) (*node, error) {
	if depth > maxDepth {
		return nil, errTooDeep
	}
	line, col := p.pos()
	tok, err := p.dec.Token()
	if err != nil {
		return nil, fmt.Errorf("line %d: %v", line, err)
	}
	n := &node{line: line, col: col}
	switch t := tok.(type) {
	case nil:
		n.kind = nullNode
	case bool:
		n.kind, n.typ, n.text = scalarNode, boolScalar, fmt.Sprint(t)
	case string:
		n.kind, n.typ, n.text = scalarNode, strScalar, t
	case json.Number:
		n.kind, n.typ, n.text = scalarNode, intScalar, t.String()
		if bytes.ContainsAny([]byte(n.text), ".eE") {
			n.typ = floatScalar
		}
	case json.Delim:
		switch t {
		case '{':
			n.kind = mapNode
			for p.dec.More() {
				kl, kc := p.pos()
				kt, err := p.dec.Token()
				if err != nil {
					return nil, err
				}
				key, ok := kt.(string)
				if !ok {
					return nil, fmt.Errorf("line %d: object key is not a string", line)
				}
				v, err := p.value(depth + 1)
				if err != nil {
					return nil, err
				}
				n.pairs = append(n.pairs, pair{key, kl, kc, v})
			}
		case '[':
			n.kind = seqNode
			for p.dec.More() {
				v, err := p.value(depth + 1)
				if err != nil {
					return nil, err
				}
				n.items = append(n.items, v)
			}
		default:
			return nil, fmt.Errorf("line %d: unexpected %v", line, t)
		}
		if _, err := p.dec.Token(); err != nil { // closing delimiter
			return nil, err
		}
	}
	return n, nil
}

// YAML front end.

func parseYAML(data []byte) (*node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("empty document")
		}
		return nil, err
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, errors.New("more than one YAML document")
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		return nil, errors.New("empty document")
	}
	return convertYAML(doc.Content[0], 0)
}

func convertYAML(y *yaml.Node, depth int) (*node, error) {
	if depth > maxDepth {
		return nil, errTooDeep
	}
	n := &node{line: y.Line, col: y.Column}
	switch y.Kind {
	case yaml.AliasNode:
		return nil, fmt.Errorf("line %d: YAML aliases are not supported", y.Line)
	case yaml.MappingNode:
		n.kind = mapNode
		for i := 0; i+1 < len(y.Content); i += 2 {
			k, v := y.Content[i], y.Content[i+1]
			if k.Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("line %d: mapping key is not a scalar", k.Line)
			}
			if k.ShortTag() == "!!merge" {
				return nil, fmt.Errorf("line %d: YAML merge keys are not supported", k.Line)
			}
			cv, err := convertYAML(v, depth+1)
			if err != nil {
				return nil, err
			}
			n.pairs = append(n.pairs, pair{k.Value, k.Line, k.Column, cv})
		}
	case yaml.SequenceNode:
		n.kind = seqNode
		for _, it := range y.Content {
			cv, err := convertYAML(it, depth+1)
			if err != nil {
				return nil, err
			}
			n.items = append(n.items, cv)
		}
	case yaml.ScalarNode:
		n.kind, n.text = scalarNode, y.Value
		switch tag := y.ShortTag(); tag {
		case "!!null":
			n.kind, n.text = nullNode, ""
		case "!!str", "!!timestamp":
			n.typ = strScalar
		case "!!int":
			n.typ = intScalar
		case "!!float":
			n.typ = floatScalar
		case "!!bool":
			n.typ = boolScalar
		default:
			return nil, fmt.Errorf("line %d: unsupported YAML tag %s", y.Line, tag)
		}
	default:
		return nil, fmt.Errorf("line %d: unsupported YAML node", y.Line)
	}
	return n, nil
}

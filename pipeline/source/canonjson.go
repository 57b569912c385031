package source

import (
	"bytes"
	"fmt"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/ipdm/ipdm/pipeline/internal/jsontext"
)

// maxJSONDepth bounds the nesting of JSON values re-encoded by canonicalJSON.
const maxJSONDepth = 64

// canonicalJSON re-encodes one JSON value compactly: object keys keep their
// order, numbers keep their literal text, strings are re-escaped one fixed
// way (so "\u00e9" and "é" encode alike). Two spellings of the same value
// with the same key order — Python's json.dumps in a CSV, a node's JSON
// response — give the same bytes. Invalid JSON is an error.
func canonicalJSON(raw []byte) ([]byte, error) {
	c := canon{in: raw, out: make([]byte, 0, len(raw))}
	c.space()
	if err := c.value(0); err != nil {
		return nil, err
	}
	c.space()
	if c.pos != len(c.in) {
		return nil, c.errorf("trailing data after the JSON value")
	}
	return c.out, nil
}

// canon is a single-pass JSON scanner that writes the canonical form.
type canon struct {
	in  []byte
	pos int
	out []byte
	buf []byte // unescaped string contents
}

func (c *canon) errorf(format string, args ...any) error {
	return fmt.Errorf("invalid JSON at offset %d: %s", c.pos, fmt.Sprintf(format, args...))
}

func (c *canon) space() {
	for c.pos < len(c.in) {
		switch c.in[c.pos] {
		case ' ', '\t', '\n', '\r':
			c.pos++
		default:
			return
		}
	}
}

func (c *canon) value(depth int) error {
	if depth > maxJSONDepth {
		return fmt.Errorf("JSON nests deeper than %d levels", maxJSONDepth)
	}
	if c.pos >= len(c.in) {
		return c.errorf("unexpected end")
	}
	switch b := c.in[c.pos]; {
	case b == '{':
		return c.container(depth, '}', true)
	case b == '[':
		return c.container(depth, ']', false)
	case b == '"':
		return c.str()
	case b == 't':
		return c.literal("true")
	case b == 'f':
		return c.literal("false")
	case b == 'n':
		return c.literal("null")
	case b == '-' || (b >= '0' && b <= '9'):
		return c.number()
	default:
		return c.errorf("unexpected %q", b)
	}
}

func (c *canon) container(depth int, end byte, object bool) error {
	c.out = append(c.out, c.in[c.pos])
	c.pos++
	c.space()
	if c.pos < len(c.in) && c.in[c.pos] == end {
		c.out = append(c.out, end)
		c.pos++
		return nil
	}
	for {
		if object {
			if c.pos >= len(c.in) || c.in[c.pos] != '"' {
				return c.errorf("object key is not a string")
			}
			if err := c.str(); err != nil {
				return err
			}
			c.space()
			if c.pos >= len(c.in) || c.in[c.pos] != ':' {
				return c.errorf("missing ':' after object key")
			}
			c.out = append(c.out, ':')
			c.pos++
			c.space()
		}
		if err := c.value(depth + 1); err != nil {
			return err
		}
		c.space()
		if c.pos >= len(c.in) {
			return c.errorf("unexpected end")
		}
		switch c.in[c.pos] {
		case ',':
			c.out = append(c.out, ',')
			c.pos++
			c.space()
		case end:
			c.out = append(c.out, end)
			c.pos++
			return nil
		default:
			return c.errorf("unexpected %q", c.in[c.pos])
		}
	}
}

func (c *canon) literal(word string) error {
	if !bytes.HasPrefix(c.in[c.pos:], []byte(word)) {
		return c.errorf("invalid literal")
	}
	c.out = append(c.out, word...)
	c.pos += len(word)
	return nil
}

// number copies a number literal after checking RFC 8259's grammar:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (c *canon) number() error {
	start := c.pos
	digits := func() int {
		n := 0
		for c.pos < len(c.in) && c.in[c.pos] >= '0' && c.in[c.pos] <= '9' {
			c.pos++
			n++
		}
		return n
	}
	if c.in[c.pos] == '-' {
		c.pos++
	}
	if c.pos < len(c.in) && c.in[c.pos] == '0' {
		c.pos++
	} else if digits() == 0 {
		return c.errorf("invalid number")
	}
	if c.pos < len(c.in) && c.in[c.pos] == '.' {
		c.pos++
		if digits() == 0 {
			return c.errorf("invalid number")
		}
	}
	if c.pos < len(c.in) && (c.in[c.pos] == 'e' || c.in[c.pos] == 'E') {
		c.pos++
		if c.pos < len(c.in) && (c.in[c.pos] == '+' || c.in[c.pos] == '-') {
			c.pos++
		}
		if digits() == 0 {
			return c.errorf("invalid number")
		}
	}
	c.out = append(c.out, c.in[start:c.pos]...)
	return nil
}

// str reads a string and writes it with appendJSONString's escaping.
func (c *canon) str() error {
	c.pos++ // the opening quote
	start := c.pos
	simple := true // no escapes so far
	for c.pos < len(c.in) {
		b := c.in[c.pos]
		switch {
		case b == '"':
			raw := c.in[start:c.pos]
			c.pos++
			if simple {
				c.out = appendJSONString(c.out, string(raw))
			} else {
				c.out = appendJSONString(c.out, string(c.buf))
			}
			return nil
		case b < 0x20:
			return c.errorf("control character in string")
		case b == '\\':
			if simple {
				c.buf = append(c.buf[:0], c.in[start:c.pos]...)
				simple = false
			}
			if err := c.escape(); err != nil {
				return err
			}
		default:
			if !simple {
				c.buf = append(c.buf, b)
			}
			c.pos++
		}
	}
	return c.errorf("unterminated string")
}

// escape decodes one backslash escape into c.buf. Surrogate halves that do
// not pair become U+FFFD, as encoding/json decodes them.
func (c *canon) escape() error {
	if c.pos+1 >= len(c.in) {
		return c.errorf("unterminated escape")
	}
	e := c.in[c.pos+1]
	c.pos += 2
	switch e {
	case '"', '\\', '/':
		c.buf = append(c.buf, e)
	case 'b':
		c.buf = append(c.buf, '\b')
	case 'f':
		c.buf = append(c.buf, '\f')
	case 'n':
		c.buf = append(c.buf, '\n')
	case 'r':
		c.buf = append(c.buf, '\r')
	case 't':
		c.buf = append(c.buf, '\t')
	case 'u':
		r, ok := c.hex4(c.pos)
		if !ok {
			return c.errorf("invalid \\u escape")
		}
		c.pos += 4
		if utf16.IsSurrogate(r) {
			if c.pos+1 < len(c.in) && c.in[c.pos] == '\\' && c.in[c.pos+1] == 'u' {
				if r2, ok := c.hex4(c.pos + 2); ok {
					if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
						c.buf = utf8.AppendRune(c.buf, d)
						c.pos += 6
						return nil
					}
				}
			}
			r = utf8.RuneError
		}
		c.buf = utf8.AppendRune(c.buf, r)
	default:
		return c.errorf("invalid escape \\%c", e)
	}
	return nil
}

func (c *canon) hex4(at int) (rune, bool) {
	if at+4 > len(c.in) {
		return 0, false
	}
	var r rune
	for _, b := range c.in[at : at+4] {
		d := unhex(b)
		if d < 0 {
			return 0, false
		}
		r = r<<4 | rune(d)
	}
	return r, true
}

// appendJSONString appends s as a JSON string with the canonical escaping:
// as encoding/json without HTML escaping, but \b and \f as \u0008 and
// \u000c and invalid UTF-8 as the U+FFFD character itself, so re-encoding
// is idempotent. Content IDs depend on these bytes: never change the rules.
func appendJSONString(out []byte, s string) []byte {
	return jsontext.AppendString(out, s, jsontext.Canonical)
}

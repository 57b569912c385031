package spl

import (
	"strconv"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/ipdm/ipdm/examples/internal/scan"
)

// The cursor, the error type and the word-at-a-time helpers this scanner
// is built on are shared with the erc20-transfers example; they live in
// examples/internal/scan.

// ErrMalformed is matched (errors.Is) by every error about the bytes given
// to Map.
var ErrMalformed = scan.ErrMalformed

// InputError says where and why input was refused (its Pkg is "spl").
type InputError = scan.InputError

// maxDepth is how deep params may nest: source.DecodeSlot refuses a value
// nested deeper than 64 containers.
const maxDepth = 64

// parser reads the canonical encoding left to right: a scan.Cursor (input
// B read at I; Elem is the index of the instruction being read, -1 outside
// the list) plus this format's fields. It never reads past B: every access
// is bounds-checked by the length tests before it.
type parser struct {
	scan.Cursor
	// tmp receives unescaped strings (keys, numeric strings).
	tmp []byte
}

// newParser returns a parser at the start of b, outside the instructions.
func newParser(b []byte) parser {
	return parser{Cursor: scan.Cursor{B: b, Pkg: "spl", List: "instructions", Elem: -1}}
}

// The reasons p.Uint gives for an integer above its maximum,
// scan.MaxUint64 or scan.MaxInt64.
const (
	tooBigUint64 = "integer exceeds " + scan.MaxUint64
	tooBigInt64  = "integer exceeds " + scan.MaxInt64
)

// Byte classes.
var (
	// strPlain marks bytes that stand for themselves in a JSON string:
	// not '"', '\\' or a control character.
	strPlain = func() (t [256]bool) {
		for c := 0x20; c < 256; c++ {
			t[c] = c != '"' && c != '\\'
		}
		return t
	}()
	// isBase58 marks the Bitcoin base58 alphabet.
	isBase58 = func() (t [256]bool) {
		for _, c := range "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz" {
			t[c] = true
		}
		return t
	}()
)

// str reads a JSON string and returns its raw contents (between the
// quotes) and whether they contain escapes. The escapes are checked, not
// decoded; unescape decodes them.
func (p *parser) str(field string) (raw []byte, esc bool, err error) {
	b := p.B
	if p.I >= len(b) || b[p.I] != '"' {
		return nil, false, p.Fail(field, "not a string")
	}
	start := p.I + 1
	i := start
	for {
		for len(b)-i >= 8 {
			if m := stringStop(scan.LE64(b[i:])); m != 0 {
				i += scan.FirstFlag(m)
				break
			}
			i += 8
		}
		for i < len(b) && strPlain[b[i]] {
			i++
		}
		if i >= len(b) {
			p.I = i
			return nil, false, p.Fail(field, "unterminated string")
		}
		switch b[i] {
		case '"':
			p.I = i + 1
			return b[start:i], esc, nil
		case '\\':
			esc = true
			if i+1 >= len(b) {
				p.I = i
				return nil, false, p.Fail(field, "unterminated string")
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if hex4(b[i+2:]) < 0 {
					p.I = i
					return nil, false, p.Fail(field, "invalid \\u escape")
				}
				i += 6
			default:
				p.I = i
				return nil, false, p.Fail(field, "invalid escape")
			}
		default:
			p.I = i
			return nil, false, p.Fail(field, "control character in string")
		}
	}
}

// hex4 decodes four hex digits (any case) at the start of s, or returns -1.
func hex4(s []byte) rune {
	if len(s) < 4 {
		return -1
	}
	var r rune
	for _, c := range s[:4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return -1
		}
		r = r<<4 | rune(c)
	}
	return r
}

// unescape appends the value of a string's raw contents (checked by str)
// as encoding/json decodes it: escapes decoded, unpaired surrogates and
// bytes that are not UTF-8 replaced by U+FFFD, one per byte.
func unescape(dst, raw []byte) []byte {
	for i := 0; i < len(raw); {
		c := raw[i]
		switch {
		case c == '\\':
			switch e := raw[i+1]; e {
			case 'b':
				dst = append(dst, '\b')
			case 'f':
				dst = append(dst, '\f')
			case 'n':
				dst = append(dst, '\n')
			case 'r':
				dst = append(dst, '\r')
			case 't':
				dst = append(dst, '\t')
			case 'u':
				r := hex4(raw[i+2:])
				i += 6
				if utf16.IsSurrogate(r) {
					if i+1 < len(raw) && raw[i] == '\\' && raw[i+1] == 'u' {
						if d := utf16.DecodeRune(r, hex4(raw[i+2:])); d != utf8.RuneError {
							dst = utf8.AppendRune(dst, d)
							i += 6
							continue
						}
					}
					r = utf8.RuneError
				}
				dst = utf8.AppendRune(dst, r)
				continue
			default: // '"', '\\', '/'
				dst = append(dst, e)
			}
			i += 2
		case c < utf8.RuneSelf:
			dst = append(dst, c)
			i++
		default:
			r, size := utf8.DecodeRune(raw[i:])
			if r == utf8.RuneError && size == 1 {
				dst = utf8.AppendRune(dst, utf8.RuneError)
			} else {
				dst = append(dst, raw[i:i+size]...)
			}
			i += size
		}
	}
	return dst
}

// appendQuoted appends s (valid UTF-8, as unescape leaves it) as a JSON
// string escaped exactly as encoding/json does with HTML escaping off.
func appendQuoted(dst, s []byte) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			start = i + size
		case r == '\u2028' || r == '\u2029':
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[r&0xf])
			start = i + size
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// number reads a JSON number (RFC 8259 grammar) and returns its text.
func (p *parser) number(field string) ([]byte, error) {
	n := numberLen(p.B[p.I:])
	if n == 0 {
		return nil, p.Fail(field, "invalid number")
	}
	p.I += n
	return p.B[p.I-n : p.I], nil
}

// numberLen returns the length of the JSON number at the start of s, or 0
// if s does not start with one.
func numberLen(s []byte) int {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && '1' <= s[i] && s[i] <= '9':
		for i++; i < len(s) && s[i]-'0' <= 9; i++ {
		}
	default:
		return 0
	}
	if i < len(s) && s[i] == '.' {
		i++
		if i >= len(s) || s[i]-'0' > 9 {
			return 0
		}
		for ; i < len(s) && s[i]-'0' <= 9; i++ {
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if i >= len(s) || s[i]-'0' > 9 {
			return 0
		}
		for ; i < len(s) && s[i]-'0' <= 9; i++ {
		}
	}
	return i
}

// skip reads and checks one JSON value nested at depth (the params value
// itself is at depth 0).
func (p *parser) skip(depth int, field string) error {
	if depth > maxDepth {
		return p.Fail(field, "params nest deeper than 64 levels")
	}
	if p.I >= len(p.B) {
		return p.Fail(field, "unexpected end")
	}
	switch c := p.B[p.I]; c {
	case '{', '[':
		p.I++
		end := byte(']')
		if c == '{' {
			end = '}'
		}
		if p.Peek(end) {
			p.I++
			return nil
		}
		for {
			if c == '{' {
				if _, _, err := p.str(field); err != nil {
					return err
				}
				if !p.Lit(":") {
					return p.Fail(field, "expected ':' after an object key")
				}
			}
			if err := p.skip(depth+1, field); err != nil {
				return err
			}
			if p.Lit(",") {
				continue
			}
			if p.Peek(end) {
				p.I++
				return nil
			}
			return p.Fail(field, "expected ',' or '"+string(end)+"'")
		}
	case '"':
		_, _, err := p.str(field)
		return err
	case 't':
		return p.word("true", field)
	case 'f':
		return p.word("false", field)
	case 'n':
		return p.word("null", field)
	default:
		_, err := p.number(field)
		return err
	}
}

func (p *parser) word(w, field string) error {
	if !p.Lit(w) {
		return p.Fail(field, "invalid literal")
	}
	return nil
}

// base58 reads a string of base58 digits, between min and max of them, and
// returns them.
func (p *parser) base58(field string, min, max int) ([]byte, error) {
	b := p.B
	if p.I >= len(b) || b[p.I] != '"' {
		return nil, p.Fail(field, "not a base58 string")
	}
	start := p.I + 1
	i := start + base58Len(b[start:])
	if i >= len(b) || b[i] != '"' {
		p.I = i
		return nil, p.Fail(field, "not a base58 string")
	}
	if n := i - start; n < min || n > max {
		return nil, p.Fail(field, strconv.Itoa(n)+" base58 digits, not "+strconv.Itoa(min)+"–"+strconv.Itoa(max))
	}
	p.I = i + 1
	return b[start:i], nil
}

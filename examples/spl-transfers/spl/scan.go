package spl

import (
	"errors"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// ErrMalformed is matched (errors.Is) by every error about the bytes given
// to Map.
var ErrMalformed = errors.New("malformed input")

// InputError says where and why input was refused.
type InputError struct {
	Offset int    // byte offset in the input where the problem was found
	Field  string // path of the field being read, such as "instructions[3].params"; "" for the document
	Reason string
}

func (e *InputError) Error() string {
	s := "spl: input byte " + strconv.Itoa(e.Offset)
	if e.Field != "" {
		s += " (" + e.Field + ")"
	}
	return s + ": " + e.Reason
}

// Unwrap makes every InputError match ErrMalformed.
func (e *InputError) Unwrap() error { return ErrMalformed }

// maxDepth is how deep params may nest: source.DecodeSlot refuses a value
// nested deeper than 64 containers.
const maxDepth = 64

// parser reads the canonical encoding left to right. It never reads past b:
// every access is bounds-checked by the length tests before it.
type parser struct {
	b    []byte
	i    int
	elem int // index of the instruction being read, -1 outside the list
	// tmp receives unescaped strings (keys, numeric strings).
	tmp []byte
}

func (p *parser) fail(field, reason string) error {
	f := field
	if p.elem >= 0 {
		f = "instructions[" + strconv.Itoa(p.elem) + "]"
		if field != "" {
			f += "." + field
		}
	}
	return &InputError{Offset: p.i, Field: f, Reason: reason}
}

// lit consumes s if the input continues with it.
func (p *parser) lit(s string) bool {
	if len(p.b)-p.i >= len(s) && string(p.b[p.i:p.i+len(s)]) == s {
		p.i += len(s)
		return true
	}
	return false
}

// key consumes the literal introducing a field (such as `,"index":`).
func (p *parser) key(s, field string) error {
	if p.lit(s) {
		return nil
	}
	return p.expect(field, s)
}

// keyWords is key for the fields of every instruction, matched as words.
func (p *parser) keyWords(l *literal, s, field string) error {
	if l.match(p.b[p.i:]) {
		p.i += l.n
		return nil
	}
	return p.expect(field, s)
}

// expect is the error for a fixed part that is not there.
func (p *parser) expect(field, lit string) error {
	return p.fail(field, "expected "+strconv.Quote(lit)+" (the canonical encoding's fields, in order)")
}

func (p *parser) peek(c byte) bool { return p.i < len(p.b) && p.b[p.i] == c }

// maxUint64 and maxInt64 in decimal.
const (
	maxUint64 = "18446744073709551615"
	maxInt64  = "9223372036854775807"
)

// uint reads an unsigned decimal integer in canonical form (no sign,
// fraction, exponent or leading zero) not above max, which is maxUint64 or
// maxInt64.
func (p *parser) uint(field, max string) (uint64, error) {
	b := p.b
	i := p.i
	if len(b)-i >= 8 { // the common case: up to 7 digits, read as one word
		x := le64(b[i:])
		if n := firstFlag(notDigit(x)); n > 0 && n < 8 {
			next := byte(x >> (8 * n))
			if (n == 1 || x&0xff != '0') && next != '.' && next != 'e' && next != 'E' {
				p.i = i + n
				return parseDigits(x, n), nil
			}
		}
	}
	var v uint64
	for i < len(b) && b[i]-'0' <= 9 {
		v = v*10 + uint64(b[i]-'0')
		i++
	}
	n := i - p.i
	switch {
	case n == 0 || (i < len(b) && (b[i] == '.' || b[i] == 'e' || b[i] == 'E')):
		return 0, p.fail(field, "not an unsigned integer")
	case n > 1 && b[p.i] == '0':
		return 0, p.fail(field, "integer with a leading zero")
	case n > len(max) || (n == len(max) && string(b[p.i:i]) > max):
		return 0, p.fail(field, "integer exceeds "+max)
	}
	p.i = i
	return v, nil
}

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
	b := p.b
	if p.i >= len(b) || b[p.i] != '"' {
		return nil, false, p.fail(field, "not a string")
	}
	start := p.i + 1
	i := start
	for {
		for len(b)-i >= 8 {
			if m := stringStop(le64(b[i:])); m != 0 {
				i += firstFlag(m)
				break
			}
			i += 8
		}
		for i < len(b) && strPlain[b[i]] {
			i++
		}
		if i >= len(b) {
			p.i = i
			return nil, false, p.fail(field, "unterminated string")
		}
		switch b[i] {
		case '"':
			p.i = i + 1
			return b[start:i], esc, nil
		case '\\':
			esc = true
			if i+1 >= len(b) {
				p.i = i
				return nil, false, p.fail(field, "unterminated string")
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if hex4(b[i+2:]) < 0 {
					p.i = i
					return nil, false, p.fail(field, "invalid \\u escape")
				}
				i += 6
			default:
				p.i = i
				return nil, false, p.fail(field, "invalid escape")
			}
		default:
			p.i = i
			return nil, false, p.fail(field, "control character in string")
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
	n := numberLen(p.b[p.i:])
	if n == 0 {
		return nil, p.fail(field, "invalid number")
	}
	p.i += n
	return p.b[p.i-n : p.i], nil
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
		return p.fail(field, "params nest deeper than 64 levels")
	}
	if p.i >= len(p.b) {
		return p.fail(field, "unexpected end")
	}
	switch c := p.b[p.i]; c {
	case '{', '[':
		p.i++
		end := byte(']')
		if c == '{' {
			end = '}'
		}
		if p.peek(end) {
			p.i++
			return nil
		}
		for {
			if c == '{' {
				if _, _, err := p.str(field); err != nil {
					return err
				}
				if !p.lit(":") {
					return p.fail(field, "expected ':' after an object key")
				}
			}
			if err := p.skip(depth+1, field); err != nil {
				return err
			}
			if p.lit(",") {
				continue
			}
			if p.peek(end) {
				p.i++
				return nil
			}
			return p.fail(field, "expected ',' or '"+string(end)+"'")
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
	if !p.lit(w) {
		return p.fail(field, "invalid literal")
	}
	return nil
}

// base58 reads a string of base58 digits, between min and max of them, and
// returns them.
func (p *parser) base58(field string, min, max int) ([]byte, error) {
	b := p.b
	if p.i >= len(b) || b[p.i] != '"' {
		return nil, p.fail(field, "not a base58 string")
	}
	start := p.i + 1
	i := start + base58Len(b[start:])
	if i >= len(b) || b[i] != '"' {
		p.i = i
		return nil, p.fail(field, "not a base58 string")
	}
	if n := i - start; n < min || n > max {
		return nil, p.fail(field, strconv.Itoa(n)+" base58 digits, not "+strconv.Itoa(min)+"–"+strconv.Itoa(max))
	}
	p.i = i + 1
	return b[start:i], nil
}

// isDecimal reports whether s is an unsigned decimal integer in canonical
// form (digits only, no leading zero unless s is "0").
func isDecimal(s []byte) bool {
	if len(s) == 0 || (len(s) > 1 && s[0] == '0') {
		return false
	}
	for _, c := range s {
		if c-'0' > 9 {
			return false
		}
	}
	return true
}

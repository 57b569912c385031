package erc20

import (
	"errors"
	"strconv"
)

// ErrMalformed is matched (errors.Is) by every error about the bytes given
// to Map, ParseRow or Volume.
var ErrMalformed = errors.New("malformed input")

// InputError says where and why input was refused.
type InputError struct {
	Offset int    // byte offset in the input where the problem was found
	Field  string // path of the field being read, such as "logs[3].topics[1]"; "" for the document
	Reason string
}

func (e *InputError) Error() string {
	s := "erc20: input byte " + strconv.Itoa(e.Offset)
	if e.Field != "" {
		s += " (" + e.Field + ")"
	}
	return s + ": " + e.Reason
}

// Unwrap makes every InputError match ErrMalformed.
func (e *InputError) Unwrap() error { return ErrMalformed }

// parser reads a fixed-layout JSON document left to right. It never reads
// past b: every access is bounds-checked by the length tests before it.
type parser struct {
	b []byte
	i int
	// list and elem name the list element being read, for errors
	// (list "logs", elem 3: "logs[3]"); elem is -1 outside lists.
	list string
	elem int
}

func (p *parser) fail(field, reason string) error {
	f := field
	if p.elem >= 0 {
		f = p.list + "[" + strconv.Itoa(p.elem) + "]"
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

// key consumes the literal introducing a field (such as `,"hash":`).
func (p *parser) key(s, field string) error {
	if p.lit(s) {
		return nil
	}
	return p.fail(field, "expected "+strconv.Quote(s)+" (the canonical encoding's fields, in order)")
}

// maxUint64 is 2^64-1 in decimal.
const maxUint64 = "18446744073709551615"

// uint reads an unsigned decimal integer in canonical form (no sign,
// fraction, exponent or leading zero) that fits in 64 bits.
func (p *parser) uint(field string) (uint64, error) {
	b := p.b
	i := p.i
	if len(b)-i >= 8 { // the common case: up to 7 digits, read as one word
		x := le64(b[i:])
		if n := digitRun(x); n > 0 && n < 8 {
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
	case n > len(maxUint64) || (n == len(maxUint64) && string(b[p.i:i]) > maxUint64):
		return 0, p.fail(field, "integer exceeds 64 bits")
	}
	p.i = i
	return v, nil
}

// isHex marks lowercase hex digits: the canonical encoding has no others.
var isHex = func() (t [256]bool) {
	for _, c := range "0123456789abcdef" {
		t[c] = true
	}
	return t
}()

// hexVal is the value of a lowercase hex digit.
var hexVal = func() (t [256]uint8) {
	for i, c := range "0123456789abcdef" {
		t[c] = uint8(i)
	}
	return t
}()

// allHex reports whether s is lowercase hex digits only.
func allHex(s []byte) bool {
	for len(s) >= 8 {
		if !hex8(le64(s)) {
			return false
		}
		s = s[8:]
	}
	for _, c := range s {
		if !isHex[c] {
			return false
		}
	}
	return true
}

// hexN reads `"0x` and n bytes in lowercase hex then `"`, and returns the
// offset of the first hex digit.
func (p *parser) hexN(n int, field string) (int, error) {
	start := p.i + 3
	end := start + 2*n
	if end+1 > len(p.b) || p.b[p.i] != '"' || p.b[p.i+1] != '0' || p.b[p.i+2] != 'x' || p.b[end] != '"' || !allHex(p.b[start:end]) {
		return 0, p.fail(field, "not "+strconv.Itoa(n)+" bytes of 0x-prefixed lowercase hex")
	}
	p.i = end + 1
	return start, nil
}

// hexDigits reads any even number of lowercase hex digits and the closing
// `"` (the opening `"0x` is read) and returns the digits.
func (p *parser) hexDigits(field string) ([]byte, error) {
	b := p.b
	start := p.i
	i := start
	for len(b)-i >= 16 && hexBad(le64(b[i:]))|hexBad(le64(b[i+8:])) == 0 {
		i += 16
	}
	for len(b)-i >= 8 && hex8(le64(b[i:])) {
		i += 8
	}
	for i < len(b) && isHex[b[i]] {
		i++
	}
	p.i = i
	switch {
	case i >= len(b) || b[i] != '"':
		return nil, p.fail(field, "not 0x-prefixed lowercase hex")
	case (i-start)%2 != 0:
		return nil, p.fail(field, "odd number of hex digits")
	}
	p.i++
	return b[start:i], nil
}

// max256 is 2^256-1 in decimal: the largest value of a 32-byte word.
const max256 = "115792089237316195423570985008687907853269984665640564039457584007913129639935"

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

// decimal256 reads `"`, a canonical unsigned decimal of at most 256 bits,
// `"` and returns the digits.
func (p *parser) decimal256(field string) ([]byte, error) {
	b := p.b
	if p.i >= len(b) || b[p.i] != '"' {
		return nil, p.fail(field, "not a decimal string")
	}
	start := p.i + 1
	i := start
	for i < len(b) && b[i] != '"' {
		i++
	}
	d := b[start:i]
	switch {
	case i >= len(b):
		return nil, p.fail(field, "unterminated string")
	case !isDecimal(d):
		return nil, p.fail(field, "not an unsigned decimal integer in canonical form")
	case len(d) > len(max256) || (len(d) == len(max256) && string(d) > max256):
		return nil, p.fail(field, "integer exceeds 256 bits")
	}
	p.i = i + 1
	return d, nil
}

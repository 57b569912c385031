package erc20

import (
	"strconv"

	"github.com/ipdm/ipdm/examples/internal/scan"
)

// The cursor, the error type and the word-at-a-time helpers this scanner
// is built on are shared with the spl-transfers example; they live in
// examples/internal/scan.

// ErrMalformed is matched (errors.Is) by every error about the bytes given
// to Map, ParseRow or Volume.
var ErrMalformed = scan.ErrMalformed

// InputError says where and why input was refused (its Pkg is "erc20").
type InputError = scan.InputError

// parser reads a fixed-layout JSON document left to right: a scan.Cursor
// (input B read at I; List and Elem name the list element being read, for
// errors) plus this format's fields. It never reads past B: every access
// is bounds-checked by the length tests before it.
type parser struct {
	scan.Cursor
}

// newParser returns a parser at the start of b, outside lists; list names
// the list (such as "logs") whose elements it will read, for errors.
func newParser(b []byte, list string) parser {
	return parser{scan.Cursor{B: b, Pkg: "erc20", List: list, Elem: -1}}
}

// uint reads an unsigned decimal integer in canonical form (no sign,
// fraction, exponent or leading zero) that fits in 64 bits.
func (p *parser) uint(field string) (uint64, error) {
	return p.Uint(field, scan.MaxUint64, "integer exceeds 64 bits")
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
		if !hex8(scan.LE64(s)) {
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
	start := p.I + 3
	end := start + 2*n
	if end+1 > len(p.B) || p.B[p.I] != '"' || p.B[p.I+1] != '0' || p.B[p.I+2] != 'x' || p.B[end] != '"' || !allHex(p.B[start:end]) {
		return 0, p.Fail(field, "not "+strconv.Itoa(n)+" bytes of 0x-prefixed lowercase hex")
	}
	p.I = end + 1
	return start, nil
}

// hexDigits reads any even number of lowercase hex digits and the closing
// `"` (the opening `"0x` is read) and returns the digits.
func (p *parser) hexDigits(field string) ([]byte, error) {
	b := p.B
	start := p.I
	i := start
	for len(b)-i >= 16 && hexBad(scan.LE64(b[i:]))|hexBad(scan.LE64(b[i+8:])) == 0 {
		i += 16
	}
	for len(b)-i >= 8 && hex8(scan.LE64(b[i:])) {
		i += 8
	}
	for i < len(b) && isHex[b[i]] {
		i++
	}
	p.I = i
	switch {
	case i >= len(b) || b[i] != '"':
		return nil, p.Fail(field, "not 0x-prefixed lowercase hex")
	case (i-start)%2 != 0:
		return nil, p.Fail(field, "odd number of hex digits")
	}
	p.I++
	return b[start:i], nil
}

// max256 is 2^256-1 in decimal: the largest value of a 32-byte word.
const max256 = "115792089237316195423570985008687907853269984665640564039457584007913129639935"

// decimal256 reads `"`, a canonical unsigned decimal of at most 256 bits,
// `"` and returns the digits.
func (p *parser) decimal256(field string) ([]byte, error) {
	b := p.B
	if p.I >= len(b) || b[p.I] != '"' {
		return nil, p.Fail(field, "not a decimal string")
	}
	start := p.I + 1
	i := start
	for i < len(b) && b[i] != '"' {
		i++
	}
	d := b[start:i]
	switch {
	case i >= len(b):
		return nil, p.Fail(field, "unterminated string")
	case !scan.IsDecimal(d):
		return nil, p.Fail(field, "not an unsigned decimal integer in canonical form")
	case len(d) > len(max256) || (len(d) == len(max256) && string(d) > max256):
		return nil, p.Fail(field, "integer exceeds 256 bits")
	}
	p.I = i + 1
	return d, nil
}

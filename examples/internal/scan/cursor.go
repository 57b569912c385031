package scan

import (
	"errors"
	"strconv"
)

// ErrMalformed is matched (errors.Is) by every InputError: every error
// about the bytes given to a scanner built on Cursor.
var ErrMalformed = errors.New("malformed input")

// InputError says where and why input was refused.
type InputError struct {
	Pkg    string // the package that refused the input, such as "erc20": the message's prefix
	Offset int    // byte offset in the input where the problem was found
	Field  string // path of the field being read, such as "logs[3].topics[1]"; "" for the document
	Reason string
}

func (e *InputError) Error() string {
	s := e.Pkg + ": input byte " + strconv.Itoa(e.Offset)
	if e.Field != "" {
		s += " (" + e.Field + ")"
	}
	return s + ": " + e.Reason
}

// Unwrap makes every InputError match ErrMalformed.
func (e *InputError) Unwrap() error { return ErrMalformed }

// Cursor reads a fixed-layout JSON document left to right. It never reads
// past B: every access is bounds-checked by the length tests before it.
// A scanner embeds it in its parser and reads B at I directly where speed
// matters.
type Cursor struct {
	B []byte
	I int
	// Pkg prefixes the messages of the errors Fail returns.
	Pkg string
	// List and Elem name the list element being read, for errors (List
	// "logs", Elem 3: "logs[3]"); Elem is -1 outside lists.
	List string
	Elem int
}

// Fail returns the *InputError for field at the current offset: field is
// relative to the list element being read, if any.
func (c *Cursor) Fail(field, reason string) error {
	f := field
	if c.Elem >= 0 {
		f = c.List + "[" + strconv.Itoa(c.Elem) + "]"
		if field != "" {
			f += "." + field
		}
	}
	return &InputError{Pkg: c.Pkg, Offset: c.I, Field: f, Reason: reason}
}

// Lit consumes s if the input continues with it.
func (c *Cursor) Lit(s string) bool {
	if len(c.B)-c.I >= len(s) && string(c.B[c.I:c.I+len(s)]) == s {
		c.I += len(s)
		return true
	}
	return false
}

// Peek reports whether the input continues with b.
func (c *Cursor) Peek(b byte) bool { return c.I < len(c.B) && c.B[c.I] == b }

// Key consumes the literal introducing a field (such as `,"hash":`).
func (c *Cursor) Key(s, field string) error {
	if c.Lit(s) {
		return nil
	}
	return c.Expect(field, s)
}

// KeyWords is Key for a literal matched as words; s is its text, for the
// error.
func (c *Cursor) KeyWords(l *Literal, s, field string) error {
	if l.Match(c.B[c.I:]) {
		c.I += l.n
		return nil
	}
	return c.Expect(field, s)
}

// Expect is the error for a fixed part, lit, that is not there.
func (c *Cursor) Expect(field, lit string) error {
	return c.Fail(field, "expected "+strconv.Quote(lit)+" (the canonical encoding's fields, in order)")
}

// More reads what follows a member of an object or an element of a list
// (close is "}" or "]"): a ',' (more is true) or close (more is false).
// Anything else is an error about field: "expected ',' or close after
// what".
func (c *Cursor) More(close, field, what string) (more bool, err error) {
	if c.Lit(",") {
		return true, nil
	}
	if c.Lit(close) {
		return false, nil
	}
	return false, c.Fail(field, "expected ',' or '"+close+"' after "+what)
}

// NextElem reads what follows an element of the list named List: a ','
// (more is true), or the closing ']', after which the cursor is outside
// the list (Elem -1). Anything else is an error about the list: "expected
// ',' or ']' after what".
func (c *Cursor) NextElem(what string) (more bool, err error) {
	if c.Lit(",") {
		return true, nil
	}
	c.Elem = -1
	if c.Lit("]") {
		return false, nil
	}
	return false, c.Fail(c.List, "expected ',' or ']' after "+what)
}

// MaxUint64 and MaxInt64 in decimal, for Uint.
const (
	MaxUint64 = "18446744073709551615"
	MaxInt64  = "9223372036854775807"
)

// Uint reads an unsigned decimal integer in canonical form (no sign,
// fraction, exponent or leading zero) not above max, which is the decimal
// text of a number from 10,000,000 to MaxUint64 (such as MaxInt64). An
// integer above max is an error with
// reason tooBig.
func (c *Cursor) Uint(field, max, tooBig string) (uint64, error) {
	b := c.B
	i := c.I
	if len(b)-i >= 8 { // the common case: up to 7 digits, read as one word
		x := LE64(b[i:])
		if n := DigitRun(x); n > 0 && n < 8 {
			next := byte(x >> (8 * n))
			if (n == 1 || x&0xff != '0') && next != '.' && next != 'e' && next != 'E' {
				c.I = i + n
				return ParseDigits(x, n), nil
			}
		}
	}
	var v uint64
	for i < len(b) && b[i]-'0' <= 9 {
		v = v*10 + uint64(b[i]-'0')
		i++
	}
	n := i - c.I
	switch {
	case n == 0 || (i < len(b) && (b[i] == '.' || b[i] == 'e' || b[i] == 'E')):
		return 0, c.Fail(field, "not an unsigned integer")
	case n > 1 && b[c.I] == '0':
		return 0, c.Fail(field, "integer with a leading zero")
	case n > len(max) || (n == len(max) && string(b[c.I:i]) > max):
		return 0, c.Fail(field, tooBig)
	}
	c.I = i
	return v, nil
}

package scan

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"strconv"
	"testing"
)

func wordOf(b string) uint64 {
	var w [8]byte
	copy(w[:], b)
	return binary.LittleEndian.Uint64(w[:])
}

// Every byte value in every position.
func TestDigitRun(t *testing.T) {
	for c := 0; c < 256; c++ {
		for pos := range 8 {
			d := []byte("01234567")
			d[pos] = byte(c)
			want := pos
			if c >= '0' && c <= '9' {
				want = 8
			}
			if got := DigitRun(binary.LittleEndian.Uint64(d)); got != want {
				t.Fatalf("DigitRun(%q) = %d, want %d", d, got, want)
			}
			if got := FirstFlag(NotDigit(binary.LittleEndian.Uint64(d))); got != want {
				t.Fatalf("NotDigit(%q): first %d, want %d", d, got, want)
			}
		}
	}
}

func TestParseDigits(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for range 100_000 {
		n := 1 + r.IntN(8)
		v := r.Uint64N(100_000_000)
		s := strconv.FormatUint(v+100_000_000, 10)[9-n:] // n digits, maybe leading zeros
		want, _ := strconv.ParseUint(s, 10, 64)
		if got := ParseDigits(wordOf(s+"xxxxxxxx"), n); got != want {
			t.Fatalf("ParseDigits(%s, %d) = %d", s, n, got)
		}
	}
}

func TestUint(t *testing.T) {
	tests := []struct {
		in   string
		max  string
		want uint64
		ok   bool
		rest int // bytes left after the number
	}{
		{"0,", MaxUint64, 0, true, 1}, {"7}", MaxUint64, 7, true, 1}, {"1234567,", MaxUint64, 1234567, true, 1},
		{"12345678,", MaxUint64, 12345678, true, 1}, {"17173049", MaxUint64, 17173049, true, 0}, {"5", MaxUint64, 5, true, 0},
		{"18446744073709551615}", MaxUint64, 1<<64 - 1, true, 1}, {"18446744073709551616}", MaxUint64, 0, false, 0},
		{"9223372036854775807,", MaxInt64, 1<<63 - 1, true, 1}, {"9223372036854775808,", MaxInt64, 0, false, 0},
		{"00,xxxxxxx", MaxUint64, 0, false, 0}, {"01,xxxxxxx", MaxUint64, 0, false, 0}, {"012345678", MaxUint64, 0, false, 0},
		{"1.5,xxxxxx", MaxUint64, 0, false, 0}, {"1e5,xxxxxx", MaxUint64, 0, false, 0}, {"12E,xxxxxx", MaxUint64, 0, false, 0},
		{"-1,xxxxxxx", MaxUint64, 0, false, 0}, {",xxxxxxxx", MaxUint64, 0, false, 0}, {"", MaxUint64, 0, false, 0},
		{"\xff1234567", MaxUint64, 0, false, 0}, {"1\xb0,xxxxxx", MaxUint64, 1, true, 8},
	}
	for _, tt := range tests {
		c := Cursor{B: []byte(tt.in), Pkg: "t", Elem: -1}
		v, err := c.Uint("f", tt.max, "too big")
		if (err == nil) != tt.ok || (tt.ok && (v != tt.want || len(tt.in)-c.I != tt.rest)) {
			t.Errorf("Uint(%q) = %d, %v, rest %d", tt.in, v, err, len(tt.in)-c.I)
		}
	}
	c := Cursor{B: []byte("18446744073709551616"), Pkg: "t", Elem: -1}
	if _, err := c.Uint("f", MaxUint64, "too big"); err == nil || err.Error() != "t: input byte 0 (f): too big" {
		t.Errorf("overflow: %v", err)
	}
}

func TestLiteral(t *testing.T) {
	for _, s := range []string{`{"index":`, `,"transaction_hash":"0x`, `","transaction_index":`, `{"tx_signature":`, `,"instruction_type":`, "12345678", "123456789012345678901234"} {
		l := NewLiteral(s)
		if l.Len() != len(s) {
			t.Errorf("%q: Len %d", s, l.Len())
		}
		if !l.Match([]byte(s+"tail")) || !l.Match([]byte(s)) || l.Match([]byte(s[:len(s)-1])) || l.Diff([]byte(s+"tail")) != 0 {
			t.Errorf("%q does not match itself", s)
		}
		for i := range len(s) {
			bad := []byte(s)
			bad[i] ^= 0x20
			if l.Match(bad) || l.Diff(bad) == 0 {
				t.Errorf("%q matches %q", s, bad)
			}
		}
	}
}

func TestIsDecimal(t *testing.T) {
	for s, want := range map[string]bool{"0": true, "7": true, "1234567890123": true, "": false, "00": false, "01": false, "1a": false, "-1": false, "1.0": false} {
		if got := IsDecimal([]byte(s)); got != want {
			t.Errorf("IsDecimal(%q) = %v", s, got)
		}
	}
}

// Errors name the package, the offset and the field within the list
// element being read; every one matches ErrMalformed.
func TestCursorErrors(t *testing.T) {
	c := Cursor{B: []byte(`{"a":1,"b":2]x`), Pkg: "p", List: "items", Elem: -1}
	if err := c.Key(`{"a":`, "a"); err != nil || c.I != 5 {
		t.Fatalf("Key: %v at %d", err, c.I)
	}
	err := c.Key(`,"b":`, "b")
	var ie *InputError
	if !errors.Is(err, ErrMalformed) || !errors.As(err, &ie) || ie.Offset != 5 || ie.Field != "b" ||
		err.Error() != `p: input byte 5 (b): expected ",\"b\":" (the canonical encoding's fields, in order)` {
		t.Errorf("Key mismatch: %v", err)
	}
	c.Elem = 2
	if err := c.Fail("", "bad"); err.Error() != "p: input byte 5 (items[2]): bad" {
		t.Errorf("Fail in an element: %v", err)
	}
	if err := c.Fail("x", "bad"); err.Error() != "p: input byte 5 (items[2].x): bad" {
		t.Errorf("Fail in an element's field: %v", err)
	}
	c.I = 6
	if !c.Peek(',') || c.Peek('"') {
		t.Error("Peek")
	}
	if more, err := c.NextElem("an item"); !more || err != nil || c.Elem != 2 {
		t.Errorf("NextElem at ',': %v %v, Elem %d", more, err, c.Elem)
	}
	c.I = 12
	if more, err := c.NextElem("an item"); more || err != nil || c.Elem != -1 || c.I != 13 {
		t.Errorf("NextElem at ']': %v %v, Elem %d", more, err, c.Elem)
	}
	c.Elem = 0
	if _, err := c.NextElem("an item"); err == nil || err.Error() != "p: input byte 13 (items): expected ',' or ']' after an item" {
		t.Errorf("NextElem at 'x': %v", err)
	}
	c.I, c.Elem = 12, 1
	if more, err := c.More("}", "m", "a member"); more || err == nil || err.Error() != "p: input byte 12 (items[1].m): expected ',' or '}' after a member" {
		t.Errorf("More at ']': %v %v", more, err)
	}
	if more, err := c.More("]", "m", "a member"); more || err != nil || c.I != 13 {
		t.Errorf("More closing: %v %v", more, err)
	}
	l := NewLiteral(`,"b":2]x`)
	c.I = 6
	if err := c.KeyWords(&l, `,"b":2]x`, "b"); err != nil || c.I != 14 {
		t.Errorf("KeyWords: %v at %d", err, c.I)
	}
	if err := c.KeyWords(&l, `,"b":2]x`, "b"); err == nil {
		t.Error("KeyWords at the end")
	}
}

func TestRows(t *testing.T) {
	var r Rows
	mapDoc := func(doc []byte, emit func([]byte)) error {
		r.Reset()
		for _, w := range bytes.Fields(doc) {
			r.Buf = append(r.Buf, w...)
			r.End()
		}
		r.Emit(emit)
		return nil
	}
	for range 2 { // the second time reuses the memory
		got, err := Collect([]byte("a bb  ccc"), mapDoc)
		if err != nil || len(got) != 3 || string(got[0]) != "a" || string(got[1]) != "bb" || string(got[2]) != "ccc" {
			t.Fatalf("Collect = %q, %v", got, err)
		}
	}
	r.Emit(func(row []byte) {
		if cap(row) != len(row) {
			t.Errorf("row %q has capacity %d past its end", row, cap(row))
		}
	})
}

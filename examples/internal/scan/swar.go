package scan

import (
	"encoding/binary"
	"math/bits"
)

// Word-at-a-time ("SWAR", SIMD within a register) helpers. Go compiled to
// Wasm pays for every taken branch (a jump back to the function's dispatch
// loop, then a br_table), for every byte-table lookup and for every call
// (runtime.memequal is a byte loop there), so the scanners classify eight
// bytes per step with plain 64-bit arithmetic and compare fixed strings as
// whole words: straight-line code that both native and Wasm builds run
// fast.

// Ones and Highs are 0x01 and 0x80 in every byte of a word.
const (
	Ones  = 0x0101010101010101
	Highs = 0x8080808080808080
)

// LE64 loads eight bytes little-endian: one i64.load in Wasm.
func LE64(b []byte) uint64 { return binary.LittleEndian.Uint64(b) }

// LE64s is LE64 of a string's first eight bytes (used at init).
func LE64s(s string) uint64 { return binary.LittleEndian.Uint64([]byte(s[:8])) }

// InRange returns a word with the high bit of each byte of x set if that
// byte is in [lo, hi] (lo <= hi < 0x80), for bytes below 0x80. Adding
// 0x80-c to a byte below 0x80 sets its high bit exactly when it is at
// least c, without carrying into the next byte. A byte from 0x80 up may
// carry into the flags of the bytes after it, never before it, so the
// first flagged byte is always right.
func InRange(x uint64, lo, hi uint64) uint64 {
	return (x + (0x80-lo)*Ones) &^ (x + (0x80-hi-1)*Ones) & Highs
}

// FirstFlag returns the index of the first byte whose high bit is set in
// m, 8 if none.
func FirstFlag(m uint64) int { return bits.TrailingZeros64(m) >> 3 }

// NotDigit flags the bytes of x that are not ASCII digits; the lowest flag
// is exact (a byte from 0x80 up is flagged itself; the carries it may
// cause only touch later bytes).
func NotDigit(x uint64) uint64 { return (x | ^InRange(x, '0', '9')) & Highs }

// DigitRun returns how many of the eight bytes of x, from the first, are
// ASCII digits (8 if all are).
func DigitRun(x uint64) int { return FirstFlag(NotDigit(x)) }

// ParseDigits returns the value of the first n (1 to 8) bytes of x, which
// are ASCII digits: the digits are shifted to the top of the word (the
// bytes shifted in are leading zeros) and combined pairwise, three
// multiplications in all.
func ParseDigits(x uint64, n int) uint64 {
	v := (x & (0x0f * Ones)) << (8 * (8 - n))
	v = (v * (10<<8 + 1)) >> 8 & 0x00ff00ff00ff00ff
	v = (v * (100<<16 + 1)) >> 16 & 0x0000ffff0000ffff
	return (v * (10000<<32 + 1)) >> 32
}

// Literal is a fixed string of 8 to 24 bytes matched with three
// overlapping word loads (runtime.memequal is a byte loop in Wasm).
type Literal struct {
	n, mid     int
	w0, wm, wl uint64
}

// NewLiteral returns s as a Literal. It panics if s is not 8 to 24 bytes
// long: literals are constants of the scanners, so that is a programming
// error, caught by any test.
func NewLiteral(s string) Literal {
	if len(s) < 8 || len(s) > 24 {
		panic("scan: literal " + s + " is not 8 to 24 bytes")
	}
	mid := min(8, len(s)-8)
	return Literal{n: len(s), mid: mid, w0: LE64s(s), wm: LE64s(s[mid:]), wl: LE64s(s[len(s)-8:])}
}

// Len is the length of the literal in bytes.
func (l *Literal) Len() int { return l.n }

// Match reports whether b starts with l.
// (The test is written out rather than calling Diff so that Match stays
// within the compiler's inlining budget.)
func (l *Literal) Match(b []byte) bool {
	return len(b) >= l.n && (LE64(b)^l.w0)|(LE64(b[l.mid:])^l.wm)|(LE64(b[l.n-8:])^l.wl) == 0
}

// Diff is zero exactly when b, at least l.Len() bytes long, starts with l.
func (l *Literal) Diff(b []byte) uint64 {
	return (LE64(b) ^ l.w0) | (LE64(b[l.mid:]) ^ l.wm) | (LE64(b[l.n-8:]) ^ l.wl)
}

// IsDecimal reports whether s is an unsigned decimal integer in canonical
// form (digits only, no leading zero unless s is "0").
func IsDecimal(s []byte) bool {
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

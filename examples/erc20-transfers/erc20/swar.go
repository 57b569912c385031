package erc20

import (
	"encoding/binary"
	"math/bits"
)

// Word-at-a-time ("SWAR", SIMD within a register) helpers. Go compiled to
// Wasm pays for every taken branch (a jump back to the function's dispatch
// loop, then a br_table) and for every call (runtime.memequal is a byte
// loop there), so the scanner checks eight bytes per step with plain 64-bit
// arithmetic and compares fixed strings as whole words: straight-line code
// that both native and Wasm builds run fast.

// ones and highs are 0x01 and 0x80 in every byte of a word.
const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// le64 loads eight bytes little-endian: one i64.load in Wasm.
func le64(b []byte) uint64 { return binary.LittleEndian.Uint64(b) }

// le64s is le64 of a string's first eight bytes (used at init).
func le64s(s string) uint64 { return binary.LittleEndian.Uint64([]byte(s[:8])) }

// inRange returns a word with the high bit of each byte of x set if that
// byte is in [lo, hi] (lo <= hi < 0x80), for bytes below 0x80. Adding
// 0x80-c to a byte below 0x80 sets its high bit exactly when it is at
// least c, without carrying into the next byte.
func inRange(x uint64, lo, hi uint64) uint64 {
	return (x + (0x80-lo)*ones) &^ (x + (0x80-hi-1)*ones) & highs
}

// hexBad is zero exactly when all eight bytes of x are lowercase hex
// digits. (Bytes from 0x80 up may carry into their neighbours' flags; they
// make the result non-zero all the same.)
func hexBad(x uint64) uint64 {
	return (x | ^(inRange(x, '0', '9') | inRange(x, 'a', 'f'))) & highs
}

// hex8 reports whether the eight bytes of x are all lowercase hex digits.
func hex8(x uint64) bool { return hexBad(x) == 0 }

// hexBad64 is zero exactly when b[:64] is lowercase hex; len(b) >= 64.
func hexBad64(b []byte) uint64 {
	_ = b[63]
	return hexBad(le64(b[0:8])) | hexBad(le64(b[8:16])) | hexBad(le64(b[16:24])) | hexBad(le64(b[24:32])) |
		hexBad(le64(b[32:40])) | hexBad(le64(b[40:48])) | hexBad(le64(b[48:56])) | hexBad(le64(b[56:64]))
}

// hexBad40 is zero exactly when b[:40] is lowercase hex; len(b) >= 40.
func hexBad40(b []byte) uint64 {
	_ = b[39]
	return hexBad(le64(b[0:8])) | hexBad(le64(b[8:16])) | hexBad(le64(b[16:24])) | hexBad(le64(b[24:32])) | hexBad(le64(b[32:40]))
}

// hex64 reports whether b[:64] is lowercase hex; len(b) >= 64.
func hex64(b []byte) bool { return hexBad64(b) == 0 }

// hex40 reports whether b[:40] is lowercase hex; len(b) >= 40.
func hex40(b []byte) bool { return hexBad40(b) == 0 }

// digitRun returns how many of the eight bytes of x, from the first, are
// ASCII digits (8 if all are).
func digitRun(x uint64) int {
	// A byte from 0x80 up is marked itself; the carries it may cause only
	// touch later bytes, past the first non-digit.
	nondigit := (x | ^inRange(x, '0', '9')) & highs
	return bits.TrailingZeros64(nondigit) >> 3
}

// parseDigits returns the value of the first n (1 to 8) bytes of x, which
// are ASCII digits: the digits are shifted to the top of the word (the
// bytes shifted in are leading zeros) and combined pairwise, three
// multiplications in all.
func parseDigits(x uint64, n int) uint64 {
	v := (x & (0x0f * ones)) << (8 * (8 - n))
	v = (v * (10<<8 + 1)) >> 8 & 0x00ff00ff00ff00ff
	v = (v * (100<<16 + 1)) >> 16 & 0x0000ffff0000ffff
	return (v * (10000<<32 + 1)) >> 32
}

// literal is a fixed string of 8 to 24 bytes matched with three
// overlapping word loads.
type literal struct {
	n, mid     int
	w0, wm, wl uint64
}

func newLiteral(s string) literal {
	if len(s) < 8 || len(s) > 24 {
		panic("erc20: literal " + s + " is not 8 to 24 bytes") // a programming error, caught by any test
	}
	mid := min(8, len(s)-8)
	return literal{n: len(s), mid: mid, w0: le64s(s), wm: le64s(s[mid:]), wl: le64s(s[len(s)-8:])}
}

// match reports whether b starts with l.
func (l *literal) match(b []byte) bool { return len(b) >= l.n && l.diff(b) == 0 }

// diff is zero exactly when b, at least l.n bytes long, starts with l.
func (l *literal) diff(b []byte) uint64 {
	return (le64(b) ^ l.w0) | (le64(b[l.mid:]) ^ l.wm) | (le64(b[l.n-8:]) ^ l.wl)
}

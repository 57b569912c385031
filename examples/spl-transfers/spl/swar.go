package spl

import (
	"encoding/binary"
	"math/bits"
)

// Word-at-a-time ("SWAR", SIMD within a register) helpers. Go compiled to
// Wasm pays for every taken branch and every byte-table lookup, so the
// scanner classifies eight bytes per step with plain 64-bit arithmetic:
// straight-line code that both native and Wasm builds run fast.

// ones and highs are 0x01 and 0x80 in every byte of a word.
const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// le64 loads eight bytes little-endian: one i64.load in Wasm.
func le64(b []byte) uint64 { return binary.LittleEndian.Uint64(b) }

// inRange returns a word with the high bit of each byte of x set if that
// byte is in [lo, hi] (lo <= hi < 0x80), for bytes below 0x80. Adding
// 0x80-c to a byte below 0x80 sets its high bit exactly when it is at
// least c, without carrying into the next byte. A byte from 0x80 up may
// carry into the flags of the bytes after it, never before it, so the
// first flagged byte is always right.
func inRange(x uint64, lo, hi uint64) uint64 {
	return (x + (0x80-lo)*ones) &^ (x + (0x80-hi-1)*ones) & highs
}

// firstFlag returns the index of the first byte whose high bit is set in
// m, 8 if none.
func firstFlag(m uint64) int { return bits.TrailingZeros64(m) >> 3 }

// stringStop flags the bytes of x that end a run of plain string bytes:
// '"', '\\' and control characters. The lowest flag is exact (the zero-byte
// test's borrows only reach later bytes).
func stringStop(x uint64) uint64 {
	q := x ^ '"'*ones
	s := x ^ '\\'*ones
	return ((q-ones)&^q | (s-ones)&^s | (x-0x20*ones)&^x) & highs
}

// base58Len returns how many bytes at the start of b are in the base58
// alphabet (1-9 A-H J-N P-Z a-k m-z). The word test is written out here
// rather than in a function of its own so that it is inlined (it is over
// the compiler's inlining budget), saving a call per eight bytes.
func base58Len(b []byte) int {
	i := 0
	for len(b)-i >= 8 {
		x := le64(b[i:])
		in := inRange(x, '1', '9') | inRange(x, 'A', 'H') | inRange(x, 'J', 'N') | inRange(x, 'P', 'Z') |
			inRange(x, 'a', 'k') | inRange(x, 'm', 'z')
		if m := (x | ^in) & highs; m != 0 {
			return i + firstFlag(m)
		}
		i += 8
	}
	for i < len(b) && isBase58[b[i]] {
		i++
	}
	return i
}

// literal is a fixed string of 8 to 24 bytes matched with three
// overlapping word loads (runtime.memequal is a byte loop in Wasm).
type literal struct {
	n, mid     int
	w0, wm, wl uint64
}

func newLiteral(s string) literal {
	if len(s) < 8 || len(s) > 24 {
		panic("spl: literal " + s + " is not 8 to 24 bytes") // a programming error, caught by any test
	}
	le := func(s string) uint64 { return binary.LittleEndian.Uint64([]byte(s[:8])) }
	mid := min(8, len(s)-8)
	return literal{n: len(s), mid: mid, w0: le(s), wm: le(s[mid:]), wl: le(s[len(s)-8:])}
}

// match reports whether b starts with l.
func (l *literal) match(b []byte) bool {
	return len(b) >= l.n && (le64(b)^l.w0)|(le64(b[l.mid:])^l.wm)|(le64(b[l.n-8:])^l.wl) == 0
}

// notDigit flags the bytes of x that are not ASCII digits; the lowest flag
// is exact.
func notDigit(x uint64) uint64 { return (x | ^inRange(x, '0', '9')) & highs }

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

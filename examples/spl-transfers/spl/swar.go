package spl

import "github.com/ipdm/ipdm/examples/internal/scan"

// Word-at-a-time classes of this format's bytes, on top of the shared
// helpers in examples/internal/scan (which say why: Go compiled to Wasm
// pays for every taken branch and every byte-table lookup, so straight-line
// 64-bit arithmetic is fast in both native and Wasm builds).

// stringStop flags the bytes of x that end a run of plain string bytes:
// '"', '\\' and control characters. The lowest flag is exact (the zero-byte
// test's borrows only reach later bytes).
func stringStop(x uint64) uint64 {
	q := x ^ '"'*scan.Ones
	s := x ^ '\\'*scan.Ones
	return ((q-scan.Ones)&^q | (s-scan.Ones)&^s | (x-0x20*scan.Ones)&^x) & scan.Highs
}

// base58Len returns how many bytes at the start of b are in the base58
// alphabet (1-9 A-H J-N P-Z a-k m-z). The word test is written out here
// rather than in a function of its own so that it is inlined (it is over
// the compiler's inlining budget), saving a call per eight bytes.
func base58Len(b []byte) int {
	i := 0
	for len(b)-i >= 8 {
		x := scan.LE64(b[i:])
		in := scan.InRange(x, '1', '9') | scan.InRange(x, 'A', 'H') | scan.InRange(x, 'J', 'N') | scan.InRange(x, 'P', 'Z') |
			scan.InRange(x, 'a', 'k') | scan.InRange(x, 'm', 'z')
		if m := (x | ^in) & scan.Highs; m != 0 {
			return i + scan.FirstFlag(m)
		}
		i += 8
	}
	for i < len(b) && isBase58[b[i]] {
		i++
	}
	return i
}

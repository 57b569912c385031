package erc20

import "github.com/ipdm/ipdm/examples/internal/scan"

// Word-at-a-time checks of lowercase hex, on top of the shared helpers in
// examples/internal/scan (which say why: Go compiled to Wasm pays for every
// taken branch and every call, so straight-line 64-bit arithmetic is fast
// in both native and Wasm builds).

// hexBad is zero exactly when all eight bytes of x are lowercase hex
// digits. (Bytes from 0x80 up may carry into their neighbours' flags; they
// make the result non-zero all the same.)
func hexBad(x uint64) uint64 {
	return (x | ^(scan.InRange(x, '0', '9') | scan.InRange(x, 'a', 'f'))) & scan.Highs
}

// hex8 reports whether the eight bytes of x are all lowercase hex digits.
func hex8(x uint64) bool { return hexBad(x) == 0 }

// hexBad64 is zero exactly when b[:64] is lowercase hex; len(b) >= 64.
func hexBad64(b []byte) uint64 {
	_ = b[63]
	return hexBad(scan.LE64(b[0:8])) | hexBad(scan.LE64(b[8:16])) | hexBad(scan.LE64(b[16:24])) | hexBad(scan.LE64(b[24:32])) |
		hexBad(scan.LE64(b[32:40])) | hexBad(scan.LE64(b[40:48])) | hexBad(scan.LE64(b[48:56])) | hexBad(scan.LE64(b[56:64]))
}

// hexBad40 is zero exactly when b[:40] is lowercase hex; len(b) >= 40.
func hexBad40(b []byte) uint64 {
	_ = b[39]
	return hexBad(scan.LE64(b[0:8])) | hexBad(scan.LE64(b[8:16])) | hexBad(scan.LE64(b[16:24])) | hexBad(scan.LE64(b[24:32])) | hexBad(scan.LE64(b[32:40]))
}

// hex64 reports whether b[:64] is lowercase hex; len(b) >= 64.
func hex64(b []byte) bool { return hexBad64(b) == 0 }

// hex40 reports whether b[:40] is lowercase hex; len(b) >= 40.
func hex40(b []byte) bool { return hexBad40(b) == 0 }

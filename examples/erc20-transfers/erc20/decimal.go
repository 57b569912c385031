package erc20

import (
	"encoding/binary"
	"math/bits"

	"github.com/ipdm/ipdm/examples/internal/scan"
)

// Hex words to exact decimals without math/big or division instructions:
// eight hex digits become a 32-bit limb in a few word operations, limbs
// are divided by 10^8 (a multiplication by the compiler's reciprocal), and
// each 8-digit chunk becomes eight ASCII digits in one word.

// hex8Value returns the value of the eight lowercase hex digits in x (the
// first digit, most significant, in the lowest byte).
func hex8Value(x uint64) uint32 {
	// Each byte to its nibble: '0'-'9' are 0x30-0x39, 'a'-'f' 0x61-0x66.
	v := x&(0x0f*scan.Ones) + (x>>6)&scan.Ones*9
	// Pack the nibbles: pairs into bytes, bytes into 16-bit lanes, lanes
	// into 32 bits, the earlier digit in the higher position each time.
	v = (v<<4 | v>>8) & 0x00ff00ff00ff00ff
	v = (v<<8 | v>>16) & 0x0000ffff0000ffff
	return uint32(v<<16 | v>>32)
}

// digits8 returns n (below 10^8) as eight ASCII digits with leading zeros,
// the first digit in the lowest byte.
func digits8(n uint32) uint64 {
	// Split into 4-digit halves in 32-bit lanes, then each lane into
	// 2-digit halves in 16-bit lanes, then those into digits in bytes;
	// quotients by 100 and 10 are multiplications by 5243/2^19 and 103/2^10,
	// exact for the ranges involved.
	v := uint64(n/10000) | uint64(n%10000)<<32
	q := (v * 5243 >> 19) & (0x7f | 0x7f<<32)
	v = q | (v-q*100)<<16
	q = (v * 103 >> 10) & (0x0f * 0x0001000100010001)
	v = q | (v-q*10)<<8
	return v + '0'*scan.Ones
}

// appendSmall appends n (below 10^8) in decimal without leading zeros.
func appendSmall(dst []byte, n uint32) []byte {
	x := digits8(n)
	lz := 7 // "0" keeps its digit
	if n != 0 {
		lz = bits.TrailingZeros64(x^'0'*scan.Ones) >> 3
	}
	dst = binary.LittleEndian.AppendUint64(dst, x>>(8*lz))
	return dst[:len(dst)-lz]
}

// appendUint64 appends v in decimal.
func appendUint64(dst []byte, v uint64) []byte {
	const e8 = 100_000_000
	if v < e8 {
		return appendSmall(dst, uint32(v))
	}
	hi, lo := v/e8, uint32(v%e8)
	if hi < e8 {
		dst = appendSmall(dst, uint32(hi))
	} else {
		dst = appendSmall(dst, uint32(hi/e8))
		dst = binary.LittleEndian.AppendUint64(dst, digits8(uint32(hi%e8)))
	}
	return binary.LittleEndian.AppendUint64(dst, digits8(lo))
}

// appendHexDecimal appends the unsigned decimal value of h, lowercase hex
// digits (at most 64: one word; a short data word may be shorter).
func appendHexDecimal(dst, h []byte) []byte {
	var limbs [8]uint32 // limbs[0] most significant
	if len(h) == wordHex {
		_ = h[63]
		limbs = [8]uint32{
			hex8Value(scan.LE64(h[0:8])), hex8Value(scan.LE64(h[8:16])), hex8Value(scan.LE64(h[16:24])), hex8Value(scan.LE64(h[24:32])),
			hex8Value(scan.LE64(h[32:40])), hex8Value(scan.LE64(h[40:48])), hex8Value(scan.LE64(h[48:56])), hex8Value(scan.LE64(h[56:64])),
		}
	} else {
		for k := 0; k < len(h); k++ {
			limb := 7 - (len(h)-1-k)/8
			limbs[limb] = limbs[limb]<<4 | uint32(hexVal[h[k]])
		}
	}
	top := 0
	for top < 6 && limbs[top] == 0 {
		top++
	}
	if top == 6 {
		return appendUint64(dst, uint64(limbs[6])<<32|uint64(limbs[7]))
	}
	// Long division by 10^8, least significant chunk first; 2^256 < 10^80.
	const e8 = 100_000_000
	var chunks [10]uint32
	nc := 0
	for top < 8 {
		var rem uint64
		for j := top; j < 8; j++ {
			cur := rem<<32 | uint64(limbs[j])
			limbs[j] = uint32(cur / e8)
			rem = cur % e8
		}
		chunks[nc] = uint32(rem)
		nc++
		for top < 8 && limbs[top] == 0 {
			top++
		}
	}
	dst = appendSmall(dst, chunks[nc-1])
	for k := nc - 2; k >= 0; k-- {
		dst = binary.LittleEndian.AppendUint64(dst, digits8(chunks[k]))
	}
	return dst
}

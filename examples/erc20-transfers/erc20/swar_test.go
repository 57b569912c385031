package erc20

import (
	"encoding/binary"
	"testing"
)

// Every byte value in every position, against the byte table. (The
// shared word helpers are tested in examples/internal/scan.)
func TestHexBad(t *testing.T) {
	for c := 0; c < 256; c++ {
		for pos := range 8 {
			b := []byte("0123abcd")
			b[pos] = byte(c)
			if got := hex8(binary.LittleEndian.Uint64(b)); got != isHex[c] {
				t.Fatalf("hex8(%q) = %v", b, got)
			}
		}
	}
	var b [64]byte
	for i := range b {
		b[i] = "0123456789abcdef"[i%16]
	}
	if !hex64(b[:]) || !hex40(b[:]) {
		t.Fatal("hex64/hex40 refuse hex")
	}
	for i := range 64 {
		c := b[i]
		b[i] = 'A'
		if hex64(b[:]) || (i < 40 && hex40(b[:])) || (i >= 40 && !hex40(b[:])) {
			t.Fatalf("hex64/hex40 with 'A' at %d", i)
		}
		b[i] = c
	}
}

func TestUint(t *testing.T) {
	tests := []struct {
		in   string
		want uint64
		ok   bool
		rest int // bytes left after the number
	}{
		{"0,", 0, true, 1}, {"7}", 7, true, 1}, {"1234567,", 1234567, true, 1}, {"12345678,", 12345678, true, 1},
		{"17173049", 17173049, true, 0}, {"5", 5, true, 0}, {"18446744073709551615}", 1<<64 - 1, true, 1},
		{"18446744073709551616}", 0, false, 0}, {"00,xxxxxxx", 0, false, 0}, {"01,xxxxxxx", 0, false, 0}, {"012345678", 0, false, 0},
		{"1.5,xxxxxx", 0, false, 0}, {"1e5,xxxxxx", 0, false, 0}, {"12E,xxxxxx", 0, false, 0}, {"-1,xxxxxxx", 0, false, 0},
		{",xxxxxxxx", 0, false, 0}, {"", 0, false, 0}, {"\xff1234567", 0, false, 0}, {"1\xb0,xxxxxx", 1, true, 8},
	}
	for _, tt := range tests {
		p := newParser([]byte(tt.in), "")
		v, err := p.uint("f")
		if (err == nil) != tt.ok || (tt.ok && (v != tt.want || len(tt.in)-p.I != tt.rest)) {
			t.Errorf("uint(%q) = %d, %v, rest %d", tt.in, v, err, len(tt.in)-p.I)
		}
	}
}

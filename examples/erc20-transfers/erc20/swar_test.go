package erc20

import (
	"encoding/binary"
	"math/rand/v2"
	"strconv"
	"testing"
)

func wordOf(b string) uint64 {
	var w [8]byte
	copy(w[:], b)
	return binary.LittleEndian.Uint64(w[:])
}

// Every byte value in every position, against the byte tables.
func TestHexBadAndDigitRun(t *testing.T) {
	for c := 0; c < 256; c++ {
		for pos := range 8 {
			b := []byte("0123abcd")
			b[pos] = byte(c)
			if got := hex8(binary.LittleEndian.Uint64(b)); got != isHex[c] {
				t.Fatalf("hex8(%q) = %v", b, got)
			}
			d := []byte("01234567")
			d[pos] = byte(c)
			want := pos
			if c >= '0' && c <= '9' {
				want = 8
			}
			if got := digitRun(binary.LittleEndian.Uint64(d)); got != want {
				t.Fatalf("digitRun(%q) = %d, want %d", d, got, want)
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

func TestParseDigits(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for range 100_000 {
		n := 1 + r.IntN(8)
		v := r.Uint64N(100_000_000)
		s := strconv.FormatUint(v+100_000_000, 10)[9-n:] // n digits, maybe leading zeros
		want, _ := strconv.ParseUint(s, 10, 64)
		if got := parseDigits(wordOf(s+"xxxxxxxx"), n); got != want {
			t.Fatalf("parseDigits(%s, %d) = %d", s, n, got)
		}
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
		p := parser{b: []byte(tt.in), elem: -1}
		v, err := p.uint("f")
		if (err == nil) != tt.ok || (tt.ok && (v != tt.want || len(tt.in)-p.i != tt.rest)) {
			t.Errorf("uint(%q) = %d, %v, rest %d", tt.in, v, err, len(tt.in)-p.i)
		}
	}
}

func TestLiteral(t *testing.T) {
	for _, s := range []string{`{"index":`, `,"transaction_hash":"0x`, `","transaction_index":`, `,"address":"0x`, `","topics":[`, `,"data":"0x`, "12345678", "123456789012345678901234"} {
		l := newLiteral(s)
		in := []byte(s + "tail")
		if !l.match(in) || !l.match([]byte(s)) || l.match([]byte(s[:len(s)-1])) {
			t.Errorf("%q: does not match itself", s)
		}
		for i := range len(s) {
			bad := []byte(s)
			bad[i] ^= 0x20
			if l.match(bad) {
				t.Errorf("%q matches %q", s, bad)
			}
		}
	}
}

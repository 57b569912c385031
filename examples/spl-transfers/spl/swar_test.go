package spl

import (
	"encoding/binary"
	"math/rand/v2"
	"strconv"
	"testing"
)

// Every byte value in every position, against the byte tables.
func TestWordClasses(t *testing.T) {
	for c := 0; c < 256; c++ {
		for pos := range 8 {
			s := []byte("abcd1234")
			s[pos] = byte(c)
			want := 8
			if !strPlain[c] {
				want = pos
			}
			if got := firstFlag(stringStop(binary.LittleEndian.Uint64(s))); got != want {
				t.Fatalf("stringStop(%q): first stop %d, want %d", s, got, want)
			}
			d := []byte("01234567")
			d[pos] = byte(c)
			want = 8
			if c < '0' || c > '9' {
				want = pos
			}
			if got := firstFlag(notDigit(binary.LittleEndian.Uint64(d))); got != want {
				t.Fatalf("notDigit(%q): first %d, want %d", d, got, want)
			}
			b := []byte("2kh6x4MPZKajdGPa")
			b[pos] = byte(c)
			want = len(b)
			if !isBase58[c] {
				want = pos
			}
			if got := base58Len(b); got != want {
				t.Fatalf("base58Len(%q) = %d, want %d", b, got, want)
			}
		}
	}
	// A stop after a byte from 0x80 up is still found exactly.
	if got := firstFlag(stringStop(binary.LittleEndian.Uint64([]byte("\xff\xff\"abcde")))); got != 2 {
		t.Errorf("stringStop after 0xff: %d", got)
	}
	if got := base58Len([]byte("abc")); got != 3 {
		t.Errorf("base58Len(abc) = %d", got)
	}
}

func TestParseDigits(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for range 100_000 {
		n := 1 + r.IntN(8)
		s := strconv.FormatUint(r.Uint64N(100_000_000)+100_000_000, 10)[9-n:]
		want, _ := strconv.ParseUint(s, 10, 64)
		var w [8]byte
		copy(w[:], s+"xxxxxxxx")
		if got := parseDigits(binary.LittleEndian.Uint64(w[:]), n); got != want {
			t.Fatalf("parseDigits(%s, %d) = %d", s, n, got)
		}
	}
}

func TestUint(t *testing.T) {
	tests := []struct {
		in   string
		max  string
		want uint64
		ok   bool
	}{
		{"0,xxxxxxx", maxUint64, 0, true}, {"1234567,", maxUint64, 1234567, true}, {"12345678,", maxUint64, 12345678, true},
		{"138802069", maxUint64, 138802069, true}, {"9223372036854775807,", maxInt64, 1<<63 - 1, true},
		{"9223372036854775808,", maxInt64, 0, false}, {"18446744073709551615", maxUint64, 1<<64 - 1, true},
		{"01,xxxxxx", maxUint64, 0, false}, {"1.0,xxxxx", maxUint64, 0, false}, {"2e3,xxxxx", maxUint64, 0, false},
		{"-1,xxxxxx", maxUint64, 0, false}, {"", maxUint64, 0, false},
	}
	for _, tt := range tests {
		p := parser{b: []byte(tt.in), elem: -1}
		v, err := p.uint("f", tt.max)
		if (err == nil) != tt.ok || v != tt.want {
			t.Errorf("uint(%q) = %d, %v", tt.in, v, err)
		}
	}
}

func TestLiteral(t *testing.T) {
	for _, s := range []string{`{"tx_signature":`, `,"index":`, `,"instruction_type":`, `,"params":`, "12345678", "123456789012345678901234"} {
		l := newLiteral(s)
		if !l.match([]byte(s+"tail")) || !l.match([]byte(s)) || l.match([]byte(s[:len(s)-1])) {
			t.Errorf("%q does not match itself", s)
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

package erc20

import (
	"encoding/binary"
	"math/big"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
)

func TestDigits8(t *testing.T) {
	check := func(n uint32) {
		var b [8]byte
		binary.LittleEndian.PutUint64(b[:], digits8(n))
		if want := strconv.FormatUint(uint64(n)+100_000_000, 10)[1:]; string(b[:]) != want {
			t.Fatalf("digits8(%d) = %q, want %q", n, b, want)
		}
		if got, want := string(appendSmall([]byte("x"), n)), "x"+strconv.FormatUint(uint64(n), 10); got != want {
			t.Fatalf("appendSmall(%d) = %q, want %q", n, got, want)
		}
	}
	for n := uint32(0); n < 200_000; n++ {
		check(n)
	}
	r := rand.New(rand.NewPCG(3, 4))
	for range 200_000 {
		check(r.Uint32N(100_000_000))
	}
	check(99_999_999)
}

func TestAppendUint64(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	cases := []uint64{0, 9, 10, 99_999_999, 100_000_000, 1<<53 + 1, 9_999_999_999_999_999, 10_000_000_000_000_000, 1<<64 - 1}
	for range 10_000 {
		cases = append(cases, r.Uint64()>>r.UintN(64))
	}
	for _, v := range cases {
		if got, want := string(appendUint64(nil, v)), strconv.FormatUint(v, 10); got != want {
			t.Fatalf("appendUint64(%d) = %s", v, got)
		}
	}
}

func TestHex8Value(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	const digits = "0123456789abcdef"
	for range 100_000 {
		var b [8]byte
		for i := range b {
			b[i] = digits[r.IntN(16)]
		}
		want, _ := strconv.ParseUint(string(b[:]), 16, 32)
		if got := hex8Value(binary.LittleEndian.Uint64(b[:])); uint64(got) != want {
			t.Fatalf("hex8Value(%s) = %x", b, got)
		}
	}
}

func TestAppendHexDecimal(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	const digits = "0123456789abcdef"
	cases := []string{"", "0", "00", "1", "f", "10", strings.Repeat("f", 16), "1" + strings.Repeat("0", 16), strings.Repeat("f", 64),
		"1" + strings.Repeat("0", 63), strings.Repeat("0", 64), strings.Repeat("0", 63) + "1", "3b9aca00", "de0b6b3a7640000"}
	for range 5000 {
		n := r.IntN(65)
		if r.IntN(2) == 0 {
			n = 64 // whole words are the common case
		}
		b := make([]byte, n)
		lead := r.IntN(n + 1)
		for i := range b {
			if i < lead {
				b[i] = '0'
			} else {
				b[i] = digits[r.IntN(16)]
			}
		}
		cases = append(cases, string(b))
	}
	for _, h := range cases {
		want, ok := new(big.Int).SetString(h, 16)
		if !ok {
			want = new(big.Int)
		}
		if got := appendHexDecimal([]byte("x"), []byte(h)); string(got) != "x"+want.String() {
			t.Fatalf("appendHexDecimal(%s) = %s, want %s", h, got[1:], want)
		}
	}
}

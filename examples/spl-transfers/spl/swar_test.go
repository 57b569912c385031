package spl

import (
	"encoding/binary"
	"testing"

	"github.com/ipdm/ipdm/examples/internal/scan"
)

// Every byte value in every position, against the byte tables. (The
// shared word helpers are tested in examples/internal/scan.)
func TestWordClasses(t *testing.T) {
	for c := 0; c < 256; c++ {
		for pos := range 8 {
			s := []byte("abcd1234")
			s[pos] = byte(c)
			want := 8
			if !strPlain[c] {
				want = pos
			}
			if got := scan.FirstFlag(stringStop(binary.LittleEndian.Uint64(s))); got != want {
				t.Fatalf("stringStop(%q): first stop %d, want %d", s, got, want)
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
	if got := scan.FirstFlag(stringStop(binary.LittleEndian.Uint64([]byte("\xff\xff\"abcde")))); got != 2 {
		t.Errorf("stringStop after 0xff: %d", got)
	}
	if got := base58Len([]byte("abc")); got != 3 {
		t.Errorf("base58Len(abc) = %d", got)
	}
}

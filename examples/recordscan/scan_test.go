package recordscan

import (
	"encoding/binary"
	"testing"
)

func TestScan(t *testing.T) {
	rec := func(id uint64, amount int64, kind, flags uint32) []byte {
		r := make([]byte, RecordSize)
		binary.LittleEndian.PutUint64(r[0:], id)
		binary.LittleEndian.PutUint64(r[8:], uint64(amount))
		binary.LittleEndian.PutUint32(r[16:], kind)
		binary.LittleEndian.PutUint32(r[20:], flags)
		return r
	}
	var data []byte
	data = append(data, rec(1, 10, 3, 0b111)...)
	data = append(data, rec(2, -5, 3, 0b011)...)
	data = append(data, rec(4, 7, 2, 0b111)...)  // other kind
	data = append(data, rec(8, 99, 3, 0b001)...) // missing a flag
	data = append(data, 1, 2, 3)                 // partial record
	got := Scan(data, 3, 0b011)
	want := Stats{Count: 2, Sum: 5, Min: -5, Max: 10, IDXor: 3}
	if got != want {
		t.Errorf("Scan = %v, want %v", got, want)
	}
}

func TestGenerateDeterministic(t *testing.T) {
	a, b := Generate(100, 7), Generate(100, 7)
	if string(a) != string(b) || len(a) != 100*RecordSize {
		t.Fatal("Generate is not deterministic")
	}
	if string(a) == string(Generate(100, 8)) {
		t.Fatal("Generate ignores the seed")
	}
}

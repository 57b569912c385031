// Package recordscan is a record-scanning kernel written once in Go (this
// package, used natively and by guest-go) and once in C (guest-c), to compare
// Wasm guests with native code on the same work.
//
// Records are RecordSize bytes, little-endian:
//
//	offset 0  id     uint64
//	offset 8  amount int64
//	offset 16 kind   uint32
//	offset 20 flags  uint32
//	offset 24 ts     uint64
//
// Scan selects the records of one kind that have all the mask's flags set and
// aggregates their amounts.
package recordscan

import (
	"encoding/binary"
	"fmt"
	"math"
)

// RecordSize is the size of one record in bytes.
const RecordSize = 32

// Stats aggregates the selected records.
type Stats struct {
	Count    uint64
	Sum      int64
	Min, Max int64
	IDXor    uint64
}

func (s Stats) String() string {
	return fmt.Sprintf("count=%d sum=%d min=%d max=%d idxor=%016x", s.Count, s.Sum, s.Min, s.Max, s.IDXor)
}

// Scan aggregates the records in data (a trailing partial record is ignored).
func Scan(data []byte, kind, mask uint32) Stats {
	s := Stats{Min: math.MaxInt64, Max: math.MinInt64}
	for len(data) >= RecordSize {
		r := data[:RecordSize:RecordSize]
		if binary.LittleEndian.Uint32(r[16:]) == kind && binary.LittleEndian.Uint32(r[20:])&mask == mask {
			a := int64(binary.LittleEndian.Uint64(r[8:]))
			s.Count++
			s.Sum += a
			s.Min = min(s.Min, a)
			s.Max = max(s.Max, a)
			s.IDXor ^= binary.LittleEndian.Uint64(r[0:])
		}
		data = data[RecordSize:]
	}
	return s
}

// Generate returns n pseudo-random records, the same for the same seed.
func Generate(n int, seed uint64) []byte {
	next := func() uint64 { // splitmix64
		seed += 0x9e3779b97f4a7c15
		z := seed
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
		z = (z ^ (z >> 27)) * 0x94d049bb133111eb
		return z ^ (z >> 31)
	}
	out := make([]byte, n*RecordSize)
	for i := range n {
		r := out[i*RecordSize : (i+1)*RecordSize]
		binary.LittleEndian.PutUint64(r[0:], uint64(i))
		binary.LittleEndian.PutUint64(r[8:], uint64(int64(next()%1_000_000)-500_000))
		binary.LittleEndian.PutUint32(r[16:], uint32(next()%8))
		binary.LittleEndian.PutUint32(r[20:], uint32(next()))
		binary.LittleEndian.PutUint64(r[24:], 1_700_000_000+uint64(i))
	}
	return out
}

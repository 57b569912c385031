package engine

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// ErrMalformed is matched by every error decoding engine data (segment
// block data, segment outputs, snapshots, task files) read from the network
// or disk.
var ErrMalformed = errors.New("pipeline: malformed data")

func appendU32(b []byte, v uint32) []byte { return binary.LittleEndian.AppendUint32(b, v) }
func appendU64(b []byte, v uint64) []byte { return binary.LittleEndian.AppendUint64(b, v) }
func appendBytes(b, p []byte) []byte      { return append(appendU32(b, uint32(len(p))), p...) }
func appendString(b []byte, s string) []byte {
	return append(appendU32(b, uint32(len(s))), s...)
}

// reader decodes the little-endian framing of this package; the first
// problem sticks and later reads return zero values.
type reader struct {
	b    []byte
	what string
	err  error
}

func (r *reader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s: %s", ErrMalformed, r.what, fmt.Sprintf(format, args...))
	}
}

func (r *reader) take(n int, field string) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.b) {
		r.fail("%s: need %d bytes, %d left", field, n, len(r.b))
		return nil
	}
	p := r.b[:n:n]
	r.b = r.b[n:]
	return p
}

func (r *reader) u32(field string) uint32 {
	p := r.take(4, field)
	if p == nil {
		return 0
	}
	return binary.LittleEndian.Uint32(p)
}

func (r *reader) u64(field string) uint64 {
	p := r.take(8, field)
	if p == nil {
		return 0
	}
	return binary.LittleEndian.Uint64(p)
}

func (r *reader) bytes(field string) []byte { return r.take(int(r.u32(field)), field) }

func (r *reader) string(field string) string { return string(r.bytes(field)) }

// count reads an element count, bounded by the bytes left (each element
// takes at least min bytes), so hostile counts cannot force allocations.
func (r *reader) count(field string, min int) int {
	n := int(r.u32(field))
	if r.err == nil && n*min > len(r.b) {
		r.fail("%s: %d entries cannot fit in %d bytes", field, n, len(r.b))
		return 0
	}
	return n
}

func (r *reader) magic(m string) {
	if p := r.take(len(m), "magic"); r.err == nil && string(p) != m {
		r.fail("not %q data", m)
	}
}

func (r *reader) end() error {
	if r.err == nil && len(r.b) != 0 {
		r.fail("%d trailing bytes", len(r.b))
	}
	return r.err
}

package engine

import (
	"fmt"
	"slices"

	"github.com/ipdm/ipdm/pipeline/manifest"
)

// Segment is a range of blocks processed as one unit of work: the part of
// an aligned segment [k·size, (k+1)·size) that lies in the run's range.
// Alignment makes segments — and so cached outputs — the same whatever
// range a run asks for, except at the ends of the range.
type Segment struct {
	Start, End uint64 // inclusive
}

func (s Segment) String() string { return fmt.Sprintf("%d-%d", s.Start, s.End) }

// Contains reports whether block n is in s.
func (s Segment) Contains(n uint64) bool { return n >= s.Start && n <= s.End }

// Segments cuts [from, to] into aligned segments of size blocks.
func Segments(from, to, size uint64) []Segment {
	if size == 0 || to < from {
		return nil
	}
	var out []Segment
	for start := from; ; {
		end := (start/size+1)*size - 1
		if end > to || end < start { // end < start: overflow at the top of the range
			end = to
		}
		out = append(out, Segment{start, end})
		if end == to {
			return out
		}
		start = end + 1
	}
}

// BlockData is one block as modules receive it: its number, time, the
// reference its outputs are bound to (the chain's block hash, or the
// content ID of its encoding when the source has no hash) and the
// canonical encoding of each source kind the pipeline reads.
type BlockData struct {
	Number  uint64
	Time    uint64
	Ref     string
	Sources map[manifest.SourceKind][]byte
}

const blockDataMagic = "IPDMBLK1"

// EncodeBlocks encodes a segment's blocks for transport to executors.
func EncodeBlocks(bs []BlockData) []byte {
	b := appendU32([]byte(blockDataMagic), uint32(len(bs)))
	for _, bd := range bs {
		b = appendU64(b, bd.Number)
		b = appendU64(b, bd.Time)
		b = appendString(b, bd.Ref)
		kinds := make([]manifest.SourceKind, 0, len(bd.Sources))
		for k := range bd.Sources {
			kinds = append(kinds, k)
		}
		slices.Sort(kinds)
		b = appendU32(b, uint32(len(kinds)))
		for _, k := range kinds {
			b = appendString(b, string(k))
			b = appendBytes(b, bd.Sources[k])
		}
	}
	return b
}

// DecodeBlocks reads EncodeBlocks' output. Blocks must ascend strictly.
func DecodeBlocks(data []byte) ([]BlockData, error) {
	r := &reader{b: data, what: "segment blocks"}
	r.magic(blockDataMagic)
	n := r.count("count", 24)
	var out []BlockData
	for i := 0; i < n && r.err == nil; i++ {
		bd := BlockData{Number: r.u64("number"), Time: r.u64("time"), Ref: r.string("ref")}
		if i > 0 && bd.Number <= out[i-1].Number {
			r.fail("block %d follows block %d", bd.Number, out[i-1].Number)
		}
		k := r.count("sources", 8)
		bd.Sources = make(map[manifest.SourceKind][]byte, k)
		for j := 0; j < k && r.err == nil; j++ {
			kind := manifest.SourceKind(r.string("source kind"))
			if _, dup := bd.Sources[kind]; dup {
				r.fail("block %d: source %q twice", bd.Number, kind)
			}
			bd.Sources[kind] = r.bytes("source data")
		}
		out = append(out, bd)
	}
	return out, r.end()
}

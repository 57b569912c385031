package engine

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"

	"github.com/ipdm/ipdm/pipeline/abi"
)

// Output is one module's output over one segment, with its proof of
// processing: a digest chained over the per-block outputs, each bound to
// the block's reference (its hash). Two nodes that processed the same
// blocks with the same module agree on every digest; where they first
// disagree is the first block whose output — or input block — differs,
// which is what Diff finds.
type Output struct {
	Identity string // the module's identity
	Store    bool   // a store's per-block writes rather than a map's records
	Segment  Segment
	Blocks   []BlockOutput
}

// BlockOutput is a module's output for one block.
type BlockOutput struct {
	Number uint64
	Ref    string
	// Payload is the framed records (abi.EncodeRecords) of a map module, or
	// the framed writes (abi.EncodeDeltas: key, operand) of a store module.
	Payload []byte
	// Digest chains this block onto the previous one.
	Digest [32]byte
}

const outputMagic = "IPDMOUT1"

// popDomain separates proof-of-processing digests from other hashes.
const popDomain = "ipdm/proof-of-processing/v1\x00"

// Seed returns the digest the chain starts from: it binds the module
// identity and the segment.
func (o *Output) Seed() [32]byte {
	h := sha256.New()
	h.Write([]byte(popDomain))
	h.Write([]byte(o.Identity))
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:8], o.Segment.Start)
	binary.LittleEndian.PutUint64(b[8:], o.Segment.End)
	h.Write(b[:])
	var d [32]byte
	h.Sum(d[:0])
	return d
}

// chain returns the digest of a block following prev.
func chain(prev [32]byte, number uint64, ref string, payload []byte) [32]byte {
	ph := sha256.Sum256(payload)
	h := sha256.New()
	h.Write(prev[:])
	var b [12]byte
	binary.LittleEndian.PutUint64(b[:8], number)
	binary.LittleEndian.PutUint32(b[8:], uint32(len(ref)))
	h.Write(b[:])
	h.Write([]byte(ref))
	h.Write(ph[:])
	var d [32]byte
	h.Sum(d[:0])
	return d
}

// Append adds a block's output, chaining its digest.
func (o *Output) Append(number uint64, ref string, payload []byte) {
	prev := o.Seed()
	if n := len(o.Blocks); n > 0 {
		prev = o.Blocks[n-1].Digest
	}
	o.Blocks = append(o.Blocks, BlockOutput{Number: number, Ref: ref, Payload: payload, Digest: chain(prev, number, ref, payload)})
}

// Digest returns the segment's final digest (its seed when no block ran).
func (o *Output) Digest() [32]byte {
	if n := len(o.Blocks); n > 0 {
		return o.Blocks[n-1].Digest
	}
	return o.Seed()
}

// DigestHex is Digest in hex.
func (o *Output) DigestHex() string { d := o.Digest(); return hex.EncodeToString(d[:]) }

// Records returns a map module's records for the block at index i.
func (o *Output) Records(i int) ([][]byte, error) { return abi.DecodeRecords(o.Blocks[i].Payload) }

// Encode serialises o; equal outputs have equal bytes.
func (o *Output) Encode() []byte {
	b := []byte(outputMagic)
	b = appendString(b, o.Identity)
	kind := byte(0)
	if o.Store {
		kind = 1
	}
	b = append(b, kind)
	b = appendU64(b, o.Segment.Start)
	b = appendU64(b, o.Segment.End)
	b = appendU32(b, uint32(len(o.Blocks)))
	for _, bo := range o.Blocks {
		b = appendU64(b, bo.Number)
		b = appendString(b, bo.Ref)
		b = appendBytes(b, bo.Payload)
		b = append(b, bo.Digest[:]...)
	}
	return b
}

// DecodeOutput reads Encode's output and checks it: blocks ascend inside
// the segment, payloads are well framed and every digest follows from the
// chain (a tampered payload is detected here, not just by comparison).
func DecodeOutput(data []byte) (*Output, error) {
	r := &reader{b: data, what: "segment output"}
	r.magic(outputMagic)
	o := &Output{Identity: r.string("identity")}
	switch k := r.take(1, "kind"); {
	case k == nil:
	case k[0] == 0:
	case k[0] == 1:
		o.Store = true
	default:
		r.fail("kind %d", k[0])
	}
	o.Segment = Segment{r.u64("start"), r.u64("end")}
	if r.err == nil && o.Segment.End < o.Segment.Start {
		r.fail("segment %s ends before it starts", o.Segment)
	}
	n := r.count("blocks", 8+4+4+32)
	prev := o.Seed()
	for i := 0; i < n && r.err == nil; i++ {
		bo := BlockOutput{Number: r.u64("number"), Ref: r.string("ref"), Payload: r.bytes("payload")}
		copy(bo.Digest[:], r.take(32, "digest"))
		if r.err != nil {
			break
		}
		switch {
		case !o.Segment.Contains(bo.Number):
			r.fail("block %d outside segment %s", bo.Number, o.Segment)
		case i > 0 && bo.Number <= o.Blocks[i-1].Number:
			r.fail("block %d follows block %d", bo.Number, o.Blocks[i-1].Number)
		case bo.Digest != chain(prev, bo.Number, bo.Ref, bo.Payload):
			r.fail("block %d: digest does not follow from the chain", bo.Number)
		}
		if o.Store {
			if _, err := abi.DecodeDeltas(bo.Payload); err != nil {
				r.fail("block %d: %v", bo.Number, err)
			}
		} else if _, err := abi.DecodeRecords(bo.Payload); err != nil {
			r.fail("block %d: %v", bo.Number, err)
		}
		prev = bo.Digest
		o.Blocks = append(o.Blocks, bo)
	}
	if err := r.end(); err != nil {
		return nil, err
	}
	return o, nil
}

// Difference is where two outputs of the same module and segment first
// disagree.
type Difference struct {
	Block uint64
	// Index is the position of the block in both outputs' Blocks (they
	// agree on every block before it).
	Index int
	// Why says what differs: "input" (the block reference), "output" (the
	// payload), or "blocks" (one output has a block the other lacks).
	Why string
}

// Diff bisects two outputs' digest chains to the first block where they
// differ; ok is false when they are identical. Because each digest chains
// the previous one, the chains agree on a prefix and disagree after it, so
// a binary search over digests finds the boundary in O(log n) comparisons.
func Diff(a, b *Output) (d Difference, ok bool) {
	n := min(len(a.Blocks), len(b.Blocks))
	lo, hi := 0, n // first disagreeing index in [lo, hi]
	for lo < hi {
		mid := (lo + hi) / 2
		if a.Blocks[mid].Digest == b.Blocks[mid].Digest {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	if lo == n {
		if len(a.Blocks) == len(b.Blocks) && a.Seed() == b.Seed() {
			return Difference{}, false
		}
		if lo < len(a.Blocks) {
			return Difference{Block: a.Blocks[lo].Number, Index: lo, Why: "blocks"}, true
		}
		if lo < len(b.Blocks) {
			return Difference{Block: b.Blocks[lo].Number, Index: lo, Why: "blocks"}, true
		}
		return Difference{Why: "identity"}, true
	}
	x, y := a.Blocks[lo], b.Blocks[lo]
	why := "output"
	switch {
	case x.Number != y.Number:
		why = "blocks"
	case x.Ref != y.Ref:
		why = "input"
	}
	return Difference{Block: min(x.Number, y.Number), Index: lo, Why: why}, true
}

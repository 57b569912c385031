package store

import (
	"encoding/binary"
	"fmt"
	"slices"
	"strings"

	"github.com/ipdm/ipdm/pipeline/manifest"
)

// Encoding version 1. Lengths and counts are unsigned varints
// (encoding/binary, minimal):
//
//	state:  "IPDS" | 0x01 | policy u8 | value type u8 | count |
//	        count × (key length | key | value length | value)   keys ascending
//	op log: "IPDO" | 0x01 | blocks |
//	        blocks × (block number | ops | ops × (key length | key | value length | value))
//	                                                         blocks ascending, ops >= 1
const (
	stateMagic = "IPDS"
	opsMagic   = "IPDO"
	version    = 1
)

// Codes of policies and value types in the header; never renumber.
var (
	policyCodes = []manifest.Policy{1: manifest.PolicySet, 2: manifest.PolicySetIfAbsent, 3: manifest.PolicyAdd,
		4: manifest.PolicyMin, 5: manifest.PolicyMax, 6: manifest.PolicyAppend}
	typeCodes = []manifest.ValueType{1: manifest.ValueBigInt, 2: manifest.ValueInt64, 3: manifest.ValueString, 4: manifest.ValueBytes}
)

// Encode returns the state's canonical encoding: a versioned header naming
// the policy and value type, then the entries in ascending key order. Equal
// states have equal encodings.
func (s *State) Encode() []byte {
	keys := s.sortedKeys()
	b := make([]byte, 0, 7+binary.MaxVarintLen64+len(keys)*4+s.size)
	b = append(b, stateMagic...)
	b = append(b, version, byte(slices.Index(policyCodes, s.policy)), byte(slices.Index(typeCodes, s.vtype)))
	b = binary.AppendUvarint(b, uint64(len(keys)))
	for _, k := range keys {
		b = appendBytes(b, []byte(k))
		b = appendBytes(b, s.m[k])
	}
	return b
}

// Decode parses an encoded state. It accepts exactly what Encode writes:
// anything else (a wrong header, unsorted or repeated keys, a value invalid
// for the value type, non-minimal varints, trailing bytes) fails with
// ErrMalformed. The state does not retain b.
func Decode(b []byte) (*State, error) {
	r := reader{b: slices.Clone(b), what: "state"}
	if err := r.header(stateMagic); err != nil {
		return nil, err
	}
	pc, tc := r.byte(), r.byte()
	if r.err != nil {
		return nil, r.err
	}
	if int(pc) >= len(policyCodes) || pc == 0 || int(tc) >= len(typeCodes) || tc == 0 {
		return nil, r.fail("unknown policy %d or value type %d", pc, tc)
	}
	s, err := New(policyCodes[pc], typeCodes[tc])
	if err != nil {
		return nil, r.fail("%s", strings.TrimPrefix(err.Error(), "store: "))
	}
	n := r.count(2)
	for i := uint64(0); i < n && r.err == nil; i++ {
		k, v := r.bytes(), r.bytes()
		if r.err != nil {
			break
		}
		if i > 0 && string(k) <= s.sorted[len(s.sorted)-1] {
			return nil, r.fail("key %s is not after %s", quote(k), quote([]byte(s.sorted[len(s.sorted)-1])))
		}
		if err := CheckValue(s.vtype, k, v); err != nil {
			return nil, r.fail("%s", strings.TrimPrefix(err.Error(), "store: "))
		}
		key := string(k)
		s.m[key] = v
		s.size += len(key) + len(v)
		s.sorted = append(s.sorted, key)
	}
	if err := r.end(); err != nil {
		return nil, err
	}
	if s.sorted == nil {
		s.sorted = []string{}
	}
	return s, nil
}

// EncodeOps returns the encoding of an op log: blocks in ascending order,
// each with its ops in write order. Blocks without ops are left out, so
// DecodeOps returns only blocks with ops. Blocks that do not ascend fail
// with ErrMalformed.
func EncodeOps(blocks []BlockOps) ([]byte, error) {
	size, n := 5+binary.MaxVarintLen64, 0
	for i, blk := range blocks {
		if i > 0 && blk.Block <= blocks[i-1].Block {
			return nil, fmt.Errorf("store: op log: block %d after block %d: blocks must ascend: %w", blk.Block, blocks[i-1].Block, ErrMalformed)
		}
		if len(blk.Ops) > 0 {
			n++
		}
		size += 2 * binary.MaxVarintLen64
		for _, op := range blk.Ops {
			size += 2*binary.MaxVarintLen64 + len(op.Key) + len(op.Value)
		}
	}
	b := make([]byte, 0, size)
	b = append(b, opsMagic...)
	b = append(b, version)
	b = binary.AppendUvarint(b, uint64(n))
	for _, blk := range blocks {
		if len(blk.Ops) == 0 {
			continue
		}
		b = binary.AppendUvarint(b, blk.Block)
		b = binary.AppendUvarint(b, uint64(len(blk.Ops)))
		for _, op := range blk.Ops {
			b = appendBytes(b, op.Key)
			b = appendBytes(b, op.Value)
		}
	}
	return b, nil
}

// DecodeOps parses an encoded op log, accepting exactly what EncodeOps
// writes; anything else fails with ErrMalformed. Values are not checked
// against a value type (the log does not name one): State.Apply and
// Partial.Apply do that. The result does not retain b.
func DecodeOps(b []byte) ([]BlockOps, error) {
	r := reader{b: slices.Clone(b), what: "op log"}
	if err := r.header(opsMagic); err != nil {
		return nil, err
	}
	n := r.count(3)
	var blocks []BlockOps
	for i := uint64(0); i < n && r.err == nil; i++ {
		blk := BlockOps{Block: r.uvarint()}
		ops := r.count(2)
		if r.err != nil {
			break
		}
		if ops == 0 {
			return nil, r.fail("block %d has no ops", blk.Block)
		}
		if i > 0 && blk.Block <= blocks[len(blocks)-1].Block {
			return nil, r.fail("block %d after block %d", blk.Block, blocks[len(blocks)-1].Block)
		}
		blk.Ops = make([]Op, 0, ops)
		for j := uint64(0); j < ops && r.err == nil; j++ {
			blk.Ops = append(blk.Ops, Op{Key: r.bytes(), Value: r.bytes()})
		}
		blocks = append(blocks, blk)
	}
	if err := r.end(); err != nil {
		return nil, err
	}
	return blocks, nil
}

func appendBytes(b, v []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

// reader decodes b strictly; the first problem sticks in err.
type reader struct {
	b    []byte
	off  int
	what string
	err  error
}

func (r *reader) fail(format string, args ...any) error {
	if r.err == nil {
		r.err = fmt.Errorf("store: %s: byte %d: %s: %w", r.what, r.off, fmt.Sprintf(format, args...), ErrMalformed)
	}
	return r.err
}

func (r *reader) header(magic string) error {
	if len(r.b) < len(magic)+1 || string(r.b[:len(magic)]) != magic {
		return r.fail("missing the %q header", magic)
	}
	r.off = len(magic)
	if v := r.byte(); v != version {
		return r.fail("unsupported version %d", v)
	}
	return nil
}

func (r *reader) byte() byte {
	if r.err != nil {
		return 0
	}
	if r.off >= len(r.b) {
		r.fail("truncated")
		return 0
	}
	r.off++
	return r.b[r.off-1]
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	x, n := binary.Uvarint(r.b[r.off:])
	switch {
	case n == 0:
		r.fail("truncated")
	case n < 0:
		r.fail("varint overflows 64 bits")
	case n > 1 && r.b[r.off+n-1] == 0:
		r.fail("non-minimal varint")
	default:
		r.off += n
		return x
	}
	return 0
}

// count reads a count of items each taking at least min bytes, rejecting
// counts the rest of the input cannot hold (so a forged count cannot make
// the caller allocate much).
func (r *reader) count(min int) uint64 {
	n := r.uvarint()
	if r.err == nil && n > uint64(len(r.b)-r.off)/uint64(min) {
		r.fail("count %d exceeds what %d remaining bytes can hold", n, len(r.b)-r.off)
		return 0
	}
	return n
}

// bytes reads a length-prefixed byte string, capped so that appending to it
// never writes into the next one.
func (r *reader) bytes() []byte {
	n := r.uvarint()
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.b)-r.off) {
		r.fail("length %d exceeds the %d remaining bytes", n, len(r.b)-r.off)
		return nil
	}
	v := r.b[r.off : r.off+int(n) : r.off+int(n)]
	r.off += int(n)
	return v
}

func (r *reader) end() error {
	if r.err == nil && r.off != len(r.b) {
		r.fail("%d trailing bytes", len(r.b)-r.off)
	}
	return r.err
}

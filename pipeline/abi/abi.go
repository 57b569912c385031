package abi

import (
	"encoding/binary"
	"errors"
	"strconv"
	"strings"
)

// ErrMalformed is wrapped by every decoding error: truncated frames, lengths
// past the end of the buffer, counts that cannot fit, trailing bytes.
var ErrMalformed = errors.New("abi: malformed frame")

// InputHeaderSize is the fixed prefix of an Input frame: block, time, count.
const InputHeaderSize = 8 + 8 + 4

// Input is one decoded ENTRY argument: the block it belongs to and one byte
// string per manifest input, in manifest order.
type Input struct {
	Block  uint64   // block (or slot) number
	Time   uint64   // block time in unix seconds; 0 when unknown
	Inputs [][]byte // one entry per manifest input; slices alias the frame
}

// Delta is one store write as seen by a downstream module: the key and the
// store's value for that key after the write.
type Delta struct {
	Key, Value []byte
}

// EncodeInput frames block, time and inputs as an Input.
func EncodeInput(block, time uint64, inputs [][]byte) []byte {
	n := InputHeaderSize
	for _, in := range inputs {
		n += 4 + len(in)
	}
	b := make([]byte, 0, n)
	b = binary.LittleEndian.AppendUint64(b, block)
	b = binary.LittleEndian.AppendUint64(b, time)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(inputs)))
	for _, in := range inputs {
		b = appendBytes(b, in)
	}
	return b
}

// DecodeInput parses an Input frame. The returned Inputs alias b.
func DecodeInput(b []byte) (Input, error) {
	if len(b) < InputHeaderSize {
		return Input{}, malformed("input header needs ", itoa(InputHeaderSize), " bytes, have ", itoa(len(b)))
	}
	in := Input{
		Block: binary.LittleEndian.Uint64(b[0:8]),
		Time:  binary.LittleEndian.Uint64(b[8:16]),
	}
	list, err := decodeList(b[16:], "input")
	if err != nil {
		return Input{}, err
	}
	in.Inputs = list
	return in, nil
}

// EncodeRecords frames recs as Records.
func EncodeRecords(recs [][]byte) []byte {
	n := 4
	for _, r := range recs {
		n += 4 + len(r)
	}
	b := make([]byte, 0, n)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(recs)))
	for _, r := range recs {
		b = appendBytes(b, r)
	}
	return b
}

// AppendRecord appends one record body (u32 len | bytes) to dst. It does not
// touch the count prefix: build a frame with StartRecords, AppendRecord and
// FinishRecords, or use EncodeRecords.
func AppendRecord(dst, rec []byte) []byte {
	return appendBytes(dst, rec)
}

// StartRecords appends a zero count placeholder to dst and returns the new
// slice and the offset of the placeholder, to be passed to FinishRecords.
func StartRecords(dst []byte) ([]byte, int) {
	off := len(dst)
	return binary.LittleEndian.AppendUint32(dst, 0), off
}

// FinishRecords stores count at the placeholder written by StartRecords.
func FinishRecords(frame []byte, off int, count int) {
	binary.LittleEndian.PutUint32(frame[off:off+4], uint32(count))
}

// DecodeRecords parses a Records frame. The returned slices alias b. An empty
// b is malformed (a frame always has its count); an empty record list is the
// four bytes 0,0,0,0.
func DecodeRecords(b []byte) ([][]byte, error) {
	return decodeList(b, "record")
}

// EncodeDeltas frames ds as Deltas.
func EncodeDeltas(ds []Delta) []byte {
	n := 4
	for _, d := range ds {
		n += 8 + len(d.Key) + len(d.Value)
	}
	b := make([]byte, 0, n)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(ds)))
	for _, d := range ds {
		b = appendBytes(b, d.Key)
		b = appendBytes(b, d.Value)
	}
	return b
}

// DecodeDeltas parses a Deltas frame. Keys and values alias b.
func DecodeDeltas(b []byte) ([]Delta, error) {
	count, rest, err := readCount(b, "delta", 8)
	if err != nil {
		return nil, err
	}
	ds := make([]Delta, count)
	for i := range ds {
		if ds[i].Key, rest, err = readBytes(rest, "delta", i, "key"); err != nil {
			return nil, err
		}
		if ds[i].Value, rest, err = readBytes(rest, "delta", i, "value"); err != nil {
			return nil, err
		}
	}
	if len(rest) != 0 {
		return nil, malformed(itoa(len(rest)), " trailing bytes after ", itoa(count), " deltas")
	}
	return ds, nil
}

func appendBytes(dst, p []byte) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(p)))
	return append(dst, p...)
}

// readCount reads a u32 count and checks that count entries of at least
// minEntry bytes each can fit in the rest, so hostile counts cannot force a
// large allocation.
func readCount(b []byte, what string, minEntry int) (int, []byte, error) {
	if len(b) < 4 {
		return 0, nil, malformed(what, " count needs 4 bytes, have ", itoa(len(b)))
	}
	count := uint64(binary.LittleEndian.Uint32(b))
	rest := b[4:]
	if count > uint64(len(rest))/uint64(minEntry) {
		return 0, nil, malformed(what, " count ", itoa(count), " exceeds the ", itoa(len(rest)), " remaining bytes")
	}
	return int(count), rest, nil
}

func readBytes(b []byte, what string, i int, part string) ([]byte, []byte, error) {
	if len(b) < 4 {
		return nil, nil, malformed(what, " ", itoa(i), ": ", part, " length needs 4 bytes, have ", itoa(len(b)))
	}
	n := uint64(binary.LittleEndian.Uint32(b))
	if n > uint64(len(b)-4) {
		return nil, nil, malformed(what, " ", itoa(i), ": ", part, " length ", itoa(n), " exceeds the ", itoa(len(b)-4), " remaining bytes")
	}
	end := 4 + int(n)
	return b[4:end:end], b[end:], nil
}

func decodeList(b []byte, what string) ([][]byte, error) {
	count, rest, err := readCount(b, what, 4)
	if err != nil {
		return nil, err
	}
	list := make([][]byte, count)
	for i := range list {
		if list[i], rest, err = readBytes(rest, what, i, "body"); err != nil {
			return nil, err
		}
	}
	if len(rest) != 0 {
		return nil, malformed(itoa(len(rest)), " trailing bytes after ", itoa(count), " ", what, "s")
	}
	return list, nil
}

// malformedError is a framing problem; it matches ErrMalformed. The
// package avoids fmt so that guests importing it stay small.
type malformedError struct{ msg string }

func (e *malformedError) Error() string { return ErrMalformed.Error() + ": " + e.msg }
func (e *malformedError) Unwrap() error { return ErrMalformed }

func malformed(parts ...string) error { return &malformedError{strings.Join(parts, "")} }

func itoa[T ~int | ~uint32 | ~uint64](v T) string { return strconv.FormatUint(uint64(v), 10) }

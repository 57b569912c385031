package store

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/ipdm/ipdm/pipeline/manifest"
)

// The encoding is pinned: changing it changes every snapshot's CID.
func TestEncodeGolden(t *testing.T) {
	s := mustNew(t, manifest.PolicyAdd, manifest.ValueBigInt)
	for _, op := range ops("b", "-5", "a", "12", "b", "7") {
		if err := s.Apply(op); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := fmt.Sprintf("%x", s.Encode()), "4950445301030102"+"0161"+"023132"+"0162"+"0132"; got != want {
		t.Errorf("encoding %s, want %s", got, want)
	}
	empty := mustNew(t, manifest.PolicyAppend, manifest.ValueBytes)
	if got := fmt.Sprintf("%x", empty.Encode()); got != "4950445301060400" {
		t.Errorf("empty state %s", got)
	}
	log, err := EncodeOps([]BlockOps{{Block: 300, Ops: ops("k", "v")}, {Block: 301}, {Block: 302, Ops: ops("", "", "x", "yz")}})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := fmt.Sprintf("%x", log), "4950444f01"+"02"+"ac02"+"01"+"016b0176"+"ae02"+"02"+"0000"+"0178"+"02797a"; got != want {
		t.Errorf("op log %s, want %s", got, want)
	}
}

// Equal states encode alike whatever the order of their writes, and decode
// to states that encode alike and keep working.
func TestEncodeRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 8))
	for _, c := range combos {
		s := mustNew(t, c.p, c.vt)
		for _, op := range randOps(r, c.vt, 30) {
			_ = s.Apply(op) // int64 overflows are skipped
		}
		enc := s.Encode()
		d, err := Decode(enc)
		if err != nil {
			t.Fatalf("%s %s: %v", c.p, c.vt, err)
		}
		if !bytes.Equal(d.Encode(), enc) || d.Len() != s.Len() || d.Size() != s.Size() || d.Policy() != c.p || d.ValueType() != c.vt {
			t.Fatalf("%s %s: decoded %s, want %s", c.p, c.vt, dump(d), dump(s))
		}
		// The decoded state does not share memory with the input, and its
		// values can grow without overwriting each other.
		for i := range enc {
			enc[i] = 0
		}
		more := randOps(r, c.vt, 10)
		s2 := s.Clone()
		for _, op := range more {
			e1, e2 := d.Apply(op), s2.Apply(op)
			if (e1 == nil) != (e2 == nil) {
				t.Fatalf("%s %s: decoded state error %v, original %v", c.p, c.vt, e1, e2)
			}
		}
		if !bytes.Equal(d.Encode(), s2.Encode()) {
			t.Fatalf("%s %s: after more writes decoded %s, original %s", c.p, c.vt, dump(d), dump(s2))
		}
	}

	// Insertion order does not matter.
	a, b := mustNew(t, manifest.PolicySet, manifest.ValueString), mustNew(t, manifest.PolicySet, manifest.ValueString)
	for _, op := range ops("x", "1", "y", "2", "z", "3") {
		_ = a.Apply(op)
	}
	for _, op := range ops("z", "3", "x", "0", "y", "2", "x", "1") {
		_ = b.Apply(op)
	}
	if !bytes.Equal(a.Encode(), b.Encode()) {
		t.Error("equal states encode differently")
	}
}

func TestDecodeMalformed(t *testing.T) {
	valid := "4950445301030102" + "0161" + "023132" + "0162" + "0132"
	tests := []struct {
		name, hex, detail string
	}{
		{"empty", "", "header"},
		{"wrong magic", "4950444f01030100", "header"},
		{"version 2", "4950445302030100", "unsupported version 2"},
		{"no policy", "4950445301", "truncated"},
		{"unknown policy", "4950445301070100", "unknown policy 7"},
		{"policy 0", "4950445301000100", "unknown policy 0"},
		{"unknown type", "4950445301030500", "value type 5"},
		{"policy does not fit type", "4950445301060100", "does not apply"},
		{"no count", "49504453010301", "truncated"},
		{"huge count", "49504453010301ffffffffffffffff7f", "exceeds what"},
		{"count overflows", "49504453010301ffffffffffffffffffff01", "overflows"},
		{"non-minimal count", "495044530103018000", "non-minimal"},
		{"truncated entry", valid[:len(valid)-2], "exceeds the 0 remaining"},
		{"trailing byte", valid + "00", "1 trailing bytes"},
		{"extra entry", strings.Replace(valid, "0102", "0103", 1), "truncated"},
		{"unsorted keys", "4950445301030102" + "0162" + "0131" + "0161" + "0131", `key "a" is not after "b"`},
		{"repeated key", "4950445301030102" + "0161" + "0131" + "0161" + "0131", `key "a" is not after "a"`},
		{"non-canonical value", "4950445301030101" + "0161" + "023031", "leading zero"},
		{"invalid int64", "4950445301030201" + "0161" + "14" + strings.Repeat("39", 20), "int64 range"},
		{"invalid string", "4950445301010301" + "0161" + "01ff", "UTF-8"},
		{"non-minimal length", "4950445301010401" + "810061" + "00", "non-minimal"},
	}
	for _, tt := range tests {
		_, err := Decode(mustHex(t, tt.hex))
		if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tt.detail) {
			t.Errorf("%s: err = %v, want ErrMalformed with %q", tt.name, err, tt.detail)
		}
	}
	if _, err := Decode(mustHex(t, valid)); err != nil {
		t.Errorf("valid: %v", err)
	}
}

func TestOpsRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	var blocks []BlockOps
	block := uint64(0)
	for range 50 {
		block += 1 + r.Uint64N(1<<40)
		if r.IntN(3) == 0 {
			blocks = append(blocks, BlockOps{Block: block}) // left out by EncodeOps
			continue
		}
		blocks = append(blocks, BlockOps{Block: block, Ops: randOps(r, manifest.ValueBytes, 1+r.IntN(4))})
	}
	enc, err := EncodeOps(blocks)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeOps(enc)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(normalize(got), normalize(blocks)) {
		t.Fatalf("round trip changed the log")
	}
	if empty, _ := EncodeOps(nil); len(empty) != 6 {
		t.Errorf("empty log %x", empty)
	}
	if got, err := DecodeOps([]byte("IPDO\x01\x00")); err != nil || got != nil {
		t.Errorf("empty log decodes to %v, %v", got, err)
	}
	for _, bad := range [][]BlockOps{
		{{Block: 5, Ops: ops("k", "v")}, {Block: 5, Ops: ops("k", "v")}},
		{{Block: 6, Ops: ops("k", "v")}, {Block: 5}},
	} {
		if _, err := EncodeOps(bad); !errors.Is(err, ErrMalformed) {
			t.Errorf("blocks %v: err = %v", bad, err)
		}
	}
	for name, hex := range map[string]string{
		"block without ops": "4950444f01" + "01" + "05" + "00",
		"blocks repeat":     "4950444f01" + "02" + "05" + "01" + "0000" + "05" + "01" + "0000",
		"blocks descend":    "4950444f01" + "02" + "06" + "01" + "0000" + "05" + "01" + "0000",
		"truncated op":      "4950444f01" + "01" + "05" + "02" + "0000" + "01",
		"trailing":          "4950444f01" + "01" + "05" + "01" + "0000" + "00",
		"state header":      "4950445301" + "00",
		"huge op count":     "4950444f01" + "01" + "05" + "ffffffff0f" + "0000",
	} {
		if _, err := DecodeOps(mustHex(t, hex)); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
}

// normalize makes empty and nil slices compare equal.
func normalize(blocks []BlockOps) []BlockOps {
	var out []BlockOps
	for _, b := range blocks {
		if len(b.Ops) == 0 {
			continue
		}
		nb := BlockOps{Block: b.Block}
		for _, op := range b.Ops {
			nb.Ops = append(nb.Ops, Op{Key: append([]byte{}, op.Key...), Value: append([]byte{}, op.Value...)})
		}
		out = append(out, nb)
	}
	return out
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	var b []byte
	if s == "" {
		return nil
	}
	if _, err := fmt.Sscanf(s, "%x", &b); err != nil {
		t.Fatal(err)
	}
	return b
}

// FuzzDecode: Decode never panics, fails only with ErrMalformed, and what it
// accepts re-encodes to the same bytes.
func FuzzDecode(f *testing.F) {
	r := rand.New(rand.NewPCG(1, 1))
	for _, c := range combos {
		s, _ := New(c.p, c.vt)
		for _, op := range randOps(r, c.vt, 4) {
			_ = s.Apply(op)
		}
		f.Add(s.Encode())
	}
	f.Add([]byte("IPDS\x01\x03\x01\x01\x01a\x020x"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := Decode(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not match ErrMalformed", err)
			}
			return
		}
		if !bytes.Equal(s.Encode(), b) {
			t.Fatalf("accepted %x, re-encodes as %x", b, s.Encode())
		}
	})
}

// FuzzDecodeOps: DecodeOps never panics, fails only with ErrMalformed, and
// what it accepts re-encodes to the same bytes.
func FuzzDecodeOps(f *testing.F) {
	log, _ := EncodeOps([]BlockOps{{Block: 300, Ops: ops("k", "v")}, {Block: 302, Ops: ops("", "", "x", "yz")}})
	f.Add(log)
	f.Add([]byte("IPDO\x01\x00"))
	f.Add([]byte("IPDO\x01\x01\x05\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		blocks, err := DecodeOps(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not match ErrMalformed", err)
			}
			return
		}
		enc, err := EncodeOps(blocks)
		if err != nil || !bytes.Equal(enc, b) {
			t.Fatalf("accepted %x, re-encodes as %x (%v)", b, enc, err)
		}
	})
}

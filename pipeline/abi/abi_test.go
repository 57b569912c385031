package abi

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
)

func le32(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }
func le64(v uint64) []byte { return binary.LittleEndian.AppendUint64(nil, v) }

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

func equalLists(a, b [][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

func TestEncodeInputLayout(t *testing.T) {
	got := EncodeInput(0x0102030405060708, 1700000000, [][]byte{[]byte("ab"), nil, []byte("xyz")})
	want := cat(le64(0x0102030405060708), le64(1700000000), le32(3),
		le32(2), []byte("ab"), le32(0), le32(3), []byte("xyz"))
	if !bytes.Equal(got, want) {
		t.Fatalf("EncodeInput = %x, want %x", got, want)
	}
}

func TestInputRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name        string
		block, time uint64
		inputs      [][]byte
	}{
		{"none", 0, 0, nil},
		{"one empty", 1, 0, [][]byte{{}}},
		{"several", 18_000_000, 1_700_000_000, [][]byte{[]byte(`{"number":1}`), EncodeRecords([][]byte{[]byte("r")}), []byte("params")}},
		{"max", ^uint64(0), ^uint64(0), [][]byte{bytes.Repeat([]byte{0xff}, 1000)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in, err := DecodeInput(EncodeInput(tc.block, tc.time, tc.inputs))
			if err != nil {
				t.Fatal(err)
			}
			if in.Block != tc.block || in.Time != tc.time || !equalLists(in.Inputs, tc.inputs) {
				t.Fatalf("round trip = %+v, want block %d time %d inputs %q", in, tc.block, tc.time, tc.inputs)
			}
		})
	}
}

func TestDecodeInputMalformed(t *testing.T) {
	hdr := cat(le64(7), le64(9))
	for _, tc := range []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"short header", hdr},
		{"count too big", cat(hdr, le32(1))},
		{"huge count", cat(hdr, le32(0xffffffff), le32(0))},
		{"len past end", cat(hdr, le32(1), le32(5), []byte("abcd"))},
		{"huge len", cat(hdr, le32(1), le32(0xffffffff), []byte("abcd"))},
		{"truncated len", cat(hdr, le32(2), le32(1), []byte("a"), []byte{0, 0})},
		{"trailing", cat(hdr, le32(1), le32(1), []byte("a"), []byte("z"))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeInput(tc.b)
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("DecodeInput(%x) error = %v, want ErrMalformed", tc.b, err)
			}
		})
	}
}

func TestRecords(t *testing.T) {
	recs := [][]byte{[]byte(`{"a":1}`), {}, []byte("third")}
	enc := EncodeRecords(recs)
	want := cat(le32(3), le32(7), []byte(`{"a":1}`), le32(0), le32(5), []byte("third"))
	if !bytes.Equal(enc, want) {
		t.Fatalf("EncodeRecords = %x, want %x", enc, want)
	}
	// Incremental building gives the same bytes.
	b, off := StartRecords(nil)
	for _, r := range recs {
		b = AppendRecord(b, r)
	}
	FinishRecords(b, off, len(recs))
	if !bytes.Equal(b, enc) {
		t.Fatalf("StartRecords/AppendRecord/FinishRecords = %x, want %x", b, enc)
	}
	got, err := DecodeRecords(enc)
	if err != nil {
		t.Fatal(err)
	}
	if !equalLists(got, recs) {
		t.Fatalf("DecodeRecords = %q, want %q", got, recs)
	}
	// Decoded slices are capacity-limited: appending to one never clobbers the next.
	got[0] = append(got[0], 'X')
	if !bytes.Equal(got[2], []byte("third")) || !bytes.Equal(enc, want) {
		t.Fatal("append to a decoded record overwrote the frame")
	}
	if got, err := DecodeRecords(EncodeRecords(nil)); err != nil || len(got) != 0 {
		t.Fatalf("empty records = %q, %v", got, err)
	}
}

func TestDecodeRecordsMalformed(t *testing.T) {
	for _, tc := range []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"short count", []byte{1, 0}},
		{"count without bodies", le32(2)},
		{"len past end", cat(le32(1), le32(3), []byte("ab"))},
		{"trailing", cat(le32(0), []byte{0})},
		{"second truncated", cat(le32(2), le32(1), []byte("a"), le32(4), []byte("abc"))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := DecodeRecords(tc.b); !errors.Is(err, ErrMalformed) {
				t.Fatalf("DecodeRecords(%x) error = %v, want ErrMalformed", tc.b, err)
			}
		})
	}
}

func TestDeltas(t *testing.T) {
	ds := []Delta{{Key: []byte("alice"), Value: []byte("-12")}, {Key: []byte{}, Value: []byte("340282366920938463463374607431768211455")}, {Key: []byte("k"), Value: []byte{}}}
	enc := EncodeDeltas(ds)
	want := cat(le32(3), le32(5), []byte("alice"), le32(3), []byte("-12"),
		le32(0), le32(39), []byte("340282366920938463463374607431768211455"),
		le32(1), []byte("k"), le32(0))
	if !bytes.Equal(enc, want) {
		t.Fatalf("EncodeDeltas = %x, want %x", enc, want)
	}
	got, err := DecodeDeltas(enc)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(ds) {
		t.Fatalf("DecodeDeltas len = %d, want %d", len(got), len(ds))
	}
	for i := range ds {
		if !bytes.Equal(got[i].Key, ds[i].Key) || !bytes.Equal(got[i].Value, ds[i].Value) {
			t.Fatalf("delta %d = %q=%q, want %q=%q", i, got[i].Key, got[i].Value, ds[i].Key, ds[i].Value)
		}
	}
}

func TestDecodeDeltasMalformed(t *testing.T) {
	for _, tc := range []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"count without bodies", le32(1)},
		{"count needs 8 bytes per delta", cat(le32(2), le32(0), le32(0), le32(0))},
		{"key past end", cat(le32(1), le32(9), le32(0))},
		{"missing value", cat(le32(1), le32(4), []byte("abcd"))},
		{"value past end", cat(le32(1), le32(1), []byte("a"), le32(2), []byte("b"))},
		{"trailing", cat(le32(1), le32(0), le32(0), []byte{1})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := DecodeDeltas(tc.b); !errors.Is(err, ErrMalformed) {
				t.Fatalf("DecodeDeltas(%x) error = %v, want ErrMalformed", tc.b, err)
			}
		})
	}
}

func FuzzDecodeInput(f *testing.F) {
	f.Add(EncodeInput(1, 2, nil))
	f.Add(EncodeInput(18_000_000, 1_700_000_000, [][]byte{[]byte(`{"number":"0x1"}`), EncodeRecords([][]byte{[]byte("x")}), nil}))
	f.Add(cat(le64(0), le64(0), le32(0xffffffff)))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		in, err := DecodeInput(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		// Valid frames are canonical: re-encoding gives the same bytes.
		if re := EncodeInput(in.Block, in.Time, in.Inputs); !bytes.Equal(re, b) {
			t.Fatalf("re-encoded %x != %x", re, b)
		}
	})
}

func FuzzDecodeRecords(f *testing.F) {
	f.Add(EncodeRecords(nil))
	f.Add(EncodeRecords([][]byte{[]byte(`{"from":"0xa","value":"1"}`), {}, []byte("z")}))
	f.Add(cat(le32(2), le32(1), []byte("a")))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		recs, err := DecodeRecords(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		if re := EncodeRecords(recs); !bytes.Equal(re, b) {
			t.Fatalf("re-encoded %x != %x", re, b)
		}
	})
}

func FuzzDecodeDeltas(f *testing.F) {
	f.Add(EncodeDeltas(nil))
	f.Add(EncodeDeltas([]Delta{{Key: []byte("alice"), Value: []byte("10")}, {Key: []byte("bob"), Value: nil}}))
	f.Add(cat(le32(1), le32(1), []byte("a")))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		ds, err := DecodeDeltas(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		if re := EncodeDeltas(ds); !bytes.Equal(re, b) {
			t.Fatalf("re-encoded %x != %x", re, b)
		}
	})
}

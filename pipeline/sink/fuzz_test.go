package sink

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// FuzzDecodeState checks the JSONL cursor file decoder: no panics, and what
// it accepts re-encodes to a file it decodes to the same state.
func FuzzDecodeState(f *testing.F) {
	f.Add(encodeState(state{Format: stateFormat, Name: "default"}))
	f.Add(encodeState(state{Format: stateFormat, Name: "p", Main: "t", Cursor: &stateCursor{Number: 9, Hash: "0xab"},
		IndexSize: 40, Tables: []stateTable{{Name: "t", Size: 100}, {Name: "u", Size: 3}}}))
	f.Add([]byte(`{"format":"ipdm-jsonl-sink/1","name":"x","cursor":{"number":18446744073709551615,"hash":""},"main":"","index_size":0,"tables":[]}`))
	f.Add([]byte(`{"format":"ipdm-jsonl-sink/1","name":"x","cursor":null,"main":"t","index_size":20,"tables":[{"name":"t","size":-1}]}`))
	f.Add([]byte(`{"format":"ipdm-jsonl-sink/1","name":"x","main":"t","index_size":7,"tables":[{"name":"t","size":1},{"name":"t","size":1}]}`))
	f.Add([]byte(`{} {}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := decodeState(b)
		if err != nil {
			return
		}
		again, err := decodeState(encodeState(st))
		if err != nil {
			t.Fatalf("re-encoded state does not decode: %v", err)
		}
		if !reflect.DeepEqual(normState(st), normState(again)) {
			t.Fatalf("round trip changed the state:\n%+v\n%+v", st, again)
		}
	})
}

func normState(st state) state {
	if len(st.Tables) == 0 {
		st.Tables = nil
	}
	return st
}

// FuzzJSONLFiles feeds arbitrary cursor, index and table files to the
// JSONL sink: opening, reading and undoing must fail cleanly or produce
// rows consistent with the files, never panic.
func FuzzJSONLFiles(f *testing.F) {
	// Seeds: a valid output, then damaged variants of it.
	dir := f.TempDir()
	path := filepath.Join(dir, "seed.jsonl")
	s, err := OpenJSONL(context.Background(), path, Options{})
	if err != nil {
		f.Fatal(err)
	}
	writeBlocks(f, s, 1, 6, 0, 2)
	s.Close()
	read := func(p string) []byte {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		return b
	}
	st, idx, data := read(path+cursorSuffix), read(path+indexSuffix), read(path)
	f.Add(st, idx, data)
	f.Add(st, idx[:len(idx)-1], data)
	f.Add(st, idx, data[:len(data)/2])
	f.Add(st, bytes.Repeat([]byte{0xff}, len(idx)), data)
	f.Add(st, append(append([]byte{}, idx[20:]...), idx[:20]...), data)
	f.Add([]byte(`{"format":"ipdm-jsonl-sink/1","name":"default","cursor":{"number":3,"hash":""},"main":"t","index_size":20,"tables":[{"name":"t","size":3}]}`),
		[]byte("\x02\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"), []byte("{}\n"))
	f.Fuzz(func(t *testing.T, stb, idxb, datab []byte) {
		if len(stb)+len(idxb)+len(datab) > 1<<16 {
			return
		}
		ctx := context.Background()
		path := filepath.Join(t.TempDir(), "f.jsonl")
		st, err := decodeState(stb)
		if err != nil {
			return // FuzzDecodeState covers that; here the files matter
		}
		os.WriteFile(path+cursorSuffix, stb, 0o644)
		os.WriteFile(path+indexSuffix, idxb, 0o644)
		// Every table's file gets the data (the main one) or a copy cut to
		// its committed size.
		for _, tb := range st.Tables {
			p, d := path, datab
			if tb.Name != st.Main {
				p = derivedPath(path, tb.Name)
				d = d[:min(int64(len(d)), tb.Size)]
			}
			os.WriteFile(p, d, 0o644)
		}
		r, err := OpenReader(ctx, "jsonl:"+path, Options{})
		if err != nil {
			return
		}
		for _, tb := range st.Tables {
			r.Scan(ctx, tb.Name, func(row Row) error {
				if bytes.IndexByte(row.JSON, '\n') >= 0 || row.Table != tb.Name || row.Index < 0 {
					t.Fatalf("bad row %+v", row)
				}
				return nil
			})
		}
		r.Close()
		s, err := OpenJSONL(ctx, path, Options{Name: st.Name})
		if err != nil {
			return
		}
		defer s.Close()
		if st.Cursor != nil && st.Cursor.Number > 0 {
			s.Undo(ctx, Cursor{Number: st.Cursor.Number / 2})
		}
	})
}

// FuzzParseObject checks the row splitter against encoding/json: it accepts
// only objects, and then finds the same keys and string values.
func FuzzParseObject(f *testing.F) {
	for _, s := range []string{
		`{}`, `{"a":1}`, `{"a":"x\"}","b":[{"c":"]"}],"d":null,"e":true,"f":-0.5e-3}`,
		` { "a" : { } } `, `{"a":"\u00e9\ud800"}`, `[1]`, `{"a":}`, `{"a":1,"a":2}`, "{\"a\":\"\xff\"}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fields, err := parseObject(b)
		if err != nil {
			return
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("parseObject accepted what encoding/json rejects: %v", err)
		}
		if len(m) != len(fields) {
			t.Fatalf("%d fields, encoding/json finds %d", len(fields), len(m))
		}
		for _, fd := range fields {
			raw, ok := m[fd.key]
			if !ok {
				t.Fatalf("key %q not found by encoding/json", fd.key)
			}
			switch fd.kind {
			case kindString:
				var s string
				json.Unmarshal(raw, &s)
				if s != fd.text {
					t.Fatalf("key %q: %q, encoding/json says %q", fd.key, fd.text, s)
				}
			case kindNull:
				if string(raw) != "null" {
					t.Fatalf("key %q: null, encoding/json says %s", fd.key, raw)
				}
			default:
				var c bytes.Buffer
				json.Compact(&c, []byte(fd.text))
				var want bytes.Buffer
				json.Compact(&want, raw)
				if c.String() != want.String() {
					t.Fatalf("key %q: %s, encoding/json says %s", fd.key, fd.text, raw)
				}
			}
		}
	})
}

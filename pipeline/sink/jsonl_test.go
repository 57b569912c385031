package sink

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestJSONLLayout(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	for _, tc := range []struct {
		path, table       string
		transfers, blocks string // expected file names
	}{
		{"out.jsonl", "", "out.jsonl", "out.blocks.jsonl"},             // first table written is the main one
		{"main.jsonl", "blocks", "main.transfers.jsonl", "main.jsonl"}, // Options.Table
		{"noext", "", "noext", "noext.blocks"},
		{"d.v1.ndjson", "", "d.v1.ndjson", "d.v1.blocks.ndjson"},
	} {
		path := filepath.Join(dir, tc.path)
		s, err := OpenJSONL(ctx, path, Options{Table: tc.table})
		if err != nil {
			t.Fatal(err)
		}
		writeBlocks(t, s, 1, 4, 0, 2)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		for table, name := range map[string]string{"transfers": tc.transfers, "blocks": tc.blocks} {
			var want strings.Builder
			for _, r := range tableRows(chainRows(1, 4, 0), table) {
				want.Write(r.JSON)
				want.WriteByte('\n')
			}
			if got := readFile(t, filepath.Join(dir, name)); got != want.String() {
				t.Errorf("%s: %s holds\n%s\nwant\n%s", tc.path, name, got, want.String())
			}
		}
		for _, suffix := range []string{cursorSuffix, indexSuffix} {
			if _, err := os.Stat(path + suffix); err != nil {
				t.Errorf("%s: %v", tc.path, err)
			}
		}
	}
	// The recorded main table wins over another Options.Table later.
	if _, err := OpenJSONL(ctx, filepath.Join(dir, "out.jsonl"), Options{Table: "blocks"}); !errors.Is(err, ErrInvalidOptions) {
		t.Errorf("reopen with another Table = %v, want ErrInvalidOptions", err)
	}
}

func TestJSONLRefusesForeignFiles(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "mine.jsonl")
	if err := os.WriteFile(path, []byte("{\"user\":1}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenJSONL(ctx, path, Options{}); !errors.Is(err, ErrNotSink) {
		t.Fatalf("open over a user's file = %v, want ErrNotSink", err)
	}
	if got := readFile(t, path); got != "{\"user\":1}\n" {
		t.Fatalf("user's file changed to %q", got)
	}

	path = filepath.Join(dir, "a.jsonl")
	s, err := OpenJSONL(ctx, path, Options{Name: "a"})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := OpenJSONL(ctx, path, Options{Name: "b"}); !errors.Is(err, ErrNameConflict) {
		t.Fatalf("open under another name = %v, want ErrNameConflict", err)
	}
}

// TestJSONLRepair simulates a crash between appending rows and committing:
// bytes past the committed sizes are dropped on open.
func TestJSONLRepair(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "out.jsonl")
	s, err := OpenJSONL(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	writeBlocks(t, s, 1, 5, 0, 5)
	s.Close()
	before := map[string]string{}
	for _, f := range []string{path, derivedPath(path, "blocks"), path + indexSuffix, path + cursorSuffix} {
		before[f] = readFile(t, f)
	}
	for _, f := range []string{path, derivedPath(path, "blocks"), path + indexSuffix} {
		fh, err := os.OpenFile(f, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		fh.WriteString(`{"torn":`)
		fh.Close()
	}
	// A crash leftover of a table never committed is emptied when the
	// table is first written.
	if err := os.WriteFile(derivedPath(path, "extra"), []byte("junk\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A reader sees only committed rows and repairs nothing.
	tg := target{kind: "jsonl", uri: "jsonl:" + path}
	checkContent(t, tg, chainRows(1, 5, 0), Cursor{5, hashOf(5, 0)})
	if readFile(t, path) == before[path] {
		t.Fatal("reader truncated the file")
	}
	s, err = OpenJSONL(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for f, want := range before {
		if got := readFile(t, f); got != want {
			t.Errorf("%s after open:\n%q\nwant\n%q", filepath.Base(f), got, want)
		}
	}
	writeBlocks(t, s, 6, 8, 0, 3)
	if err := s.Write(ctx, []Row{{Table: "extra", Block: 9, JSON: []byte(`{"x":1}`)}}, Cursor{Number: 9}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if got := readFile(t, derivedPath(path, "extra")); got != "{\"x\":1}\n" {
		t.Errorf("extra table file = %q", got)
	}
	checkContent(t, tg, chainRows(1, 8, 0), Cursor{Number: 9})
}

func TestJSONLUndoTruncates(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "out.jsonl")
	s, err := OpenJSONL(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	writeBlocks(t, s, 1, 4, 0, 4)
	want := map[string]string{path: readFile(t, path), derivedPath(path, "blocks"): readFile(t, derivedPath(path, "blocks"))}
	writeBlocks(t, s, 5, 9, 0, 2)
	if err := s.Undo(ctx, Cursor{4, hashOf(4, 0)}); err != nil {
		t.Fatal(err)
	}
	for f, w := range want {
		if got := readFile(t, f); got != w {
			t.Errorf("%s after undo:\n%q\nwant\n%q", filepath.Base(f), got, w)
		}
	}
}

func TestJSONLCorrupt(t *testing.T) {
	ctx := context.Background()
	setup := func(t *testing.T) string {
		path := filepath.Join(t.TempDir(), "out.jsonl")
		s, err := OpenJSONL(ctx, path, Options{})
		if err != nil {
			t.Fatal(err)
		}
		writeBlocks(t, s, 1, 5, 0, 2)
		s.Close()
		return path
	}
	for _, tc := range []struct {
		name   string
		damage func(t *testing.T, path string)
	}{
		{"cursor file garbage", func(t *testing.T, path string) {
			os.WriteFile(path+cursorSuffix, []byte("{\"format\":"), 0o644)
		}},
		{"cursor file unknown format", func(t *testing.T, path string) {
			raw := strings.Replace(readFile(t, path+cursorSuffix), stateFormat, "ipdm-jsonl-sink/9", 1)
			os.WriteFile(path+cursorSuffix, []byte(raw), 0o644)
		}},
		{"table file shorter", func(t *testing.T, path string) {
			os.Truncate(path, 10)
		}},
		{"index missing", func(t *testing.T, path string) {
			os.Remove(path + indexSuffix)
		}},
		{"table file missing", func(t *testing.T, path string) {
			os.Remove(derivedPath(path, "blocks"))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := setup(t)
			tc.damage(t, path)
			if _, err := OpenJSONL(ctx, path, Options{}); !errors.Is(err, ErrCorrupt) {
				t.Errorf("OpenJSONL = %v, want ErrCorrupt", err)
			}
			if _, err := OpenReader(ctx, "jsonl:"+path, Options{}); !errors.Is(err, ErrCorrupt) {
				t.Errorf("OpenReader = %v, want ErrCorrupt", err)
			}
		})
	}
	t.Run("index offset mid-line", func(t *testing.T) {
		path := setup(t)
		f, err := os.OpenFile(path+indexSuffix, os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		f.WriteAt([]byte{1}, 12) // the first record's offset: 0 -> 1
		f.Close()
		err = (func() error {
			r, err := OpenReader(ctx, "jsonl:"+path, Options{})
			if err != nil {
				return err
			}
			defer r.Close()
			return r.Scan(ctx, "transfers", func(Row) error { return nil })
		})()
		if !errors.Is(err, ErrCorrupt) {
			t.Errorf("Scan = %v, want ErrCorrupt", err)
		}
	})
}

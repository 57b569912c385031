package sink

import (
	"context"
	"errors"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

func TestOpenURIErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		uri  string
		opts Options
		want error
	}{
		{"", Options{}, ErrInvalidURI},
		{"out.jsonl", Options{}, ErrInvalidURI},
		{":out.jsonl", Options{}, ErrInvalidURI},
		{"jsonl:", Options{}, ErrInvalidURI},
		{"sqlite:", Options{}, ErrInvalidURI},
		{"postgres:", Options{}, ErrInvalidURI},
		{"sqlite:" + dir + "/a?b.db", Options{}, ErrInvalidURI},
		{"postgres:postgres://u@h:notaport/db", Options{}, ErrInvalidURI},
		{"csv:" + dir + "/x.csv", Options{}, ErrUnknownScheme},
		{"JSONL:" + dir + "/x", Options{}, ErrUnknownScheme},
		{"jsonl:" + dir + "/x", Options{BatchRows: -1}, ErrInvalidOptions},
		{"jsonl:" + dir + "/x", Options{Table: "Bad"}, ErrInvalidOptions},
		{"jsonl:" + dir + "/x", Options{Table: "ipdm_cursor"}, ErrInvalidOptions},
		{"sqlite:" + dir + "/x.db", Options{Schema: "a-b"}, ErrInvalidOptions},
	} {
		s, err := Open(context.Background(), tc.uri, tc.opts)
		if !errors.Is(err, tc.want) {
			t.Errorf("Open(%q, %+v) = %v, want %v", tc.uri, tc.opts, err, tc.want)
		}
		if s != nil {
			s.Close()
		}
	}
	for _, uri := range []string{"jsonl:" + dir + "/none.jsonl", "sqlite:" + dir + "/none.db"} {
		if _, err := OpenReader(context.Background(), uri, Options{}); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("OpenReader(%q) = %v, want fs.ErrNotExist", uri, err)
		}
	}
}

func TestWriteErrors(t *testing.T) {
	obj := func(s string) []byte { return []byte(s) }
	row := func(table string, block uint64, index int, json string) Row {
		return Row{Table: table, Block: block, Index: index, JSON: obj(json)}
	}
	for _, tc := range []struct {
		name    string
		rows    []Row
		through uint64
		want    error
		sql     bool // only SQL sinks parse columns
		jsonl   bool // only JSONL requires single-line rows
		pos     int
	}{
		{name: "not json", rows: []Row{row("t", 1, 0, `{"a":`)}, through: 1, want: ErrInvalidRow},
		{name: "array", rows: []Row{row("t", 1, 0, `[1]`)}, through: 1, want: ErrInvalidRow},
		{name: "string", rows: []Row{row("t", 1, 0, `"x"`)}, through: 1, want: ErrInvalidRow},
		{name: "empty", rows: []Row{row("t", 1, 0, ``)}, through: 1, want: ErrInvalidRow},
		{name: "two values", rows: []Row{row("t", 1, 0, `{} {}`)}, through: 1, want: ErrInvalidRow},
		{name: "table upper", rows: []Row{row("T", 1, 0, `{}`)}, through: 1, want: ErrInvalidRow},
		{name: "table digit", rows: []Row{row("1t", 1, 0, `{}`)}, through: 1, want: ErrInvalidRow},
		{name: "table quote", rows: []Row{row(`t"`, 1, 0, `{}`)}, through: 1, want: ErrInvalidRow},
		{name: "table reserved", rows: []Row{row("ipdm_cursor", 1, 0, `{}`)}, through: 1, want: ErrInvalidRow},
		{name: "table long", rows: []Row{row(strings.Repeat("a", 64), 1, 0, `{}`)}, through: 1, want: ErrInvalidRow},
		{name: "negative index", rows: []Row{row("t", 1, -1, `{}`)}, through: 1, want: ErrInvalidRow},
		{name: "above through", rows: []Row{row("t", 1, 0, `{}`), row("t", 3, 0, `{}`)}, through: 2, want: ErrInvalidBatch, pos: 1},
		{name: "blocks descend", rows: []Row{row("t", 2, 0, `{}`), row("u", 1, 0, `{}`)}, through: 2, want: ErrInvalidBatch, pos: 1},
		{name: "index repeats", rows: []Row{row("t", 1, 0, `{}`), row("u", 1, 0, `{}`), row("t", 1, 0, `{}`)}, through: 1, want: ErrInvalidBatch, pos: 2},
		{name: "index descends", rows: []Row{row("t", 1, 1, `{}`), row("t", 1, 0, `{}`)}, through: 1, want: ErrInvalidBatch, pos: 1},
		{name: "column upper", rows: []Row{row("t", 1, 0, `{"A":1}`)}, through: 1, want: ErrInvalidRow, sql: true},
		{name: "column reserved", rows: []Row{row("t", 1, 0, `{"_block":1}`)}, through: 1, want: ErrInvalidRow, sql: true},
		{name: "column twice", rows: []Row{row("t", 1, 0, `{"a":1,"a":2}`)}, through: 1, want: ErrInvalidRow, sql: true},
		{name: "invalid utf8", rows: []Row{row("t", 1, 0, "{\"a\":\"\xff\"}")}, through: 1, want: ErrInvalidRow, sql: true},
		{name: "kind change", rows: []Row{row("t", 1, 0, `{"a":1}`), row("t", 2, 0, `{"a":"1"}`)}, through: 2, want: ErrInvalidRow, sql: true, pos: 1},
		{name: "kind change after null", rows: []Row{row("t", 1, 0, `{"a":null}`), row("t", 2, 0, `{"a":true}`), row("t", 3, 0, `{"a":{}}`)}, through: 3, want: ErrInvalidRow, sql: true, pos: 2},
		{name: "line break", rows: []Row{row("t", 1, 0, "{\"a\":\n1}")}, through: 1, want: ErrInvalidRow, jsonl: true},
		{name: "carriage return", rows: []Row{row("t", 1, 0, "{\"a\":1}\r")}, through: 1, want: ErrInvalidRow, jsonl: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			eachTarget(t, func(t *testing.T, tg target) {
				s := openT(t, tg)
				err := s.Write(context.Background(), tc.rows, Cursor{Number: tc.through})
				if tc.sql && tg.kind == "jsonl" || tc.jsonl && tg.kind != "jsonl" {
					if err != nil {
						t.Fatalf("%s: %v, want success", tc.name, err)
					}
					return
				}
				if !errors.Is(err, tc.want) {
					t.Fatalf("%s: Write = %v, want %v", tc.name, err, tc.want)
				}
				var re *RowError
				if !errors.As(err, &re) || re.Pos != tc.pos {
					t.Fatalf("%s: %v: want a *RowError at row %d", tc.name, err, tc.pos)
				}
				// Nothing of a rejected Write is stored.
				if cur, has, err := s.Cursor(context.Background()); err != nil || has {
					t.Fatalf("%s: cursor after failed write = %v, %v, %v", tc.name, cur, has, err)
				}
				r, err := OpenReader(context.Background(), tg.uri, tg.opts)
				if err != nil {
					t.Fatal(err)
				}
				defer r.Close()
				if tables, err := r.Tables(context.Background()); err != nil || len(tables) != 0 {
					t.Fatalf("%s: tables after failed write = %v, %v", tc.name, tables, err)
				}
			})
		})
	}
}

func TestWriteReadBack(t *testing.T) {
	eachTarget(t, func(t *testing.T, tg target) {
		s := openT(t, tg)
		writeBlocks(t, s, 1, 10, 0, 3)
		checkContent(t, tg, chainRows(1, 10, 0), Cursor{10, hashOf(10, 0)})
		// Blocks without rows still move the cursor.
		if err := s.Write(context.Background(), nil, Cursor{12, "h12"}); err != nil {
			t.Fatal(err)
		}
		checkContent(t, tg, chainRows(1, 10, 0), Cursor{12, "h12"})
	})
}

func TestRewriteNoDuplicates(t *testing.T) {
	eachTarget(t, func(t *testing.T, tg target) {
		ctx := context.Background()
		s := openT(t, tg)
		writeBlocks(t, s, 1, 6, 0, 6)
		// Replaying committed blocks (a restart that resumes too early)
		// stores nothing twice; a batch straddling the cursor stores only
		// the new blocks.
		writeBlocks(t, s, 1, 6, 0, 2)
		writeBlocks(t, s, 4, 9, 0, 6)
		// Through an older block: nothing moves.
		if err := s.Write(ctx, chainRows(2, 3, 0), Cursor{3, hashOf(3, 0)}); err != nil {
			t.Fatal(err)
		}
		checkContent(t, tg, chainRows(1, 9, 0), Cursor{9, hashOf(9, 0)})
		// The committed block with another hash: the caller missed a reorg.
		err := s.Write(ctx, chainRows(9, 9, 1), Cursor{9, hashOf(9, 1)})
		if !errors.Is(err, ErrCursorConflict) {
			t.Fatalf("Write through a conflicting cursor = %v, want ErrCursorConflict", err)
		}
		s.Close()
		// After reopening, still no duplicates.
		s = openT(t, tg)
		writeBlocks(t, s, 5, 10, 0, 3)
		checkContent(t, tg, chainRows(1, 10, 0), Cursor{10, hashOf(10, 0)})
	})
}

func TestUndoReorg(t *testing.T) {
	eachTarget(t, func(t *testing.T, tg target) {
		ctx := context.Background()
		s := openT(t, tg)
		writeBlocks(t, s, 1, 10, 0, 4)
		if err := s.Undo(ctx, Cursor{7, hashOf(7, 0)}); err != nil {
			t.Fatal(err)
		}
		if cur, has, err := s.Cursor(ctx); err != nil || !has || cur != (Cursor{7, hashOf(7, 0)}) {
			t.Fatalf("cursor after undo = %v, %v, %v", cur, has, err)
		}
		checkContent(t, tg, chainRows(1, 7, 0), Cursor{7, hashOf(7, 0)})
		writeBlocks(t, s, 8, 12, 1, 2)
		want := append(chainRows(1, 7, 0), chainRows(8, 12, 1)...)
		checkContent(t, tg, want, Cursor{12, hashOf(12, 1)})

		// Undo above the cursor changes nothing; undo to the cursor is a
		// no-op; a deeper undo after reopening still finds its offsets.
		if err := s.Undo(ctx, Cursor{20, "x"}); err != nil {
			t.Fatal(err)
		}
		if err := s.Undo(ctx, Cursor{12, hashOf(12, 1)}); err != nil {
			t.Fatal(err)
		}
		checkContent(t, tg, want, Cursor{12, hashOf(12, 1)})
		s.Close()
		s = openT(t, tg)
		if err := s.Undo(ctx, Cursor{2, hashOf(2, 0)}); err != nil {
			t.Fatal(err)
		}
		checkContent(t, tg, chainRows(1, 2, 0), Cursor{2, hashOf(2, 0)})
		if err := s.Undo(ctx, Cursor{0, "genesis"}); err != nil {
			t.Fatal(err)
		}
		checkContent(t, tg, nil, Cursor{0, "genesis"})
		writeBlocks(t, s, 1, 5, 2, 5)
		checkContent(t, tg, chainRows(1, 5, 2), Cursor{5, hashOf(5, 2)})
	})
}

func TestSchemaEvolution(t *testing.T) {
	eachTarget(t, func(t *testing.T, tg target) {
		ctx := context.Background()
		s := openT(t, tg)
		write := func(rows []Row, through uint64) {
			t.Helper()
			if err := s.Write(ctx, rows, Cursor{Number: through}); err != nil {
				t.Fatal(err)
			}
		}
		write([]Row{
			{Table: "ev", Block: 1, Index: 0, JSON: []byte(`{"a":1,"later":null}`)},
			{Table: "ev", Block: 1, Index: 1, JSON: []byte(`{"a":2,"b":"x"}`)}, // new column in the same write
		}, 1)
		s.Close()
		s = openT(t, tg)
		write([]Row{
			{Table: "ev", Block: 2, Index: 0, JSON: []byte(`{"c":[1],"later":"now a string","a":3}`)}, // other key order
		}, 2)
		err := s.Write(ctx, []Row{{Table: "ev", Block: 3, Index: 0, JSON: []byte(`{"later":5}`)}}, Cursor{Number: 3})
		if tg.kind != "jsonl" && !errors.Is(err, ErrInvalidRow) {
			t.Fatalf("kind change after reopen = %v, want ErrInvalidRow", err)
		}
		if tg.kind == "jsonl" && err != nil { // JSONL has no column kinds
			t.Fatal(err)
		}
		rows, err := Rows(ctx, tg.uri, tg.opts, "ev")
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range rows {
			got = append(got, string(r.JSON))
		}
		want := []string{
			`{"a":1,"later":null}`,
			`{"a":2,"b":"x"}`,
			`{"c":[1],"later":"now a string","a":3}`,
			`{"later":5}`,
		}
		if tg.kind != "jsonl" { // columns in first-seen order, absent keys null
			want = []string{
				`{"a":1,"later":null,"b":null,"c":null}`,
				`{"a":2,"later":null,"b":"x","c":null}`,
				`{"a":3,"later":"now a string","b":null,"c":[1]}`,
			}
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("rows:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	})
}

func TestExactValues(t *testing.T) {
	// Values that a float64 round trip or a lax JSON codec would alter.
	rows := []string{
		`{"n":340282366920938463463374607431768211455,"s":"\u00e9\ud83d\ude00 \u0000","f":0.1000000000000000055511151231257827,"b":false,"j":{"x" : [1.0, 2e5]},"z":null}`,
		`{"n":-9223372036854775808,"s":"9007199254740993","f":-12.50,"b":true,"j":[],"z":null}`,
		`{"n":9223372036854775808,"s":"","f":3,"b":true,"j":{},"z":null}`,
		`{"n":-0,"s":"<&>","f":1E+2,"b":false,"j":[{"a":null}],"z":null}`,
	}
	// What the SQL readers return: strings re-escaped, numbers as stored.
	sqlite := []string{
		`{"n":340282366920938463463374607431768211455,"s":"é😀 \u0000","f":0.1000000000000000055511151231257827,"b":false,"j":{"x" : [1.0, 2e5]},"z":null}`,
		`{"n":-9223372036854775808,"s":"9007199254740993","f":-12.50,"b":true,"j":[],"z":null}`,
		`{"n":9223372036854775808,"s":"","f":3,"b":true,"j":{},"z":null}`,
		`{"n":-0,"s":"<&>","f":1E+2,"b":false,"j":[{"a":null}],"z":null}`,
	}
	postgres := []string{ // NUMERIC prints normalised; TEXT cannot hold NUL
		`{"n":340282366920938463463374607431768211455,"s":"é😀","f":0.1000000000000000055511151231257827,"b":false,"j":{"x" : [1.0, 2e5]},"z":null}`,
		`{"n":-9223372036854775808,"s":"9007199254740993","f":-12.50,"b":true,"j":[],"z":null}`,
		`{"n":9223372036854775808,"s":"","f":3,"b":true,"j":{},"z":null}`,
		`{"n":0,"s":"<&>","f":100,"b":false,"j":[{"a":null}],"z":null}`,
	}
	eachTarget(t, func(t *testing.T, tg target) {
		ctx := context.Background()
		s := openT(t, tg)
		in := rows
		want := map[string][]string{"jsonl": rows, "sqlite": sqlite, "postgres": postgres}[tg.kind]
		if tg.kind == "postgres" {
			err := s.Write(ctx, []Row{{Table: "vals", Block: 1, JSON: []byte(rows[0])}}, Cursor{Number: 1})
			if !errors.Is(err, ErrInvalidRow) || !strings.Contains(err.Error(), "NUL") {
				t.Fatalf("postgres write of a NUL character = %v, want ErrInvalidRow", err)
			}
			in = append([]string{strings.Replace(rows[0], ` \u0000`, ``, 1)}, rows[1:]...)
		}
		var batch []Row
		for i, r := range in {
			batch = append(batch, Row{Table: "vals", Block: uint64(i + 1), JSON: []byte(r)})
		}
		if err := s.Write(ctx, batch, Cursor{Number: uint64(len(in))}); err != nil {
			t.Fatal(err)
		}
		got, err := Rows(ctx, tg.uri, tg.opts, "vals")
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) {
			t.Fatalf("%d rows, want %d", len(got), len(want))
		}
		for i := range got {
			if string(got[i].JSON) != want[i] {
				t.Errorf("row %d:\n got %s\nwant %s", i, got[i].JSON, want[i])
			}
		}
	})
}

func TestSharedDatabase(t *testing.T) {
	dir := t.TempDir()
	tgs := []target{{kind: "sqlite", uri: "sqlite:" + filepath.Join(dir, "shared.db")}}
	if pg := pgTarget(t); pg != nil {
		tgs = append(tgs, *pg)
	}
	for _, tg := range tgs {
		t.Run(tg.kind, func(t *testing.T) {
			ctx := context.Background()
			a, b := tg, tg
			a.opts.Name, b.opts.Name = "alpha", "beta"
			sa, sb := openT(t, a), openT(t, b)
			row := func(table string, n uint64) []Row {
				return []Row{{Table: table, Block: n, JSON: []byte(`{"n":1}`)}}
			}
			for n := uint64(1); n <= 5; n++ {
				if err := sa.Write(ctx, row("a_rows", n), Cursor{Number: n}); err != nil {
					t.Fatal(err)
				}
				if err := sb.Write(ctx, row("b_rows", n+100), Cursor{Number: n + 100}); err != nil {
					t.Fatal(err)
				}
			}
			// Each name has its own cursor; one pipeline's undo leaves the
			// other's tables alone; tables belong to their creator.
			if err := sa.Undo(ctx, Cursor{Number: 2}); err != nil {
				t.Fatal(err)
			}
			if cur, _, _ := sa.Cursor(ctx); cur.Number != 2 {
				t.Errorf("alpha cursor %d, want 2", cur.Number)
			}
			if cur, _, _ := sb.Cursor(ctx); cur.Number != 105 {
				t.Errorf("beta cursor %d, want 105", cur.Number)
			}
			if err := sb.Write(ctx, row("a_rows", 106), Cursor{Number: 106}); !errors.Is(err, ErrNameConflict) {
				t.Errorf("beta writing alpha's table = %v, want ErrNameConflict", err)
			}
			ra, _ := Rows(ctx, tg.uri, a.opts, "a_rows")
			rb, _ := Rows(ctx, tg.uri, b.opts, "b_rows")
			if len(ra) != 2 || len(rb) != 5 {
				t.Errorf("a_rows %d rows (want 2), b_rows %d rows (want 5)", len(ra), len(rb))
			}
			r, err := OpenReader(ctx, tg.uri, b.opts)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			tables, err := r.Tables(ctx)
			if err != nil || strings.Join(tables, ",") != "a_rows,b_rows" {
				t.Errorf("Tables = %v, %v", tables, err)
			}
			if err := r.Scan(ctx, "nope", func(Row) error { return nil }); !errors.Is(err, ErrNoTable) {
				t.Errorf("Scan of a missing table = %v, want ErrNoTable", err)
			}
			if cur, has, err := r.Cursor(ctx); err != nil || !has || cur.Number != 105 {
				t.Errorf("reader cursor = %v, %v, %v", cur, has, err)
			}
			if w, ok := r.(Sink); !ok || !errors.Is(w.Write(ctx, nil, Cursor{Number: 200}), ErrReadOnly) {
				t.Errorf("reader Write did not fail with ErrReadOnly")
			}
		})
	}
}

func TestClosed(t *testing.T) {
	eachTarget(t, func(t *testing.T, tg target) {
		s := openT(t, tg)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
		ctx := context.Background()
		if err := s.Write(ctx, nil, Cursor{Number: 1}); !errors.Is(err, ErrClosed) {
			t.Errorf("Write after Close = %v", err)
		}
		if err := s.Undo(ctx, Cursor{}); !errors.Is(err, ErrClosed) {
			t.Errorf("Undo after Close = %v", err)
		}
		if _, _, err := s.Cursor(ctx); !errors.Is(err, ErrClosed) {
			t.Errorf("Cursor after Close = %v", err)
		}
	})
}

func TestCanceledWrite(t *testing.T) {
	eachTarget(t, func(t *testing.T, tg target) {
		s := openT(t, tg)
		writeBlocks(t, s, 1, 3, 0, 3)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := s.Write(ctx, chainRows(4, 6, 0), Cursor{6, hashOf(6, 0)}); !errors.Is(err, context.Canceled) {
			t.Fatalf("Write with a canceled context = %v", err)
		}
		if err := s.Undo(ctx, Cursor{1, hashOf(1, 0)}); !errors.Is(err, context.Canceled) {
			t.Fatalf("Undo with a canceled context = %v", err)
		}
		checkContent(t, tg, chainRows(1, 3, 0), Cursor{3, hashOf(3, 0)})
		writeBlocks(t, s, 4, 6, 0, 3)
		checkContent(t, tg, chainRows(1, 6, 0), Cursor{6, hashOf(6, 0)})
	})
}

// TestPostgresReconnect kills the sink's server process: the Write that
// finds the connection dead fails, and the next one reconnects.
func TestPostgresReconnect(t *testing.T) {
	tg := pgTarget(t)
	if tg == nil {
		t.Skipf("%s unset", envPostgres)
	}
	ctx := context.Background()
	s := openT(t, *tg)
	writeBlocks(t, s, 1, 3, 0, 3)
	pid := s.(*SQL).d.(*pgDB).conn.PgConn().PID()
	admin, err := OpenPostgres(ctx, strings.TrimPrefix(tg.uri, "postgres:"), Options{Schema: tg.opts.Schema})
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if _, err := admin.d.(*pgDB).conn.Exec(ctx, "SELECT pg_terminate_backend($1)", pid); err != nil {
		t.Fatal(err)
	}
	err = s.Write(ctx, chainRows(4, 5, 0), Cursor{5, hashOf(5, 0)})
	t.Logf("write on the dead connection: %v", err)
	writeBlocks(t, s, 4, 8, 0, 5)
	checkContent(t, *tg, chainRows(1, 8, 0), Cursor{8, hashOf(8, 0)})
}

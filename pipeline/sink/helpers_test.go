package sink

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"
)

// envPostgres names the environment variable holding a PostgreSQL DSN;
// Postgres tests are skipped when it is unset.
const envPostgres = "IPDM_POSTGRES_DSN"

// target is one sink location under test.
type target struct {
	kind string // "jsonl", "sqlite", "postgres"
	uri  string
	opts Options
}

var schemaSeq atomic.Int64

// targets returns a fresh location for every sink kind: files in a
// temporary directory, and a PostgreSQL schema of its own (dropped at the
// end of the test) when IPDM_POSTGRES_DSN is set.
func targets(t testing.TB) []target {
	dir := t.TempDir()
	ts := []target{
		{kind: "jsonl", uri: "jsonl:" + filepath.Join(dir, "out.jsonl")},
		{kind: "sqlite", uri: "sqlite:" + filepath.Join(dir, "out.db")},
	}
	if pg := pgTarget(t); pg != nil {
		ts = append(ts, *pg)
	}
	return ts
}

// pgTarget returns a PostgreSQL target in a new schema, or nil when
// IPDM_POSTGRES_DSN is unset.
func pgTarget(t testing.TB) *target {
	dsn := os.Getenv(envPostgres)
	if dsn == "" {
		return nil
	}
	schema := "ipdm_sinktest_" + strconv.Itoa(os.Getpid()) + "_" + strconv.FormatInt(schemaSeq.Add(1), 10)
	t.Cleanup(func() {
		ctx := context.Background()
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return &target{kind: "postgres", uri: "postgres:" + dsn, opts: Options{Schema: schema}}
}

// eachTarget runs fn as a subtest per target.
func eachTarget(t *testing.T, fn func(t *testing.T, tg target)) {
	for _, tg := range targets(t) {
		t.Run(tg.kind, func(t *testing.T) { fn(t, tg) })
	}
	if os.Getenv(envPostgres) == "" {
		t.Logf("postgres: skipped (%s unset)", envPostgres)
	}
}

func openT(t testing.TB, tg target) Sink {
	t.Helper()
	s, err := Open(context.Background(), tg.uri, tg.opts)
	if err != nil {
		t.Fatalf("Open(%s): %v", tg.uri, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// hashOf is the block hash of block n on a fork (0 = the canonical chain).
func hashOf(n uint64, fork int) string {
	return fmt.Sprintf("0x%02x%062x", fork, n)
}

// blockRows returns the rows of block n on a fork: n%3 transfers (values
// of every JSON kind, big and fractional numbers, escapes, nested JSON
// with insignificant spaces) and one blocks row. The JSON is written as
// the SQL readers write it back, so every sink must return it unchanged.
func blockRows(n uint64, fork int) []Row {
	var rows []Row
	for i := range int(n % 3) {
		var b bytes.Buffer
		fmt.Fprintf(&b, `{"token":"0x%040x","value":"%d000000000000000000000000000000",`, n*7+uint64(i), n+uint64(fork))
		fmt.Fprintf(&b, `"amount":%d340282366920938463463374607431768211455,"log_index":%d,"ratio":%d.50,"neg":-%d,`, n, i, fork, n)
		fmt.Fprintf(&b, `"ok":%t,"memo":%s,"meta":{"fork": %d, "list": [1, "two", null]},"none":null}`,
			i%2 == 0, appendString(nil, fmt.Sprintf("é \"q\" <a&b> \\ \t\u2028 fork %d", fork)), fork)
		rows = append(rows, Row{Table: "transfers", Block: n, Index: i, JSON: b.Bytes()})
	}
	rows = append(rows, Row{Table: "blocks", Block: n, Index: 0,
		JSON: fmt.Appendf(nil, `{"number":%d,"hash":"%s","transfers":%d}`, n, hashOf(n, fork), n%3)})
	return rows
}

// chainRows returns the rows of blocks from..to on a fork.
func chainRows(from, to uint64, fork int) []Row {
	var rows []Row
	for n := from; n <= to; n++ {
		rows = append(rows, blockRows(n, fork)...)
	}
	return rows
}

// writeBlocks writes blocks from..to of a fork in batches of per blocks.
func writeBlocks(t testing.TB, s Sink, from, to uint64, fork, per int) {
	t.Helper()
	ctx := context.Background()
	for lo := from; lo <= to; lo += uint64(per) {
		hi := min(lo+uint64(per)-1, to)
		if err := s.Write(ctx, chainRows(lo, hi, fork), Cursor{Number: hi, Hash: hashOf(hi, fork)}); err != nil {
			t.Fatalf("Write %d..%d: %v", lo, hi, err)
		}
	}
}

// tableRows filters rows of one table.
func tableRows(rows []Row, table string) []Row {
	var out []Row
	for _, r := range rows {
		if r.Table == table {
			out = append(out, r)
		}
	}
	return out
}

// checkContent asserts that the location holds exactly want (rows of all
// tables, in block order) and the cursor.
func checkContent(t *testing.T, tg target, want []Row, cur Cursor) {
	t.Helper()
	ctx := context.Background()
	for _, table := range []string{"transfers", "blocks"} {
		got, err := Rows(ctx, tg.uri, tg.opts, table)
		if err != nil {
			t.Fatalf("Rows(%s): %v", table, err)
		}
		wantT := tableRows(want, table)
		if len(got) != len(wantT) {
			t.Errorf("table %s: %d rows, want %d", table, len(got), len(wantT))
		}
		for i := range min(len(got), len(wantT)) {
			g, w := got[i], wantT[i]
			if g.Table != w.Table || g.Block != w.Block || g.Index != w.Index || !bytes.Equal(g.JSON, w.JSON) {
				t.Fatalf("table %s row %d:\n got %s %d %d %s\nwant %s %d %d %s", table, i,
					g.Table, g.Block, g.Index, g.JSON, w.Table, w.Block, w.Index, w.JSON)
			}
		}
	}
	r, err := OpenReader(ctx, tg.uri, tg.opts)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got, has, err := r.Cursor(ctx)
	if err != nil || !has || got != cur {
		t.Errorf("cursor = %v, %v, %v; want %v", got, has, err, cur)
	}
}

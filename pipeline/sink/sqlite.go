package sink

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// sqliteMaxParams bounds the parameters of one INSERT statement, far
// below SQLite's limit (32766): modernc.org/sqlite finds each parameter's
// argument by scanning all of them, so binding costs O(params²) per
// statement. At 1000 rows of 10 columns a statement, binding was 80% of a
// Write's time; from 256 to 1024 parameters the cost is flat.
const sqliteMaxParams = 512

// OpenSQLite opens or creates the SQLite database at path (modernc.org/sqlite,
// pure Go) in WAL mode with synchronous=FULL, so a committed Write survives
// power loss, and creates the sink metadata tables when missing.
func OpenSQLite(ctx context.Context, path string, opts Options) (*SQL, error) {
	return openSQLite(ctx, path, opts, false)
}

func openSQLite(ctx context.Context, path string, opts Options, readOnly bool) (*SQL, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if path == "" || strings.ContainsRune(path, '?') {
		return nil, fmt.Errorf("sink: %w: sqlite path %q", ErrInvalidURI, path)
	}
	dsn := path + "?_pragma=busy_timeout(10000)"
	if readOnly {
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("sink: sqlite: %w", err)
		}
		dsn += "&_pragma=query_only(1)"
	} else {
		// _txlock=immediate takes the write lock at BEGIN, so a writer
		// waits (busy_timeout) instead of failing on a lock upgrade when
		// several pipelines share the file.
		dsn += "&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_txlock=immediate"
	}
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("sink: sqlite: open %s: %w", path, err)
	}
	// One connection: the sink serialises its calls anyway, and a
	// ":memory:" database exists once per connection.
	db.SetMaxOpenConns(1)
	db.SetConnMaxLifetime(0)
	d := &sqliteDB{db: db}
	if !readOnly {
		err = d.setup(ctx)
	} else {
		err = db.PingContext(ctx)
	}
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("sink: sqlite: open %s: %w", path, err)
	}
	return &SQL{d: d, name: opts.name(), batchRows: opts.batchRows(), access: access{readOnly: readOnly}}, nil
}

type sqliteDB struct {
	db *sql.DB
}

func (d *sqliteDB) label() string { return "sqlite" }

func (d *sqliteDB) close() error { return d.db.Close() }

func (d *sqliteDB) setup(ctx context.Context) error {
	for _, q := range []string{
		`CREATE TABLE IF NOT EXISTS ipdm_cursor (name TEXT PRIMARY KEY, number BIGINT NOT NULL, hash TEXT NOT NULL)`,
		`CREATE TABLE IF NOT EXISTS ipdm_tables (tbl TEXT PRIMARY KEY, name TEXT NOT NULL)`,
		`CREATE TABLE IF NOT EXISTS ipdm_columns (tbl TEXT NOT NULL, col TEXT NOT NULL, pos INTEGER NOT NULL, kind TEXT NOT NULL, PRIMARY KEY (tbl, col))`,
	} {
		if _, err := d.db.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	return nil
}

func (d *sqliteDB) load(ctx context.Context, name string) (schema, Cursor, bool, error) {
	var n int
	err := d.db.QueryRowContext(ctx,
		`SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN ('ipdm_cursor', 'ipdm_tables', 'ipdm_columns')`).Scan(&n)
	if err != nil || n < 3 {
		return schema{}, Cursor{}, false, err
	}
	sc := schema{}
	rows, err := d.db.QueryContext(ctx, `SELECT tbl, name FROM ipdm_tables`)
	if err != nil {
		return nil, Cursor{}, false, err
	}
	for rows.Next() {
		var tbl, owner string
		if err := rows.Scan(&tbl, &owner); err != nil {
			rows.Close()
			return nil, Cursor{}, false, err
		}
		sc[tbl] = &table{owner: owner}
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, Cursor{}, false, err
	}
	rows, err = d.db.QueryContext(ctx, `SELECT tbl, col, pos, kind FROM ipdm_columns ORDER BY tbl, pos`)
	if err != nil {
		return nil, Cursor{}, false, err
	}
	for rows.Next() {
		var tbl, col, k string
		var pos int64
		if err := rows.Scan(&tbl, &col, &pos, &k); err != nil {
			rows.Close()
			return nil, Cursor{}, false, err
		}
		if err := addLoadedColumn(sc, tbl, col, pos, k); err != nil {
			rows.Close()
			return nil, Cursor{}, false, err
		}
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, Cursor{}, false, err
	}
	if err := checkSchema(sc); err != nil {
		return nil, Cursor{}, false, err
	}
	var number int64
	var hash string
	err = d.db.QueryRowContext(ctx, `SELECT number, hash FROM ipdm_cursor WHERE name = ?`, name).Scan(&number, &hash)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return sc, Cursor{}, false, nil
	case err != nil:
		return nil, Cursor{}, false, err
	}
	cur, err := loadedCursor(number, hash)
	return sc, cur, err == nil, err
}

// sqlType is the declared column type for a kind. Numbers and columns of
// unknown kind get no type, hence BLOB affinity: SQLite then stores exactly
// what is bound (an INTEGER, or the literal as TEXT) where NUMERIC affinity
// would turn big or fractional literals into lossy REALs.
func sqliteType(k kind) string {
	switch k {
	case kindString, kindJSON:
		return " TEXT"
	case kindBool:
		return " BOOLEAN"
	}
	return ""
}

// sqliteArg is the value bound for a cell: numbers that round-trip through
// int64 as INTEGER, other number literals as TEXT, booleans as 0/1.
func sqliteArg(v value) any {
	switch v.kind {
	case kindNull:
		return nil
	case kindBool:
		if v.text == "true" {
			return int64(1)
		}
		return int64(0)
	case kindNumber:
		if n, err := strconv.ParseInt(v.text, 10, 64); err == nil && strconv.FormatInt(n, 10) == v.text {
			return n
		}
	}
	return v.text
}

func (d *sqliteDB) write(ctx context.Context, name string, p *writePlan, batchRows int) error {
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, c := range p.changes {
		if err := sqliteChange(ctx, tx, name, c); err != nil {
			return err
		}
	}
	var q strings.Builder
	var args []any
	// Statements are prepared once per Write and table: every full chunk
	// has the same text. The transaction closes them.
	stmts := map[string]*sql.Stmt{}
	for _, ins := range p.inserts {
		ncols := len(ins.cols) + 2
		per := max(1, min(batchRows, sqliteMaxParams/ncols))
		for lo := 0; lo < len(ins.blocks); lo += per {
			hi := min(lo+per, len(ins.blocks))
			q.Reset()
			q.WriteString(`INSERT INTO "`)
			q.WriteString(ins.table)
			q.WriteString(`" ("_block", "_index"`)
			for _, c := range ins.cols {
				q.WriteString(`, "`)
				q.WriteString(c.name)
				q.WriteString(`"`)
			}
			q.WriteString(") VALUES ")
			args = args[:0]
			for r := lo; r < hi; r++ {
				if r > lo {
					q.WriteString(", ")
				}
				q.WriteString("(?, ?")
				q.WriteString(strings.Repeat(", ?", len(ins.cols)))
				q.WriteString(")")
				args = append(args, ins.blocks[r], ins.indexes[r])
				for c := range ins.cols {
					args = append(args, sqliteArg(ins.vals[c][r]))
				}
			}
			q.WriteString(` ON CONFLICT ("_block", "_index") DO NOTHING`)
			st := stmts[q.String()]
			if st == nil {
				if st, err = tx.PrepareContext(ctx, q.String()); err != nil {
					return fmt.Errorf("insert into %s: %w", ins.table, err)
				}
				stmts[q.String()] = st
			}
			if _, err := st.ExecContext(ctx, args...); err != nil {
				return fmt.Errorf("insert into %s: %w", ins.table, err)
			}
		}
	}
	if p.setCursor {
		if err := sqliteSetCursor(ctx, tx, name, p.cursor); err != nil {
			return err
		}
	}
	return tx.Commit()
}

func sqliteChange(ctx context.Context, tx *sql.Tx, name string, c change) error {
	var err error
	switch c.op {
	case opCreateTable:
		// WITHOUT ROWID stores rows in primary-key order: appends stay
		// appends, and undo and dumps are range scans.
		_, err = tx.ExecContext(ctx, `CREATE TABLE "`+c.table+`" ("_block" BIGINT NOT NULL, "_index" INTEGER NOT NULL, PRIMARY KEY ("_block", "_index")) WITHOUT ROWID`)
		if err == nil {
			_, err = tx.ExecContext(ctx, `INSERT INTO ipdm_tables (tbl, name) VALUES (?, ?)`, c.table, name)
		}
	case opAddColumn:
		_, err = tx.ExecContext(ctx, `ALTER TABLE "`+c.table+`" ADD COLUMN "`+c.col.name+`"`+sqliteType(c.col.kind))
		if err == nil {
			_, err = tx.ExecContext(ctx, `INSERT INTO ipdm_columns (tbl, col, pos, kind) VALUES (?, ?, ?, ?)`, c.table, c.col.name, c.pos, string(c.col.kind))
		}
	case opSetKind:
		_, err = tx.ExecContext(ctx, `UPDATE ipdm_columns SET kind = ? WHERE tbl = ? AND col = ?`, string(c.col.kind), c.table, c.col.name)
	}
	if err != nil {
		return fmt.Errorf("table %s: %w", c.table, err)
	}
	return nil
}

func sqliteSetCursor(ctx context.Context, tx *sql.Tx, name string, c Cursor) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO ipdm_cursor (name, number, hash) VALUES (?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET number = excluded.number, hash = excluded.hash`, name, int64(c.Number), c.Hash)
	return err
}

func (d *sqliteDB) undo(ctx context.Context, name string, tables []string, to Cursor, setCursor bool) error {
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, t := range tables {
		if _, err := tx.ExecContext(ctx, `DELETE FROM "`+t+`" WHERE "_block" > ?`, int64(to.Number)); err != nil {
			return fmt.Errorf("delete from %s: %w", t, err)
		}
	}
	if setCursor {
		if err := sqliteSetCursor(ctx, tx, name, to); err != nil {
			return err
		}
	}
	return tx.Commit()
}

func (d *sqliteDB) scan(ctx context.Context, table string, cols []column, fn func(Row) error) error {
	var q strings.Builder
	q.WriteString(`SELECT "_block", "_index"`)
	for _, c := range cols {
		q.WriteString(`, "`)
		q.WriteString(c.name)
		q.WriteString(`"`)
	}
	q.WriteString(` FROM "` + table + `" ORDER BY "_block", "_index"`)
	rows, err := d.db.QueryContext(ctx, q.String())
	if err != nil {
		return fmt.Errorf("sink: sqlite: read %s: %w", table, err)
	}
	defer rows.Close()
	var block, index int64
	cells := make([]any, len(cols))
	dest := make([]any, len(cols)+2)
	dest[0], dest[1] = &block, &index
	for i := range cells {
		dest[i+2] = &cells[i]
	}
	var buf []byte
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return fmt.Errorf("sink: sqlite: read %s: %w", table, err)
		}
		if buf, err = rowJSON(buf, cols, cells); err != nil {
			return fmt.Errorf("sink: sqlite: read %s block %d index %d: %w", table, block, index, err)
		}
		if err := fn(Row{Table: table, Block: uint64(block), Index: int(index), JSON: append([]byte(nil), buf...)}); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("sink: sqlite: read %s: %w", table, err)
	}
	return nil
}

package sink

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// OpenPostgres connects to the PostgreSQL database at dsn (a URL such as
// postgres://user:pass@host:5432/db?sslmode=disable, or key=value pairs) and
// creates opts.Schema and the sink metadata tables when missing. The sink
// holds one connection and reconnects on its next call after losing it.
func OpenPostgres(ctx context.Context, dsn string, opts Options) (*SQL, error) {
	return openPostgres(ctx, dsn, opts, false)
}

func openPostgres(ctx context.Context, dsn string, opts Options, readOnly bool) (*SQL, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if _, err := pgx.ParseConfig(dsn); err != nil {
		return nil, fmt.Errorf("sink: %w: postgres DSN: %w", ErrInvalidURI, err)
	}
	d := &pgDB{dsn: dsn, schema: opts.Schema}
	conn, err := d.connect(ctx)
	if err == nil && !readOnly {
		err = d.setup(ctx, conn)
	}
	if err != nil {
		d.close()
		return nil, fmt.Errorf("sink: postgres: open: %w", err)
	}
	return &SQL{d: d, name: opts.name(), batchRows: opts.batchRows(), access: access{readOnly: readOnly}, noNUL: true}, nil
}

type pgDB struct {
	dsn    string
	schema string // "" = the connection's search_path
	conn   *pgx.Conn
}

func (d *pgDB) label() string { return "postgres" }

func (d *pgDB) close() error {
	if d.conn == nil {
		return nil
	}
	// Close sends a termination message; bound it so that a dead server
	// cannot hang Close.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := d.conn.Close(ctx)
	d.conn = nil
	return err
}

// connect returns the open connection, dialling a new one when there is
// none or the last one broke.
func (d *pgDB) connect(ctx context.Context) (*pgx.Conn, error) {
	if d.conn != nil && !d.conn.IsClosed() {
		return d.conn, nil
	}
	conn, err := pgx.Connect(ctx, d.dsn)
	if err != nil {
		return nil, err
	}
	d.conn = conn
	return conn, nil
}

// ident quotes a table name, qualified with the schema when one is set.
func (d *pgDB) ident(name string) string {
	if d.schema == "" {
		return pgx.Identifier{name}.Sanitize()
	}
	return pgx.Identifier{d.schema, name}.Sanitize()
}

func (d *pgDB) setup(ctx context.Context, conn *pgx.Conn) error {
	var qs []string
	if d.schema != "" {
		qs = append(qs, `CREATE SCHEMA IF NOT EXISTS `+pgx.Identifier{d.schema}.Sanitize())
	}
	qs = append(qs,
		`CREATE TABLE IF NOT EXISTS `+d.ident("ipdm_cursor")+` (name TEXT PRIMARY KEY, number BIGINT NOT NULL, hash TEXT NOT NULL)`,
		`CREATE TABLE IF NOT EXISTS `+d.ident("ipdm_tables")+` (tbl TEXT PRIMARY KEY, name TEXT NOT NULL)`,
		`CREATE TABLE IF NOT EXISTS `+d.ident("ipdm_columns")+` (tbl TEXT NOT NULL, col TEXT NOT NULL, pos INTEGER NOT NULL, kind TEXT NOT NULL, PRIMARY KEY (tbl, col))`,
	)
	for _, q := range qs {
		if _, err := conn.Exec(ctx, q); err != nil {
			return err
		}
	}
	return nil
}

func (d *pgDB) load(ctx context.Context, name string) (schema, Cursor, bool, error) {
	conn, err := d.connect(ctx)
	if err != nil {
		return nil, Cursor{}, false, err
	}
	var present bool
	if err := conn.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL AND to_regclass($2) IS NOT NULL AND to_regclass($3) IS NOT NULL`,
		d.ident("ipdm_cursor"), d.ident("ipdm_tables"), d.ident("ipdm_columns")).Scan(&present); err != nil {
		return nil, Cursor{}, false, err
	}
	sc := schema{}
	if !present {
		return sc, Cursor{}, false, nil
	}
	rows, err := conn.Query(ctx, `SELECT tbl, name FROM `+d.ident("ipdm_tables"))
	if err != nil {
		return nil, Cursor{}, false, err
	}
	var tbl, owner string
	_, err = pgx.ForEachRow(rows, []any{&tbl, &owner}, func() error {
		sc[tbl] = &table{owner: owner}
		return nil
	})
	if err != nil {
		return nil, Cursor{}, false, err
	}
	rows, err = conn.Query(ctx, `SELECT tbl, col, pos, kind FROM `+d.ident("ipdm_columns")+` ORDER BY tbl, pos`)
	if err != nil {
		return nil, Cursor{}, false, err
	}
	var col, k string
	var pos int32
	_, err = pgx.ForEachRow(rows, []any{&tbl, &col, &pos, &k}, func() error {
		return addLoadedColumn(sc, tbl, col, int64(pos), k)
	})
	if err != nil {
		return nil, Cursor{}, false, err
	}
	if err := checkSchema(sc); err != nil {
		return nil, Cursor{}, false, err
	}
	var number int64
	var hash string
	err = conn.QueryRow(ctx, `SELECT number, hash FROM `+d.ident("ipdm_cursor")+` WHERE name = $1`, name).Scan(&number, &hash)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return sc, Cursor{}, false, nil
	case err != nil:
		return nil, Cursor{}, false, err
	}
	cur, err := loadedCursor(number, hash)
	return sc, cur, err == nil, err
}

// pgType is the column type for a kind. NUMERIC keeps every JSON number
// exactly; JSON (not JSONB) keeps objects' text verbatim.
func pgType(k kind) string {
	switch k {
	case kindNumber:
		return "NUMERIC"
	case kindBool:
		return "BOOLEAN"
	case kindJSON:
		return "JSON"
	}
	return "TEXT"
}

func (d *pgDB) write(ctx context.Context, name string, p *writePlan, batchRows int) error {
	conn, err := d.connect(ctx)
	if err != nil {
		return err
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	// Schema changes go first and one by one: a batch prepares all its
	// statements before running any, and an INSERT cannot be prepared
	// before its table has the columns.
	for _, c := range p.changes {
		if err := d.change(ctx, tx, name, c); err != nil {
			return err
		}
	}
	// Rows travel as one text array per column and are cast server-side:
	// one statement per table and chunk, one round trip for the batch.
	b := &pgx.Batch{}
	for _, ins := range p.inserts {
		q := d.insertSQL(ins)
		for lo := 0; lo < len(ins.blocks); lo += batchRows {
			hi := min(lo+batchRows, len(ins.blocks))
			args := make([]any, 0, len(ins.cols)+2)
			args = append(args, ins.blocks[lo:hi], ins.indexes[lo:hi])
			for c := range ins.cols {
				texts := make([]pgtype.Text, hi-lo)
				for r := lo; r < hi; r++ {
					if v := ins.vals[c][r]; v.kind != kindNull {
						texts[r-lo] = pgtype.Text{String: v.text, Valid: true}
					}
				}
				args = append(args, texts)
			}
			b.Queue(q, args...)
		}
	}
	if p.setCursor {
		d.queueCursor(b, name, p.cursor)
	}
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

func (d *pgDB) insertSQL(ins *insert) string {
	var q strings.Builder
	q.WriteString(`INSERT INTO ` + d.ident(ins.table) + ` ("_block", "_index"`)
	for _, c := range ins.cols {
		q.WriteString(", " + pgx.Identifier{c.name}.Sanitize())
	}
	q.WriteString(`) SELECT b, i`)
	for i, c := range ins.cols {
		q.WriteString(", c" + strconv.Itoa(i))
		if t := pgType(c.kind); t != "TEXT" {
			q.WriteString("::" + t)
		}
	}
	q.WriteString(` FROM unnest($1::int8[], $2::int4[]`)
	for i := range ins.cols {
		q.WriteString(", $" + strconv.Itoa(i+3) + "::text[]")
	}
	q.WriteString(`) AS u(b, i`)
	for i := range ins.cols {
		q.WriteString(", c" + strconv.Itoa(i))
	}
	q.WriteString(`) ON CONFLICT ("_block", "_index") DO NOTHING`)
	return q.String()
}

func (d *pgDB) change(ctx context.Context, tx pgx.Tx, name string, c change) error {
	var err error
	col := pgx.Identifier{c.col.name}.Sanitize()
	switch c.op {
	case opCreateTable:
		_, err = tx.Exec(ctx, `CREATE TABLE `+d.ident(c.table)+` ("_block" BIGINT NOT NULL, "_index" INTEGER NOT NULL, PRIMARY KEY ("_block", "_index"))`)
		if err == nil {
			_, err = tx.Exec(ctx, `INSERT INTO `+d.ident("ipdm_tables")+` (tbl, name) VALUES ($1, $2)`, c.table, name)
		}
	case opAddColumn:
		_, err = tx.Exec(ctx, `ALTER TABLE `+d.ident(c.table)+` ADD COLUMN `+col+` `+pgType(c.col.kind))
		if err == nil {
			_, err = tx.Exec(ctx, `INSERT INTO `+d.ident("ipdm_columns")+` (tbl, col, pos, kind) VALUES ($1, $2, $3, $4)`,
				c.table, c.col.name, int32(c.pos), string(c.col.kind))
		}
	case opSetKind:
		// The column held only NULLs until now, so the cast cannot fail.
		t := pgType(c.col.kind)
		_, err = tx.Exec(ctx, `ALTER TABLE `+d.ident(c.table)+` ALTER COLUMN `+col+` TYPE `+t+` USING `+col+`::`+t)
		if err == nil {
			_, err = tx.Exec(ctx, `UPDATE `+d.ident("ipdm_columns")+` SET kind = $1 WHERE tbl = $2 AND col = $3`,
				string(c.col.kind), c.table, c.col.name)
		}
	}
	if err != nil {
		return fmt.Errorf("table %s: %w", c.table, err)
	}
	return nil
}

func (d *pgDB) queueCursor(b *pgx.Batch, name string, c Cursor) {
	b.Queue(`INSERT INTO `+d.ident("ipdm_cursor")+` (name, number, hash) VALUES ($1, $2, $3)
		ON CONFLICT (name) DO UPDATE SET number = excluded.number, hash = excluded.hash`, name, int64(c.Number), c.Hash)
}

func (d *pgDB) undo(ctx context.Context, name string, tables []string, to Cursor, setCursor bool) error {
	conn, err := d.connect(ctx)
	if err != nil {
		return err
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	b := &pgx.Batch{}
	for _, t := range tables {
		b.Queue(`DELETE FROM `+d.ident(t)+` WHERE "_block" > $1`, int64(to.Number))
	}
	if setCursor {
		d.queueCursor(b, name, to)
	}
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

func (d *pgDB) scan(ctx context.Context, table string, cols []column, fn func(Row) error) error {
	conn, err := d.connect(ctx)
	if err != nil {
		return fmt.Errorf("sink: postgres: read %s: %w", table, err)
	}
	var q strings.Builder
	q.WriteString(`SELECT "_block", "_index"`)
	for _, c := range cols {
		q.WriteString(", " + pgx.Identifier{c.name}.Sanitize() + "::text")
	}
	q.WriteString(` FROM ` + d.ident(table) + ` ORDER BY "_block", "_index"`)
	rows, err := conn.Query(ctx, q.String())
	if err != nil {
		return fmt.Errorf("sink: postgres: read %s: %w", table, err)
	}
	var block int64
	var index int32
	texts := make([]pgtype.Text, len(cols))
	cells := make([]any, len(cols))
	dest := make([]any, len(cols)+2)
	dest[0], dest[1] = &block, &index
	for i := range texts {
		dest[i+2] = &texts[i]
	}
	var buf []byte
	_, err = pgx.ForEachRow(rows, dest, func() error {
		for i, t := range texts {
			cells[i] = nil
			if t.Valid {
				cells[i] = t.String
			}
		}
		var err error
		if buf, err = rowJSON(buf, cols, cells); err != nil {
			return fmt.Errorf("sink: postgres: read %s block %d index %d: %w", table, block, index, err)
		}
		return fn(Row{Table: table, Block: uint64(block), Index: int(index), JSON: append([]byte(nil), buf...)})
	})
	return err
}

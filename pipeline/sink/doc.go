// Package sink stores the rows a pipeline produces, together with the cursor
// of the last block stored, in JSON lines files, SQLite or PostgreSQL.
//
// [Open] takes a URI — "jsonl:PATH", "sqlite:PATH" or "postgres:DSN" — and
// [Options]; [OpenJSONL], [OpenSQLite] and [OpenPostgres] return the concrete
// types. The engine drives a [Sink]: Write(rows, through) after each batch
// of blocks, Undo(to) when the chain reorganises, Cursor on start to resume
// after the last committed block. [OpenReader] and [Rows] read tables back
// (tests, the CLI's dump).
//
// # Guarantees
//
// Exactly once: Write commits rows and the cursor together, so a process
// killed at any moment leaves either the whole Write or none of it, and the
// pipeline resumes at cursor+1. Rows at or below the committed cursor are
// skipped and SQL inserts use ON CONFLICT DO NOTHING on (_block, _index), so
// replaying blocks never duplicates rows.
//
// Reorg safe: Undo(to) removes every row above to.Number from all of the
// pipeline's tables and rewinds the cursor, atomically.
//
// Exact values: nothing is parsed into floats. Rows must be sorted by block
// and by index within each table; a *[RowError] locates a row that is not a
// JSON object, has an invalid name, or breaks the order.
//
// # JSONL layout
//
// Each table is one file whose lines are exactly the rows' JSON bytes,
// nothing added. The table named by Options.Table (default: the first table
// written) goes to PATH; every other table T goes to PATH with ".T" inserted
// before the extension (out.jsonl -> out.transfers.jsonl; out -> out.T).
// Beside them:
//
//	PATH.ipdm-cursor  the commit record (JSON): format, pipeline name,
//	                  cursor, main table, and the committed byte length of
//	                  the index and of each table file
//	PATH.ipdm-index   20-byte little-endian records, one per (block, table)
//	                  with rows: block u64 | table u32 (position in the
//	                  cursor file's table list) | offset u64 of the block's
//	                  first row in the table's file
//
// A Write appends rows and index records at the committed lengths, fsyncs
// them, then writes the cursor file to a temporary name, fsyncs it and
// renames it over the old one: the rename is the commit. Opening cuts every
// file back to its committed length, dropping a Write a crash interrupted.
// Undo finds the first index record above the target block by binary
// search, commits the shorter lengths, then truncates. Rows must be single
// JSON objects on one line. Row.Index is not stored: Scan numbers a block's
// rows from 0, which is the written Index when a table's indexes in each
// block run 0, 1, 2, ... Readers of the files while a sink writes may see
// an uncommitted tail; Scan reads only committed rows.
//
// # SQL layout (SQLite and PostgreSQL)
//
// Each table T is created on first sight as
//
//	T (_block BIGINT NOT NULL, _index INTEGER NOT NULL, <columns>,
//	   PRIMARY KEY (_block, _index))
//
// with one column per JSON key, in first-seen order; a row with a new key
// adds a column (ALTER TABLE ... ADD COLUMN). Names must match
// [a-z][a-z0-9_]* (at most 63 bytes); table names starting with ipdm_ are
// reserved. A column's kind is fixed by the first non-null value it gets;
// a later value of another kind is an error (ErrInvalidRow). Storage:
//
//	JSON value      PostgreSQL        SQLite
//	string          TEXT (decoded)    TEXT (decoded)
//	number          NUMERIC           INTEGER if the literal is an int64,
//	                                  else the literal as TEXT (no affinity)
//	true/false      BOOLEAN           BOOLEAN (stored 1/0)
//	object/array    JSON (verbatim)   TEXT (verbatim)
//	null            NULL              NULL
//
// NUMERIC is exact, but PostgreSQL prints it normalised: 1e3 reads back as
// 1000 and -0 as 0; and PostgreSQL text cannot hold U+0000, so such strings
// are rejected (ErrInvalidRow). Metadata lives in three tables:
//
//	ipdm_cursor  (name TEXT PRIMARY KEY, number BIGINT, hash TEXT)
//	ipdm_tables  (tbl TEXT PRIMARY KEY, name TEXT)    table -> owning pipeline
//	ipdm_columns (tbl, col, pos, kind)                column order and JSON kind
//
// Options.Name keys the cursor and owns the tables a pipeline creates, so
// several pipelines can share a database as long as their table names
// differ (or, in PostgreSQL, their Options.Schema). A Write is one
// transaction: schema changes, then the rows, then the cursor. SQLite gets
// prepared multi-row INSERTs of at most 512 values; PostgreSQL one INSERT
// ... SELECT FROM unnest(text arrays) per table and Options.BatchRows
// chunk, all sent as one pipelined batch. SQLite runs in WAL mode with
// synchronous=FULL.
//
// # Concurrency
//
// A sink's methods may be called from several goroutines; they run one at a
// time. Only one sink may write a given location under a given pipeline
// name at once; nothing enforces that. The package starts no goroutines.
package sink

package sink

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"
)

// Suffixes of the JSONL sink's metadata files. The hyphen keeps them apart
// from table files, whose names cannot contain one.
const (
	cursorSuffix = ".ipdm-cursor"
	indexSuffix  = ".ipdm-index"
)

// JSONL is a sink writing JSON lines files: one file per table, one line per
// row holding exactly the row's JSON. See the package documentation for the
// file layout and the commit protocol.
type JSONL struct {
	mu   sync.Mutex
	path string
	access

	st    state               // the committed state
	index *os.File            // PATH.ipdm-index
	files map[string]*os.File // table files by table name
	// dirty means files may hold bytes past their committed sizes (a
	// failed Write); they are cut off before the next Write.
	dirty bool
}

// OpenJSONL opens the JSONL output at path, creating it when missing. An
// existing non-empty file without a cursor file beside it is not touched:
// ErrNotSink. Bytes past the committed end of each file (left by a Write
// interrupted by a crash) are cut off.
func OpenJSONL(ctx context.Context, path string, opts Options) (*JSONL, error) {
	return openJSONL(ctx, path, opts, false)
}

func openJSONL(ctx context.Context, path string, opts Options, readOnly bool) (*JSONL, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if path == "" {
		return nil, fmt.Errorf("sink: %w: empty jsonl path", ErrInvalidURI)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s := &JSONL{path: path, access: access{readOnly: readOnly}, files: map[string]*os.File{}}
	if err := s.open(opts); err != nil {
		s.closeFiles()
		return nil, fmt.Errorf("sink: jsonl %s: %w", path, err)
	}
	return s, nil
}

func (s *JSONL) open(opts Options) error {
	raw, err := os.ReadFile(s.path + cursorSuffix)
	switch {
	case errors.Is(err, fs.ErrNotExist) && !s.readOnly:
		if fi, err := os.Stat(s.path); err == nil && fi.Size() > 0 {
			return fmt.Errorf("%w: the file exists but %s does not; remove it or choose another path", ErrNotSink, filepath.Base(s.path+cursorSuffix))
		}
		s.st = state{Format: stateFormat, Name: opts.name(), Main: opts.Table}
		if s.index, err = os.OpenFile(s.path+indexSuffix, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644); err != nil {
			return err
		}
		if _, err := s.commit(s.st, true); err != nil {
			return err
		}
		return nil
	case err != nil:
		return err
	}
	if s.st, err = decodeState(raw); err != nil {
		return err
	}
	if !s.readOnly && s.st.Name != opts.name() {
		return fmt.Errorf("%w: the output belongs to pipeline %q, not %q", ErrNameConflict, s.st.Name, opts.name())
	}
	if opts.Table != "" && s.st.Main != "" && opts.Table != s.st.Main {
		return fmt.Errorf("%w: Table %q, but the file holds table %q", ErrInvalidOptions, opts.Table, s.st.Main)
	}
	if s.st.Main == "" {
		s.st.Main = opts.Table
	}
	flag := os.O_RDONLY
	if !s.readOnly {
		flag = os.O_RDWR
	}
	if s.index, err = openSized(s.path+indexSuffix, flag, s.st.IndexSize); err != nil {
		return err
	}
	for _, t := range s.st.Tables {
		f, err := openSized(s.tablePath(s.st.Main, t.Name), flag, t.Size)
		if err != nil {
			return err
		}
		s.files[t.Name] = f
	}
	if !s.readOnly {
		s.dirty = true
		return s.repair()
	}
	return nil
}

// openSized opens a file that must hold at least size bytes.
func openSized(path string, flag int, size int64) (*os.File, error) {
	f, err := os.OpenFile(path, flag, 0)
	if errors.Is(err, fs.ErrNotExist) && size == 0 && flag != os.O_RDONLY {
		f, err = os.OpenFile(path, flag|os.O_CREATE, 0o644)
	}
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
		}
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if fi.Size() < size {
		f.Close()
		return nil, fmt.Errorf("%w: %s is %d bytes, shorter than the %d committed", ErrCorrupt, filepath.Base(path), fi.Size(), size)
	}
	return f, nil
}

// tablePath is the file of a table: PATH for the main table, PATH with
// ".TABLE" inserted before its extension for the others.
func (s *JSONL) tablePath(main, table string) string {
	if table == main {
		return s.path
	}
	return derivedPath(s.path, table)
}

func derivedPath(path, table string) string {
	ext := filepath.Ext(path)
	if ext == filepath.Base(path) { // a dot file such as ".jsonl" has no stem
		ext = ""
	}
	return path[:len(path)-len(ext)] + "." + table + ext
}

// repair cuts every file back to its committed size.
func (s *JSONL) repair() error {
	if !s.dirty {
		return nil
	}
	if err := s.index.Truncate(s.st.IndexSize); err != nil {
		return err
	}
	for _, t := range s.st.Tables {
		if err := s.files[t.Name].Truncate(t.Size); err != nil {
			return err
		}
	}
	// Files a failed Write created for new tables: empty them and forget
	// them, since the next Write may assign those tables other files.
	for name, f := range s.files {
		if s.st.table(name) < 0 {
			err := errors.Join(f.Truncate(0), f.Close())
			delete(s.files, name)
			if err != nil {
				return err
			}
		}
	}
	s.dirty = false
	return nil
}

// commit makes st the committed state: it writes the cursor file to a
// temporary file, syncs it, renames it over the old one and syncs the
// directory. It reports whether the rename happened: from then on st is
// what a reopen sees, even if the directory sync failed.
func (s *JSONL) commit(st state, syncDir bool) (renamed bool, err error) {
	name := s.path + cursorSuffix
	tmp := name + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return false, err
	}
	_, err = f.Write(encodeState(st))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, name)
	}
	if err != nil {
		os.Remove(tmp)
		return false, err
	}
	s.st = st
	if syncDir {
		return true, s.syncDir()
	}
	return true, nil
}

func (s *JSONL) syncDir() error {
	d, err := os.Open(filepath.Dir(s.path))
	if err != nil {
		return err
	}
	err = d.Sync()
	return errors.Join(err, d.Close())
}

// Cursor returns the committed cursor.
func (s *JSONL) Cursor(ctx context.Context) (Cursor, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return Cursor{}, false, ErrClosed
	}
	if s.st.Cursor == nil {
		return Cursor{}, false, nil
	}
	return Cursor{Number: s.st.Cursor.Number, Hash: s.st.Cursor.Hash}, true, nil
}

func (s *JSONL) cursor() (Cursor, bool) {
	if s.st.Cursor == nil {
		return Cursor{}, false
	}
	return Cursor{Number: s.st.Cursor.Number, Hash: s.st.Cursor.Hash}, true
}

// Write appends rows and moves the cursor to through (see Sink). Rows are
// appended to the table files and the index, the files synced, then the
// cursor file replaced: the rename is the commit.
func (s *JSONL) Write(ctx context.Context, rows []Row, through Cursor) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.writable(); err != nil {
		return err
	}
	if err := checkBatch(rows, through); err != nil {
		return err
	}
	cur, has := s.cursor()
	fresh, advance, err := planWrite(rows, through, cur, has)
	if err != nil {
		return err
	}
	base := len(rows) - len(fresh)
	for i := range fresh {
		r := &fresh[i]
		var problem string
		switch {
		case !isJSONObject(r.JSON):
			problem = "row is not a JSON object"
		case bytes.IndexByte(r.JSON, '\n') >= 0 || bytes.IndexByte(r.JSON, '\r') >= 0:
			problem = "row contains a line break; a JSON lines row must be on one line"
		default:
			continue
		}
		return &RowError{Pos: base + i, Table: r.Table, Block: r.Block, Index: r.Index,
			Err: fmt.Errorf("%w: %s", ErrInvalidRow, problem)}
	}
	if len(fresh) == 0 && !advance {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := s.repair(); err != nil {
		return fmt.Errorf("sink: jsonl %s: %w", s.path, err)
	}
	if err := s.write(fresh, through, advance); err != nil {
		return fmt.Errorf("sink: jsonl %s: write through %s: %w", s.path, through, err)
	}
	return nil
}

func (s *JSONL) write(rows []Row, through Cursor, advance bool) error {
	s.dirty = true // until the commit, files may hold uncommitted bytes
	next := s.st.clone()
	bufs := make([][]byte, len(next.Tables))
	var idx []byte
	created := false
	lastBlock := map[int]uint64{}
	for i := range rows {
		r := &rows[i]
		id := next.table(r.Table)
		if id < 0 {
			if next.Main == "" {
				next.Main = r.Table
			}
			id = len(next.Tables)
			next.Tables = append(next.Tables, stateTable{Name: r.Table})
			bufs = append(bufs, nil)
			// repair dropped any file of an uncommitted table, so this
			// creates the file or empties a crash leftover.
			f, err := os.OpenFile(s.tablePath(next.Main, r.Table), os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
			if err != nil {
				return err
			}
			s.files[r.Table] = f
			created = true
		}
		if b, ok := lastBlock[id]; !ok || b != r.Block {
			lastBlock[id] = r.Block
			idx = appendRecord(idx, record{block: r.Block, table: uint32(id), offset: next.Tables[id].Size + int64(len(bufs[id]))})
		}
		bufs[id] = append(append(bufs[id], r.JSON...), '\n')
	}
	var touched []*os.File
	for id, buf := range bufs {
		if len(buf) == 0 {
			continue
		}
		t := &next.Tables[id]
		f := s.files[t.Name]
		if _, err := f.WriteAt(buf, t.Size); err != nil {
			return err
		}
		t.Size += int64(len(buf))
		touched = append(touched, f)
	}
	if len(idx) > 0 {
		if _, err := s.index.WriteAt(idx, next.IndexSize); err != nil {
			return err
		}
		next.IndexSize += int64(len(idx))
		touched = append(touched, s.index)
	}
	for _, f := range touched {
		if err := f.Sync(); err != nil {
			return err
		}
	}
	if created {
		if err := s.syncDir(); err != nil {
			return err
		}
	}
	if advance {
		next.Cursor = &stateCursor{Number: through.Number, Hash: through.Hash}
	}
	renamed, err := s.commit(next, true)
	if renamed {
		s.dirty = false
	}
	return err
}

// Undo cuts every table back to the end of block to.Number and rewinds the
// cursor (see Sink). The new cursor file is the commit; the files are
// truncated after it, and again on the next open if that fails.
func (s *JSONL) Undo(ctx context.Context, to Cursor) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.undoable(to); err != nil {
		return err
	}
	cur, has := s.cursor()
	if !has || to.Number > cur.Number || to == cur {
		return nil // nothing is stored above to.Number
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := s.undo(to); err != nil {
		return fmt.Errorf("sink: jsonl %s: undo to %s: %w", s.path, to, err)
	}
	return nil
}

func (s *JSONL) undo(to Cursor) error {
	n := s.st.IndexSize / recordSize
	buf := make([]byte, recordSize)
	read := func(i int64) (record, error) {
		if _, err := s.index.ReadAt(buf, i*recordSize); err != nil {
			return record{}, err
		}
		return decodeRecord(buf, &s.st)
	}
	// The first record above to.Number, by binary search: blocks never
	// decrease along the index.
	lo, hi := int64(0), n
	for lo < hi {
		mid := lo + (hi-lo)/2
		r, err := read(mid)
		if err != nil {
			return err
		}
		if r.block > to.Number {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	next := s.st.clone()
	next.IndexSize = lo * recordSize
	next.Cursor = &stateCursor{Number: to.Number, Hash: to.Hash}
	cut := make([]bool, len(next.Tables))
	prev := to.Number
	for i := lo; i < n; i++ {
		r, err := read(i)
		if err != nil {
			return err
		}
		if r.block < prev {
			return fmt.Errorf("%w: index record %d: block %d after block %d", ErrCorrupt, i, r.block, prev)
		}
		prev = r.block
		if !cut[r.table] {
			cut[r.table] = true
			next.Tables[r.table].Size = r.offset
		}
	}
	if _, err := s.commit(next, true); err != nil {
		return err
	}
	s.dirty = true
	return s.repair()
}

// Tables lists the tables written so far, sorted.
func (s *JSONL) Tables(ctx context.Context) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	var names []string
	for _, t := range s.st.Tables {
		names = append(names, t.Name)
	}
	slices.Sort(names)
	return names, nil
}

// Scan reads table's committed rows in order (see Reader); Row.JSON is
// exactly the written line without its newline.
func (s *JSONL) Scan(ctx context.Context, table string, fn func(Row) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	id := s.st.table(table)
	if id < 0 {
		return fmt.Errorf("sink: jsonl %s: %w: %q", s.path, ErrNoTable, table)
	}
	if err := s.scan(ctx, id, fn); err != nil {
		return fmt.Errorf("sink: jsonl %s: read %s: %w", s.path, table, err)
	}
	return nil
}

func (s *JSONL) scan(ctx context.Context, id int, fn func(Row) error) error {
	// This table's records, from the whole committed index.
	var recs []record
	ir := bufio.NewReader(io.NewSectionReader(s.index, 0, s.st.IndexSize))
	buf := make([]byte, recordSize)
	for {
		if _, err := io.ReadFull(ir, buf); err == io.EOF {
			break
		} else if err != nil {
			return err
		}
		r, err := decodeRecord(buf, &s.st)
		if err != nil {
			return err
		}
		if int(r.table) == id {
			if len(recs) > 0 && r.offset <= recs[len(recs)-1].offset {
				return fmt.Errorf("%w: index offsets of the table do not increase", ErrCorrupt)
			}
			recs = append(recs, r)
		}
	}
	t := s.st.Tables[id]
	if t.Size > 0 && (len(recs) == 0 || recs[0].offset != 0) {
		return fmt.Errorf("%w: rows before the first indexed block", ErrCorrupt)
	}
	dr := bufio.NewReaderSize(io.NewSectionReader(s.files[t.Name], 0, t.Size), 1<<16)
	var pos int64
	ri, index := -1, 0
	for pos < t.Size {
		if err := ctx.Err(); err != nil {
			return err
		}
		if ri+1 < len(recs) && recs[ri+1].offset == pos {
			ri, index = ri+1, 0
		} else if ri+1 < len(recs) && recs[ri+1].offset < pos {
			return fmt.Errorf("%w: index offset %d is not at the start of a line", ErrCorrupt, recs[ri+1].offset)
		}
		line, err := dr.ReadBytes('\n')
		if err == io.EOF {
			return fmt.Errorf("%w: the last committed line has no newline", ErrCorrupt)
		} else if err != nil {
			return err
		}
		pos += int64(len(line))
		if err := fn(Row{Table: t.Name, Block: recs[ri].block, Index: index, JSON: line[:len(line)-1]}); err != nil {
			return err
		}
		index++
	}
	if ri+1 < len(recs) {
		return fmt.Errorf("%w: index offset %d is not at the start of a line", ErrCorrupt, recs[ri+1].offset)
	}
	return nil
}

// Close closes the files. It is idempotent.
func (s *JSONL) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	return s.closeFiles()
}

func (s *JSONL) closeFiles() error {
	var errs []error
	if s.index != nil {
		errs = append(errs, s.index.Close())
	}
	for _, f := range s.files {
		errs = append(errs, f.Close())
	}
	return errors.Join(errs...)
}

package wasm

import (
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
	"time"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
	"github.com/tetratelabs/wazero/sys"
)

// The guest's file systems. Two things make a plain directory mount
// nondeterministic: metadata (inode numbers, timestamps, permissions,
// directory sizes, link counts) and the order of directory listings. detFS
// wraps wazero's file systems and replaces both with values derived from
// paths alone: listings are sorted by name, times are the run's epoch,
// inodes are hashes of the path. It also enforces read-only mounts, the
// output quota and forbids links (a symlink in /outputs could otherwise
// point anywhere on the host).

// inputTree is the fs.FS mounted at /inputs: one entry per RunSpec input,
// each a host file, a host directory (opened with os.Root, so symlinks
// cannot lead outside it) or a caller's fs.FS.
type inputTree struct {
	entries []inputEntry // sorted by name
	roots   []*os.Root
}

type inputEntry struct {
	name string
	dir  fs.FS  // a directory tree, or
	file string // the host path of a single file
}

func openInputs(inputs []Input) (*inputTree, error) {
	t := &inputTree{}
	seen := map[string]bool{}
	for _, in := range inputs {
		if in.Name == "" || in.Name == "." || in.Name == ".." || strings.ContainsAny(in.Name, "/\\\x00") {
			t.close()
			return nil, fmt.Errorf("%w: input name %q must be a single path element", ErrInvalidRunSpec, in.Name)
		}
		if seen[in.Name] {
			t.close()
			return nil, fmt.Errorf("%w: input name %q used twice", ErrInvalidRunSpec, in.Name)
		}
		seen[in.Name] = true
		e := inputEntry{name: in.Name}
		switch {
		case in.FS != nil && in.Path == "":
			e.dir = in.FS
		case in.Path != "" && in.FS == nil:
			st, err := os.Stat(in.Path)
			if err != nil {
				t.close()
				return nil, fmt.Errorf("wasm: input %s: %w", in.Name, err)
			}
			if st.IsDir() {
				root, err := os.OpenRoot(in.Path)
				if err != nil {
					t.close()
					return nil, fmt.Errorf("wasm: input %s: %w", in.Name, err)
				}
				t.roots = append(t.roots, root)
				e.dir = root.FS()
			} else {
				e.file = in.Path
			}
		default:
			t.close()
			return nil, fmt.Errorf("%w: input %q needs exactly one of Path and FS", ErrInvalidRunSpec, in.Name)
		}
		t.entries = append(t.entries, e)
	}
	slices.SortFunc(t.entries, func(a, b inputEntry) int { return strings.Compare(a.name, b.name) })
	return t, nil
}

func (t *inputTree) close() {
	for _, r := range t.roots {
		_ = r.Close()
	}
}

func (t *inputTree) find(name string) (inputEntry, bool) {
	i, ok := slices.BinarySearchFunc(t.entries, name, func(e inputEntry, n string) int { return strings.Compare(e.name, n) })
	if !ok {
		return inputEntry{}, false
	}
	return t.entries[i], true
}

// Open implements fs.FS.
func (t *inputTree) Open(name string) (fs.File, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrInvalid}
	}
	if name == "." {
		return &inputRoot{t: t}, nil
	}
	first, rest, _ := strings.Cut(name, "/")
	e, ok := t.find(first)
	if !ok {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	if e.dir != nil {
		if rest == "" {
			rest = "."
		}
		return e.dir.Open(rest)
	}
	if rest != "" {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	return os.Open(e.file)
}

// inputRoot is the /inputs directory itself.
type inputRoot struct {
	t   *inputTree
	off int
}

func (r *inputRoot) Stat() (fs.FileInfo, error) { return dirInfo{"."}, nil }
func (r *inputRoot) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: ".", Err: errors.New("is a directory")}
}
func (r *inputRoot) Close() error { return nil }

func (r *inputRoot) ReadDir(n int) ([]fs.DirEntry, error) {
	rest := r.t.entries[r.off:]
	if n > 0 && len(rest) == 0 {
		return nil, io.EOF
	}
	if n > 0 && n < len(rest) {
		rest = rest[:n]
	}
	r.off += len(rest)
	out := make([]fs.DirEntry, len(rest))
	for i, e := range rest {
		out[i] = inputDirEntry{e}
	}
	return out, nil
}

type inputDirEntry struct{ e inputEntry }

func (d inputDirEntry) Name() string { return d.e.name }
func (d inputDirEntry) IsDir() bool  { return d.e.dir != nil }
func (d inputDirEntry) Type() fs.FileMode {
	if d.e.dir != nil {
		return fs.ModeDir
	}
	return 0
}
func (d inputDirEntry) Info() (fs.FileInfo, error) {
	if d.e.dir != nil {
		return dirInfo{d.e.name}, nil
	}
	return os.Stat(d.e.file)
}

type dirInfo struct{ name string }

func (d dirInfo) Name() string       { return d.name }
func (d dirInfo) Size() int64        { return 0 }
func (d dirInfo) Mode() fs.FileMode  { return fs.ModeDir | 0o555 }
func (d dirInfo) ModTime() time.Time { return time.Time{} }
func (d dirInfo) IsDir() bool        { return true }
func (d dirInfo) Sys() any           { return nil }

// outputQuota bounds what a run may write under /outputs: bytes written
// (overwrites count again) plus entryCost per file or directory created.
// Exceeding it fails the write with EIO, deterministically.
type outputQuota struct {
	max, used int64
	exceeded  bool
	hostErr   error // the first I/O error of the host file system
}

const entryCost = 512

func (q *outputQuota) charge(n int64) bool {
	if n > q.max-q.used {
		q.exceeded = true
		return false
	}
	q.used += n
	return true
}

func (q *outputQuota) noteHostErr(op string, errno experimentalsys.Errno) {
	if errno == experimentalsys.EIO && q.hostErr == nil {
		q.hostErr = fmt.Errorf("wasm: outputs: %s: %w", op, errno)
	}
}

// detFS is the deterministic wrapper described at the top of this file.
type detFS struct {
	under    experimentalsys.FS
	tag      string       // mount point, mixed into inode numbers
	quota    *outputQuota // nil for read-only mounts
	filetime int64        // ns since the Unix epoch, for every timestamp
}

func (d *detFS) writable() bool { return d.quota != nil }

func (d *detFS) inode(p string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(d.tag))
	h.Write([]byte{0})
	h.Write([]byte(path.Clean("/" + p)))
	return h.Sum64() | 1 // zero means "unknown" to some guests
}

func (d *detFS) normalize(p string, st sys.Stat_t) sys.Stat_t {
	typ := st.Mode.Type()
	perm := fs.FileMode(0o444)
	if typ == fs.ModeDir {
		perm = 0o555
	}
	if d.writable() {
		perm |= 0o200
	}
	size := st.Size
	if typ == fs.ModeDir {
		size = 0 // directory sizes differ between host file systems
	}
	return sys.Stat_t{Ino: d.inode(p), Mode: typ | perm, Nlink: 1, Size: size,
		Atim: d.filetime, Mtim: d.filetime, Ctim: d.filetime}
}

const writeFlags = experimentalsys.O_WRONLY | experimentalsys.O_RDWR | experimentalsys.O_CREAT |
	experimentalsys.O_TRUNC | experimentalsys.O_APPEND

func (d *detFS) OpenFile(p string, flag experimentalsys.Oflag, perm fs.FileMode) (experimentalsys.File, experimentalsys.Errno) {
	if flag&writeFlags != 0 {
		if !d.writable() {
			return nil, experimentalsys.EROFS
		}
		if flag&experimentalsys.O_CREAT != 0 {
			if _, errno := d.under.Lstat(p); errno == experimentalsys.ENOENT && !d.quota.charge(entryCost) {
				return nil, experimentalsys.EIO
			}
		}
	}
	f, errno := d.under.OpenFile(p, flag, perm)
	if errno != 0 {
		if d.writable() {
			d.quota.noteHostErr("open "+p, errno)
		}
		return nil, errno
	}
	return &detFile{File: f, fs: d, path: p}, 0
}

func (d *detFS) Lstat(p string) (sys.Stat_t, experimentalsys.Errno) {
	st, errno := d.under.Lstat(p)
	if errno != 0 {
		return st, errno
	}
	return d.normalize(p, st), 0
}

func (d *detFS) Stat(p string) (sys.Stat_t, experimentalsys.Errno) {
	st, errno := d.under.Stat(p)
	if errno != 0 {
		return st, errno
	}
	return d.normalize(p, st), 0
}

func (d *detFS) Mkdir(p string, perm fs.FileMode) experimentalsys.Errno {
	if !d.writable() {
		return experimentalsys.EROFS
	}
	if !d.quota.charge(entryCost) {
		return experimentalsys.EIO
	}
	return d.under.Mkdir(p, 0o755)
}

func (d *detFS) Chmod(string, fs.FileMode) experimentalsys.Errno { return experimentalsys.ENOSYS }

func (d *detFS) Rename(from, to string) experimentalsys.Errno {
	if !d.writable() {
		return experimentalsys.EROFS
	}
	return d.under.Rename(from, to)
}

func (d *detFS) Rmdir(p string) experimentalsys.Errno {
	if !d.writable() {
		return experimentalsys.EROFS
	}
	return d.under.Rmdir(p)
}

func (d *detFS) Unlink(p string) experimentalsys.Errno {
	if !d.writable() {
		return experimentalsys.EROFS
	}
	return d.under.Unlink(p)
}

func (d *detFS) Link(string, string) experimentalsys.Errno    { return experimentalsys.EPERM }
func (d *detFS) Symlink(string, string) experimentalsys.Errno { return experimentalsys.EPERM }

func (d *detFS) Readlink(p string) (string, experimentalsys.Errno) {
	return d.under.Readlink(p)
}

func (d *detFS) Utimens(string, int64, int64) experimentalsys.Errno { return experimentalsys.ENOSYS }

// detFile is a file or directory opened through detFS.
type detFile struct {
	experimentalsys.File
	fs      *detFS
	path    string
	dirents []experimentalsys.Dirent // rest of the sorted listing being served
}

func (f *detFile) Dev() (uint64, experimentalsys.Errno) { return 0, 0 }

func (f *detFile) Ino() (sys.Inode, experimentalsys.Errno) { return f.fs.inode(f.path), 0 }

func (f *detFile) Stat() (sys.Stat_t, experimentalsys.Errno) {
	st, errno := f.File.Stat()
	if errno != 0 {
		return st, errno
	}
	return f.fs.normalize(f.path, st), 0
}

// Read and Pread fill buf unless the file ends, so that the guest does not
// see the host's short reads.
func (f *detFile) Read(buf []byte) (int, experimentalsys.Errno) {
	n := 0
	for n < len(buf) {
		m, errno := f.File.Read(buf[n:])
		n += m
		if errno != 0 {
			return n, errno
		}
		if m == 0 {
			break
		}
	}
	return n, 0
}

func (f *detFile) Pread(buf []byte, off int64) (int, experimentalsys.Errno) {
	n := 0
	for n < len(buf) {
		m, errno := f.File.Pread(buf[n:], off+int64(n))
		n += m
		if errno != 0 {
			return n, errno
		}
		if m == 0 {
			break
		}
	}
	return n, 0
}

// Readdir serves the listing sorted by name. It drains the underlying
// directory on every call: a non-empty answer means the directory was just
// opened or rewound (wazero rewinds with Seek on the underlying file), so the
// sorted listing starts over; an empty one means we continue serving it.
func (f *detFile) Readdir(n int) ([]experimentalsys.Dirent, experimentalsys.Errno) {
	all, errno := f.File.Readdir(-1)
	if errno != 0 {
		return nil, errno
	}
	if len(all) > 0 {
		slices.SortFunc(all, func(a, b experimentalsys.Dirent) int { return strings.Compare(a.Name, b.Name) })
		for i := range all {
			all[i].Ino = f.fs.inode(path.Join(f.path, all[i].Name))
		}
		f.dirents = all
	}
	if n <= 0 || n > len(f.dirents) {
		n = len(f.dirents)
	}
	out := f.dirents[:n:n]
	f.dirents = f.dirents[n:]
	return out, 0
}

func (f *detFile) Write(buf []byte) (int, experimentalsys.Errno) {
	if !f.fs.writable() {
		return 0, experimentalsys.EBADF
	}
	if !f.fs.quota.charge(int64(len(buf))) {
		return 0, experimentalsys.EIO
	}
	n, errno := f.File.Write(buf)
	f.fs.quota.noteHostErr("write "+f.path, errno)
	return n, errno
}

func (f *detFile) Pwrite(buf []byte, off int64) (int, experimentalsys.Errno) {
	if !f.fs.writable() {
		return 0, experimentalsys.EBADF
	}
	if !f.fs.quota.charge(int64(len(buf))) {
		return 0, experimentalsys.EIO
	}
	n, errno := f.File.Pwrite(buf, off)
	f.fs.quota.noteHostErr("write "+f.path, errno)
	return n, errno
}

func (f *detFile) Truncate(size int64) experimentalsys.Errno {
	if !f.fs.writable() {
		return experimentalsys.EBADF
	}
	st, errno := f.File.Stat()
	if errno != 0 {
		return errno
	}
	if grow := size - st.Size; grow > 0 && !f.fs.quota.charge(grow) {
		return experimentalsys.EIO
	}
	errno = f.File.Truncate(size)
	f.fs.quota.noteHostErr("truncate "+f.path, errno)
	return errno
}

func (f *detFile) Utimens(int64, int64) experimentalsys.Errno { return experimentalsys.ENOSYS }

// dirSize sums the sizes of the regular files under dir.
func dirSize(dir string) (int64, error) {
	var total int64
	err := fs.WalkDir(os.DirFS(dir), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			info, err := d.Info()
			if err != nil {
				return err
			}
			total += info.Size()
		}
		return nil
	})
	return total, err
}

package unixfs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"

	cid "github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
)

// prefetchWindow is how many children of a file node are requested ahead of
// the one being read (with 1 MiB leaves: up to 8 MiB in flight).
const prefetchWindow = 8

// maxFileDepth bounds the height of a file DAG (a balanced 1024-wide tree of
// 1 MiB leaves is 4 levels high at 1 PiB).
const maxFileDepth = 64

// FileReader reads a UnixFS file. It implements io.ReadSeekCloser and
// io.WriterTo. It fetches blocks on demand, a few ahead of the read position,
// with the ctx given to Open. Not safe for concurrent use.
type FileReader struct {
	ctx    context.Context
	cancel context.CancelFunc
	g      ipld.NodeGetter
	root   *fsNode
	off    int64

	path      []*fileFrame // from the root to the parent of the current leaf
	leaf      []byte       // bytes of the current leaf
	leafStart int64        // file offset of leaf[0]
	err       error        // sticky fetch/format error
	closed    bool
}

// fileFrame is one file node on the path to the current leaf.
type fileFrame struct {
	n        *fsNode
	start    int64    // file offset of the node's first byte
	ends     []uint64 // ends[i]: offset (relative to start) after child i
	promises []*ipld.NodePromise
}

// Open returns a reader for the UnixFS file c. It fetches the root block now
// and the rest while reading; ctx bounds every fetch, Close releases them.
// Open of a directory or symlink fails with ErrNotFile.
func Open(ctx context.Context, g ipld.NodeGetter, c cid.Cid) (*FileReader, error) {
	n, err := fetch(ctx, g, c)
	if err != nil {
		return nil, err
	}
	return openNode(ctx, g, n)
}

func openNode(ctx context.Context, g ipld.NodeGetter, n *fsNode) (*FileReader, error) {
	if n.typ != typeFile {
		return nil, fmt.Errorf("%w: %s is a %s", ErrNotFile, n.c, n.kind())
	}
	ctx, cancel := context.WithCancel(ctx)
	return &FileReader{ctx: ctx, cancel: cancel, g: g, root: n}, nil
}

// Size returns the length of the file.
func (r *FileReader) Size() int64 { return int64(r.root.size) }

// Read implements io.Reader.
func (r *FileReader) Read(p []byte) (int, error) {
	if r.closed {
		return 0, errReaderClosed
	}
	if r.off >= r.Size() {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	if err := r.locate(); err != nil {
		return 0, err
	}
	n := copy(p, r.leaf[r.off-r.leafStart:])
	r.off += int64(n)
	return n, nil
}

// WriteTo implements io.WriterTo: it writes the rest of the file to w
// without an intermediate buffer.
func (r *FileReader) WriteTo(w io.Writer) (int64, error) {
	if r.closed {
		return 0, errReaderClosed
	}
	var total int64
	for r.off < r.Size() {
		if err := r.locate(); err != nil {
			return total, err
		}
		n, err := w.Write(r.leaf[r.off-r.leafStart:])
		r.off += int64(n)
		total += int64(n)
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

var errReaderClosed = errors.New("unixfs: read of closed FileReader")

// Seek implements io.Seeker.
func (r *FileReader) Seek(offset int64, whence int) (int64, error) {
	if r.closed {
		return 0, errReaderClosed
	}
	var abs int64
	switch whence {
	case io.SeekStart:
		abs = offset
	case io.SeekCurrent:
		abs = r.off + offset
	case io.SeekEnd:
		abs = r.Size() + offset
	default:
		return r.off, fmt.Errorf("unixfs: seek: invalid whence %d", whence)
	}
	if abs < 0 {
		return r.off, fmt.Errorf("unixfs: seek: negative position %d", abs)
	}
	r.off = abs
	return abs, nil
}

// Close releases the reader's prefetches. It is idempotent.
func (r *FileReader) Close() error {
	r.closed = true
	r.cancel()
	r.path, r.leaf = nil, nil
	return nil
}

// locate makes r.leaf hold the byte at r.off (< Size).
func (r *FileReader) locate() error {
	if r.err != nil {
		return r.err
	}
	if r.leaf != nil && r.off >= r.leafStart && r.off < r.leafStart+int64(len(r.leaf)) {
		return nil
	}
	r.leaf = nil
	for len(r.path) > 0 {
		f := r.path[len(r.path)-1]
		if r.off >= f.start && r.off < f.start+int64(f.n.size) {
			break
		}
		r.path = r.path[:len(r.path)-1]
	}
	if len(r.path) == 0 {
		r.path = append(r.path, newFileFrame(r.root, 0))
	}
	for {
		f := r.path[len(r.path)-1]
		rel := uint64(r.off - f.start)
		if rel < uint64(len(f.n.data)) {
			r.leaf, r.leafStart = f.n.data, f.start
			return nil
		}
		rel -= uint64(len(f.n.data))
		i := sort.Search(len(f.ends), func(i int) bool { return f.ends[i] > rel })
		if i == len(f.ends) {
			r.err = malformed(f.n.c, "offset beyond the node's children")
			return r.err
		}
		child, err := r.child(f, i)
		if err != nil {
			r.err = err
			return err
		}
		start := f.start + int64(len(f.n.data))
		if i > 0 {
			start += int64(f.ends[i-1])
		}
		if len(child.links) == 0 {
			r.leaf, r.leafStart = child.data, start
			return nil
		}
		if len(r.path) >= maxFileDepth {
			r.err = malformed(r.root.c, "file dag deeper than %d", maxFileDepth)
			return r.err
		}
		r.path = append(r.path, newFileFrame(child, start))
	}
}

func newFileFrame(n *fsNode, start int64) *fileFrame {
	ends := make([]uint64, len(n.sizes))
	var sum uint64
	for i, s := range n.sizes {
		sum += s // cannot overflow: decode checked the total
		ends[i] = sum
	}
	return &fileFrame{n: n, start: start, ends: ends, promises: make([]*ipld.NodePromise, len(n.links))}
}

// child fetches child i of f, requesting the next few children alongside.
func (r *FileReader) child(f *fileFrame, i int) (*fsNode, error) {
	if f.promises[i] == nil {
		end := i
		for end < len(f.promises) && end < i+prefetchWindow && f.promises[end] == nil {
			end++
		}
		cids := make([]cid.Cid, 0, end-i)
		for _, l := range f.n.links[i:end] {
			if err := checkCodec(l.Cid); err != nil {
				return nil, fmt.Errorf("%w (linked from %s)", err, f.n.c)
			}
			cids = append(cids, l.Cid)
		}
		copy(f.promises[i:end], ipld.GetNodes(r.ctx, r.g, cids))
	}
	p := f.promises[i]
	f.promises[i] = nil
	child, err := getPromised(r.ctx, r.g, p, f.n.links[i].Cid)
	if err != nil {
		return nil, err
	}
	if child.typ != typeFile {
		return nil, malformed(f.n.c, "file links to a %s", child.kind())
	}
	if child.size != f.n.sizes[i] {
		return nil, malformed(f.n.c, "child %d holds %d bytes, block size says %d", i, child.size, f.n.sizes[i])
	}
	return child, nil
}

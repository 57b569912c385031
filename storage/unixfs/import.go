package unixfs

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/ipfs/boxo/files"
	dag "github.com/ipfs/boxo/ipld/merkledag"
	ft "github.com/ipfs/boxo/ipld/unixfs"
	cid "github.com/ipfs/go-cid"
)

// ImportReader imports the bytes of r as one UnixFS file and returns its root
// CID (`ipfs add -Q` of the same bytes). It streams: memory stays bounded
// whatever the length of r.
func ImportReader(ctx context.Context, dst BlockWriter, r io.Reader, opts Options) (cid.Cid, error) {
	im := newImporter(ctx, dst, opts)
	l, err := im.file(ctx, r)
	if err := im.close(ctx, err); err != nil {
		return cid.Undef, err
	}
	return l.c, nil
}

// ImportNode imports n, a files.File, files.Directory (recursively) or
// *files.Symlink, and returns its root CID. Every entry of a directory is
// imported (no hidden-file filtering: the producer of n decides what it
// holds). Nodes are closed once imported.
func ImportNode(ctx context.Context, dst BlockWriter, n files.Node, opts Options) (cid.Cid, error) {
	im := newImporter(ctx, dst, opts)
	l, err := im.node(ctx, n, 0)
	if err := im.close(ctx, err); err != nil {
		return cid.Undef, err
	}
	return l.c, nil
}

// ImportPath imports the file, directory (recursively) or symlink at path
// like `ipfs add -r`: symlinks are stored, not followed; empty directories
// are kept; entries named ".*" below path are skipped unless opts.Hidden; a
// named pipe given as path is read as a file; other special files (sockets,
// devices, FIFOs inside a directory) are an error.
func ImportPath(ctx context.Context, dst BlockWriter, path string, opts Options) (cid.Cid, error) {
	st, err := os.Lstat(path)
	if err != nil {
		return cid.Undef, fmt.Errorf("unixfs: %w", err)
	}
	if st.Mode()&os.ModeNamedPipe != 0 {
		f, err := os.Open(path)
		if err != nil {
			return cid.Undef, fmt.Errorf("unixfs: %w", err)
		}
		defer f.Close()
		return ImportReader(ctx, dst, f, opts)
	}
	filter, err := files.NewFilter("", nil, opts.Hidden)
	if err != nil {
		return cid.Undef, fmt.Errorf("unixfs: %w", err)
	}
	n, err := files.NewSerialFileWithFilter(path, filter, st)
	if err != nil {
		return cid.Undef, fmt.Errorf("unixfs: %w", err)
	}
	return ImportNode(ctx, dst, n, opts)
}

// maxDirDepth bounds directory recursion (Linux PATH_MAX allows ~2048).
const maxDirDepth = 4096

// node imports any files.Node. depth is the directory nesting level.
func (im *importer) node(ctx context.Context, n files.Node, depth int) (dagLink, error) {
	defer n.Close()
	if err := ctx.Err(); err != nil {
		return dagLink{}, err
	}
	switch n := n.(type) {
	case files.Directory:
		if depth >= maxDirDepth {
			return dagLink{}, fmt.Errorf("unixfs: directories nested deeper than %d", maxDirDepth)
		}
		return im.dir(ctx, n, depth)
	case *files.Symlink:
		return im.symlink(ctx, n.Target)
	case files.File:
		return im.file(ctx, n)
	default:
		return dagLink{}, fmt.Errorf("unixfs: unsupported node type %T", n)
	}
}

func (im *importer) symlink(ctx context.Context, target string) (dagLink, error) {
	data, err := ft.SymlinkData(target)
	if err != nil {
		return dagLink{}, fmt.Errorf("unixfs: encode symlink: %w", err)
	}
	nd := dag.NodeWithData(data)
	if err := nd.SetCidBuilder(dagPBPrefix); err != nil {
		return dagLink{}, err
	}
	return im.putProto(ctx, nd, 0)
}

// dirEntry is one named child of a directory being built.
type dirEntry struct {
	name string
	link dagLink
}

func (im *importer) dir(ctx context.Context, d files.Directory, depth int) (dagLink, error) {
	var entries []dirEntry
	seen := make(map[string]struct{})
	it := d.Entries()
	for it.Next() {
		name := it.Name()
		if err := checkName(name); err != nil {
			it.Node().Close()
			return dagLink{}, err
		}
		if _, dup := seen[name]; dup {
			it.Node().Close()
			return dagLink{}, fmt.Errorf("%w: duplicate entry %q", ErrInvalidName, name)
		}
		seen[name] = struct{}{}
		l, err := im.node(ctx, it.Node(), depth+1)
		if err != nil {
			return dagLink{}, err
		}
		entries = append(entries, dirEntry{name: name, link: l})
	}
	if err := it.Err(); err != nil {
		return dagLink{}, fmt.Errorf("unixfs: list directory: %w", err)
	}
	if basicDirSize(entries) > hamtThreshold {
		return im.hamtDir(ctx, entries)
	}
	return im.basicDir(ctx, entries)
}

// checkName rejects names that cannot be a single path component.
func checkName(name string) error {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\x00") {
		return fmt.Errorf("%w: %q", ErrInvalidName, name)
	}
	return nil
}

func (im *importer) basicDir(ctx context.Context, entries []dirEntry) (dagLink, error) {
	nd := ft.EmptyDirNode()
	if err := nd.SetCidBuilder(dagPBPrefix); err != nil {
		return dagLink{}, err
	}
	for _, e := range entries {
		if err := nd.AddRawLink(e.name, ipldLink(e.link)); err != nil {
			return dagLink{}, err
		}
	}
	return im.putProto(ctx, nd, 0)
}

// varintLen is the length of v as a protobuf varint.
func varintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

// linkSize is the number of bytes a link adds to a dag-pb node: the PBLink
// message (Hash, Name, Tsize) and its field header in PBNode.Links.
func linkSize(name string, c cid.Cid, tsize uint64) int {
	cl := c.ByteLen()
	l := 1 + varintLen(uint64(cl)) + cl +
		1 + varintLen(uint64(len(name))) + len(name) +
		1 + varintLen(tsize)
	return 1 + varintLen(uint64(l)) + l
}

// basicDirSize is the exact size of the basic directory block holding
// entries: the profile's "block" HAMT size estimation. The Data field of a
// directory without mode/mtime is 4 bytes (0a 02 08 01).
func basicDirSize(entries []dirEntry) int {
	size := 4
	for _, e := range entries {
		size += linkSize(e.name, e.link.c, e.link.tsize)
	}
	return size
}

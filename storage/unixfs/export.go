package unixfs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	cid "github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
)

// dirPrefetch is how many directory entries are requested ahead while
// writing a directory.
const dirPrefetch = 32

// maxShardDepth bounds HAMT nesting (64 hash bits, at least 3 per level).
const maxShardDepth = 22

// WriteTo materialises the UnixFS DAG c at outPath, like `ipfs get -o`:
// a file becomes a regular file (0644), a directory (basic or HAMT-sharded)
// a directory tree (0755), a symlink a symlink with the stored target.
// Nothing that exists is overwritten: outPath must not exist, and every
// file is created exclusively, so a DAG cannot write through a symlink it
// creates. Entry names that are not a single path component fail with
// ErrInvalidName. On error, what was written so far stays.
//
// A subtree the DAG links to several times is written once per link, so a
// small hostile DAG can describe a huge tree: bound exports of untrusted
// content with ctx, or check Stat's DAGSize (declared by the producer) first.
func WriteTo(ctx context.Context, g ipld.NodeGetter, c cid.Cid, outPath string, opts ExportOptions) error {
	n, err := fetch(ctx, g, c)
	if err != nil {
		return err
	}
	w := &diskWriter{g: g, opts: opts}
	return w.write(ctx, n, outPath, 0)
}

type diskWriter struct {
	g       ipld.NodeGetter
	opts    ExportOptions
	written int64
}

func (w *diskWriter) write(ctx context.Context, n *fsNode, path string, depth int) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	switch n.typ {
	case typeFile:
		return w.writeFile(ctx, n, path)
	case typeSymlink:
		if err := os.Symlink(string(n.data), path); err != nil {
			return fmt.Errorf("unixfs: %w", err)
		}
		return nil
	}
	if depth >= maxDirDepth {
		return malformed(n.c, "directories nested deeper than %d", maxDirDepth)
	}
	entries, err := listDir(ctx, w.g, n)
	if err != nil {
		return err
	}
	seen := make(map[string]struct{}, len(entries))
	for _, e := range entries {
		if err := checkName(e.Name); err != nil {
			return fmt.Errorf("%w (in %s)", err, n.c)
		}
		if _, dup := seen[e.Name]; dup {
			return fmt.Errorf("%w: duplicate entry %q in %s", ErrInvalidName, e.Name, n.c)
		}
		seen[e.Name] = struct{}{}
		if err := checkCodec(e.Cid); err != nil {
			return fmt.Errorf("%w (entry %q of %s)", err, e.Name, n.c)
		}
	}
	if err := os.Mkdir(path, 0o755); err != nil {
		return fmt.Errorf("unixfs: %w", err)
	}
	for start := 0; start < len(entries); start += dirPrefetch {
		batch := entries[start:min(start+dirPrefetch, len(entries))]
		cids := make([]cid.Cid, len(batch))
		for i, e := range batch {
			cids[i] = e.Cid
		}
		wctx, cancel := context.WithCancel(ctx)
		promises := ipld.GetNodes(wctx, w.g, cids)
		for i, e := range batch {
			child, err := getPromised(wctx, w.g, promises[i], e.Cid)
			if err == nil {
				err = w.write(ctx, child, filepath.Join(path, e.Name), depth+1)
			}
			if err != nil {
				cancel()
				return err
			}
		}
		cancel()
	}
	return nil
}

func (w *diskWriter) writeFile(ctx context.Context, n *fsNode, path string) (err error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("unixfs: %w", err)
	}
	defer func() {
		if cerr := f.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("unixfs: %w", cerr)
		}
	}()
	r, err := openNode(ctx, w.g, n)
	if err != nil {
		return err
	}
	defer r.Close()
	var dst io.Writer = f
	if w.opts.Progress != nil {
		dst = &progressWriter{w: f, d: w}
	}
	if _, err := r.WriteTo(dst); err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			return fmt.Errorf("unixfs: %w", err)
		}
		return err
	}
	return nil
}

type progressWriter struct {
	w io.Writer
	d *diskWriter
}

func (p *progressWriter) Write(b []byte) (int, error) {
	n, err := p.w.Write(b)
	p.d.written += int64(n)
	p.d.opts.Progress(p.d.written)
	return n, err
}

// dirLink is one entry of a directory as stored: name, CID, Tsize.
type dirLink = ipld.Link

// listDir returns the entries of a basic or HAMT directory n, fetching the
// shards of a HAMT. Entry names are returned as stored (not validated).
func listDir(ctx context.Context, g ipld.NodeGetter, n *fsNode) ([]dirLink, error) {
	if n.typ == typeDir {
		out := make([]dirLink, len(n.links))
		for i, l := range n.links {
			out[i] = *l
		}
		return out, nil
	}
	var out []dirLink
	if err := walkShard(ctx, g, n, 0, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// walkShard appends the entries of HAMT shard n to out.
func walkShard(ctx context.Context, g ipld.NodeGetter, n *fsNode, depth int, out *[]dirLink) error {
	if n.typ != typeHAMT {
		return malformed(n.c, "hamt shard links to a %s", n.kind())
	}
	if depth > maxShardDepth {
		return malformed(n.c, "hamt deeper than %d", maxShardDepth)
	}
	var shards []cid.Cid
	for _, l := range n.links {
		if len(l.Name) == n.pad {
			if err := checkCodec(l.Cid); err != nil {
				return fmt.Errorf("%w (shard of %s)", err, n.c)
			}
			shards = append(shards, l.Cid)
			continue
		}
		*out = append(*out, dirLink{Name: l.Name[n.pad:], Cid: l.Cid, Size: l.Size})
	}
	if len(shards) == 0 {
		return nil
	}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	promises := ipld.GetNodes(wctx, g, shards)
	for i, c := range shards {
		child, err := getPromised(wctx, g, promises[i], c)
		if err != nil {
			return err
		}
		if err := walkShard(ctx, g, child, depth+1, out); err != nil {
			return err
		}
	}
	return nil
}

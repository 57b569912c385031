package unixfs

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"

	dag "github.com/ipfs/boxo/ipld/merkledag"
	ft "github.com/ipfs/boxo/ipld/unixfs"
	blocks "github.com/ipfs/go-block-format"
	cid "github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
	mh "github.com/multiformats/go-multihash"
	"golang.org/x/sync/errgroup"
)

// dagLink is what a parent needs to know about a child DAG.
type dagLink struct {
	c     cid.Cid
	tsize uint64 // cumulative bytes of the child's blocks (dag-pb Tsize)
	fsize uint64 // file bytes under the child (UnixFS blocksize)
}

// importer carries the state of one Import call: where blocks go, the
// pending write batch and the progress counter. It is used from one
// goroutine at a time; its batchWriter goroutine runs until close.
type importer struct {
	w          *batchWriter
	opts       Options
	batch      []blocks.Block
	batchBytes int
	progress   int64
}

// newImporter starts an import into dst. The caller must call close.
func newImporter(ctx context.Context, dst BlockWriter, opts Options) *importer {
	return &importer{w: startBatchWriter(ctx, dst), opts: opts}
}

// put queues b for writing and hands the batch to the writer when full.
func (im *importer) put(ctx context.Context, b blocks.Block) error {
	im.batch = append(im.batch, b)
	im.batchBytes += len(b.RawData())
	if len(im.batch) >= maxBlockBatch || im.batchBytes >= maxBlockBatchSize {
		return im.flush(ctx)
	}
	return nil
}

// flush hands the pending batch to the writer.
func (im *importer) flush(ctx context.Context) error {
	if len(im.batch) == 0 {
		return nil
	}
	if err := im.w.submit(ctx, im.batch); err != nil {
		return err
	}
	im.batch = make([]blocks.Block, 0, maxBlockBatch)
	im.batchBytes = 0
	return nil
}

// close writes what is pending (unless err is set), waits for the writer
// to finish and returns err or the first write error.
func (im *importer) close(ctx context.Context, err error) error {
	if err == nil {
		err = im.flush(ctx)
	}
	if werr := im.w.close(); err == nil {
		err = werr
	}
	return err
}

func (im *importer) addProgress(n int) {
	im.progress += int64(n)
	if im.opts.Progress != nil {
		im.opts.Progress(im.progress)
	}
}

// putProto queues a dag-pb node and returns the link to it.
func (im *importer) putProto(ctx context.Context, nd *dag.ProtoNode, fsize uint64) (dagLink, error) {
	raw, err := nd.EncodeProtobuf(false)
	if err != nil {
		return dagLink{}, fmt.Errorf("unixfs: encode node: %w", err)
	}
	tsize, err := nd.Size()
	if err != nil {
		return dagLink{}, fmt.Errorf("unixfs: encode node: %w", err)
	}
	b, err := blocks.NewBlockWithCid(raw, nd.Cid())
	if err != nil {
		return dagLink{}, err
	}
	if err := im.put(ctx, b); err != nil {
		return dagLink{}, err
	}
	return dagLink{c: nd.Cid(), tsize: tsize, fsize: fsize}, nil
}

// rawLeaf is one chunk of a file: its bytes and, once hashed, its block.
type rawLeaf struct {
	data []byte
	blk  blocks.Block
	err  error
	done chan struct{} // closed when blk or err is set
}

// hashLeaf makes the raw block of data (CIDv1, raw codec, sha2-256).
func hashLeaf(data []byte) (blocks.Block, error) {
	sum := sha256.Sum256(data)
	buf := make([]byte, 2+sha256.Size)
	buf[0], buf[1] = mh.SHA2_256, sha256.Size
	copy(buf[2:], sum[:])
	return blocks.NewBlockWithCid(data, cid.NewCidV1(cid.Raw, mh.Multihash(buf)))
}

// file imports the bytes of r as a UnixFS file and returns its root.
func (im *importer) file(ctx context.Context, r io.Reader) (dagLink, error) {
	first, err := readFirstChunk(r)
	if err != nil {
		return dagLink{}, fmt.Errorf("unixfs: read: %w", err)
	}
	if len(first) < chunkSize {
		// At most one chunk: the file is its raw leaf (the empty file too).
		return im.leafOnly(ctx, first)
	}
	return im.fileParallel(ctx, r, first)
}

// readFirstChunk reads up to chunkSize bytes, growing its buffer as data
// comes so that small files do not cost a 1 MiB allocation each. A result
// shorter than chunkSize means r is exhausted.
func readFirstChunk(r io.Reader) ([]byte, error) {
	buf := make([]byte, 0, 16<<10)
	for {
		n, err := io.ReadFull(r, buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		switch {
		case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
			return buf, nil
		case err != nil:
			return nil, err
		case len(buf) == chunkSize:
			return buf, nil
		}
		grown := make([]byte, len(buf), min(4*cap(buf), chunkSize))
		copy(grown, buf)
		buf = grown
	}
}

func (im *importer) leafOnly(ctx context.Context, data []byte) (dagLink, error) {
	b, err := hashLeaf(data)
	if err != nil {
		return dagLink{}, err
	}
	if err := im.put(ctx, b); err != nil {
		return dagLink{}, err
	}
	im.addProgress(len(data))
	return dagLink{c: b.Cid(), tsize: uint64(len(data)), fsize: uint64(len(data))}, nil
}

// fileParallel imports a file whose first full chunk has been read: one
// goroutine reads chunks, workers hash them, and a collector takes them back
// in order, queues the blocks and grows the balanced tree. All of them have
// stopped when it returns.
func (im *importer) fileParallel(ctx context.Context, r io.Reader, first []byte) (dagLink, error) {
	workers := im.opts.workers()
	g, gctx := errgroup.WithContext(ctx)
	work := make(chan *rawLeaf, workers)
	ordered := make(chan *rawLeaf, 2*workers+2) // bounds the chunks in flight

	for range workers {
		g.Go(func() error {
			for l := range work {
				l.blk, l.err = hashLeaf(l.data)
				close(l.done)
			}
			return nil
		})
	}

	g.Go(func() error {
		defer close(work)
		defer close(ordered)
		data, last := first, false
		for {
			l := &rawLeaf{data: data, done: make(chan struct{})}
			select {
			case ordered <- l:
			case <-gctx.Done():
				return gctx.Err()
			}
			select {
			case work <- l:
			case <-gctx.Done():
				return gctx.Err()
			}
			if last {
				return nil
			}
			buf := make([]byte, chunkSize)
			n, err := io.ReadFull(r, buf)
			switch {
			case errors.Is(err, io.EOF):
				return nil
			case errors.Is(err, io.ErrUnexpectedEOF):
				// Copy a short tail so its block does not pin a 1 MiB array.
				data, last = append([]byte(nil), buf[:n]...), true
			case err != nil:
				return fmt.Errorf("unixfs: read: %w", err)
			default:
				data = buf
			}
		}
	})

	var root dagLink
	g.Go(func() error {
		tb := &treeBuilder{}
		for l := range ordered {
			select {
			case <-l.done:
			case <-gctx.Done():
				return gctx.Err()
			}
			if l.err != nil {
				return l.err
			}
			if err := im.put(gctx, l.blk); err != nil {
				return err
			}
			im.addProgress(len(l.data))
			size := uint64(len(l.data))
			if err := tb.add(gctx, im, dagLink{c: l.blk.Cid(), tsize: size, fsize: size}); err != nil {
				return err
			}
		}
		if err := gctx.Err(); err != nil {
			return err // the reader stopped early: the tree is incomplete
		}
		var err error
		root, err = tb.finish(gctx, im)
		return err
	})

	if err := g.Wait(); err != nil {
		return dagLink{}, err
	}
	return root, nil
}

// treeBuilder grows a balanced file DAG one leaf at a time, keeping one
// partially filled node per level. levels[0] holds leaves, levels[k] holds
// complete subtrees of depth k. It reproduces boxo's balanced.Layout: every
// node is filled to maxFileLinks before a sibling starts, and the root is as
// shallow as the leaf count allows.
type treeBuilder struct {
	levels   [][]dagLink
	maxLinks int // links per node; 0 means maxFileLinks (tests use less)
}

func (tb *treeBuilder) width() int {
	if tb.maxLinks > 0 {
		return tb.maxLinks
	}
	return maxFileLinks
}

func (tb *treeBuilder) add(ctx context.Context, im *importer, l dagLink) error {
	if len(tb.levels) == 0 {
		tb.levels = append(tb.levels, make([]dagLink, 0, tb.width()))
	}
	tb.levels[0] = append(tb.levels[0], l)
	for k := 0; len(tb.levels[k]) == tb.width(); k++ {
		parent, err := im.fileNode(ctx, tb.levels[k])
		if err != nil {
			return err
		}
		tb.levels[k] = tb.levels[k][:0]
		if k+1 == len(tb.levels) {
			tb.levels = append(tb.levels, make([]dagLink, 0, tb.width()))
		}
		tb.levels[k+1] = append(tb.levels[k+1], parent)
	}
	return nil
}

// finish closes the partial nodes bottom-up and returns the root. It must be
// called after at least one add.
func (tb *treeBuilder) finish(ctx context.Context, im *importer) (dagLink, error) {
	for k := 0; k < len(tb.levels); k++ {
		lv := tb.levels[k]
		top := k == len(tb.levels)-1
		switch {
		case top && len(lv) == 1:
			return lv[0], nil
		case len(lv) == 0:
			continue
		}
		parent, err := im.fileNode(ctx, lv)
		if err != nil {
			return dagLink{}, err
		}
		if top {
			return parent, nil
		}
		tb.levels[k+1] = append(tb.levels[k+1], parent)
	}
	return dagLink{}, errors.New("unixfs: internal error: empty file tree")
}

// fileNode builds and queues the dag-pb File node over children.
func (im *importer) fileNode(ctx context.Context, children []dagLink) (dagLink, error) {
	nd := new(dag.ProtoNode)
	if err := nd.SetCidBuilder(dagPBPrefix); err != nil {
		return dagLink{}, err
	}
	fsn := ft.NewFSNode(ft.TFile)
	for _, ch := range children {
		if err := nd.AddRawLink("", &ipld.Link{Cid: ch.c, Size: ch.tsize}); err != nil {
			return dagLink{}, err
		}
		fsn.AddBlockSize(ch.fsize)
	}
	data, err := fsn.GetBytes()
	if err != nil {
		return dagLink{}, fmt.Errorf("unixfs: encode file node: %w", err)
	}
	nd.SetData(data)
	return im.putProto(ctx, nd, fsn.FileSize())
}

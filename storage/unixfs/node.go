package unixfs

import (
	"context"
	"fmt"
	"math"
	"math/bits"

	dag "github.com/ipfs/boxo/ipld/merkledag"
	ft "github.com/ipfs/boxo/ipld/unixfs"
	cid "github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
)

// Kind is the type of a UnixFS root.
type Kind int

const (
	// KindFile is a file: a raw block or a dag-pb File/Raw node tree.
	KindFile Kind = iota + 1
	// KindDirectory is a basic or HAMT-sharded directory.
	KindDirectory
	// KindSymlink is a symbolic link.
	KindSymlink
)

func (k Kind) String() string {
	switch k {
	case KindFile:
		return "file"
	case KindDirectory:
		return "directory"
	case KindSymlink:
		return "symlink"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// nodeType refines Kind for decoding.
type nodeType int

const (
	typeFile nodeType = iota + 1
	typeDir
	typeHAMT
	typeSymlink
)

// fsNode is a decoded UnixFS node.
type fsNode struct {
	c     cid.Cid
	typ   nodeType
	data  []byte       // file bytes held by this node; symlink target
	links []*ipld.Link // children (file parts, entries, shard slots)
	sizes []uint64     // file: UnixFS blocksizes, one per link
	size  uint64       // file: len(data) + sum(sizes)
	tsize uint64       // block length + sum of link Tsizes
	pad   int          // hamt: length of the hex slot prefix of link names
	ipld  ipld.Node    // the decoded block
}

func (n *fsNode) kind() Kind {
	switch n.typ {
	case typeFile:
		return KindFile
	case typeSymlink:
		return KindSymlink
	}
	return KindDirectory
}

func malformed(c cid.Cid, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrMalformed, c, fmt.Sprintf(format, args...))
}

// checkCodec rejects CIDs that cannot name a UnixFS node before fetching.
func checkCodec(c cid.Cid) error {
	if !c.Defined() {
		return fmt.Errorf("%w: undefined cid", ErrNotUnixFS)
	}
	switch c.Type() {
	case cid.Raw, cid.DagProtobuf:
		return nil
	}
	return fmt.Errorf("%w: %s has codec 0x%x", ErrNotUnixFS, c, c.Type())
}

// fetch gets and decodes the node c.
func fetch(ctx context.Context, g ipld.NodeGetter, c cid.Cid) (*fsNode, error) {
	if err := checkCodec(c); err != nil {
		return nil, err
	}
	nd, err := g.Get(ctx, c)
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, ctxErr
		}
		return nil, fmt.Errorf("unixfs: get %s: %w", c, err)
	}
	return decode(c, nd)
}

// getPromised returns the node a prefetch promised. A failed prefetch (which
// ipld.GetNodes reports for the whole batch, without the cause) is retried
// with a plain Get, which either succeeds or says what is wrong with c.
func getPromised(ctx context.Context, g ipld.NodeGetter, p *ipld.NodePromise, c cid.Cid) (*fsNode, error) {
	nd, err := p.Get(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return fetch(ctx, g, c)
	}
	return decode(c, nd)
}

// decode interprets nd, the block of c, as UnixFS.
func decode(c cid.Cid, nd ipld.Node) (*fsNode, error) {
	if err := checkCodec(c); err != nil {
		return nil, err
	}
	if !nd.Cid().Equals(c) {
		return nil, fmt.Errorf("unixfs: getter returned %s for %s", nd.Cid(), c)
	}
	if c.Type() == cid.Raw {
		data := nd.RawData()
		return &fsNode{c: c, typ: typeFile, data: data, size: uint64(len(data)), tsize: uint64(len(data)), ipld: nd}, nil
	}
	pn, ok := nd.(*dag.ProtoNode)
	if !ok {
		var err error
		if pn, err = dag.DecodeProtobuf(nd.RawData()); err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrMalformed, c, err)
		}
	}
	fsn, err := ft.FSNodeFromBytes(pn.Data())
	if err != nil {
		return nil, malformed(c, "unixfs data: %v", err)
	}
	n := &fsNode{c: c, links: pn.Links(), ipld: nd}
	n.tsize = uint64(len(nd.RawData()))
	for _, l := range n.links {
		if !l.Cid.Defined() {
			return nil, malformed(c, "link without cid")
		}
		var carry uint64
		n.tsize, carry = bits.Add64(n.tsize, l.Size, 0)
		if carry != 0 {
			n.tsize = math.MaxUint64
		}
	}
	switch fsn.Type() {
	case ft.TFile, ft.TRaw:
		n.typ = typeFile
		n.data = fsn.Data()
		n.sizes = fsn.BlockSizes()
		if len(n.sizes) != len(n.links) {
			return nil, malformed(c, "%d links but %d block sizes", len(n.links), len(n.sizes))
		}
		n.size = uint64(len(n.data))
		for _, s := range n.sizes {
			var carry uint64
			n.size, carry = bits.Add64(n.size, s, 0)
			if carry != 0 || n.size > math.MaxInt64 {
				return nil, malformed(c, "file size overflows")
			}
		}
	case ft.TDirectory:
		n.typ = typeDir
	case ft.THAMTShard:
		n.typ = typeHAMT
		if fsn.HashType() != hamtHashMurmur3 {
			return nil, malformed(c, "unsupported hamt hash type 0x%x", fsn.HashType())
		}
		fo := fsn.Fanout()
		if fo < 8 || fo > 1024 || fo&(fo-1) != 0 {
			return nil, malformed(c, "invalid hamt fanout %d", fo)
		}
		pad := len(fmt.Sprintf("%X", fo-1))
		for _, l := range n.links {
			if len(l.Name) < pad {
				return nil, malformed(c, "hamt link name %q shorter than its slot prefix", l.Name)
			}
		}
		n.pad = pad
	case ft.TSymlink:
		n.typ = typeSymlink
		n.data = fsn.Data()
		if len(n.links) != 0 {
			return nil, malformed(c, "symlink with links")
		}
	default:
		return nil, fmt.Errorf("%w: %s is a unixfs %s node", ErrNotUnixFS, c, fsn.Type())
	}
	return n, nil
}

// Info describes a UnixFS root.
type Info struct {
	// Kind is file, directory or symlink.
	Kind Kind
	// Size is the content length of a file, the target length of a
	// symlink, and 0 for a directory.
	Size int64
	// DAGSize is the number of block bytes of the whole DAG as the root's
	// links declare it (dag-pb Tsize): what a full fetch transfers, for
	// progress. It comes from the DAG's producer and is not verified.
	DAGSize uint64
	// Sharded reports a HAMT-sharded directory.
	Sharded bool
}

// Stat fetches the root block of c (only that block) and describes it.
func Stat(ctx context.Context, g ipld.NodeGetter, c cid.Cid) (Info, error) {
	n, err := fetch(ctx, g, c)
	if err != nil {
		return Info{}, err
	}
	info := Info{Kind: n.kind(), DAGSize: n.tsize, Sharded: n.typ == typeHAMT}
	switch n.typ {
	case typeFile:
		info.Size = int64(n.size)
	case typeSymlink:
		info.Size = int64(len(n.data))
	}
	return info, nil
}

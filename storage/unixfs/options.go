package unixfs

import (
	"context"
	"errors"
	"runtime"

	blocks "github.com/ipfs/go-block-format"
	cid "github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"
)

// BlockWriter receives the blocks an import produces.
//
// PutMany stores every block of the batch, or returns an error. It is called
// from one goroutine at a time, children before parents. It must not keep the
// slice after returning, but may keep the blocks (their data is never reused
// by the importer). boxo's blockstore.Blockstore and blockservice.BlockService
// satisfy it.
type BlockWriter interface {
	PutMany(ctx context.Context, blks []blocks.Block) error
}

// Options tunes an import. The zero value imports like `ipfs add -r` with the
// unixfs-v1-2025 profile. None of the fields change the resulting CIDs except
// Hidden (which changes what is imported).
type Options struct {
	// Hidden includes entries whose name starts with "." when ImportPath walks
	// a directory (Kubo's `ipfs add --hidden`). The path given to ImportPath
	// itself is always imported. ImportNode and ImportReader import what they
	// are handed and ignore it.
	Hidden bool

	// Progress, when set, is called with the cumulative number of file bytes
	// imported so far (across all files of the call), after each chunk. It is
	// called from one goroutine at a time and must not block for long.
	Progress func(bytes int64)

	// Concurrency is the number of leaf hashing workers per file;
	// 0 means runtime.GOMAXPROCS(0).
	Concurrency int
}

func (o Options) workers() int {
	if o.Concurrency > 0 {
		return o.Concurrency
	}
	return max(runtime.GOMAXPROCS(0), 1)
}

// ExportOptions tunes WriteTo. The zero value is fine.
type ExportOptions struct {
	// Progress, when set, is called with the cumulative number of file bytes
	// written so far. It is called from WriteTo's goroutine.
	Progress func(bytes int64)
}

var (
	// ErrNotUnixFS reports a block that is not a UnixFS node: a codec other
	// than dag-pb or raw, or a dag-pb node of an unsupported UnixFS type.
	ErrNotUnixFS = errors.New("unixfs: not a unixfs node")
	// ErrNotFile reports that Open was given a directory or symlink.
	ErrNotFile = errors.New("unixfs: not a file")
	// ErrMalformed reports a UnixFS DAG that violates the format (bad
	// protobuf, block sizes that do not add up, bad HAMT shard, ...).
	ErrMalformed = errors.New("unixfs: malformed dag")
	// ErrInvalidName reports a directory entry name that cannot be imported
	// or written to disk ("", ".", "..", or containing "/" or NUL).
	ErrInvalidName = errors.New("unixfs: invalid entry name")
)

// The unixfs-v1-2025 profile (IPIP-499), as boxo's uio.UnixFS_v1_2025 and
// Kubo's config profile define it. TestProfileMatchesBoxo pins these values.
const (
	chunkSize         = 1 << 20   // size-1048576
	maxFileLinks      = 1024      // Import.UnixFSFileMaxLinks
	hamtThreshold     = 256 << 10 // Import.UnixFSHAMTDirectorySizeThreshold, block estimation
	hamtFanout        = 256       // Import.UnixFSHAMTDirectoryMaxFanout
	hamtHashMurmur3   = 0x22      // UnixFS HAMT hashType
	maxBlockBatch     = 128       // blocks per PutMany (Kubo's Import.BatchMaxNodes)
	maxBlockBatchSize = 16 << 20  // bytes per PutMany
)

// dagPBPrefix builds the CIDs of dag-pb nodes (CIDv1, sha2-256).
var dagPBPrefix = cid.Prefix{Version: 1, Codec: cid.DagProtobuf, MhType: mh.SHA2_256, MhLength: -1}

package blocks

import (
	"bytes"
	"context"
	"crypto/sha256"

	"github.com/ipfs/boxo/blockstore"
	blk "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"
)

// emptyDigest is the SHA-256 of no bytes: the digest of every empty block
// (an empty file imported as UnixFS is one).
var emptyDigest = sha256.Sum256(nil)

// isEmpty reports whether c names the empty block under SHA-256.
func isEmpty(c cid.Cid) bool {
	dec, err := mh.Decode(c.Hash())
	return err == nil && dec.Code == mh.SHA2_256 && bytes.Equal(dec.Digest, emptyDigest[:])
}

// KnownEmpty wraps bs so that the empty block (any codec, SHA-256) is
// always present: its bytes are known from its CID alone. Bitswap cannot
// move a zero-length block (its server reports size 0 as "don't have"), so
// without this an empty file in a DAG held by a peer could never be
// fetched.
func KnownEmpty(bs blockstore.Blockstore) blockstore.Blockstore { return knownEmpty{bs} }

type knownEmpty struct{ blockstore.Blockstore }

func (k knownEmpty) Has(ctx context.Context, c cid.Cid) (bool, error) {
	if isEmpty(c) {
		return true, nil
	}
	return k.Blockstore.Has(ctx, c)
}

func (k knownEmpty) Get(ctx context.Context, c cid.Cid) (blk.Block, error) {
	if isEmpty(c) {
		return blk.NewBlockWithCid(nil, c)
	}
	return k.Blockstore.Get(ctx, c)
}

func (k knownEmpty) GetSize(ctx context.Context, c cid.Cid) (int, error) {
	if isEmpty(c) {
		return 0, nil
	}
	return k.Blockstore.GetSize(ctx, c)
}

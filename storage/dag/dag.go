// Package dag knows the shape of the DAGs IPDM stores: which codecs it can
// follow (dag-pb and raw), the links of a block, and the bytes of a block
// including identity CIDs, which carry their data inline. The pin walker
// and the CAR exporter share it. It holds no state.
package dag

import (
	"context"
	"errors"
	"fmt"

	"github.com/ipfs/boxo/ipld/merkledag"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multicodec"
	"github.com/multiformats/go-multihash"
)

// ErrUnsupportedCodec is wrapped by CheckCodec and Links for a block of a
// codec whose links this package cannot follow.
var ErrUnsupportedCodec = errors.New("unsupported codec")

// BlockGetter returns the block for a CID.
type BlockGetter interface {
	Get(ctx context.Context, c cid.Cid) (blocks.Block, error)
}

// CheckCodec fails for a CID whose links cannot be followed.
func CheckCodec(c cid.Cid) error {
	switch c.Type() {
	case cid.DagProtobuf, cid.Raw:
		return nil
	}
	return fmt.Errorf("%w: %s has codec %s (0x%x); only dag-pb and raw DAGs are supported",
		ErrUnsupportedCodec, c, multicodec.Code(c.Type()), c.Type())
}

// BlockData returns c's bytes: decoded from the CID itself for an identity
// multihash, fetched through g otherwise.
func BlockData(ctx context.Context, g BlockGetter, c cid.Cid) ([]byte, error) {
	if c.Prefix().MhType == multihash.IDENTITY {
		dec, err := multihash.Decode(c.Hash())
		if err != nil {
			return nil, err
		}
		return dec.Digest, nil
	}
	b, err := g.Get(ctx, c)
	if err != nil {
		return nil, err
	}
	return b.RawData(), nil
}

// Links returns the CIDs c's block links to, in order: none for a raw
// block, the links of a dag-pb node, ErrUnsupportedCodec otherwise.
func Links(c cid.Cid, data []byte) ([]cid.Cid, error) {
	switch c.Type() {
	case cid.Raw:
		return nil, nil
	case cid.DagProtobuf:
		n, err := merkledag.DecodeProtobuf(data)
		if err != nil {
			return nil, fmt.Errorf("decode dag-pb block %s: %w", c, err)
		}
		out := make([]cid.Cid, 0, len(n.Links()))
		for _, l := range n.Links() {
			out = append(out, l.Cid)
		}
		return out, nil
	}
	return nil, CheckCodec(c)
}

package car

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"

	blocks "github.com/ipfs/go-block-format"
	cid "github.com/ipfs/go-cid"

	"github.com/ipdm/ipdm/storage/dag"
)

// ErrUnsupportedCodec is returned by Export for a DAG containing a block
// whose codec is neither dag-pb nor raw.
var ErrUnsupportedCodec = dag.ErrUnsupportedCodec

// BlockGetter returns the block for a CID. Export trusts it to return the
// right bytes (the node's block stores verify on read).
type BlockGetter interface {
	Get(ctx context.Context, c cid.Cid) (blocks.Block, error)
}

// Export writes the DAG under root to w as a CARv1 with root as its only
// root. Blocks come in depth-first pre-order (a block, then each of its
// links' subtrees in link order), each CID once, exactly as Kubo's
// `ipfs dag export` writes them (byte-identical output). Blocks of
// identity-hash CIDs are written too, decoded from the CID, as Kubo does.
// Only dag-pb and raw blocks can be traversed (ErrUnsupportedCodec
// otherwise).
//
// The root block is fetched before anything is written; a later error
// (a missing block, a write failure) leaves a truncated CAR in w.
func Export(ctx context.Context, w io.Writer, g BlockGetter, root cid.Cid) error {
	if !root.Defined() {
		return errors.New("car: export: undefined root")
	}
	if err := dag.CheckCodec(root); err != nil {
		return fmt.Errorf("car: export: %w", err)
	}
	rootData, err := dag.BlockData(ctx, g, root)
	if err != nil {
		return fmt.Errorf("car: export: get root %s: %w", root, err)
	}
	hdr, err := encodeHeader([]cid.Cid{root})
	if err != nil {
		return fmt.Errorf("car: export: encode header: %w", err)
	}
	bw := bufio.NewWriterSize(w, 256<<10)
	if _, err := bw.Write(hdr); err != nil {
		return fmt.Errorf("car: export: write: %w", err)
	}

	seen := make(map[cid.Cid]struct{})
	stack := []cid.Cid{root}
	for len(stack) > 0 {
		c := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if _, ok := seen[c]; ok {
			continue
		}
		seen[c] = struct{}{}
		if err := dag.CheckCodec(c); err != nil {
			return fmt.Errorf("car: export: %w", err)
		}
		data := rootData
		if c != root {
			if err := ctx.Err(); err != nil {
				return err
			}
			if data, err = dag.BlockData(ctx, g, c); err != nil {
				return fmt.Errorf("car: export: get %s: %w", c, err)
			}
		}
		ls, err := dag.Links(c, data)
		if err != nil {
			return fmt.Errorf("car: export: %w", err)
		}
		if err := writeSection(bw, c, data); err != nil {
			return fmt.Errorf("car: export: write: %w", err)
		}
		// Push in reverse so the first link is visited first.
		for _, l := range slices.Backward(ls) {
			stack = append(stack, l)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("car: export: write: %w", err)
	}
	return nil
}

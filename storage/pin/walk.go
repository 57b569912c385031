package pin

import (
	"context"
	"fmt"
	"sync"

	blocks "github.com/ipfs/go-block-format"
	cid "github.com/ipfs/go-cid"
	"github.com/multiformats/go-multihash"

	"github.com/ipdm/ipdm/storage/dag"
)

// BlockGetter returns the block for a CID. For Pin it may fetch from the
// network, but it must leave what it fetched in the node's block store
// (a boxo blockservice over the store does); for Collect, the block store
// itself is used, so nothing is fetched.
//
// If the getter also has a Has method (block stores do), Pin checks raw
// leaves with Has instead of reading them: a leaf has no links, so its
// presence is all that matters, and pinning a freshly imported file then
// costs a stat per leaf rather than a read and hash of the whole file.
type BlockGetter interface {
	Get(ctx context.Context, c cid.Cid) (blocks.Block, error)
}

// haser is the optional presence check of a BlockGetter.
type haser interface {
	Has(ctx context.Context, c cid.Cid) (bool, error)
}

// leafMode says how walkDAG treats raw blocks, which have no links.
type leafMode int

const (
	checkLeaves leafMode = iota // Has if the getter has it and says yes, else Get
	skipLeaves                  // neither: only reachability matters (GC mark)
)

// walkDAG fetches every block reachable from roots through g, up to conc at
// a time, and adds each CID to seen (CIDs already in seen are neither
// fetched nor followed); raw leaves are handled as leaves says. It stops at
// the first error: a missing block, a block that does not decode, or a link
// with an unsupported codec.
func walkDAG(ctx context.Context, g BlockGetter, roots []cid.Cid, conc int, seen map[cid.Cid]struct{}, leaves leafMode) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu       sync.Mutex
		cond     = sync.NewCond(&mu)
		stack    []cid.Cid // LIFO keeps the frontier small on wide DAGs
		active   int
		firstErr error
	)
	push := func(c cid.Cid) {
		if _, ok := seen[c]; !ok {
			seen[c] = struct{}{}
			stack = append(stack, c)
		}
	}
	for _, r := range roots {
		push(r)
	}
	worker := func() {
		mu.Lock()
		defer mu.Unlock()
		for {
			for len(stack) == 0 && active > 0 && firstErr == nil {
				cond.Wait()
			}
			if firstErr != nil || len(stack) == 0 {
				cond.Broadcast()
				return
			}
			c := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			active++
			mu.Unlock()
			ls, err := visit(ctx, g, c, leaves)
			mu.Lock()
			active--
			if err != nil {
				if firstErr == nil {
					firstErr = err
					cancel()
				}
			} else {
				for _, l := range ls {
					push(l)
				}
			}
			cond.Broadcast()
		}
	}
	var wg sync.WaitGroup
	for range max(conc, 1) {
		wg.Go(worker)
	}
	wg.Wait()
	return firstErr
}

func visit(ctx context.Context, g BlockGetter, c cid.Cid, leaves leafMode) ([]cid.Cid, error) {
	if err := dag.CheckCodec(c); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if c.Type() == cid.Raw {
		if leaves == skipLeaves || c.Prefix().MhType == multihash.IDENTITY {
			return nil, nil
		}
		if h, ok := g.(haser); ok {
			if has, err := h.Has(ctx, c); err == nil && has {
				return nil, nil
			}
		}
	}
	data, err := dag.BlockData(ctx, g, c)
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", c, err)
	}
	return dag.Links(c, data)
}

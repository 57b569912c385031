package pin

import (
	"context"
	"fmt"

	"github.com/ipfs/boxo/blockstore"
	cid "github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
	"github.com/multiformats/go-multihash"
)

// GCResult is what a collection did.
type GCResult struct {
	// Removed is how many blocks were deleted.
	Removed int
	// Bytes is their total size.
	Bytes int64
	// Kept is how many distinct blocks (multihashes) the pins reach,
	// identity-hash CIDs excluded.
	Kept int
}

// Collect deletes every block of bs that no pin reaches. It takes the GC
// lock (waiting for running adds to release their pin locks, and holding
// new ones off until it is done), marks the closure of all pins by walking
// them in bs only (never the network; raw leaves are marked without being
// read), then sweeps the rest.
//
// If a pinned DAG is incomplete in bs (a dag-pb block missing or corrupt),
// Collect fails before deleting anything: without the missing block it
// cannot know what its children are. On a sweep error or cancellation it returns what
// it removed so far with the error.
func Collect(ctx context.Context, bs blockstore.Blockstore, p *Pinner) (GCResult, error) {
	var res GCResult
	release, err := p.GCLock(ctx)
	if err != nil {
		return res, fmt.Errorf("pin: gc: wait for adds: %w", err)
	}
	defer release()

	pins, err := p.List(ctx)
	if err != nil {
		return res, fmt.Errorf("pin: gc: %w", err)
	}
	seen := make(map[cid.Cid]struct{})
	var roots []cid.Cid
	for _, pn := range pins {
		if pn.Mode == Recursive {
			roots = append(roots, pn.Cid)
		} else {
			seen[pn.Cid] = struct{}{}
		}
	}
	if err := walkDAG(ctx, bs, roots, p.conc, seen, skipLeaves); err != nil {
		return res, fmt.Errorf("pin: gc: mark: %w (nothing was deleted)", err)
	}
	keep := make(map[string]struct{}, len(seen))
	for c := range seen {
		if c.Prefix().MhType != multihash.IDENTITY { // inline, never stored
			keep[string(c.Hash())] = struct{}{}
		}
	}
	res.Kept = len(keep)

	var (
		ch    <-chan cid.Cid
		errFn = func() error { return nil }
	)
	if e, ok := bs.(blockstore.AllKeysChanWithErrer); ok {
		ch, errFn, err = e.AllKeysChanWithErr(ctx)
	} else {
		ch, err = bs.AllKeysChan(ctx)
	}
	if err != nil {
		return res, fmt.Errorf("pin: gc: list blocks: %w", err)
	}
	var sweepErr error
	for c := range ch {
		if sweepErr != nil {
			continue // drain so the lister can finish
		}
		if _, ok := keep[string(c.Hash())]; ok {
			continue
		}
		size, err := bs.GetSize(ctx, c)
		if ipld.IsNotFound(err) {
			continue
		}
		if err == nil {
			err = bs.DeleteBlock(ctx, c)
		}
		if err != nil {
			sweepErr = fmt.Errorf("pin: gc: delete %s: %w", c, err)
			continue
		}
		res.Removed++
		res.Bytes += int64(size)
	}
	if sweepErr != nil {
		return res, sweepErr
	}
	if err := errFn(); err != nil {
		return res, fmt.Errorf("pin: gc: list blocks: %w", err)
	}
	return res, ctx.Err()
}

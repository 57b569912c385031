package node

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/ipfs/boxo/blockservice"
	"github.com/ipfs/boxo/exchange"
	"github.com/ipfs/boxo/exchange/offline"
	"github.com/ipfs/boxo/ipld/merkledag"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"

	"github.com/ipdm/ipdm/storage/pin"
)

// FetchTimeoutError says that no peer delivered a block within the stall
// timeout. It wraps context.DeadlineExceeded.
type FetchTimeoutError struct {
	CID   cid.Cid
	After time.Duration
}

func (e *FetchTimeoutError) Error() string {
	return fmt.Sprintf("block %s: no peer provided it within %s", e.CID, e.After)
}

func (e *FetchTimeoutError) Unwrap() error { return context.DeadlineExceeded }

// stallExchange bounds every network fetch by a stall timeout: a single
// block must arrive within d, and a stream of blocks must make progress at
// least every d. A caller's own deadline still applies on top. Without it, a
// CID nobody provides would make bitswap wait for ever. Sessions (which the
// block service uses for DAG walks) get the same bound.
type stallExchange struct {
	exchange.SessionExchange
	d time.Duration
}

func (s stallExchange) GetBlock(ctx context.Context, c cid.Cid) (blocks.Block, error) {
	return stallFetcher{s.SessionExchange, s.d}.GetBlock(ctx, c)
}

func (s stallExchange) GetBlocks(ctx context.Context, cids []cid.Cid) (<-chan blocks.Block, error) {
	return stallFetcher{s.SessionExchange, s.d}.GetBlocks(ctx, cids)
}

func (s stallExchange) NewSession(ctx context.Context) exchange.Fetcher {
	return stallFetcher{s.SessionExchange.NewSession(ctx), s.d}
}

type stallFetcher struct {
	f exchange.Fetcher
	d time.Duration
}

func (s stallFetcher) GetBlock(ctx context.Context, c cid.Cid) (blocks.Block, error) {
	cctx, cancel := context.WithTimeout(ctx, s.d)
	defer cancel()
	b, err := s.f.GetBlock(cctx, c)
	if err != nil && ctx.Err() == nil && errors.Is(cctx.Err(), context.DeadlineExceeded) {
		return nil, &FetchTimeoutError{CID: c, After: s.d}
	}
	return b, err
}

func (s stallFetcher) GetBlocks(ctx context.Context, cids []cid.Cid) (<-chan blocks.Block, error) {
	cctx, cancel := context.WithCancel(ctx)
	in, err := s.f.GetBlocks(cctx, cids)
	if err != nil {
		cancel()
		return nil, err
	}
	out := make(chan blocks.Block)
	// The relay ends when the upstream channel closes, which bitswap does
	// once cctx is cancelled; so the goroutine is owned by this call.
	go func() {
		defer close(out)
		defer cancel()
		timer := time.NewTimer(s.d)
		defer timer.Stop()
		for {
			select {
			case b, ok := <-in:
				if !ok {
					return
				}
				select {
				case out <- b:
				case <-ctx.Done():
					return
				}
				timer.Reset(s.d)
			case <-timer.C:
				cancel()
				for range in {
				}
				return
			}
		}
	}()
	return out, nil
}

// FindProviders lists the peers that DHT provider records name for c (this
// node first when it provides c), waiting at most until ctx ends.
func (n *Node) FindProviders(ctx context.Context, c cid.Cid) ([]string, error) {
	if n.host == nil {
		return nil, ErrOffline
	}
	return n.host.FindProviders(ctx, c, 0)
}

// pinCapped pins c recursively, fetching what is missing from peers, without
// ever storing more than max bytes in the block store: a missing block that
// would take the store past max aborts the pin with ErrStorageFull before
// it is stored. The blocks an aborted pin stored are deleted again, except
// those a pin made meanwhile reaches.
func (n *Node) pinCapped(ctx context.Context, c cid.Cid, max int64) error {
	before, err := n.pins.List(ctx)
	if err != nil {
		return err
	}
	lctx, unlock, err := n.pins.PinLock(ctx)
	if err != nil {
		return err
	}
	var f exchange.Fetcher = n.exch
	if se, ok := n.exch.(exchange.SessionExchange); ok {
		f = se.NewSession(lctx)
	}
	g := &cappedGetter{n: n, fetch: f, max: max}
	err = n.pins.Pin(lctx, c, true, g)
	unlock()
	if err == nil {
		n.provide(ctx, c, nil)
		return nil
	}
	if stored := g.storedBlocks(); len(stored) > 0 {
		removed, derr := n.dropUnpinned(context.WithoutCancel(ctx), stored, before)
		n.log.Info("aborted pin: partial data removed", "cid", c, "stored", len(stored), "removed", removed, "err", derr)
	}
	return err
}

// cappedGetter reads blocks locally, else fetches them and stores them
// while the store stays within max bytes. Safe for concurrent use.
type cappedGetter struct {
	n     *Node
	fetch exchange.Fetcher
	max   int64

	mu     sync.Mutex // serialises the check-and-store of fetched blocks
	stored []cid.Cid  // blocks this getter stored
}

func (g *cappedGetter) Get(ctx context.Context, c cid.Cid) (blocks.Block, error) {
	b, err := g.n.bserv.Blockstore().Get(ctx, c)
	if err == nil || !ipld.IsNotFound(err) {
		return b, err
	}
	if b, err = g.fetch.GetBlock(ctx, c); err != nil {
		return nil, err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	st, err := g.n.blocks.Stat(ctx)
	if err != nil {
		return nil, err
	}
	if size := int64(len(b.RawData())); st.Bytes+size > g.max {
		return nil, fmt.Errorf("%w: block %s of %d bytes would take the store past %d bytes (%d used; storage_max_bytes)",
			ErrStorageFull, c, size, g.max, st.Bytes)
	}
	had, err := g.n.blocks.Has(ctx, c)
	if err != nil {
		return nil, err
	}
	if err := g.n.bserv.AddBlock(ctx, b); err != nil {
		return nil, err
	}
	if !had {
		g.stored = append(g.stored, c)
	}
	return b, nil
}

// Has lets the pin walk check local raw leaves without reading them.
func (g *cappedGetter) Has(ctx context.Context, c cid.Cid) (bool, error) {
	return g.n.bserv.Blockstore().Has(ctx, c)
}

func (g *cappedGetter) storedBlocks() []cid.Cid {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.stored)
}

// dropUnpinned deletes the given blocks, except those reachable from a pin
// that is not in before. It holds the GC lock, so no pin is being made
// meanwhile; pins in before were complete before the blocks were stored,
// so they cannot reach them.
func (n *Node) dropUnpinned(ctx context.Context, stored []cid.Cid, before []pin.Pin) (int, error) {
	release, err := n.pins.GCLock(ctx)
	if err != nil {
		return 0, err
	}
	defer release()
	now, err := n.pins.List(ctx)
	if err != nil {
		return 0, err
	}
	old := map[cid.Cid]bool{}
	for _, p := range before {
		old[p.Cid] = true
	}
	keep := map[string]bool{}
	local := merkledag.NewDAGService(blockservice.New(n.blocks, offline.Exchange(n.blocks)))
	for _, p := range now {
		if old[p.Cid] {
			continue
		}
		keep[string(p.Cid.Hash())] = true
		if p.Mode != pin.Recursive {
			continue
		}
		err := merkledag.Walk(ctx, merkledag.GetLinksWithDAG(local), p.Cid, func(c cid.Cid) bool {
			k := string(c.Hash())
			if keep[k] {
				return false
			}
			keep[k] = true
			return true
		})
		if err != nil {
			return 0, fmt.Errorf("walk new pin %s: %w (nothing deleted)", p.Cid, err)
		}
	}
	removed := 0
	for _, c := range stored {
		if keep[string(c.Hash())] {
			continue
		}
		if err := n.blocks.DeleteBlock(ctx, c); err != nil {
			return removed, err
		}
		removed++
	}
	return removed, nil
}

package node

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ipfs/boxo/exchange"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
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

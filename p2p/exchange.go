package p2p

import (
	"context"
	"errors"
	"fmt"

	"github.com/ipfs/boxo/bitswap"
	"github.com/ipfs/boxo/exchange"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
)

// ErrBlockUnavailable is wrapped by the error of a block fetch that ended
// (the caller's context expired or was cancelled) before any connected peer
// or DHT provider delivered the block.
var ErrBlockUnavailable = errors.New("block unavailable")

// FetchError reports a failed block fetch. It wraps ErrBlockUnavailable and
// the context error when the fetch ran out of time, so both
// errors.Is(err, ErrBlockUnavailable) and errors.Is(err,
// context.DeadlineExceeded) hold.
type FetchError struct {
	CID cid.Cid // the block asked for
	Err error   // underlying cause
}

func (e *FetchError) Error() string {
	if isCtxErr(e.Err) {
		return fmt.Sprintf("p2p: fetch %s: %v: no connected peer or DHT provider delivered it before the context ended: %v",
			e.CID, ErrBlockUnavailable, e.Err)
	}
	return fmt.Sprintf("p2p: fetch %s: %v", e.CID, e.Err)
}

// Unwrap exposes ErrBlockUnavailable (for timeouts) and the cause.
func (e *FetchError) Unwrap() []error {
	if isCtxErr(e.Err) {
		return []error{ErrBlockUnavailable, e.Err}
	}
	return []error{e.Err}
}

func isCtxErr(err error) bool {
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)
}

// blockExchange is the exchange.SessionExchange handed out by Node.Exchange.
// It forwards to bitswap, turns bare context errors into FetchError and
// makes Close a no-op: the node owns bitswap's lifetime.
type blockExchange struct {
	bs *bitswap.Bitswap
}

var _ exchange.SessionExchange = (*blockExchange)(nil)

func fetchErr(ctx context.Context, c cid.Cid, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil && isCtxErr(err) {
		err = ctxErr
	}
	return &FetchError{CID: c, Err: err}
}

// GetBlock fetches one block from connected peers or DHT providers. The
// block's hash is verified on receipt.
func (e *blockExchange) GetBlock(ctx context.Context, c cid.Cid) (blocks.Block, error) {
	b, err := e.bs.GetBlock(ctx, c)
	if err != nil {
		return nil, fetchErr(ctx, c, err)
	}
	return b, nil
}

// GetBlocks streams the blocks for cids as they arrive; the channel closes
// when all arrived or ctx ends.
func (e *blockExchange) GetBlocks(ctx context.Context, cids []cid.Cid) (<-chan blocks.Block, error) {
	ch, err := e.bs.GetBlocks(ctx, cids)
	if err != nil {
		return nil, fmt.Errorf("p2p: fetch %d blocks: %w", len(cids), err)
	}
	return ch, nil
}

// NotifyNewBlocks tells bitswap that blocks were added locally so peers that
// want them are served.
func (e *blockExchange) NotifyNewBlocks(ctx context.Context, blks ...blocks.Block) error {
	if err := e.bs.NotifyNewBlocks(ctx, blks...); err != nil {
		return fmt.Errorf("p2p: notify new blocks: %w", err)
	}
	return nil
}

// NewSession returns a fetcher that keeps the peers found for one request
// (e.g. one DAG) together, as boxo's blockservice does per DAG walk.
func (e *blockExchange) NewSession(ctx context.Context) exchange.Fetcher {
	return &sessionFetcher{f: e.bs.NewSession(ctx)}
}

// Close does nothing: bitswap stops with Node.Close.
func (e *blockExchange) Close() error { return nil }

type sessionFetcher struct {
	f exchange.Fetcher
}

func (s *sessionFetcher) GetBlock(ctx context.Context, c cid.Cid) (blocks.Block, error) {
	b, err := s.f.GetBlock(ctx, c)
	if err != nil {
		return nil, fetchErr(ctx, c, err)
	}
	return b, nil
}

func (s *sessionFetcher) GetBlocks(ctx context.Context, cids []cid.Cid) (<-chan blocks.Block, error) {
	ch, err := s.f.GetBlocks(ctx, cids)
	if err != nil {
		return nil, fmt.Errorf("p2p: fetch %d blocks: %w", len(cids), err)
	}
	return ch, nil
}

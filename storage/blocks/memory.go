package blocks

import (
	"context"
	"fmt"
	"sync"

	"github.com/ipfs/boxo/blockstore"
	blocks "github.com/ipfs/go-block-format"
	cid "github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
	"github.com/multiformats/go-multihash"
)

// Memory is an in-memory block store with the same semantics as Disk
// (multihash keys, CIDv0/v1 aliasing, not-found errors, counters) minus
// persistence and read verification: bytes in memory are the bytes that
// were put. It holds the callers' slices without copying them; blocks are
// immutable by contract. All methods are safe for concurrent use.
type Memory struct {
	mu    sync.RWMutex
	m     map[string][]byte // multihash bytes -> block data
	bytes int64
}

var (
	_ blockstore.Blockstore           = (*Memory)(nil)
	_ blockstore.AllKeysChanWithErrer = (*Memory)(nil)
)

// NewMemory returns an empty in-memory store.
func NewMemory() *Memory {
	return &Memory{m: make(map[string][]byte)}
}

// Stat returns the running totals (Corrupt is always 0).
func (m *Memory) Stat(ctx context.Context) (Stats, error) {
	if err := ctx.Err(); err != nil {
		return Stats{}, err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	return Stats{Blocks: int64(len(m.m)), Bytes: m.bytes}, nil
}

// Has reports whether a block with c's multihash is stored.
func (m *Memory) Has(ctx context.Context, c cid.Cid) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	if !c.Defined() {
		return false, nil
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	_, ok := m.m[string(c.Hash())]
	return ok, nil
}

// GetSize returns the size of c's block or an ipld.ErrNotFound.
func (m *Memory) GetSize(ctx context.Context, c cid.Cid) (int, error) {
	if err := ctx.Err(); err != nil {
		return -1, err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	data, ok := m.m[string(c.Hash())]
	if !ok || !c.Defined() {
		return -1, ipld.ErrNotFound{Cid: c}
	}
	return len(data), nil
}

// Get returns c's block, carrying c itself, or an ipld.ErrNotFound.
func (m *Memory) Get(ctx context.Context, c cid.Cid) (blocks.Block, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if !c.Defined() {
		return nil, ipld.ErrNotFound{Cid: c}
	}
	m.mu.RLock()
	data, ok := m.m[string(c.Hash())]
	m.mu.RUnlock()
	if !ok {
		return nil, ipld.ErrNotFound{Cid: c}
	}
	return blocks.NewBlockWithCid(data, c)
}

// Put stores b unless a block with its multihash is already stored.
func (m *Memory) Put(ctx context.Context, b blocks.Block) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := checkHashSupported(b.Cid().Hash()); err != nil {
		return fmt.Errorf("blocks: put %s: %w", b.Cid(), err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.putLocked(b)
	return nil
}

func (m *Memory) putLocked(b blocks.Block) {
	k := string(b.Cid().Hash())
	if _, ok := m.m[k]; ok {
		return
	}
	m.m[k] = b.RawData()
	m.bytes += int64(len(b.RawData()))
}

// PutMany stores the blocks that are not stored yet, atomically.
func (m *Memory) PutMany(ctx context.Context, bs []blocks.Block) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	for _, b := range bs {
		if err := checkHashSupported(b.Cid().Hash()); err != nil {
			return fmt.Errorf("blocks: put %s: %w", b.Cid(), err)
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, b := range bs {
		m.putLocked(b)
	}
	return nil
}

// DeleteBlock removes the block with c's multihash; a missing block is not
// an error.
func (m *Memory) DeleteBlock(ctx context.Context, c cid.Cid) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	k := string(c.Hash())
	if data, ok := m.m[k]; ok {
		m.bytes -= int64(len(data))
		delete(m.m, k)
	}
	return nil
}

// AllKeysChan lists a snapshot of the stored blocks as CIDv1 raw.
func (m *Memory) AllKeysChan(ctx context.Context) (<-chan cid.Cid, error) {
	ch, _, err := m.AllKeysChanWithErr(ctx)
	return ch, err
}

// AllKeysChanWithErr is AllKeysChan plus a function, to call after draining
// the channel, that reports whether the listing stopped early (ctx done).
func (m *Memory) AllKeysChanWithErr(ctx context.Context) (<-chan cid.Cid, func() error, error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	m.mu.RLock()
	keys := make([]cid.Cid, 0, len(m.m))
	for k := range m.m {
		keys = append(keys, cid.NewCidV1(cid.Raw, multihash.Multihash(k)))
	}
	m.mu.RUnlock()

	out := make(chan cid.Cid, 64)
	done := make(chan struct{})
	var iterErr error
	go func() {
		defer close(done)
		defer close(out)
		for _, c := range keys {
			select {
			case out <- c:
			case <-ctx.Done():
				iterErr = ctx.Err()
				return
			}
		}
	}()
	return out, func() error { <-done; return iterErr }, nil
}

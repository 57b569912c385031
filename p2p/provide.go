package p2p

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/ipfs/go-cid"
)

// provideQueue holds the CIDs waiting to be announced in the DHT. It has two
// FIFO lanes: roots (the first CID of every Provide call) are served before
// the rest. A CID (keyed by multihash, so CIDv0/v1 of the same block are one
// entry) is never queued twice: a CID already pending or in flight, or
// announced successfully less than window ago, is skipped. When limit CIDs
// are pending, push blocks until workers make room. Safe for concurrent use.
type provideQueue struct {
	limit  int
	window time.Duration

	mu      sync.Mutex
	roots   fifo
	rest    fifo
	pending map[string]struct{} // queued or in flight
	recent  map[string]time.Time
	closed  bool
	ready   chan struct{} // holds a token while items may be available
	space   chan struct{} // closed (and replaced) when pending shrinks
}

// errQueueClosed is returned by push and pop after close.
var errQueueClosed = errors.New("provide queue closed")

// recentLimit bounds the dedup memory of recently announced CIDs.
const recentLimit = 1 << 20

func newProvideQueue(limit int, window time.Duration) *provideQueue {
	return &provideQueue{
		limit:   limit,
		window:  window,
		pending: make(map[string]struct{}),
		recent:  make(map[string]time.Time),
		ready:   make(chan struct{}, 1),
		space:   make(chan struct{}),
	}
}

// push queues cids (cids[0] in the root lane). It blocks while the queue is
// full and returns ctx's error if ctx ends first; CIDs queued before that
// stay queued.
func (q *provideQueue) push(ctx context.Context, now time.Time, cids []cid.Cid) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	for i, c := range cids {
		if !c.Defined() {
			continue
		}
		key := string(c.Hash())
		if _, ok := q.pending[key]; ok {
			continue
		}
		if at, ok := q.recent[key]; ok && now.Sub(at) < q.window {
			continue
		}
		for len(q.pending) >= q.limit && !q.closed {
			space := q.space
			q.mu.Unlock()
			select {
			case <-space:
			case <-ctx.Done():
				q.mu.Lock()
				return ctx.Err()
			}
			q.mu.Lock()
		}
		if q.closed {
			return errQueueClosed
		}
		q.pending[key] = struct{}{}
		if i == 0 {
			q.roots.push(c)
		} else {
			q.rest.push(c)
		}
		q.signalReady()
	}
	return nil
}

func (q *provideQueue) signalReady() {
	select {
	case q.ready <- struct{}{}:
	default:
	}
}

// pop blocks until a CID is available (roots first) and returns it. The
// caller must report the outcome with done.
func (q *provideQueue) pop(ctx context.Context) (cid.Cid, error) {
	for {
		q.mu.Lock()
		if q.closed {
			q.mu.Unlock()
			return cid.Undef, errQueueClosed
		}
		c, ok := q.roots.pop()
		if !ok {
			c, ok = q.rest.pop()
		}
		if ok {
			if q.roots.len()+q.rest.len() > 0 {
				q.signalReady() // wake another worker
			}
			q.mu.Unlock()
			return c, nil
		}
		q.mu.Unlock()
		select {
		case <-q.ready:
		case <-ctx.Done():
			return cid.Undef, ctx.Err()
		}
	}
}

// done reports that c left the queue; announced says whether it was
// announced successfully (and so is deduplicated for the window).
func (q *provideQueue) done(c cid.Cid, announced bool, now time.Time) {
	key := string(c.Hash())
	q.mu.Lock()
	defer q.mu.Unlock()
	delete(q.pending, key)
	if announced && q.window > 0 {
		if len(q.recent) >= recentLimit {
			for k, at := range q.recent {
				if now.Sub(at) >= q.window {
					delete(q.recent, k)
				}
			}
			if len(q.recent) >= recentLimit {
				clear(q.recent) // only dedup is lost
			}
		}
		q.recent[key] = now
	}
	close(q.space)
	q.space = make(chan struct{})
}

// len returns the number of CIDs queued or in flight.
func (q *provideQueue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.pending)
}

// close wakes blocked pushers; later push and pop calls fail.
func (q *provideQueue) close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return
	}
	q.closed = true
	close(q.space)
	q.space = make(chan struct{})
}

// fifo is a slice-backed queue that reclaims its consumed prefix.
type fifo struct {
	items []cid.Cid
	head  int
}

func (f *fifo) push(c cid.Cid) { f.items = append(f.items, c) }

func (f *fifo) len() int { return len(f.items) - f.head }

func (f *fifo) pop() (cid.Cid, bool) {
	if f.head == len(f.items) {
		return cid.Undef, false
	}
	c := f.items[f.head]
	f.items[f.head] = cid.Undef
	f.head++
	if f.head == len(f.items) {
		f.items, f.head = f.items[:0], 0
	} else if f.head > 1024 && f.head*2 > len(f.items) {
		f.items = append(f.items[:0:0], f.items[f.head:]...)
		f.head = 0
	}
	return c, true
}

package service

import (
	"context"
	"errors"
	"fmt"
	"sync"

	ds "github.com/ipfs/go-datastore"
)

// persister writes job states and the reputation table to the store with
// group commit: one goroutine takes every value queued since its last
// write, encodes and writes them as one atomic batch (only the newest value
// of each key: a job that stepped five times since the last batch is
// encoded once) and syncs once for all the callers waiting on that batch.
// Under load one fsync covers many steps; alone, a step waits for one fsync
// as before.
//
// Values queued without waiting (put) ride in the same ordered log: they
// are durable once any later batch has been synced, and a crash loses at
// most the steps after the last sync, none of which sent anything out.
//
// Concurrency: put and putSync are safe for concurrent use; the order of
// calls is the order of writes. close writes what is queued and stops the
// goroutine; later calls fail with ErrClosed.
type persister struct {
	store ds.Batching

	mu      sync.Mutex
	pending map[ds.Key]encoder
	order   []ds.Key     // pending keys in first-queued order
	waiters []chan error // callers of putSync whose values are pending
	closed  bool
	wake    chan struct{} // holds a token while pending is non-empty
	done    chan struct{} // closed when the goroutine has stopped

	// Counters, for tests and metrics: batches written, fsyncs, values
	// written (after coalescing).
	batches, syncs, writes int
}

// encoder produces the bytes to store; it runs on the persister's
// goroutine, so what it encodes must not change after it is queued (or be
// safe to read concurrently, like a verify.Scorer).
type encoder func() ([]byte, error)

func newPersister(store ds.Batching) *persister {
	p := &persister{store: store, pending: map[ds.Key]encoder{}, wake: make(chan struct{}, 1), done: make(chan struct{})}
	go p.loop()
	return p
}

// put queues value for key without waiting. A later put of the same key
// replaces it if it has not been written yet.
func (p *persister) put(key ds.Key, value encoder) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.queue(key, value, nil)
}

// putSync queues value for key and returns a channel that receives the
// outcome once the value (and everything queued before it) is durable.
func (p *persister) putSync(key ds.Key, value encoder) <-chan error {
	ch := make(chan error, 1)
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.queue(key, value, ch); err != nil {
		ch <- err
	}
	return ch
}

func (p *persister) queue(key ds.Key, value encoder, ch chan error) error {
	if p.closed {
		return ErrClosed
	}
	if _, ok := p.pending[key]; !ok {
		p.order = append(p.order, key)
	}
	p.pending[key] = value
	if ch != nil {
		p.waiters = append(p.waiters, ch)
	}
	select {
	case p.wake <- struct{}{}:
	default:
	}
	return nil
}

func (p *persister) loop() {
	defer close(p.done)
	for range p.wake {
		for {
			p.mu.Lock()
			if len(p.order) == 0 {
				closed := p.closed
				p.mu.Unlock()
				if closed {
					return
				}
				break
			}
			pending, order, waiters := p.pending, p.order, p.waiters
			p.pending, p.order, p.waiters = map[ds.Key]encoder{}, nil, nil
			p.mu.Unlock()
			err := p.write(pending, order, len(waiters) > 0)
			for _, ch := range waiters {
				ch <- err
			}
		}
	}
}

// write stores one batch and, when someone waits for it, syncs.
func (p *persister) write(pending map[ds.Key]encoder, order []ds.Key, sync bool) error {
	ctx := context.Background()
	b, err := p.store.Batch(ctx)
	if err != nil {
		return err
	}
	for _, k := range order {
		data, err := pending[k]()
		if err != nil {
			return fmt.Errorf("jobs: encode %s: %w", k, err)
		}
		if err := b.Put(ctx, k, data); err != nil {
			return err
		}
	}
	if err := b.Commit(ctx); err != nil {
		return err
	}
	p.mu.Lock()
	p.batches++
	p.writes += len(order)
	if sync {
		p.syncs++
	}
	p.mu.Unlock()
	if !sync {
		return nil
	}
	// One sync makes the whole log durable, this batch and earlier ones.
	return p.store.Sync(ctx, syncPrefix)
}

// close writes and syncs what is queued, then stops the goroutine.
func (p *persister) close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		<-p.done
		return nil
	}
	p.closed = true
	var ch chan error
	if len(p.order) > 0 {
		ch = make(chan error, 1)
		p.waiters = append(p.waiters, ch)
	}
	close(p.wake)
	p.mu.Unlock()
	var err error
	if ch != nil {
		err = <-ch
	}
	<-p.done
	if err != nil {
		return errors.Join(errors.New("jobs: final write"), err)
	}
	return nil
}

// stats returns the counters.
func (p *persister) stats() (batches, syncs, writes int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.batches, p.syncs, p.writes
}

package pin

import (
	"context"
	"sync"
)

// gcLock is a readers-writer lock whose waits honour a context. Readers are
// adders ("pin lock"), the writer is garbage collection. It is phase-fair:
// a waiting writer holds off new readers (a stream of adds cannot starve
// GC), and when a writer releases, the readers that were waiting go before
// the next writer (back-to-back GCs cannot starve adds). Hence a reader must
// never wait for a second read lock while holding one (Pin avoids that
// through the lease carried in the context).
type gcLock struct {
	mu             sync.Mutex
	readers        int
	writer         bool
	writersWaiting int
	readersWaiting int
	admit          int           // readers let in ahead of waiting writers
	changed        chan struct{} // closed (and replaced) on every change
}

func newGCLock() *gcLock {
	return &gcLock{changed: make(chan struct{})}
}

// broadcast wakes every waiter; the caller holds l.mu.
func (l *gcLock) broadcast() {
	close(l.changed)
	l.changed = make(chan struct{})
}

func (l *gcLock) rlock(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	for {
		switch {
		case l.writer:
		case l.writersWaiting == 0:
			l.readers++
			return nil
		case l.admit > 0:
			l.admit--
			l.readers++
			return nil
		}
		ch := l.changed
		l.readersWaiting++
		l.mu.Unlock()
		var err error
		select {
		case <-ch:
		case <-ctx.Done():
			err = ctx.Err()
		}
		l.mu.Lock()
		l.readersWaiting--
		if err != nil {
			if l.admit > l.readersWaiting {
				l.admit = l.readersWaiting
				l.broadcast() // a writer may be waiting for admit to drain
			}
			return err
		}
	}
}

func (l *gcLock) runlock() {
	l.mu.Lock()
	l.readers--
	l.broadcast()
	l.mu.Unlock()
}

func (l *gcLock) lock(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.writersWaiting++
	for l.writer || l.readers > 0 || l.admit > 0 {
		ch := l.changed
		l.mu.Unlock()
		var err error
		select {
		case <-ch:
		case <-ctx.Done():
			err = ctx.Err()
		}
		l.mu.Lock()
		if err != nil {
			l.writersWaiting--
			l.broadcast() // readers held back by this writer may go
			return err
		}
	}
	l.writersWaiting--
	l.writer = true
	return nil
}

func (l *gcLock) unlock() {
	l.mu.Lock()
	l.writer = false
	l.admit = l.readersWaiting
	l.broadcast()
	l.mu.Unlock()
}

// leaseKey marks a context whose holder has a pin lock on a given Pinner.
type leaseKey struct{ p *Pinner }

// PinLock takes the shared side of the GC lock: while any pin lock is held,
// Collect waits (and while Collect runs, PinLock waits). Take it around a
// whole "write blocks, then pin them" sequence so that GC can never remove
// the blocks in between. It returns a context carrying the lease: Pin calls
// made with it (or a context derived from it) use the lease instead of
// locking again, which would deadlock against a waiting GC. Call release
// exactly once, when done; the returned context must not be used for Pin
// after that.
func (p *Pinner) PinLock(ctx context.Context) (leased context.Context, release func(), err error) {
	if err := p.lock.rlock(ctx); err != nil {
		return ctx, func() {}, err
	}
	var once sync.Once
	return context.WithValue(ctx, leaseKey{p}, true), func() { once.Do(p.lock.runlock) }, nil
}

// GCLock takes the exclusive side of the GC lock, waiting for every pin
// lock to be released. Collect takes it itself; it is exported for other
// operations that delete blocks in bulk. Call release exactly once.
func (p *Pinner) GCLock(ctx context.Context) (release func(), err error) {
	if err := p.lock.lock(ctx); err != nil {
		return func() {}, err
	}
	var once sync.Once
	return func() { once.Do(p.lock.unlock) }, nil
}

// holdsLease reports whether ctx carries a pin lock on p.
func (p *Pinner) holdsLease(ctx context.Context) bool {
	v, _ := ctx.Value(leaseKey{p}).(bool)
	return v
}

package blocks

import (
	"context"
	"sync"
)

// keyLocks serialises writers (put, delete, quarantine) of the same block key,
// so that the "is it already there?" check, the write and the counter update
// happen as one step. Different keys never contend except on the short map
// mutex.
type keyLocks struct {
	mu   sync.Mutex
	held map[string]chan struct{} // closed when the holder unlocks
}

func newKeyLocks() *keyLocks {
	return &keyLocks{held: make(map[string]chan struct{})}
}

// tryLock takes the lock on k if it is free. When it is held, it returns the
// channel that is closed when the holder releases it.
func (l *keyLocks) tryLock(k string) (bool, <-chan struct{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if ch, ok := l.held[k]; ok {
		return false, ch
	}
	l.held[k] = make(chan struct{})
	return true, nil
}

// lock waits for and takes the lock on k, or returns ctx's error.
func (l *keyLocks) lock(ctx context.Context, k string) error {
	for {
		ok, wait := l.tryLock(k)
		if ok {
			return nil
		}
		select {
		case <-wait:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (l *keyLocks) unlock(k string) {
	l.mu.Lock()
	ch := l.held[k]
	delete(l.held, k)
	l.mu.Unlock()
	if ch != nil {
		close(ch)
	}
}

package pin

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Back-to-back writers must not starve readers, and a stream of
// overlapping readers must not starve a writer.
func TestGCLockIsPhaseFair(t *testing.T) {
	ctx := context.Background()
	deadline := func() context.Context {
		c, cancel := context.WithTimeout(ctx, 5*time.Second)
		t.Cleanup(cancel)
		return c
	}

	t.Run("writers do not starve readers", func(t *testing.T) {
		l := newGCLock()
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for range 2 {
			wg.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					if err := l.lock(ctx); err != nil {
						t.Error(err)
						return
					}
					time.Sleep(time.Millisecond)
					l.unlock()
				}
			})
		}
		for range 20 {
			if err := l.rlock(deadline()); err != nil {
				t.Fatalf("reader starved by back-to-back writers: %v", err)
			}
			l.runlock()
		}
		close(stop)
		wg.Wait()
	})

	t.Run("readers do not starve a writer", func(t *testing.T) {
		l := newGCLock()
		stop := make(chan struct{})
		var wg sync.WaitGroup
		var reads atomic.Int64
		for range 4 {
			wg.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					if err := l.rlock(ctx); err != nil {
						t.Error(err)
						return
					}
					reads.Add(1)
					time.Sleep(time.Millisecond)
					l.runlock()
				}
			})
		}
		for reads.Load() < 10 {
			time.Sleep(time.Millisecond)
		}
		for range 10 {
			if err := l.lock(deadline()); err != nil {
				t.Fatalf("writer starved by overlapping readers: %v", err)
			}
			l.unlock()
		}
		close(stop)
		wg.Wait()
	})

	t.Run("exclusion", func(t *testing.T) {
		l := newGCLock()
		var inside, writers atomic.Int64
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Go(func() {
				for range 200 {
					if i%4 == 0 {
						if err := l.lock(ctx); err != nil {
							t.Error(err)
							return
						}
						if writers.Add(1) != 1 || inside.Load() != 0 {
							t.Error("writer not alone")
						}
						writers.Add(-1)
						l.unlock()
					} else {
						if err := l.rlock(ctx); err != nil {
							t.Error(err)
							return
						}
						inside.Add(1)
						if writers.Load() != 0 {
							t.Error("reader inside with a writer")
						}
						inside.Add(-1)
						l.runlock()
					}
				}
			})
		}
		wg.Wait()
	})
}

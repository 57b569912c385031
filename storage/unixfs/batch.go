package unixfs

import (
	"context"
	"fmt"
	"sync"

	blocks "github.com/ipfs/go-block-format"
)

// batchWriter writes block batches to a BlockWriter from its own goroutine,
// in submission order, so that hashing the next chunks overlaps with storing
// the previous ones. At most one batch waits while another is written.
type batchWriter struct {
	dst   BlockWriter
	queue chan []blocks.Block
	done  chan struct{}

	mu  sync.Mutex
	err error // first PutMany error; later batches are dropped
}

func startBatchWriter(ctx context.Context, dst BlockWriter) *batchWriter {
	w := &batchWriter{dst: dst, queue: make(chan []blocks.Block, 1), done: make(chan struct{})}
	go w.run(ctx)
	return w
}

func (w *batchWriter) run(ctx context.Context) {
	defer close(w.done)
	for batch := range w.queue {
		if w.failed() != nil {
			continue
		}
		err := ctx.Err()
		if err == nil {
			err = w.dst.PutMany(ctx, batch)
			if err != nil {
				err = fmt.Errorf("unixfs: write blocks: %w", err)
			}
		}
		if err != nil {
			w.mu.Lock()
			w.err = err
			w.mu.Unlock()
		}
	}
}

func (w *batchWriter) failed() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// submit queues batch, which the writer owns from now on.
func (w *batchWriter) submit(ctx context.Context, batch []blocks.Block) error {
	if err := w.failed(); err != nil {
		return err
	}
	select {
	case w.queue <- batch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// close waits until every submitted batch is written (or dropped after an
// error) and returns the first error. Call it once.
func (w *batchWriter) close() error {
	close(w.queue)
	<-w.done
	return w.failed()
}

package source

import (
	"io"
	"runtime"
	"sync"
)

// linesPerBatch is how many lines a worker of decodeLines decodes at once.
const linesPerBatch = 256

// decodeLines reads JSON lines from r like readLines, decodes them on every
// core with decode (a pure function of one line) and hands the results to
// consume in line order, on the calling goroutine. It returns the first
// error in line order — consume's, or a read error — exactly as readLines
// with decode and consume run one line after the other would: lines after
// it may have been read and decoded, never consumed. Every goroutine it
// starts has ended when it returns.
func decodeLines[T any](r io.Reader, input string, decode func(line []byte) T, consume func(v T, n int) error) error {
	type batch struct {
		first int      // number of the first line
		lines [][]byte // copies
		nums  []int
		out   []T
		err   error // a read error after the lines
		done  chan struct{}
	}
	stop := make(chan struct{})
	var once sync.Once
	halt := func() { once.Do(func() { close(stop) }) }
	defer halt()

	workers := max(runtime.GOMAXPROCS(0), 1)
	ordered := make(chan *batch, 2*workers) // batches in read order
	work := make(chan *batch, 2*workers)
	var wg sync.WaitGroup
	defer wg.Wait()

	wg.Add(1)
	go func() { // reader
		defer wg.Done()
		defer close(ordered)
		defer close(work)
		cur := &batch{done: make(chan struct{})}
		send := func(b *batch) bool {
			select {
			case ordered <- b:
			case <-stop:
				return false
			}
			select {
			case work <- b:
				return true
			case <-stop:
				return false
			}
		}
		err := readLines(r, input, func(line []byte, n int) error {
			cur.lines = append(cur.lines, append([]byte(nil), line...))
			cur.nums = append(cur.nums, n)
			if len(cur.lines) == linesPerBatch {
				if !send(cur) {
					return io.EOF // stopped: any error ends readLines
				}
				cur = &batch{done: make(chan struct{})}
			}
			return nil
		})
		select {
		case <-stop:
			return
		default:
		}
		cur.err = err
		send(cur)
	}()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range work {
				b.out = make([]T, len(b.lines))
				for i, line := range b.lines {
					b.out[i] = decode(line)
				}
				close(b.done)
			}
		}()
	}
	for b := range ordered {
		select {
		case <-b.done:
		case <-stop:
			return nil // cannot happen: only this goroutine halts
		}
		for i, v := range b.out {
			if err := consume(v, b.nums[i]); err != nil {
				halt()
				drain(ordered)
				return err
			}
		}
		if b.err != nil {
			halt()
			drain(ordered)
			return b.err
		}
	}
	return nil
}

// drain empties a channel whose sender stops on its own, so that the
// sender is never left blocked.
func drain[T any](ch <-chan T) {
	for range ch {
	}
}

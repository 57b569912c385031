package sourcetest

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/ipdm/ipdm/pipeline/source"
)

// Timeout bounds how long Replay.Until and ReadAll wait for events.
const Timeout = 15 * time.Second

// Replay is the chain a consumer of a stream holds: blocks are appended,
// undo events cut them back. Apply fails the test on an event no correct
// stream sends.
type Replay struct {
	t testing.TB
	// Delivered is the chain so far: the blocks delivered and not undone.
	Delivered []source.Unit
	// Undos are the cursors of every undo event, in order.
	Undos []source.Cursor
}

// NewReplay returns an empty Replay that reports to t.
func NewReplay(t testing.TB) *Replay { return &Replay{t: t} }

// Apply applies one event. A block must come after the last one held; an
// undo must name a held block (or the block just below the first one, when
// all are undone) by number and hash and must undo something.
func (r *Replay) Apply(ev source.Event) {
	r.t.Helper()
	switch ev.Kind {
	case source.EventBlock:
		if n := len(r.Delivered); n > 0 && ev.Unit.Number <= r.Delivered[n-1].Number {
			r.t.Fatalf("block %d delivered after block %d", ev.Unit.Number, r.Delivered[n-1].Number)
		}
		r.Delivered = append(r.Delivered, ev.Unit)
	case source.EventUndo:
		r.Undos = append(r.Undos, ev.UndoTo)
		keep := 0
		for keep < len(r.Delivered) && r.Delivered[keep].Number <= ev.UndoTo.Number {
			keep++
		}
		if keep > 0 && r.Delivered[keep-1].Number == ev.UndoTo.Number && r.Delivered[keep-1].Hash != ev.UndoTo.Hash {
			r.t.Fatalf("undo to %s, but block %d delivered was %s", ev.UndoTo, ev.UndoTo.Number, r.Delivered[keep-1].Hash)
		}
		if keep == len(r.Delivered) {
			r.t.Fatalf("undo to %s undoes nothing (last delivered %v)", ev.UndoTo, r.Last())
		}
		r.Delivered = r.Delivered[:keep]
	default:
		r.t.Fatalf("event of kind %v", ev.Kind)
	}
}

// Cursors returns the cursors of the chain held.
func (r *Replay) Cursors() []source.Cursor {
	out := make([]source.Cursor, len(r.Delivered))
	for i, u := range r.Delivered {
		out[i] = source.CursorOf(u)
	}
	return out
}

// Last returns the cursor of the newest block held, or the zero Cursor.
func (r *Replay) Last() source.Cursor {
	if len(r.Delivered) == 0 {
		return source.Cursor{}
	}
	return source.CursorOf(r.Delivered[len(r.Delivered)-1])
}

// Until applies events from s until done reports true (checked before each
// event), failing the test on an error or after Timeout.
func (r *Replay) Until(s source.Stream, done func() bool) {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	for !done() {
		ev, err := s.Next(ctx)
		if err != nil {
			r.t.Fatalf("Next: %v (delivered through %v)", err, r.Last())
		}
		r.Apply(ev)
	}
}

// ReadAll applies the events of a finite stream up to io.EOF, failing the
// test on an error or after Timeout.
func ReadAll(t testing.TB, s source.Stream) *Replay {
	t.Helper()
	r := NewReplay(t)
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	for {
		ev, err := s.Next(ctx)
		if errors.Is(err, io.EOF) {
			return r
		}
		if err != nil {
			t.Fatalf("Next: %v (delivered through %v)", err, r.Last())
		}
		r.Apply(ev)
	}
}

// Open opens a stream with source.Open, failing the test on an error; the
// stream is closed by t.Cleanup.
func Open(t testing.TB, uri string, o source.OpenOptions) source.Stream {
	t.Helper()
	s, err := source.Open(context.Background(), uri, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// FastOptions fills the zero waits of o with ones short enough for tests
// on loopback: a 5ms poll interval, 1–5ms retry backoff, a 2s request
// timeout.
func FastOptions(o source.OpenOptions) source.OpenOptions {
	if o.PollInterval == 0 {
		o.PollInterval = 5 * time.Millisecond
	}
	if o.RetryDelay == 0 {
		o.RetryDelay = time.Millisecond
	}
	if o.MaxRetryDelay == 0 {
		o.MaxRetryDelay = 5 * time.Millisecond
	}
	if o.RequestTimeout == 0 {
		o.RequestTimeout = 2 * time.Second
	}
	return o
}

package source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"
)

// link is how a block hangs in its chain.
type link struct {
	Number, ParentNumber uint64
	Hash, ParentHash     string
	// HasParent is false for a genesis block and for a resume cursor,
	// whose parent is unknown.
	HasParent bool
}

func (l link) cursor() Cursor { return Cursor{l.Number, l.Hash} }

// fetched is a block fetched for delivery.
type fetched struct {
	unit Unit
	link link
}

// chain is what the poller needs from a JSON-RPC node; ethChain and
// solChain implement it. Methods are called concurrently. Errors are final
// for the stream: implementations retry transient failures themselves.
type chain interface {
	// head returns the number of the newest block.
	head(ctx context.Context) (uint64, error)
	// block fetches the canonical block at n for delivery; ok is false
	// when the chain has no block at n (a skipped Solana slot).
	block(ctx context.Context, n uint64) (f fetched, ok bool, err error)
	// header fetches the link of the canonical block at n; ok is false
	// when there is none.
	header(ctx context.Context, n uint64) (l link, ok bool, err error)
	// headerByHash fetches the link of a block that may no longer be
	// canonical; ok is false when the node does not know it or the chain
	// has no lookup by hash.
	headerByHash(ctx context.Context, hash string) (l link, ok bool, err error)
}

// ErrReorgTooDeep is matched by a *ReorgError.
var ErrReorgTooDeep = errors.New("source: reorganisation deeper than MaxReorgDepth")

// ReorgError reports a reorganisation whose common ancestor with the
// delivered blocks lies more than MaxDepth blocks below Last.
type ReorgError struct {
	Source   string
	Last     Cursor // the newest block delivered
	MaxDepth uint64
}

// Error names the delivered block that was reorganised away.
func (e *ReorgError) Error() string {
	return fmt.Sprintf("source: %s: the chain no longer contains block %s and no common ancestor lies within MaxReorgDepth %d blocks", e.Source, e.Last, e.MaxDepth)
}

// Is reports whether target is ErrReorgTooDeep.
func (e *ReorgError) Is(target error) bool { return target == ErrReorgTooDeep }

// pollStream is the Stream of an RPC source: it polls the head, fetches
// blocks ahead with bounded concurrency, delivers them in order, and
// detects reorganisations by parent hash.
type pollStream struct {
	c      chain
	rpc    *rpcClient
	o      OpenOptions
	source string

	life      context.Context // ends at Close
	stop      context.CancelFunc
	mu        sync.Mutex // orders wg.Add after Close against wg.Wait
	closed    bool
	wg        sync.WaitGroup // fetch goroutines
	closeOnce sync.Once

	gen     context.Context // ends when prefetched blocks are abandoned
	genStop context.CancelFunc
	jobs    map[uint64]*fetchJob

	next   uint64 // the next number to deliver
	recent []link // delivered blocks (and a resume cursor), oldest first; a chain
	// stuck counts reorganisations in a row that undid nothing: a node
	// contradicting itself (a slot skipped, then a block's parent) would
	// otherwise be refetched forever.
	stuck  int
	head   uint64
	polled time.Time // zero before the first poll
	queued []Event
	err    error // final error
}

type fetchJob struct {
	done chan struct{}
	f    fetched
	ok   bool
	err  error
}

func newPollStream(c chain, rpc *rpcClient, o OpenOptions) *pollStream {
	s := &pollStream{c: c, rpc: rpc, o: o, source: rpc.source, jobs: map[uint64]*fetchJob{}}
	s.life, s.stop = context.WithCancel(context.Background())
	s.gen, s.genStop = context.WithCancel(s.life)
	var anchored bool
	s.next, anchored = o.start()
	if anchored {
		s.recent = []link{{Number: o.After.Number, Hash: o.After.Hash}}
	}
	return s
}

// Close stops the fetches in flight and waits for them.
func (s *pollStream) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		s.stop()
		s.wg.Wait()
		s.rpc.close()
	})
	return nil
}

// Next implements Stream.
func (s *pollStream) Next(ctx context.Context) (Event, error) {
	if s.life.Err() != nil {
		return Event{}, ErrClosed
	}
	if s.err != nil {
		return Event{}, s.err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer context.AfterFunc(s.life, cancel)()
	defer cancel()
	ev, err := s.step(ctx)
	switch {
	case err == nil:
		return ev, nil
	case s.life.Err() != nil:
		return Event{}, ErrClosed
	case ctx.Err() != nil:
		return Event{}, ctx.Err() // the caller gave up; the stream goes on
	}
	s.err = err
	return Event{}, err
}

func (s *pollStream) step(ctx context.Context) (Event, error) {
	for {
		if len(s.queued) > 0 {
			ev := s.queued[0]
			s.queued = s.queued[1:]
			return ev, nil
		}
		if s.o.To != 0 && s.next > s.o.To {
			return Event{}, io.EOF
		}
		if s.polled.IsZero() || s.head < s.next || s.head-s.next < s.o.Confirmations {
			if err := s.pollHead(ctx); err != nil {
				return Event{}, err
			}
			continue
		}
		last := s.head - s.o.Confirmations
		if s.o.To != 0 {
			last = min(last, s.o.To)
		}
		s.prefetch(last)
		j := s.jobs[s.next]
		if j == nil {
			return Event{}, ErrClosed
		}
		select {
		case <-j.done:
		case <-ctx.Done():
			return Event{}, ctx.Err()
		}
		delete(s.jobs, s.next)
		if j.err != nil {
			return Event{}, j.err
		}
		if !j.ok {
			s.next++
			continue
		}
		if s.conflicts(j.f.link) {
			if err := s.reorg(ctx); err != nil {
				return Event{}, err
			}
			continue
		}
		s.remember(j.f.link)
		s.next++
		s.stuck = 0
		return Event{Kind: EventBlock, Unit: j.f.unit}, nil
	}
}

// pollHead refreshes the head, no sooner than PollInterval after the
// previous poll.
func (s *pollStream) pollHead(ctx context.Context) error {
	if !s.polled.IsZero() {
		if err := sleep(ctx, time.Until(s.polled.Add(s.o.PollInterval))); err != nil {
			return err
		}
	}
	h, err := s.c.head(ctx)
	if err != nil {
		return err
	}
	s.head, s.polled = h, time.Now()
	return nil
}

// prefetch starts fetching blocks from s.next up to last, at most
// Concurrency ahead.
func (s *pollStream) prefetch(last uint64) {
	for n := s.next; n <= last && n-s.next < uint64(s.o.Concurrency); n++ {
		if _, ok := s.jobs[n]; ok {
			continue
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return
		}
		s.wg.Add(1)
		s.mu.Unlock()
		j := &fetchJob{done: make(chan struct{})}
		s.jobs[n] = j
		go func(ctx context.Context, n uint64) {
			defer s.wg.Done()
			defer close(j.done)
			j.f, j.ok, j.err = s.c.block(ctx, n)
		}(s.gen, n)
		if n == ^uint64(0) {
			break
		}
	}
}

// conflicts reports whether l does not extend the last delivered block.
func (s *pollStream) conflicts(l link) bool {
	if len(s.recent) == 0 || !l.HasParent {
		return false
	}
	last := s.recent[len(s.recent)-1]
	return l.ParentNumber != last.Number || l.ParentHash != last.Hash
}

// remember records a delivered block, keeping the last MaxReorgDepth+1.
func (s *pollStream) remember(l link) {
	s.recent = append(s.recent, l)
	if uint64(len(s.recent)) > s.o.MaxReorgDepth+1 {
		s.recent = append(s.recent[:0:0], s.recent[len(s.recent)-int(s.o.MaxReorgDepth+1):]...)
	}
}

// reorg handles a block that does not extend the delivered chain: it
// abandons the prefetched blocks, finds the common ancestor, queues an undo
// to it if delivered blocks are gone, and continues after it.
func (s *pollStream) reorg(ctx context.Context) error {
	s.genStop()
	s.gen, s.genStop = context.WithCancel(s.life)
	s.jobs = map[uint64]*fetchJob{}

	last := s.recent[len(s.recent)-1]
	anc, err := s.ancestor(ctx)
	if err != nil {
		return err
	}
	for len(s.recent) > 0 && s.recent[len(s.recent)-1].Number >= anc.Number {
		s.recent = s.recent[:len(s.recent)-1]
	}
	s.recent = append(s.recent, anc)
	if anc.Number < last.Number {
		s.queued = append(s.queued, Event{Kind: EventUndo, UndoTo: anc.cursor()})
	} else if s.stuck++; s.stuck > s.o.Retries+1 {
		return fmt.Errorf("source: %s: block %d does not extend block %s, which the chain still has: the node contradicts itself", s.source, s.next, last.cursor())
	}
	s.next = anc.Number + 1
	if s.next < s.o.From {
		// The ancestor lies below the range: continue at its start,
		// without a parent to check the first block against.
		s.next, s.recent = s.o.From, nil
	}
	return nil
}

// ancestor walks back from the last delivered block along the abandoned
// chain until it meets a block the chain still has.
func (s *pollStream) ancestor(ctx context.Context) (link, error) {
	last := s.recent[len(s.recent)-1]
	i := len(s.recent) - 1
	cur := last
	for {
		if last.Number-cur.Number > s.o.MaxReorgDepth {
			return link{}, &ReorgError{Source: s.source, Last: last.cursor(), MaxDepth: s.o.MaxReorgDepth}
		}
		canon, ok, err := s.c.header(ctx, cur.Number)
		if err != nil {
			return link{}, err
		}
		if ok && canon.Hash == cur.Hash {
			return canon, nil
		}
		switch {
		case i > 0:
			i--
			cur = s.recent[i]
		case cur.HasParent:
			i = -1
			cur = link{Number: cur.ParentNumber, Hash: cur.ParentHash}
		default:
			old, ok, err := s.c.headerByHash(ctx, cur.Hash)
			if err != nil {
				return link{}, err
			}
			if !ok || old.Number != cur.Number || !old.HasParent {
				return s.assumeAncestor(ctx, last)
			}
			i = -1
			cur = link{Number: old.ParentNumber, Hash: old.ParentHash}
		}
	}
}

// assumeAncestor is the fallback when the abandoned chain cannot be traced:
// the canonical block MaxReorgDepth below last (or the nearest one below
// it, for skipped slots).
func (s *pollStream) assumeAncestor(ctx context.Context, last link) (link, error) {
	n := last.Number - min(last.Number, s.o.MaxReorgDepth)
	for tries := uint64(0); tries <= s.o.MaxReorgDepth; tries++ {
		l, ok, err := s.c.header(ctx, n)
		if err != nil {
			return link{}, err
		}
		if ok {
			return l, nil
		}
		if n == 0 {
			break
		}
		n--
	}
	return link{}, &ReorgError{Source: s.source, Last: last.cursor(), MaxDepth: s.o.MaxReorgDepth}
}

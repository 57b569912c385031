package capability

import (
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"
)

// DefaultTTL is the advert lifetime used by NewIndex when given ttl <= 0.
const DefaultTTL = 90 * time.Second

// ErrStale is returned by Index.Update for an advert whose Seq is lower than
// that of the live entry already held for the same peer.
var ErrStale = errors.New("capability: stale advert")

// Entry is one peer's latest advert and when it was heard.
type Entry struct {
	// Advert is the latest advert accepted for the peer.
	Advert Advert
	// FirstSeen is when the peer's current run of adverts started (reset
	// after the entry expired).
	FirstSeen time.Time
	// LastSeen is when the latest advert was accepted.
	LastSeen time.Time
	// Expires is LastSeen plus the index TTL; from then on the entry is gone.
	Expires time.Time
}

// Index is a live index of the peers heard from, keyed by peer ID. An entry
// expires TTL after its last update. Time is always passed in by the caller;
// the index never reads the clock. Safe for concurrent use.
type Index struct {
	ttl time.Duration

	mu      sync.RWMutex
	entries map[string]Entry
}

// NewIndex returns an empty index whose entries live for ttl after their last
// update (DefaultTTL when ttl <= 0).
func NewIndex(ttl time.Duration) *Index {
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	return &Index{ttl: ttl, entries: make(map[string]Entry)}
}

// TTL returns the lifetime of an entry after its last update.
func (x *Index) TTL() time.Duration { return x.ttl }

// Update records a as heard at now. It returns an error wrapping
// ErrInvalidAdvert if a does not validate, and ErrStale if a live entry for
// the same peer carries a higher Seq (the entry is left untouched). An advert
// with the same or a higher Seq replaces the entry and extends its life.
func (x *Index) Update(a Advert, now time.Time) error {
	if err := a.Validate(); err != nil {
		return fmt.Errorf("capability: index update: %w", err)
	}
	a = a.Clone()
	x.mu.Lock()
	defer x.mu.Unlock()
	e, ok := x.entries[a.PeerID]
	if ok && !live(e, now) {
		ok = false
	}
	if ok && a.Seq < e.Advert.Seq {
		return fmt.Errorf("%w: peer %s seq %d < held %d", ErrStale, a.PeerID, a.Seq, e.Advert.Seq)
	}
	if !ok {
		e.FirstSeen = now
	}
	e.Advert = a
	e.LastSeen = now
	e.Expires = now.Add(x.ttl)
	x.entries[a.PeerID] = e
	return nil
}

func live(e Entry, now time.Time) bool { return now.Before(e.Expires) }

// Get returns the live entry for peerID at time now.
func (x *Index) Get(peerID string, now time.Time) (Entry, bool) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	e, ok := x.entries[peerID]
	if !ok || !live(e, now) {
		return Entry{}, false
	}
	e.Advert = e.Advert.Clone()
	return e, true
}

// List returns the entries live at now, sorted by peer ID.
func (x *Index) List(now time.Time) []Entry {
	x.mu.RLock()
	out := make([]Entry, 0, len(x.entries))
	for _, e := range x.entries {
		if live(e, now) {
			e.Advert = e.Advert.Clone()
			out = append(out, e)
		}
	}
	x.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Advert.PeerID < out[j].Advert.PeerID })
	return out
}

// Adverts returns the adverts live at now, sorted by peer ID.
func (x *Index) Adverts(now time.Time) []Advert {
	entries := x.List(now)
	out := make([]Advert, len(entries))
	for i, e := range entries {
		out[i] = e.Advert
	}
	return out
}

// Len returns the number of entries live at now.
func (x *Index) Len(now time.Time) int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	n := 0
	for _, e := range x.entries {
		if live(e, now) {
			n++
		}
	}
	return n
}

// Remove drops the entry for peerID and reports whether there was one.
func (x *Index) Remove(peerID string) bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	_, ok := x.entries[peerID]
	delete(x.entries, peerID)
	return ok
}

// Prune frees the entries expired at now and returns their peer IDs, sorted.
// Expired entries are invisible to Get and List even before they are pruned;
// Prune only reclaims memory.
func (x *Index) Prune(now time.Time) []string {
	x.mu.Lock()
	var gone []string
	for id, e := range x.entries {
		if !live(e, now) {
			delete(x.entries, id)
			gone = append(gone, id)
		}
	}
	x.mu.Unlock()
	sort.Strings(gone)
	return gone
}

package pin

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"

	cid "github.com/ipfs/go-cid"
	ds "github.com/ipfs/go-datastore"
	dsq "github.com/ipfs/go-datastore/query"
	pebbleds "github.com/ipfs/go-ds-pebble"

	"github.com/ipdm/ipdm/storage/dag"
)

var (
	// ErrNotPinned is returned by Unpin for a CID with no pin.
	ErrNotPinned = errors.New("pin: not pinned")
	// ErrUnsupportedCodec is returned when a DAG to pin recursively (or to
	// mark during GC) contains a block whose codec is neither dag-pb nor raw.
	ErrUnsupportedCodec = dag.ErrUnsupportedCodec
	// ErrPinnedRecursively is returned by a direct Pin of a CID that is
	// already pinned recursively (which covers more).
	ErrPinnedRecursively = errors.New("pin: already pinned recursively")
)

// Mode is how a CID is pinned.
type Mode int

const (
	// NotPinned is the zero Mode.
	NotPinned Mode = iota
	// Direct keeps only the block itself.
	Direct
	// Recursive keeps the block and everything it links to, transitively.
	Recursive
)

func (m Mode) String() string {
	switch m {
	case Direct:
		return "direct"
	case Recursive:
		return "recursive"
	}
	return "none"
}

// Pin is one pin record.
type Pin struct {
	Cid  cid.Cid
	Mode Mode
}

// Options configures a Pinner. The zero value is the default.
type Options struct {
	// FetchConcurrency is how many blocks Pin and Collect fetch in parallel
	// while walking a DAG. 0 means 16.
	FetchConcurrency int
}

// Pinner records pins in a datastore and serialises pinning against garbage
// collection. All methods are safe for concurrent use.
type Pinner struct {
	ds   ds.Batching
	conc int
	lock *gcLock
	mu   sync.Mutex // orders pin record updates
}

// Keys: /pins/direct/<cid> and /pins/recursive/<cid>, CIDs in their
// canonical string form (base58 for v0, base32 for v1).
var pinsPrefix = ds.NewKey("/pins")

func modeKey(m Mode, c cid.Cid) ds.Key {
	return pinsPrefix.ChildString(m.String()).ChildString(c.String())
}

// OpenMeta opens (creating if needed) the pebble metadata store in folder
// path, for New. Close it after the Pinner is done.
func OpenMeta(path string) (*pebbleds.Datastore, error) {
	if err := os.MkdirAll(path, 0o755); err != nil {
		return nil, fmt.Errorf("pin: open meta %s: %w", path, err)
	}
	d, err := pebbleds.NewDatastore(path)
	if err != nil {
		return nil, fmt.Errorf("pin: open meta %s: %w", path, err)
	}
	return d, nil
}

// New returns a Pinner keeping its records under /pins in d, which may be
// shared with other components. Each pin change is followed by d.Sync, so
// it is durable when the call returns.
func New(d ds.Batching, opts Options) *Pinner {
	conc := opts.FetchConcurrency
	if conc <= 0 {
		conc = 16
	}
	return &Pinner{ds: d, conc: conc, lock: newGCLock()}
}

// Pin pins c. Recursive: every block reachable from c is fetched through g
// first (dag-pb and raw only; anything else fails with ErrUnsupportedCodec,
// and nothing is recorded); a direct pin of c is upgraded. Direct: c's block
// (any codec) is fetched and only it is kept; fails with
// ErrPinnedRecursively if c is pinned recursively. Pinning again is a no-op.
//
// Pin holds the pin lock (see PinLock) while it fetches and records, unless
// ctx already carries one from PinLock.
func (p *Pinner) Pin(ctx context.Context, c cid.Cid, recursive bool, g BlockGetter) error {
	if !c.Defined() {
		return errors.New("pin: pin: undefined cid")
	}
	if !p.holdsLease(ctx) {
		leased, release, err := p.PinLock(ctx)
		if err != nil {
			return fmt.Errorf("pin: pin %s: wait for gc: %w", c, err)
		}
		defer release()
		ctx = leased
	}
	mode, err := p.mode(ctx, c)
	if err != nil {
		return err
	}
	if mode == Recursive {
		if recursive {
			return nil
		}
		return fmt.Errorf("pin: pin %s: %w", c, ErrPinnedRecursively)
	}
	if !recursive {
		if mode == Direct {
			return nil
		}
		if _, err := dag.BlockData(ctx, g, c); err != nil {
			return fmt.Errorf("pin: pin %s: get: %w", c, err)
		}
		return p.record(ctx, c, Direct)
	}
	if err := walkDAG(ctx, g, []cid.Cid{c}, p.conc, make(map[cid.Cid]struct{}), checkLeaves); err != nil {
		return fmt.Errorf("pin: pin %s: %w", c, err)
	}
	return p.record(ctx, c, Recursive)
}

// record writes c's pin in mode m, replacing any other mode, and syncs.
func (p *Pinner) record(ctx context.Context, c cid.Cid, m Mode) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	cur, err := p.mode(ctx, c)
	if err != nil {
		return err
	}
	switch {
	case cur == m, cur == Recursive && m == Direct:
		return nil // a concurrent Pin got there first
	}
	b, err := p.ds.Batch(ctx)
	if err != nil {
		return fmt.Errorf("pin: record %s: %w", c, err)
	}
	if cur != NotPinned {
		if err := b.Delete(ctx, modeKey(cur, c)); err != nil {
			return fmt.Errorf("pin: record %s: %w", c, err)
		}
	}
	if err := b.Put(ctx, modeKey(m, c), []byte{1}); err != nil {
		return fmt.Errorf("pin: record %s: %w", c, err)
	}
	if err := b.Commit(ctx); err != nil {
		return fmt.Errorf("pin: record %s: %w", c, err)
	}
	if err := p.ds.Sync(ctx, pinsPrefix); err != nil {
		return fmt.Errorf("pin: record %s: sync: %w", c, err)
	}
	return nil
}

// mode returns how c is pinned.
func (p *Pinner) mode(ctx context.Context, c cid.Cid) (Mode, error) {
	for _, m := range []Mode{Recursive, Direct} {
		ok, err := p.ds.Has(ctx, modeKey(m, c))
		if err != nil {
			return NotPinned, fmt.Errorf("pin: read pin of %s: %w", c, err)
		}
		if ok {
			return m, nil
		}
	}
	return NotPinned, nil
}

// IsPinned reports whether c itself is pinned (directly or as the root of a
// recursive pin), and how. Blocks that are only kept because a recursive pin
// reaches them report false.
func (p *Pinner) IsPinned(ctx context.Context, c cid.Cid) (Mode, bool, error) {
	m, err := p.mode(ctx, c)
	return m, m != NotPinned, err
}

// Unpin removes c's pin, whatever its mode, or returns ErrNotPinned. The
// blocks stay until the next Collect.
func (p *Pinner) Unpin(ctx context.Context, c cid.Cid) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	m, err := p.mode(ctx, c)
	if err != nil {
		return err
	}
	if m == NotPinned {
		return fmt.Errorf("pin: unpin %s: %w", c, ErrNotPinned)
	}
	if err := p.ds.Delete(ctx, modeKey(m, c)); err != nil {
		return fmt.Errorf("pin: unpin %s: %w", c, err)
	}
	if err := p.ds.Sync(ctx, pinsPrefix); err != nil {
		return fmt.Errorf("pin: unpin %s: sync: %w", c, err)
	}
	return nil
}

// List returns every pin, recursive ones first, each group sorted by CID
// string.
func (p *Pinner) List(ctx context.Context) ([]Pin, error) {
	res, err := p.ds.Query(ctx, dsq.Query{Prefix: pinsPrefix.String(), KeysOnly: true})
	if err != nil {
		return nil, fmt.Errorf("pin: list: %w", err)
	}
	defer res.Close()
	var out []Pin
	for {
		e, ok := res.NextSync()
		if !ok {
			break
		}
		if e.Error != nil {
			return nil, fmt.Errorf("pin: list: %w", e.Error)
		}
		k := ds.RawKey(e.Key)
		var m Mode
		switch k.Parent().BaseNamespace() {
		case Recursive.String():
			m = Recursive
		case Direct.String():
			m = Direct
		default:
			continue // not ours
		}
		if k.Parent().Parent() != pinsPrefix {
			continue
		}
		c, err := cid.Decode(k.BaseNamespace())
		if err != nil {
			return nil, fmt.Errorf("pin: list: bad pin key %s: %w", k, err)
		}
		out = append(out, Pin{Cid: c, Mode: m})
	}
	slices.SortFunc(out, func(a, b Pin) int {
		if a.Mode != b.Mode {
			return cmp.Compare(b.Mode, a.Mode)
		}
		return strings.Compare(a.Cid.String(), b.Cid.String())
	})
	return out, nil
}

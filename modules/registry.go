package modules

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"

	ds "github.com/ipfs/go-datastore"
	dsq "github.com/ipfs/go-datastore/query"
)

// Registry holds the records a node accepted, in a datastore under
// /modules/records/<name>/<version> and /modules/owners/<name>.
type Registry struct {
	ds ds.Batching
	mu sync.Mutex // serialises check-then-write in Put
}

// NewRegistry returns a registry over d.
func NewRegistry(d ds.Batching) *Registry { return &Registry{ds: d} }

func recordKey(name, version string) ds.Key {
	return ds.NewKey("/modules/records").ChildString(name).ChildString(version)
}

func ownerKey(name string) ds.Key { return ds.NewKey("/modules/owners").ChildString(name) }

// Put verifies rec and stores it. It returns (false, nil) when the same
// record is already known, ErrConflict or ErrNotOwner when the rules above
// refuse it.
func (r *Registry) Put(ctx context.Context, rec Record) (added bool, err error) {
	if err := rec.Verify(); err != nil {
		return false, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	owner, err := r.ds.Get(ctx, ownerKey(rec.Name))
	switch {
	case errors.Is(err, ds.ErrNotFound):
	case err != nil:
		return false, err
	case string(owner) != rec.Publisher:
		return false, fmt.Errorf("%w: %s is published by %s, not %s", ErrNotOwner, rec.Name, owner, rec.Publisher)
	}
	old, err := r.Resolve(ctx, rec.Name, rec.Version)
	switch {
	case errors.Is(err, ErrNotFound):
	case err != nil:
		return false, err
	case old.CID == rec.CID:
		return false, nil
	default:
		return false, fmt.Errorf("%w: %s is %s, not %s", ErrConflict, rec.Ref(), old.CID, rec.CID)
	}
	data, err := rec.Encode()
	if err != nil {
		return false, err
	}
	b, err := r.ds.Batch(ctx)
	if err != nil {
		return false, err
	}
	if err := b.Put(ctx, ownerKey(rec.Name), []byte(rec.Publisher)); err != nil {
		return false, err
	}
	if err := b.Put(ctx, recordKey(rec.Name, rec.Version), data); err != nil {
		return false, err
	}
	return true, b.Commit(ctx)
}

// Resolve returns the record of name@version.
func (r *Registry) Resolve(ctx context.Context, name, version string) (Record, error) {
	data, err := r.ds.Get(ctx, recordKey(name, version))
	if errors.Is(err, ds.ErrNotFound) {
		return Record{}, fmt.Errorf("%w: %s@%s", ErrNotFound, name, version)
	}
	if err != nil {
		return Record{}, err
	}
	return Decode(data)
}

// List returns every record, sorted by name then version.
func (r *Registry) List(ctx context.Context) ([]Record, error) {
	res, err := r.ds.Query(ctx, dsq.Query{Prefix: "/modules/records"})
	if err != nil {
		return nil, err
	}
	defer res.Close()
	var out []Record
	for e := range res.Next() {
		if e.Error != nil {
			return nil, e.Error
		}
		rec, err := Decode(e.Value)
		if err != nil {
			return nil, fmt.Errorf("stored record %s: %w", e.Key, err)
		}
		out = append(out, rec)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].Version < out[j].Version
	})
	return out, nil
}

package service

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	ds "github.com/ipfs/go-datastore"

	"github.com/ipdm/ipdm/storage/pin"
)

func value(s string) encoder { return func() ([]byte, error) { return []byte(s), nil } }

// TestPersisterGroupCommit: concurrent durable writes share syncs, and
// every value is on disk after a reopen.
func TestPersisterGroupCommit(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "meta")
	store, err := pin.OpenMeta(dir)
	if err != nil {
		t.Fatal(err)
	}
	p := newPersister(store)
	const n = 200
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			if err := <-p.putSync(jobsPrefix.ChildString(fmt.Sprint(i)), value(fmt.Sprint("v", i))); err != nil {
				t.Error(err)
			}
		}()
	}
	close(start)
	wg.Wait()
	if err := p.close(); err != nil {
		t.Fatal(err)
	}
	batches, syncs, writes := p.stats()
	t.Logf("%d durable writes: %d batches, %d syncs", n, batches, syncs)
	if writes != n || syncs < 1 || syncs > n/2 {
		t.Fatalf("%d writes in %d syncs: want %d writes sharing syncs", writes, syncs, n)
	}
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}
	store, err = pin.OpenMeta(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	for i := 0; i < n; i++ {
		got, err := store.Get(context.Background(), jobsPrefix.ChildString(fmt.Sprint(i)))
		if err != nil || string(got) != fmt.Sprint("v", i) {
			t.Fatalf("key %d after reopen: %q %v", i, got, err)
		}
	}
}

// TestPersisterOrder: the newest value of a key wins, values queued
// without waiting are written by close, and closed persisters refuse work.
func TestPersisterOrder(t *testing.T) {
	store := ds.NewMapDatastore()
	p := newPersister(store)
	key, other := jobsPrefix.ChildString("a"), jobsPrefix.ChildString("b")
	for i := 0; i < 100; i++ {
		if err := p.put(key, value(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	if err := <-p.putSync(key, value("last")); err != nil {
		t.Fatal(err)
	}
	if got, _ := store.Get(context.Background(), key); string(got) != "last" {
		t.Fatalf("got %q, want the newest value", got)
	}
	p.put(other, value("queued"))
	if err := p.close(); err != nil {
		t.Fatal(err)
	}
	if got, _ := store.Get(context.Background(), other); string(got) != "queued" {
		t.Fatalf("close did not write the queued value: %q", got)
	}
	if err := p.put(key, value("late")); err != ErrClosed {
		t.Fatalf("put after close: %v", err)
	}
	if err := <-p.putSync(key, value("late")); err != ErrClosed {
		t.Fatalf("putSync after close: %v", err)
	}
	if err := p.close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
}

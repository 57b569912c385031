// Package blockstest is the conformance suite for block stores: Run checks a
// boxo blockstore.Blockstore against the contract the node relies on, which
// both blocks.Disk and blocks.Memory meet.
//
// The contract, beyond the interface's signatures:
//   - blocks are keyed by multihash: a CIDv0 and CIDv1s of any codec with the
//     same multihash name one block, Get returns it under the requested CID,
//     AllKeysChan lists each block once as a CIDv1;
//   - a missing block (and cid.Undef) gives ipld.ErrNotFound from Get and
//     GetSize, (false, nil) from Has, nil from DeleteBlock;
//   - Put and PutMany are idempotent, accept duplicates within one call and
//     zero-length blocks, and are safe to call concurrently;
//   - Put and PutMany with a done context fail with the context's error and
//     store nothing; AllKeysChan's channel closes once its context is done.
package blockstest

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/ipfs/boxo/blockstore"
	blocks "github.com/ipfs/go-block-format"
	cid "github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
	"github.com/multiformats/go-multihash"
)

// RandomBlock returns a CIDv1 raw sha2-256 block of size random bytes.
func RandomBlock(t testing.TB, size int) blocks.Block {
	t.Helper()
	data := make([]byte, size)
	_, _ = rand.Read(data)
	return BlockWithPrefix(t, data, cid.Prefix{Version: 1, Codec: cid.Raw, MhType: multihash.SHA2_256, MhLength: -1})
}

// BlockWithPrefix returns the block of data under the CID with prefix p.
func BlockWithPrefix(t testing.TB, data []byte, p cid.Prefix) blocks.Block {
	t.Helper()
	c, err := p.Sum(data)
	if err != nil {
		t.Fatalf("cid sum: %v", err)
	}
	b, err := blocks.NewBlockWithCid(data, c)
	if err != nil {
		t.Fatalf("new block: %v", err)
	}
	return b
}

// Run runs the suite; newStore must return a new, empty store for each
// subtest (and register its cleanup with t.Cleanup).
func Run(t *testing.T, newStore func(t *testing.T) blockstore.Blockstore) {
	tests := []struct {
		name string
		fn   func(t *testing.T, bs blockstore.Blockstore)
	}{
		{"PutGetHasSize", testPutGet},
		{"NotFound", testNotFound},
		{"EmptyAndLargeBlocks", testSizes},
		{"PutIdempotent", testPutIdempotent},
		{"Delete", testDelete},
		{"PutMany", testPutMany},
		{"AllKeys", testAllKeys},
		{"CidV0V1Aliasing", testAliasing},
		{"ConcurrentPuts", testConcurrentPuts},
		{"ConcurrentPutDelete", testConcurrentPutDelete},
		{"CancelledWrites", testCancelledWrites},
		{"AllKeysCancel", testAllKeysCancel},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, newStore(t))
		})
	}
}

func mustPut(t *testing.T, bs blockstore.Blockstore, b blocks.Block) {
	t.Helper()
	if err := bs.Put(context.Background(), b); err != nil {
		t.Fatalf("put %s: %v", b.Cid(), err)
	}
}

func mustGet(t *testing.T, bs blockstore.Blockstore, c cid.Cid, want []byte) {
	t.Helper()
	got, err := bs.Get(context.Background(), c)
	if err != nil {
		t.Fatalf("get %s: %v", c, err)
	}
	if !got.Cid().Equals(c) {
		t.Fatalf("get %s: returned block has cid %s", c, got.Cid())
	}
	if !bytes.Equal(got.RawData(), want) {
		t.Fatalf("get %s: %d bytes differ from the %d put", c, len(got.RawData()), len(want))
	}
}

func mustHas(t *testing.T, bs blockstore.Blockstore, c cid.Cid, want bool) {
	t.Helper()
	has, err := bs.Has(context.Background(), c)
	if err != nil {
		t.Fatalf("has %s: %v", c, err)
	}
	if has != want {
		t.Fatalf("has %s = %v, want %v", c, has, want)
	}
}

func mustNotFound(t *testing.T, bs blockstore.Blockstore, c cid.Cid) {
	t.Helper()
	ctx := context.Background()
	if _, err := bs.Get(ctx, c); !ipld.IsNotFound(err) {
		t.Fatalf("get %s: err = %v, want ipld.ErrNotFound", c, err)
	}
	if _, err := bs.GetSize(ctx, c); !ipld.IsNotFound(err) {
		t.Fatalf("get size %s: err = %v, want ipld.ErrNotFound", c, err)
	}
	if c.Defined() {
		mustHas(t, bs, c, false)
	}
}

// AllKeys drains bs.AllKeysChan and returns the listed multihashes (as
// strings) with how many times each was listed.
func AllKeys(t testing.TB, bs blockstore.Blockstore) map[string]int {
	t.Helper()
	ch, err := bs.AllKeysChan(context.Background())
	if err != nil {
		t.Fatalf("all keys: %v", err)
	}
	out := make(map[string]int)
	for c := range ch {
		if c.Version() != 1 {
			t.Errorf("all keys listed %s, want a CIDv1", c)
		}
		out[string(c.Hash())]++
	}
	if e, ok := bs.(blockstore.AllKeysChanWithErrer); ok {
		ch, errFn, err := e.AllKeysChanWithErr(context.Background())
		if err != nil {
			t.Fatalf("all keys with err: %v", err)
		}
		n := 0
		for range ch {
			n++
		}
		if err := errFn(); err != nil {
			t.Fatalf("all keys with err: listing failed: %v", err)
		}
		if n != len(out) && !t.Failed() {
			// Not fatal: a concurrent writer could change the count; the
			// suite never lists while writing.
			t.Errorf("AllKeysChanWithErr listed %d keys, AllKeysChan %d", n, len(out))
		}
	}
	return out
}

func checkKeys(t *testing.T, bs blockstore.Blockstore, want []blocks.Block) {
	t.Helper()
	got := AllKeys(t, bs)
	wantSet := make(map[string]bool)
	for _, b := range want {
		wantSet[string(b.Cid().Hash())] = true
	}
	for k, n := range got {
		if n != 1 {
			t.Errorf("key %x listed %d times", k, n)
		}
		if !wantSet[k] {
			t.Errorf("key %x listed but never put (or deleted)", k)
		}
	}
	for k := range wantSet {
		if got[k] == 0 {
			t.Errorf("key %x put but not listed", k)
		}
	}
}

func testPutGet(t *testing.T, bs blockstore.Blockstore) {
	b := RandomBlock(t, 1000)
	mustHas(t, bs, b.Cid(), false)
	mustPut(t, bs, b)
	mustHas(t, bs, b.Cid(), true)
	mustGet(t, bs, b.Cid(), b.RawData())
	n, err := bs.GetSize(context.Background(), b.Cid())
	if err != nil || n != 1000 {
		t.Fatalf("get size = %d, %v; want 1000", n, err)
	}
}

func testNotFound(t *testing.T, bs blockstore.Blockstore) {
	mustPut(t, bs, RandomBlock(t, 10)) // a non-empty store
	missing := RandomBlock(t, 10)
	mustNotFound(t, bs, missing.Cid())
	mustNotFound(t, bs, cid.Undef)
	if has, err := bs.Has(context.Background(), cid.Undef); err != nil || has {
		t.Fatalf("has undef = %v, %v; want false, nil", has, err)
	}
	if err := bs.DeleteBlock(context.Background(), missing.Cid()); err != nil {
		t.Fatalf("delete missing: %v", err)
	}
}

func testSizes(t *testing.T, bs blockstore.Blockstore) {
	for _, size := range []int{0, 1, 256 << 10, 2 << 20} {
		b := RandomBlock(t, size)
		mustPut(t, bs, b)
		mustGet(t, bs, b.Cid(), b.RawData())
		n, err := bs.GetSize(context.Background(), b.Cid())
		if err != nil || n != size {
			t.Fatalf("get size = %d, %v; want %d", n, err, size)
		}
	}
}

func testPutIdempotent(t *testing.T, bs blockstore.Blockstore) {
	b := RandomBlock(t, 100)
	for range 3 {
		mustPut(t, bs, b)
	}
	if err := bs.PutMany(context.Background(), []blocks.Block{b, b}); err != nil {
		t.Fatalf("put many: %v", err)
	}
	mustGet(t, bs, b.Cid(), b.RawData())
	checkKeys(t, bs, []blocks.Block{b})
}

func testDelete(t *testing.T, bs blockstore.Blockstore) {
	a, b := RandomBlock(t, 100), RandomBlock(t, 200)
	mustPut(t, bs, a)
	mustPut(t, bs, b)
	if err := bs.DeleteBlock(context.Background(), a.Cid()); err != nil {
		t.Fatalf("delete: %v", err)
	}
	mustNotFound(t, bs, a.Cid())
	mustGet(t, bs, b.Cid(), b.RawData())
	checkKeys(t, bs, []blocks.Block{b})
	if err := bs.DeleteBlock(context.Background(), a.Cid()); err != nil {
		t.Fatalf("second delete: %v", err)
	}
	mustPut(t, bs, a)
	mustGet(t, bs, a.Cid(), a.RawData())
	checkKeys(t, bs, []blocks.Block{a, b})
}

func testPutMany(t *testing.T, bs blockstore.Blockstore) {
	ctx := context.Background()
	var all []blocks.Block
	for i := range 50 {
		all = append(all, RandomBlock(t, 100+i*37))
	}
	mustPut(t, bs, all[0]) // already present before the batch
	batch := append([]blocks.Block{}, all...)
	batch = append(batch, all[3], all[7], all[3]) // duplicates in one call
	if err := bs.PutMany(ctx, batch); err != nil {
		t.Fatalf("put many: %v", err)
	}
	for _, b := range all {
		mustGet(t, bs, b.Cid(), b.RawData())
	}
	if err := bs.PutMany(ctx, nil); err != nil {
		t.Fatalf("put many of nothing: %v", err)
	}
	if err := bs.PutMany(ctx, all[:1]); err != nil {
		t.Fatalf("put many of one: %v", err)
	}
	checkKeys(t, bs, all)
}

func testAllKeys(t *testing.T, bs blockstore.Blockstore) {
	checkKeys(t, bs, nil)
	var all []blocks.Block
	for range 300 {
		b := RandomBlock(t, 64)
		all = append(all, b)
	}
	if err := bs.PutMany(context.Background(), all); err != nil {
		t.Fatalf("put many: %v", err)
	}
	checkKeys(t, bs, all)
	ch, err := bs.AllKeysChan(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for c := range ch {
		if c.Type() != cid.Raw {
			t.Fatalf("listed %s: codec %x, want raw", c, c.Type())
		}
	}
}

func testAliasing(t *testing.T, bs blockstore.Blockstore) {
	ctx := context.Background()
	data := []byte("aliased block: one multihash, several CIDs")
	v0 := BlockWithPrefix(t, data, cid.Prefix{Version: 0, Codec: cid.DagProtobuf, MhType: multihash.SHA2_256, MhLength: -1})
	v1pb := cid.NewCidV1(cid.DagProtobuf, v0.Cid().Hash())
	v1raw := cid.NewCidV1(cid.Raw, v0.Cid().Hash())

	mustPut(t, bs, v0)
	for _, c := range []cid.Cid{v0.Cid(), v1pb, v1raw} {
		mustHas(t, bs, c, true)
		mustGet(t, bs, c, data)
		if n, err := bs.GetSize(ctx, c); err != nil || n != len(data) {
			t.Fatalf("get size %s = %d, %v", c, n, err)
		}
	}
	// Putting the same bytes under another CID of the same multihash is a
	// no-op: still one key.
	b1, _ := blocks.NewBlockWithCid(data, v1raw)
	mustPut(t, bs, b1)
	keys := AllKeys(t, bs)
	if len(keys) != 1 || keys[string(v0.Cid().Hash())] != 1 {
		t.Fatalf("all keys = %d entries, want the one shared multihash", len(keys))
	}
	if err := bs.DeleteBlock(ctx, v1raw); err != nil {
		t.Fatal(err)
	}
	for _, c := range []cid.Cid{v0.Cid(), v1pb, v1raw} {
		mustNotFound(t, bs, c)
	}
}

func testConcurrentPuts(t *testing.T, bs blockstore.Blockstore) {
	ctx := context.Background()
	pool := make([]blocks.Block, 120)
	for i := range pool {
		pool[i] = RandomBlock(t, 1+i*13)
	}
	const workers = 8
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			r := mrand.New(mrand.NewPCG(uint64(w), 7))
			order := r.Perm(len(pool))
			for i := 0; i < len(order); {
				if r.IntN(2) == 0 {
					if err := bs.Put(ctx, pool[order[i]]); err != nil {
						errs <- err
						return
					}
					i++
					continue
				}
				n := min(1+r.IntN(16), len(order)-i)
				batch := make([]blocks.Block, 0, n)
				for _, j := range order[i : i+n] {
					batch = append(batch, pool[j])
				}
				if err := bs.PutMany(ctx, batch); err != nil {
					errs <- err
					return
				}
				// Reads race with other writers of the same blocks.
				if _, err := bs.Get(ctx, batch[0].Cid()); err != nil {
					errs <- fmt.Errorf("get right after put many: %w", err)
					return
				}
				i += n
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for _, b := range pool {
		mustGet(t, bs, b.Cid(), b.RawData())
	}
	checkKeys(t, bs, pool)
}

func testConcurrentPutDelete(t *testing.T, bs blockstore.Blockstore) {
	ctx := context.Background()
	pool := make([]blocks.Block, 40)
	for i := range pool {
		pool[i] = RandomBlock(t, 100+i)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := range 4 {
		wg.Go(func() {
			r := mrand.New(mrand.NewPCG(uint64(w), 99))
			for range 200 {
				b := pool[r.IntN(len(pool))]
				var err error
				switch r.IntN(3) {
				case 0:
					err = bs.Put(ctx, b)
				case 1:
					err = bs.PutMany(ctx, []blocks.Block{b, pool[r.IntN(len(pool))]})
				default:
					err = bs.DeleteBlock(ctx, b.Cid())
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	// Whatever survived must be whole and listed exactly once.
	var present []blocks.Block
	for _, b := range pool {
		has, err := bs.Has(ctx, b.Cid())
		if err != nil {
			t.Fatal(err)
		}
		if has {
			mustGet(t, bs, b.Cid(), b.RawData())
			present = append(present, b)
		} else {
			mustNotFound(t, bs, b.Cid())
		}
	}
	checkKeys(t, bs, present)
}

func testCancelledWrites(t *testing.T, bs blockstore.Blockstore) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	a, b, c := RandomBlock(t, 10), RandomBlock(t, 20), RandomBlock(t, 30)
	if err := bs.Put(ctx, a); !errors.Is(err, context.Canceled) {
		t.Fatalf("put with cancelled context: err = %v, want context.Canceled", err)
	}
	if err := bs.PutMany(ctx, []blocks.Block{b, c}); !errors.Is(err, context.Canceled) {
		t.Fatalf("put many with cancelled context: err = %v, want context.Canceled", err)
	}
	for _, x := range []blocks.Block{a, b, c} {
		mustHas(t, bs, x.Cid(), false)
	}
	// Reads with a done context may fail, but only with the context's error.
	if _, err := bs.Get(ctx, a.Cid()); err != nil && !errors.Is(err, context.Canceled) && !ipld.IsNotFound(err) {
		t.Fatalf("get with cancelled context: %v", err)
	}
}

func testAllKeysCancel(t *testing.T, bs blockstore.Blockstore) {
	var all []blocks.Block
	for range 600 {
		all = append(all, RandomBlock(t, 8))
	}
	if err := bs.PutMany(context.Background(), all); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ch, err := bs.AllKeysChan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	<-ch
	cancel()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				return
			}
		case <-timeout:
			t.Fatal("AllKeysChan channel still open 10s after its context was cancelled")
		}
	}
}

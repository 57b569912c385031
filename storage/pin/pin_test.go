package pin_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ipdm/ipdm/storage/blocks"
	"github.com/ipdm/ipdm/storage/blocks/blockstest"
	"github.com/ipdm/ipdm/storage/pin"
	"github.com/ipfs/boxo/ipld/merkledag"
	blockformat "github.com/ipfs/go-block-format"
	cid "github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
	"github.com/multiformats/go-multihash"
)

// dag is a test DAG: its root and every block in it, each once.
type dag struct {
	root   cid.Cid
	blocks []blockformat.Block
}

func (d dag) size() (n int64) {
	for _, b := range d.blocks {
		n += int64(len(b.RawData()))
	}
	return n
}

// protoNode builds a dag-pb node linking to cs in order; v0 picks CIDv0.
func protoNode(t testing.TB, data string, v0 bool, cs ...cid.Cid) *merkledag.ProtoNode {
	t.Helper()
	n := merkledag.NodeWithData([]byte(data))
	if !v0 {
		if err := n.SetCidBuilder(merkledag.V1CidPrefix()); err != nil {
			t.Fatal(err)
		}
	}
	for i, c := range cs {
		if err := n.AddRawLink(fmt.Sprintf("%04d", i), &ipld.Link{Cid: c}); err != nil {
			t.Fatal(err)
		}
	}
	return n
}

// makeDAG builds a random tree of the given fanout and depth with raw
// leaves, a leaf shared by two parents, mixed CIDv0/v1 inner nodes and an
// identity-hash leaf that is never stored.
func makeDAG(t testing.TB, fanout, depth, leafSize int) dag {
	t.Helper()
	var d dag
	seen := map[cid.Cid]bool{}
	add := func(b blockformat.Block) cid.Cid {
		if !seen[b.Cid()] {
			seen[b.Cid()] = true
			d.blocks = append(d.blocks, b)
		}
		return b.Cid()
	}
	shared := blockstest.RandomBlock(t, leafSize)
	ident, err := cid.Prefix{Version: 1, Codec: cid.Raw, MhType: multihash.IDENTITY, MhLength: -1}.Sum([]byte("inline"))
	if err != nil {
		t.Fatal(err)
	}
	var build func(level int) cid.Cid
	build = func(level int) cid.Cid {
		if level == depth {
			return add(blockstest.RandomBlock(t, leafSize))
		}
		var kids []cid.Cid
		for range fanout {
			kids = append(kids, build(level+1))
		}
		kids = append(kids, add(shared), ident)
		return add(protoNode(t, fmt.Sprintf("level %d %d", level, len(d.blocks)), level%2 == 1, kids...))
	}
	d.root = build(0)
	return d
}

func putDAG(t testing.TB, bs interface {
	PutMany(context.Context, []blockformat.Block) error
}, d dag) {
	t.Helper()
	if err := bs.PutMany(context.Background(), d.blocks); err != nil {
		t.Fatal(err)
	}
}

func openDisk(t testing.TB, nosync bool) *blocks.Disk {
	t.Helper()
	d, err := blocks.OpenDisk(filepath.Join(t.TempDir(), "blocks"), blocks.DiskOptions{NoSync: nosync, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return d
}

func newPinner(t testing.TB) *pin.Pinner {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "meta")
	meta, err := pin.OpenMeta(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = meta.Close() })
	return pin.New(meta, pin.Options{})
}

func present(t testing.TB, bs interface {
	Has(context.Context, cid.Cid) (bool, error)
}, d dag) (n int) {
	t.Helper()
	for _, b := range d.blocks {
		ok, err := bs.Has(context.Background(), b.Cid())
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			n++
		}
	}
	return n
}

func TestCollectKeepsPinsAndRemovesTheRest(t *testing.T) {
	ctx := context.Background()
	bs := openDisk(t, false)
	p := newPinner(t)

	a := makeDAG(t, 3, 3, 700)                // pinned recursively
	b := makeDAG(t, 2, 2, 900)                // not pinned
	c := makeDAG(t, 2, 2, 300)                // root pinned directly only
	single := blockstest.RandomBlock(t, 5000) // pinned directly
	for _, d := range []dag{a, b, c} {
		putDAG(t, bs, d)
	}
	if err := bs.Put(ctx, single); err != nil {
		t.Fatal(err)
	}
	for _, step := range []struct {
		c         cid.Cid
		recursive bool
	}{{a.root, true}, {c.root, false}, {single.Cid(), false}} {
		if err := p.Pin(ctx, step.c, step.recursive, bs); err != nil {
			t.Fatalf("pin %s: %v", step.c, err)
		}
	}

	var cRootSize int
	for _, blk := range c.blocks {
		if blk.Cid().Equals(c.root) {
			cRootSize = len(blk.RawData())
		}
	}
	before, _ := bs.Stat(ctx)
	res, err := pin.Collect(ctx, bs, p)
	if err != nil {
		t.Fatal(err)
	}
	wantRemoved := len(b.blocks) + len(c.blocks) - 1
	wantBytes := b.size() + c.size() - int64(cRootSize)
	if res.Removed != wantRemoved || res.Bytes != wantBytes || res.Kept != len(a.blocks)+2 {
		t.Fatalf("collect = %+v, want removed %d bytes %d kept %d", res, wantRemoved, wantBytes, len(a.blocks)+2)
	}
	if n := present(t, bs, a); n != len(a.blocks) {
		t.Fatalf("%d of %d blocks of the recursive pin left", n, len(a.blocks))
	}
	if n := present(t, bs, b); n != 0 {
		t.Fatalf("%d unpinned blocks left", n)
	}
	if n := present(t, bs, c); n != 1 {
		t.Fatalf("%d blocks of the direct-pinned DAG left, want just its root", n)
	}
	if ok, _ := bs.Has(ctx, single.Cid()); !ok {
		t.Fatal("direct-pinned block removed")
	}
	after, _ := bs.Stat(ctx)
	if after.Blocks != before.Blocks-int64(wantRemoved) || after.Bytes != before.Bytes-wantBytes {
		t.Fatalf("store stats %+v -> %+v", before, after)
	}

	if res, err := pin.Collect(ctx, bs, p); err != nil || res.Removed != 0 {
		t.Fatalf("second collect = %+v, %v", res, err)
	}

	if err := p.Unpin(ctx, a.root); err != nil {
		t.Fatal(err)
	}
	res, err = pin.Collect(ctx, bs, p)
	if err != nil || res.Removed != len(a.blocks) || res.Bytes != a.size() {
		t.Fatalf("collect after unpin = %+v, %v; want %d blocks", res, err, len(a.blocks))
	}
}

// fetcher plays the network: it serves blocks from remote and, like a
// blockservice, stores what it fetched in local.
type fetcher struct {
	remote  *blocks.Memory
	local   *blocks.Disk
	fetches atomic.Int64
}

func (f *fetcher) Get(ctx context.Context, c cid.Cid) (blockformat.Block, error) {
	if b, err := f.local.Get(ctx, c); err == nil {
		return b, nil
	}
	f.fetches.Add(1)
	b, err := f.remote.Get(ctx, c)
	if err != nil {
		return nil, err
	}
	return b, f.local.Put(ctx, b)
}

func TestPinFetchesMissingBlocks(t *testing.T) {
	ctx := context.Background()
	local := openDisk(t, false)
	remote := blocks.NewMemory()
	d := makeDAG(t, 4, 3, 200)
	putDAG(t, remote, d)
	f := &fetcher{remote: remote, local: local}
	p := newPinner(t)
	if err := p.Pin(ctx, d.root, true, f); err != nil {
		t.Fatal(err)
	}
	if n := present(t, local, d); n != len(d.blocks) {
		t.Fatalf("%d of %d blocks local after pin", n, len(d.blocks))
	}
	if got := f.fetches.Load(); got != int64(len(d.blocks)) {
		t.Fatalf("fetched %d times for %d distinct blocks", got, len(d.blocks))
	}
	if m, ok, err := p.IsPinned(ctx, d.root); err != nil || !ok || m != pin.Recursive {
		t.Fatalf("is pinned = %v %v %v", m, ok, err)
	}
}

func TestPinOfIncompleteDAGFails(t *testing.T) {
	ctx := context.Background()
	local := openDisk(t, false)
	remote := blocks.NewMemory()
	d := makeDAG(t, 3, 2, 100)
	putDAG(t, remote, d)
	if err := remote.DeleteBlock(ctx, d.blocks[2].Cid()); err != nil {
		t.Fatal(err)
	}
	p := newPinner(t)
	err := p.Pin(ctx, d.root, true, &fetcher{remote: remote, local: local})
	if !ipld.IsNotFound(err) {
		t.Fatalf("pin of incomplete DAG: %v, want not found", err)
	}
	if _, ok, _ := p.IsPinned(ctx, d.root); ok {
		t.Fatal("incomplete DAG recorded as pinned")
	}
	// A direct pin needs only the root.
	if err := p.Pin(ctx, d.root, false, &fetcher{remote: remote, local: local}); err != nil {
		t.Fatalf("direct pin: %v", err)
	}
}

func TestPinRefusesUnknownCodecs(t *testing.T) {
	ctx := context.Background()
	bs := openDisk(t, false)
	p := newPinner(t)
	cbor := blockstest.BlockWithPrefix(t, []byte{0xa0}, cid.Prefix{Version: 1, Codec: cid.DagCBOR, MhType: multihash.SHA2_256, MhLength: -1})
	parent := protoNode(t, "links to cbor", false, cbor.Cid())
	if err := bs.PutMany(ctx, []blockformat.Block{cbor, parent}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []cid.Cid{cbor.Cid(), parent.Cid()} {
		err := p.Pin(ctx, c, true, bs)
		if !errors.Is(err, pin.ErrUnsupportedCodec) {
			t.Fatalf("recursive pin of %s: %v, want ErrUnsupportedCodec", c, err)
		}
		if _, ok, _ := p.IsPinned(ctx, c); ok {
			t.Fatalf("%s recorded despite the error", c)
		}
	}
	if err := p.Pin(ctx, cbor.Cid(), false, bs); err != nil {
		t.Fatalf("direct pin of a dag-cbor block: %v", err)
	}
}

func TestPinModesAndList(t *testing.T) {
	ctx := context.Background()
	bs := openDisk(t, false)
	dir := filepath.Join(t.TempDir(), "meta")
	meta, err := pin.OpenMeta(dir)
	if err != nil {
		t.Fatal(err)
	}
	p := pin.New(meta, pin.Options{FetchConcurrency: 2})
	x, y := makeDAG(t, 2, 1, 10), makeDAG(t, 2, 1, 10)
	z := blockstest.RandomBlock(t, 10)
	putDAG(t, bs, x)
	putDAG(t, bs, y)
	if err := bs.Put(ctx, z); err != nil {
		t.Fatal(err)
	}

	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(p.Pin(ctx, x.root, false, bs))
	must(p.Pin(ctx, x.root, false, bs)) // again: no-op
	must(p.Pin(ctx, x.root, true, bs))  // upgrade
	must(p.Pin(ctx, x.root, true, bs))  // again: no-op
	if err := p.Pin(ctx, x.root, false, bs); !errors.Is(err, pin.ErrPinnedRecursively) {
		t.Fatalf("direct pin of a recursive pin: %v", err)
	}
	must(p.Pin(ctx, y.root, true, bs))
	must(p.Pin(ctx, z.Cid(), false, bs))
	if err := p.Pin(ctx, cid.Undef, true, bs); err == nil {
		t.Fatal("pin of undefined cid succeeded")
	}

	want := []pin.Pin{{Cid: x.root, Mode: pin.Recursive}, {Cid: y.root, Mode: pin.Recursive}, {Cid: z.Cid(), Mode: pin.Direct}}
	if want[0].Cid.String() > want[1].Cid.String() {
		want[0], want[1] = want[1], want[0]
	}
	check := func(p *pin.Pinner, want []pin.Pin) {
		t.Helper()
		got, err := p.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) {
			t.Fatalf("list = %v, want %v", got, want)
		}
		for i := range got {
			if !got[i].Cid.Equals(want[i].Cid) || got[i].Mode != want[i].Mode {
				t.Fatalf("list = %v, want %v", got, want)
			}
		}
	}
	check(p, want)

	if err := p.Unpin(ctx, blockstest.RandomBlock(t, 3).Cid()); !errors.Is(err, pin.ErrNotPinned) {
		t.Fatalf("unpin of unpinned: %v", err)
	}
	must(p.Unpin(ctx, z.Cid()))
	check(p, want[:2])

	// Records survive a reopen of the metadata store.
	must(meta.Close())
	meta2, err := pin.OpenMeta(dir)
	must(err)
	defer meta2.Close()
	p2 := pin.New(meta2, pin.Options{})
	check(p2, want[:2])
	if m, ok, err := p2.IsPinned(ctx, x.root); err != nil || !ok || m != pin.Recursive {
		t.Fatalf("is pinned after reopen = %v %v %v", m, ok, err)
	}
}

func TestCollectRefusesIncompletePinnedDAG(t *testing.T) {
	ctx := context.Background()
	bs := openDisk(t, false)
	p := newPinner(t)
	d := makeDAG(t, 3, 2, 100)
	putDAG(t, bs, d)
	junk := blockstest.RandomBlock(t, 100)
	if err := bs.Put(ctx, junk); err != nil {
		t.Fatal(err)
	}
	if err := p.Pin(ctx, d.root, true, bs); err != nil {
		t.Fatal(err)
	}
	// A missing raw leaf has no children to lose: GC goes on.
	var leaf, inner cid.Cid
	for _, b := range d.blocks {
		switch {
		case b.Cid().Type() == cid.Raw && !leaf.Defined():
			leaf = b.Cid()
		case b.Cid().Type() == cid.DagProtobuf && b.Cid() != d.root:
			inner = b.Cid()
		}
	}
	if err := bs.DeleteBlock(ctx, leaf); err != nil {
		t.Fatal(err)
	}
	res, err := pin.Collect(ctx, bs, p)
	if err != nil || res.Removed != 1 {
		t.Fatalf("collect with a missing pinned leaf = %+v, %v", res, err)
	}
	// A missing inner node hides its children: GC refuses to sweep.
	if err := bs.Put(ctx, junk); err != nil {
		t.Fatal(err)
	}
	if err := bs.DeleteBlock(ctx, inner); err != nil {
		t.Fatal(err)
	}
	res, err = pin.Collect(ctx, bs, p)
	if err == nil || !ipld.IsNotFound(err) || res.Removed != 0 {
		t.Fatalf("collect with a hole in a pin = %+v, %v", res, err)
	}
	if ok, _ := bs.Has(ctx, junk.Cid()); !ok {
		t.Fatal("collect deleted blocks despite failing to mark")
	}
}

// countingStore counts reads of a block store.
type countingStore struct {
	*blocks.Disk
	gets atomic.Int64
}

func (c *countingStore) Get(ctx context.Context, k cid.Cid) (blockformat.Block, error) {
	c.gets.Add(1)
	return c.Disk.Get(ctx, k)
}

func TestPinChecksLocalLeavesWithoutReading(t *testing.T) {
	ctx := context.Background()
	bs := &countingStore{Disk: openDisk(t, false)}
	p := newPinner(t)
	d := makeDAG(t, 4, 2, 1000)
	putDAG(t, bs, d)
	inner := 0
	for _, b := range d.blocks {
		if b.Cid().Type() == cid.DagProtobuf {
			inner++
		}
	}
	if err := p.Pin(ctx, d.root, true, bs); err != nil {
		t.Fatal(err)
	}
	if got := bs.gets.Load(); got != int64(inner) {
		t.Fatalf("pin read %d blocks; want only the %d dag-pb nodes", got, inner)
	}
	bs.gets.Store(0)
	if _, err := pin.Collect(ctx, bs, p); err != nil {
		t.Fatal(err)
	}
	if got := bs.gets.Load(); got != int64(inner) {
		t.Fatalf("collect read %d blocks; want only the %d dag-pb nodes", got, inner)
	}
}

func TestCollectWaitsForAdds(t *testing.T) {
	ctx := context.Background()
	bs := openDisk(t, false)
	p := newPinner(t)
	junk := blockstest.RandomBlock(t, 100)
	if err := bs.Put(ctx, junk); err != nil {
		t.Fatal(err)
	}

	// An add: pin lock, write blocks, (GC starts now), pin, release.
	leased, release, err := p.PinLock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	d := makeDAG(t, 3, 2, 500)
	putDAG(t, bs, d)

	type result struct {
		res pin.GCResult
		err error
	}
	done := make(chan result, 1)
	go func() {
		res, err := pin.Collect(ctx, bs, p)
		done <- result{res, err}
	}()
	select {
	case r := <-done:
		t.Fatalf("collect ran during an add: %+v %v", r.res, r.err)
	case <-time.After(150 * time.Millisecond):
	}
	// New pin locks wait for the queued GC ...
	tctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, rel, err := p.PinLock(tctx); !errors.Is(err, context.DeadlineExceeded) {
		rel()
		t.Fatalf("second pin lock while GC waits: %v, want deadline exceeded", err)
	}
	// ... but Pin under the add's lease does not deadlock.
	if err := p.Pin(leased, d.root, true, bs); err != nil {
		t.Fatal(err)
	}
	release()
	release() // idempotent
	r := <-done
	if r.err != nil || r.res.Removed != 1 {
		t.Fatalf("collect = %+v, %v; want only the junk block removed", r.res, r.err)
	}
	if n := present(t, bs, d); n != len(d.blocks) {
		t.Fatalf("%d of %d blocks of the add survived GC", n, len(d.blocks))
	}
}

func TestGCLockHonoursContext(t *testing.T) {
	ctx := context.Background()
	p := newPinner(t)
	releaseGC, err := p.GCLock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tctx, cancel := context.WithTimeout(ctx, 30*time.Millisecond)
	defer cancel()
	bs := openDisk(t, true)
	b := blockstest.RandomBlock(t, 10)
	if err := bs.Put(ctx, b); err != nil {
		t.Fatal(err)
	}
	if err := p.Pin(tctx, b.Cid(), false, bs); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("pin while GC holds the lock: %v", err)
	}
	if _, err := pin.Collect(tctx, bs, p); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("collect while another GC holds the lock: %v", err)
	}
	releaseGC()

	// A GC that gives up waiting lets the held-back adders through.
	_, releaseAdd, err := p.PinLock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	gctx, gcancel := context.WithCancel(ctx)
	gcErr := make(chan error, 1)
	go func() {
		rel, err := p.GCLock(gctx)
		if err == nil {
			rel()
		}
		gcErr <- err
	}()
	time.Sleep(30 * time.Millisecond)
	gcancel()
	if err := <-gcErr; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled GC lock: %v", err)
	}
	_, rel2, err := p.PinLock(ctx)
	if err != nil {
		t.Fatalf("pin lock after the GC gave up: %v", err)
	}
	rel2()
	releaseAdd()
}

// TestConcurrentAddsAndGC runs adders (write a DAG under a pin lock, pin
// it) and junk writers against a loop of collections; no pinned block may
// ever go missing and all junk must go eventually.
func TestConcurrentAddsAndGC(t *testing.T) {
	ctx := context.Background()
	bs := openDisk(t, true)
	p := newPinner(t)
	stop := make(chan struct{})
	var gcs atomic.Int64
	gcDone := make(chan error, 1)
	go func() {
		for {
			select {
			case <-stop:
				gcDone <- nil
				return
			default:
			}
			if _, err := pin.Collect(ctx, bs, p); err != nil {
				gcDone <- err
				return
			}
			gcs.Add(1)
		}
	}()

	var wg sync.WaitGroup
	var mu sync.Mutex
	var pinned []dag
	errs := make(chan error, 8)
	for range 4 {
		wg.Go(func() {
			for range 6 {
				d := makeDAG(t, 3, 2, 300)
				leased, release, err := p.PinLock(ctx)
				if err != nil {
					errs <- err
					return
				}
				for _, b := range d.blocks { // block by block, like an importer
					if err := bs.Put(leased, b); err != nil {
						release()
						errs <- err
						return
					}
				}
				err = p.Pin(leased, d.root, true, bs)
				release()
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				pinned = append(pinned, d)
				mu.Unlock()
				if err := bs.Put(ctx, blockstest.RandomBlock(t, 50)); err != nil { // junk
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	if err := <-gcDone; err != nil {
		t.Fatalf("collect: %v", err)
	}
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if _, err := pin.Collect(ctx, bs, p); err != nil {
		t.Fatal(err)
	}
	var want int64
	seen := map[string]bool{}
	for _, d := range pinned {
		if n := present(t, bs, d); n != len(d.blocks) {
			t.Fatalf("pinned DAG %s lost %d blocks", d.root, len(d.blocks)-n)
		}
		for _, b := range d.blocks {
			if !seen[string(b.Cid().Hash())] {
				seen[string(b.Cid().Hash())] = true
				want++
			}
		}
	}
	st, _ := bs.Stat(ctx)
	if st.Blocks != want {
		t.Fatalf("store holds %d blocks after final GC, pins reach %d", st.Blocks, want)
	}
	t.Logf("%d adds, %d collections ran concurrently", len(pinned), gcs.Load())
}

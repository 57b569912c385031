package car_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/ipdm/ipdm/storage/blocks"
	"github.com/ipdm/ipdm/storage/blocks/blockstest"
	"github.com/ipdm/ipdm/storage/car"
	"github.com/ipfs/boxo/ipld/merkledag"
	blockformat "github.com/ipfs/go-block-format"
	cid "github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
	gocar "github.com/ipld/go-car/v2"
	_ "github.com/ipld/go-codec-dagpb" // registers dag-pb for go-car's traversal
	_ "github.com/ipld/go-ipld-prime/codec/raw"
	"github.com/ipld/go-ipld-prime/datamodel"
	"github.com/ipld/go-ipld-prime/linking"
	cidlink "github.com/ipld/go-ipld-prime/linking/cid"
	selectorparse "github.com/ipld/go-ipld-prime/traversal/selector/parse"
	"github.com/multiformats/go-multihash"
)

// randomDAG builds a random dag-pb/raw DAG in a Memory store: random
// fanout and leaf sizes, subtrees shared between parents, CIDv0 and CIDv1
// nodes, a node linked under both its CIDv0 and CIDv1, a link repeated
// within one node, and identity-hash leaves (never stored).
func randomDAG(t testing.TB, seed uint64, maxDepth int) (*blocks.Memory, cid.Cid, int) {
	t.Helper()
	r := mrand.New(mrand.NewPCG(seed, 3))
	store := blocks.NewMemory()
	ctx := context.Background()
	var made []cid.Cid
	count := 0
	put := func(b blockformat.Block) cid.Cid {
		if err := store.Put(ctx, b); err != nil {
			t.Fatal(err)
		}
		count++
		made = append(made, b.Cid())
		return b.Cid()
	}
	leaf := func() cid.Cid {
		switch r.IntN(8) {
		case 0:
			c, _ := cid.Prefix{Version: 1, Codec: cid.Raw, MhType: multihash.IDENTITY, MhLength: -1}.Sum([]byte(fmt.Sprintf("inline %d", r.IntN(1000))))
			return c
		default:
			data := make([]byte, 1+r.IntN(3000))
			for i := range data {
				data[i] = byte(r.Uint32())
			}
			return put(blockstest.BlockWithPrefix(t, data, cid.Prefix{Version: 1, Codec: cid.Raw, MhType: multihash.SHA2_256, MhLength: -1}))
		}
	}
	var node func(depth int) cid.Cid
	node = func(depth int) cid.Cid {
		if depth >= maxDepth || (depth > 0 && r.IntN(4) == 0) {
			return leaf()
		}
		var kids []cid.Cid
		for range r.IntN(6) {
			switch {
			case len(made) > 0 && r.IntN(5) == 0: // share an existing subtree
				kids = append(kids, made[r.IntN(len(made))])
			case len(kids) > 0 && r.IntN(8) == 0: // repeat a link
				kids = append(kids, kids[r.IntN(len(kids))])
			default:
				kids = append(kids, node(depth+1))
			}
		}
		n := merkledag.NodeWithData([]byte(fmt.Sprintf("node %d/%d", depth, r.IntN(1<<20))))
		v0 := r.IntN(2) == 0
		if !v0 {
			_ = n.SetCidBuilder(merkledag.V1CidPrefix())
		}
		for i, k := range kids {
			if err := n.AddRawLink(fmt.Sprintf("%03d", i), &ipld.Link{Cid: k}); err != nil {
				t.Fatal(err)
			}
		}
		return put(n)
	}
	root := node(0)
	// The top node also links one node under both CID versions (two CIDs,
	// one multihash: a CAR carries both sections).
	n := merkledag.NodeWithData([]byte("top"))
	_ = n.SetCidBuilder(merkledag.V1CidPrefix())
	var v0node cid.Cid
	for _, c := range made {
		if c.Version() == 0 {
			v0node = c
			break
		}
	}
	links := []cid.Cid{root}
	if v0node.Defined() {
		links = append(links, v0node, cid.NewCidV1(cid.DagProtobuf, v0node.Hash()))
	}
	for i, k := range links {
		_ = n.AddRawLink(fmt.Sprintf("%03d", i), &ipld.Link{Cid: k})
	}
	return store, put(n), count
}

// goCarExport is what Kubo runs for `ipfs dag export`: go-car's TraverseV1
// with the explore-all selector and no duplicate puts.
func goCarExport(t testing.TB, store *blocks.Memory, root cid.Cid) []byte {
	t.Helper()
	var buf bytes.Buffer
	goCarExportTo(t, &buf, store, root)
	return buf.Bytes()
}

func goCarExportTo(t testing.TB, w io.Writer, store *blocks.Memory, root cid.Cid) {
	t.Helper()
	ctx := context.Background()
	lsys := cidlink.DefaultLinkSystem()
	lsys.StorageReadOpener = func(_ linking.LinkContext, l datamodel.Link) (io.Reader, error) {
		c := l.(cidlink.Link).Cid
		if c.Prefix().MhType == multihash.IDENTITY {
			dec, err := multihash.Decode(c.Hash())
			if err != nil {
				return nil, err
			}
			return bytes.NewReader(dec.Digest), nil
		}
		b, err := store.Get(ctx, c)
		if err != nil {
			return nil, err
		}
		return bytes.NewReader(b.RawData()), nil
	}
	if _, err := gocar.TraverseV1(ctx, &lsys, root, selectorparse.CommonSelector_ExploreAllRecursively, w, gocar.AllowDuplicatePuts(false)); err != nil {
		t.Fatalf("go-car traverse: %v", err)
	}
}

func export(t testing.TB, g car.BlockGetter, root cid.Cid) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := car.Export(context.Background(), &buf, g, root); err != nil {
		t.Fatalf("export: %v", err)
	}
	return buf.Bytes()
}

func TestExportMatchesKubosEngine(t *testing.T) {
	for seed := range uint64(12) {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			store, root, _ := randomDAG(t, seed, 4)
			ours := export(t, store, root)
			theirs := goCarExport(t, store, root)
			if !bytes.Equal(ours, theirs) {
				t.Fatalf("export differs from go-car TraverseV1: %d vs %d bytes, first difference at %d",
					len(ours), len(theirs), firstDiff(ours, theirs))
			}
		})
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

func openDisk(t testing.TB) *blocks.Disk {
	t.Helper()
	d, err := blocks.OpenDisk(filepath.Join(t.TempDir(), "blocks"), blocks.DiskOptions{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return d
}

func TestRoundTripThroughDisk(t *testing.T) {
	ctx := context.Background()
	mem, root, _ := randomDAG(t, 42, 5)
	src := openDisk(t)
	ch, _ := mem.AllKeysChan(ctx)
	for c := range ch {
		b, _ := mem.Get(ctx, c)
		if err := src.Put(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	first := export(t, src, root)

	dst := openDisk(t)
	res, err := car.Import(ctx, bytes.NewReader(first), dst, car.ImportOptions{})
	if err != nil {
		t.Fatalf("import: %v", err)
	}
	if res.Version != 1 || len(res.Roots) != 1 || !res.Roots[0].Equals(root) {
		t.Fatalf("import result = %+v", res)
	}
	srcStat, _ := src.Stat(ctx)
	dstStat, _ := dst.Stat(ctx)
	if srcStat.Blocks != dstStat.Blocks || srcStat.Bytes != dstStat.Bytes {
		t.Fatalf("source %+v, imported %+v", srcStat, dstStat)
	}
	if res.Blocks < int(dstStat.Blocks) {
		t.Fatalf("import read %d blocks, store holds %d", res.Blocks, dstStat.Blocks)
	}
	if second := export(t, dst, root); !bytes.Equal(first, second) {
		t.Fatal("export after import differs from the original export")
	}

	// The same payload as a CARv2 (with index), plus junk after it.
	var v2 bytes.Buffer
	if err := gocar.WrapV1(bytes.NewReader(first), &v2); err != nil {
		t.Fatal(err)
	}
	v2.WriteString("junk after the index is never read")
	dst2 := blocks.NewMemory()
	res2, err := car.Import(ctx, &v2, dst2, car.ImportOptions{})
	if err != nil {
		t.Fatalf("import v2: %v", err)
	}
	if res2.Version != 2 || res2.Blocks != res.Blocks || res2.Bytes != res.Bytes || !res2.Roots[0].Equals(root) {
		t.Fatalf("v2 import = %+v, v1 = %+v", res2, res)
	}
	if third := export(t, dst2, root); !bytes.Equal(first, third) {
		t.Fatal("export after CARv2 import differs")
	}
}

func TestExportErrors(t *testing.T) {
	ctx := context.Background()
	store, root, _ := randomDAG(t, 7, 3)
	var buf bytes.Buffer
	if err := car.Export(ctx, &buf, blocks.NewMemory(), root); !ipld.IsNotFound(err) || buf.Len() != 0 {
		t.Fatalf("export of a missing root: %v, wrote %d bytes", err, buf.Len())
	}
	cbor := blockstest.BlockWithPrefix(t, []byte{0xa0}, cid.Prefix{Version: 1, Codec: cid.DagCBOR, MhType: multihash.SHA2_256, MhLength: -1})
	if err := car.Export(ctx, &buf, store, cbor.Cid()); err == nil {
		t.Fatal("export of a dag-cbor root succeeded")
	}
	// A DAG with a block missing deep inside fails mid-stream.
	ch, _ := store.AllKeysChan(ctx)
	var victim cid.Cid
	for c := range ch {
		if !bytes.Equal(c.Hash(), root.Hash()) {
			victim = c
		}
	}
	if err := store.DeleteBlock(ctx, victim); err != nil {
		t.Fatal(err)
	}
	if err := car.Export(ctx, io.Discard, store, root); !ipld.IsNotFound(err) {
		t.Fatalf("export with a missing block: %v", err)
	}
}

package unixfs

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/ipfs/boxo/blockservice"
	chunker "github.com/ipfs/boxo/chunker"
	dag "github.com/ipfs/boxo/ipld/merkledag"
	ft "github.com/ipfs/boxo/ipld/unixfs"
	"github.com/ipfs/boxo/ipld/unixfs/hamt"
	"github.com/ipfs/boxo/ipld/unixfs/importer/balanced"
	"github.com/ipfs/boxo/ipld/unixfs/importer/helpers"
	uio "github.com/ipfs/boxo/ipld/unixfs/io"
	mh "github.com/multiformats/go-multihash"
)

// The constants this package hard-codes are the unixfs-v1-2025 profile as
// boxo defines it.
func TestProfileMatchesBoxo(t *testing.T) {
	p := uio.UnixFS_v1_2025
	checks := []struct {
		name      string
		got, want any
	}{
		{"CIDVersion", 1, p.CIDVersion},
		{"MhType", uint64(mh.SHA2_256), p.MhType},
		{"ChunkSize", int64(chunkSize), p.ChunkSize},
		{"FileDAGWidth", maxFileLinks, p.FileDAGWidth},
		{"RawLeaves", true, p.RawLeaves},
		{"HAMTShardingSize", hamtThreshold, p.HAMTShardingSize},
		{"HAMTSizeEstimation", uio.SizeEstimationBlock, p.HAMTSizeEstimation},
		{"HAMTShardWidth", hamtFanout, p.HAMTShardWidth},
		{"HashMurmur3", uint64(hamtHashMurmur3), hamt.HashMurmur3},
		{"dag-pb prefix", dagPBPrefix, p.CidBuilder()},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: package uses %v, profile says %v", c.name, c.got, c.want)
		}
	}
}

// The tree builder reproduces boxo's balanced.Layout for every leaf count,
// checked with narrow trees (small chunks, few links) where the shapes that
// need GiBs at the real width are cheap.
func TestBalancedLayoutMatchesBoxo(t *testing.T) {
	ctx := context.Background()
	const chunk = 10
	for _, width := range []int{2, 3, 5} {
		for leaves := 1; leaves <= 70; leaves++ {
			for _, tail := range []int{0, 3} { // last chunk full, or short
				size := leaves*chunk - tail
				data := make([]byte, size)
				newPRNG(uint64(leaves)).Read(data)

				params := helpers.DagBuilderParams{
					Dagserv:    dag.NewDAGService(blockservice.New(memBlockstore(), nil)),
					RawLeaves:  true,
					Maxlinks:   width,
					CidBuilder: dagPBPrefix,
				}
				db, err := params.New(chunker.NewSizeSplitter(bytes.NewReader(data), chunk))
				if err != nil {
					t.Fatal(err)
				}
				want, err := balanced.Layout(db)
				if err != nil {
					t.Fatal(err)
				}

				im := newImporter(ctx, &countingWriter{}, Options{})
				tb := &treeBuilder{maxLinks: width}
				for off := 0; off < size; off += chunk {
					b, err := hashLeaf(data[off:min(off+chunk, size)])
					if err != nil {
						t.Fatal(err)
					}
					n := uint64(len(b.RawData()))
					if err := tb.add(ctx, im, dagLink{c: b.Cid(), tsize: n, fsize: n}); err != nil {
						t.Fatal(err)
					}
				}
				got, err := tb.finish(ctx, im)
				if err := im.close(ctx, err); err != nil {
					t.Fatal(err)
				}
				if !got.c.Equals(want.Cid()) {
					t.Fatalf("width %d, %d leaves, %d bytes: root %s, boxo %s", width, leaves, size, got.c, want.Cid())
				}
				wantSize, _ := want.Size()
				if got.tsize != wantSize || got.fsize != uint64(size) {
					t.Fatalf("width %d, %d leaves: tsize %d fsize %d, want %d %d", width, leaves, got.tsize, got.fsize, wantSize, size)
				}
			}
		}
	}
}

// The HAMT builder gives the same shards as boxo's hamt.Shard fed the same
// entries one by one.
func TestHAMTMatchesBoxo(t *testing.T) {
	ctx := context.Background()
	for _, n := range []int{1, 2, 40, 3000} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			dserv := dag.NewDAGService(blockservice.New(memBlockstore(), nil))
			shard, err := hamt.NewShard(dserv, hamtFanout)
			if err != nil {
				t.Fatal(err)
			}
			shard.SetCidBuilder(dagPBPrefix)
			var entries []dirEntry
			for i := range n {
				name := fmt.Sprintf("entry-%d", i)
				nd := dag.NewRawNode([]byte(name))
				if err := shard.Set(ctx, name, nd); err != nil {
					t.Fatal(err)
				}
				entries = append(entries, dirEntry{name: name, link: dagLink{c: nd.Cid(), tsize: uint64(len(name))}})
			}
			want, err := shard.Node()
			if err != nil {
				t.Fatal(err)
			}
			im := newImporter(ctx, &countingWriter{}, Options{})
			got, err := im.hamtDir(ctx, entries)
			if err := im.close(ctx, err); err != nil {
				t.Fatal(err)
			}
			if !got.c.Equals(want.Cid()) {
				t.Fatalf("root %s, boxo %s", got.c, want.Cid())
			}
		})
	}
}

// basicDirSize, the HAMT switch criterion, is the exact length of the basic
// directory block.
func TestBasicDirSizeIsBlockSize(t *testing.T) {
	ctx := context.Background()
	var entries []dirEntry
	for i := range 300 {
		name := fmt.Sprintf("%0*d", i%90+1, i) // lengths 1..90: 1- and 2-byte varints
		b, err := hashLeaf(bytes.Repeat([]byte{byte(i)}, i*i))
		if err != nil {
			t.Fatal(err)
		}
		entries = append(entries, dirEntry{name: name, link: dagLink{c: b.Cid(), tsize: uint64(i * i)}})
		w := &countingWriter{}
		im := newImporter(ctx, w, Options{})
		_, err = im.basicDir(ctx, entries)
		if err := im.close(ctx, err); err != nil {
			t.Fatal(err)
		}
		if got := basicDirSize(entries); int64(got) != w.bytes {
			t.Fatalf("%d entries: estimated %d, block is %d bytes", len(entries), got, w.bytes)
		}
	}
	if got := len(ft.FolderPBData()); got != 2 {
		t.Fatalf("directory Data is %d bytes, basicDirSize assumes 2", got)
	}
}

// The threshold vectors sit where their notes say, so they keep testing the
// boundary ("> 262144" switches, "== 262144" does not).
func TestThresholdVectorsSitOnTheBoundary(t *testing.T) {
	vf := loadVectors(t)
	want := map[string]int{
		"dir-below-hamt-threshold": hamtThreshold - 51,
		"dir-at-hamt-threshold":    hamtThreshold,
		"dir-above-hamt-threshold": hamtThreshold + 51,
	}
	found := 0
	for _, vc := range vf.Cases {
		size, ok := want[vc.Name]
		if !ok {
			continue
		}
		found++
		var entries []dirEntry
		for _, e := range vc.Root.entries() {
			b, err := hashLeaf([]byte(e.Text))
			if err != nil {
				t.Fatal(err)
			}
			entries = append(entries, dirEntry{name: e.Name, link: dagLink{c: b.Cid(), tsize: uint64(len(e.Text))}})
		}
		if got := basicDirSize(entries); got != size {
			t.Errorf("%s: basic block would be %d bytes, want %d", vc.Name, got, size)
		}
	}
	if found != len(want) {
		t.Fatalf("found %d of %d threshold vectors", found, len(want))
	}
}

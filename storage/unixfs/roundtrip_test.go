package unixfs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/ipfs/boxo/blockservice"
	"github.com/ipfs/boxo/blockstore"
	chunker "github.com/ipfs/boxo/chunker"
	"github.com/ipfs/boxo/exchange/offline"
	"github.com/ipfs/boxo/files"
	dag "github.com/ipfs/boxo/ipld/merkledag"
	"github.com/ipfs/boxo/ipld/unixfs/importer/balanced"
	"github.com/ipfs/boxo/ipld/unixfs/importer/helpers"
	"github.com/ipfs/boxo/ipld/unixfs/importer/trickle"
	uio "github.com/ipfs/boxo/ipld/unixfs/io"
	cid "github.com/ipfs/go-cid"
	flatfs "github.com/ipfs/go-ds-flatfs"
	ipld "github.com/ipfs/go-ipld-format"
)

// diskStore is a real on-disk block store: flatfs (no fsync, for speed)
// behind a boxo blockstore, and an offline DAG service over it.
type diskStore struct {
	bs  blockstore.Blockstore
	dag ipld.DAGService
}

func newDiskStore(t testing.TB) *diskStore {
	t.Helper()
	fds, err := flatfs.CreateOrOpen(filepath.Join(t.TempDir(), "blocks"), flatfs.NextToLast(2), false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fds.Close() })
	bs := blockstore.NewBlockstoreNoPrefix(fds)
	return &diskStore{bs: bs, dag: dag.NewDAGService(blockservice.New(bs, nil))}
}

// checkFile reads c back whole, through WriteTo, and by random seeks.
func checkFile(t *testing.T, st *diskStore, c cid.Cid, want []byte) {
	t.Helper()
	ctx := context.Background()
	info, err := Stat(ctx, st.dag, c)
	if err != nil {
		t.Fatal(err)
	}
	if info.Kind != KindFile || info.Size != int64(len(want)) {
		t.Fatalf("stat: %+v, want file of %d bytes", info, len(want))
	}
	f, err := Open(ctx, st.dag, c)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("cat: %d bytes differ from the %d imported", len(got), len(want))
	}
	rng := rand.New(rand.NewPCG(uint64(len(want)), 1))
	for range 40 {
		off := rng.Int64N(int64(len(want)) + 1)
		n := rng.IntN(3 << 20)
		if _, err := f.Seek(off, io.SeekStart); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, n)
		k, err := io.ReadFull(f, buf)
		end := min(off+int64(n), int64(len(want)))
		if k != int(end-off) || (err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF)) {
			t.Fatalf("read %d at %d: got %d bytes, err %v", n, off, k, err)
		}
		if !bytes.Equal(buf[:k], want[off:end]) {
			t.Fatalf("read %d at %d: wrong bytes", n, off)
		}
	}
	if pos, err := f.Seek(-1, io.SeekEnd); len(want) > 0 && (err != nil || pos != int64(len(want)-1)) {
		t.Fatalf("seek end: %d %v", pos, err)
	}
	out := filepath.Join(t.TempDir(), "out")
	var progress int64
	if err := WriteTo(ctx, st.dag, c, out, ExportOptions{Progress: func(n int64) { progress = n }}); err != nil {
		t.Fatal(err)
	}
	onDisk, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(onDisk, want) {
		t.Fatal("get: file on disk differs")
	}
	if len(want) > 0 && progress != int64(len(want)) {
		t.Fatalf("progress ended at %d, want %d", progress, len(want))
	}
}

func TestRoundTripFiles(t *testing.T) {
	ctx := context.Background()
	for _, size := range []int{0, 1, 1000, chunkSize - 1, chunkSize, chunkSize + 1, 3*chunkSize + 5} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			st := newDiskStore(t)
			data := make([]byte, size)
			newPRNG(uint64(size) + 1).Read(data)
			var progress []int64
			c, err := ImportReader(ctx, st.bs, bytes.NewReader(data), Options{Progress: func(n int64) { progress = append(progress, n) }})
			if err != nil {
				t.Fatal(err)
			}
			if len(progress) == 0 || progress[len(progress)-1] != int64(size) || !slices.IsSorted(progress) {
				t.Fatalf("progress %v does not end at %d", progress, size)
			}
			checkFile(t, st, c, data)
		})
	}
}

// The reader handles DAGs this package does not produce: other chunk sizes
// and widths, deep trees, trickle layout, dag-pb (CIDv0) leaves.
func TestReadForeignLayouts(t *testing.T) {
	data := make([]byte, 60_007)
	newPRNG(99).Read(data)
	for _, tc := range []struct {
		name    string
		trickle bool
		raw     bool
		v0      bool
		chunk   int64
		width   int
	}{
		{"balanced-deep-raw", false, true, false, 1000, 3},
		{"balanced-v0", false, false, true, 4096, 174},
		{"trickle-raw", true, true, false, 999, 4},
		{"trickle-v0", true, false, true, 2048, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := newDiskStore(t)
			params := helpers.DagBuilderParams{Dagserv: st.dag, RawLeaves: tc.raw, Maxlinks: tc.width}
			if !tc.v0 {
				params.CidBuilder = dagPBPrefix
			}
			db, err := params.New(chunker.NewSizeSplitter(bytes.NewReader(data), tc.chunk))
			if err != nil {
				t.Fatal(err)
			}
			var nd ipld.Node
			if tc.trickle {
				nd, err = trickle.Layout(db)
			} else {
				nd, err = balanced.Layout(db)
			}
			if err != nil {
				t.Fatal(err)
			}
			checkFile(t, st, nd.Cid(), data)
		})
	}
}

// compareTree checks that the tree at got equals spec s as ImportPath sees
// it (dot-files below the root dropped unless hidden).
func compareTree(t *testing.T, got string, s spec, hidden bool) {
	t.Helper()
	fi, err := os.Lstat(got)
	if err != nil {
		t.Fatal(err)
	}
	switch s.Type {
	case "file":
		if !fi.Mode().IsRegular() {
			t.Fatalf("%s: %v, want a file", got, fi.Mode())
		}
		b, err := os.ReadFile(got)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := io.ReadAll(s.content())
		if !bytes.Equal(b, want) {
			t.Fatalf("%s: content differs", got)
		}
	case "symlink":
		target, err := os.Readlink(got)
		if err != nil || target != s.Target {
			t.Fatalf("%s: symlink to %q (%v), want %q", got, target, err, s.Target)
		}
	case "dir":
		if !fi.IsDir() {
			t.Fatalf("%s: %v, want a directory", got, fi.Mode())
		}
		des, err := os.ReadDir(got)
		if err != nil {
			t.Fatal(err)
		}
		var have, want []string
		for _, de := range des {
			have = append(have, de.Name())
		}
		for _, e := range s.entries() {
			if !hidden && strings.HasPrefix(e.Name, ".") {
				continue
			}
			want = append(want, e.Name)
			compareTree(t, filepath.Join(got, e.Name), e.spec, hidden)
		}
		slices.Sort(want)
		if !slices.Equal(have, want) {
			t.Fatalf("%s: entries %q, want %q", got, have, want)
		}
	}
}

func TestRoundTripDirectories(t *testing.T) {
	ctx := context.Background()
	vf := loadVectors(t)
	byName := map[string]vectorCase{}
	for _, vc := range vf.Cases {
		byName[vc.Name] = vc
	}
	// A HAMT that takes few files: 900 entries with 250-byte names exceed
	// the threshold (886 would); it holds a basic directory and a symlink.
	hamtRoot := spec{Type: "dir",
		Bulk: []bulkSpec{{Count: 900, Name: strings.Repeat("n", 245) + "%05d", Size: 40, Seed: 500}},
		Entries: []entrySpec{
			{Name: "basic", spec: spec{Type: "dir", Entries: []entrySpec{{Name: "note.txt", spec: spec{Type: "file", Text: "hi\n"}}}}},
			{Name: "link", spec: spec{Type: "symlink", Target: "basic/note.txt"}},
		}}
	cases := []struct {
		name    string
		root    spec
		hidden  bool
		sharded bool
	}{
		{"nested", byName["nested"].Root, false, false},
		{"nested-hidden", byName["nested"].Root, true, false},
		{"empty-dir", byName["empty-dir"].Root, false, false},
		{"top-symlink", byName["top-symlink"].Root, false, false},
		{"hamt", hamtRoot, false, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st := newDiskStore(t)
			in := filepath.Join(t.TempDir(), "in")
			if err := materialize(in, tc.root); err != nil {
				t.Fatal(err)
			}
			c, err := ImportPath(ctx, st.bs, in, Options{Hidden: tc.hidden})
			if err != nil {
				t.Fatal(err)
			}
			info, err := Stat(ctx, st.dag, c)
			if err != nil {
				t.Fatal(err)
			}
			if info.Sharded != tc.sharded {
				t.Fatalf("stat %+v: sharded %v, want %v", info, info.Sharded, tc.sharded)
			}
			out := filepath.Join(t.TempDir(), "out")
			if err := WriteTo(ctx, st.dag, c, out, ExportOptions{}); err != nil {
				t.Fatal(err)
			}
			compareTree(t, out, tc.root, tc.hidden)
			if tc.root.Type == "dir" {
				checkBoxoListing(t, st, c, out)
			}
		})
	}
}

// checkBoxoListing lists the directory c with boxo's reader (an independent
// HAMT implementation) and compares the names with the exported tree.
func checkBoxoListing(t *testing.T, st *diskStore, c cid.Cid, exported string) {
	t.Helper()
	ctx := context.Background()
	nd, err := st.dag.Get(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	d, err := uio.NewDirectoryFromNode(st.dag, nd)
	if err != nil {
		t.Fatal(err)
	}
	links, err := d.Links(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, l := range links {
		names = append(names, l.Name)
	}
	slices.Sort(names)
	des, err := os.ReadDir(exported)
	if err != nil {
		t.Fatal(err)
	}
	var have []string
	for _, de := range des {
		have = append(have, de.Name())
	}
	if !slices.Equal(names, have) {
		t.Fatalf("boxo lists %d entries, export has %d", len(names), len(have))
	}
}

// ImportNode streams a multipart upload the way the HTTP API receives it.
func TestImportNodeMultipart(t *testing.T) {
	ctx := context.Background()
	vf := loadVectors(t)
	for _, vc := range vf.Cases {
		if vc.Name != "nested-hidden" {
			continue
		}
		tree := specNode(vc.Root, true)
		body := files.NewMultiFileReader(files.NewSliceDirectory([]files.DirEntry{files.FileEntry("root", tree)}), true, false)
		mpr := multipartReader(t, body)
		top, err := files.NewFileFromPartReader(mpr, "multipart/form-data")
		if err != nil {
			t.Fatal(err)
		}
		it := top.Entries()
		if !it.Next() {
			t.Fatalf("empty multipart: %v", it.Err())
		}
		st := newDiskStore(t)
		c, err := ImportNode(ctx, st.bs, it.Node(), Options{})
		if err != nil {
			t.Fatal(err)
		}
		if c.String() != vc.CID {
			t.Fatalf("multipart import %s, Kubo %s", c, vc.CID)
		}
		return
	}
	t.Fatal("vector nested-hidden missing")
}

// The leaf pipeline keeps chunk order whatever the number of workers.
func TestImportConcurrencyDoesNotChangeCID(t *testing.T) {
	ctx := context.Background()
	data := make([]byte, 37<<20+11)
	newPRNG(5).Read(data)
	var want cid.Cid
	for _, workers := range []int{1, 2, 3, 16} {
		c, err := ImportReader(ctx, &countingWriter{}, bytes.NewReader(data), Options{Concurrency: workers})
		if err != nil {
			t.Fatal(err)
		}
		if want.Defined() && !c.Equals(want) {
			t.Fatalf("%d workers: %s, 1 worker: %s", workers, c, want)
		}
		want = c
	}
}

// ImportReader streams: the heap stays far below the size of the input.
func TestImportReaderBoundedMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("streams 768 MiB")
	}
	ctx := context.Background()
	const size = 768 << 20
	var peak uint64
	var ms runtime.MemStats
	next := int64(0)
	progress := func(n int64) {
		if n >= next {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapAlloc)
			next = n + 32<<20
		}
	}
	w := &countingWriter{}
	if _, err := ImportReader(ctx, w, io.LimitReader(newPRNG(8), size), Options{Progress: progress}); err != nil {
		t.Fatal(err)
	}
	if w.bytes < size {
		t.Fatalf("wrote %d bytes of blocks for a %d-byte file", w.bytes, size)
	}
	if peak > 192<<20 {
		t.Fatalf("heap peaked at %d MiB while streaming %d MiB", peak>>20, size>>20)
	}
	t.Logf("heap peak %d MiB for a %d MiB stream", peak>>20, size>>20)
}

// Through a BlockService with an exchange, blocks missing locally are
// fetched (here from another store standing in for the network) and kept.
func TestExportFetchesThroughExchange(t *testing.T) {
	ctx := context.Background()
	remote := newDiskStore(t)
	tree := spec{Type: "dir", Entries: []entrySpec{
		{Name: "big.bin", spec: spec{Type: "file", Size: 3*chunkSize + 9, Seed: 41}},
		{Name: "sub", spec: spec{Type: "dir", Bulk: []bulkSpec{{Count: 40, Name: "f%d", Size: 1000, Seed: 7}}}},
	}}
	root, err := ImportNode(ctx, remote.bs, specNode(tree, true), Options{})
	if err != nil {
		t.Fatal(err)
	}
	local := newDiskStore(t)
	bsvc := blockservice.New(local.bs, offline.Exchange(remote.bs))
	getter := dag.NewDAGService(bsvc)
	out := filepath.Join(t.TempDir(), "out")
	if err := WriteTo(ctx, getter, root, out, ExportOptions{}); err != nil {
		t.Fatal(err)
	}
	compareTree(t, out, tree, true)
	if has, err := local.bs.Has(ctx, root); err != nil || !has {
		t.Fatalf("fetched root not kept locally: %v %v", has, err)
	}
	// Now offline: everything WriteTo fetched is local.
	offlineDAG := dag.NewDAGService(blockservice.New(local.bs, nil))
	if err := WriteTo(ctx, offlineDAG, root, filepath.Join(t.TempDir(), "again"), ExportOptions{}); err != nil {
		t.Fatal(err)
	}
}

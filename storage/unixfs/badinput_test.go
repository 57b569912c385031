package unixfs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	dag "github.com/ipfs/boxo/ipld/merkledag"
	ft "github.com/ipfs/boxo/ipld/unixfs"
	blocks "github.com/ipfs/go-block-format"
	cid "github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
	mh "github.com/multiformats/go-multihash"
)

func multipartReader(t *testing.T, body interface {
	io.Reader
	Boundary() string
}) *multipart.Reader {
	t.Helper()
	return multipart.NewReader(body, body.Boundary())
}

// putProto stores a hand-made dag-pb node and returns its CID.
func putProto(t testing.TB, st *diskStore, data []byte, links ...*ipld.Link) cid.Cid {
	t.Helper()
	nd := dag.NodeWithData(data)
	if err := nd.SetCidBuilder(dagPBPrefix); err != nil {
		t.Fatal(err)
	}
	for _, l := range links {
		if err := nd.AddRawLink(l.Name, l); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.dag.Add(context.Background(), nd); err != nil {
		t.Fatal(err)
	}
	return nd.Cid()
}

// putRawBlock stores data under a CID of the given codec.
func putRawBlock(t testing.TB, st *diskStore, codec uint64, data []byte) cid.Cid {
	t.Helper()
	c, err := cid.Prefix{Version: 1, Codec: codec, MhType: mh.SHA2_256, MhLength: -1}.Sum(data)
	if err != nil {
		t.Fatal(err)
	}
	b, err := blocks.NewBlockWithCid(data, c)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.bs.Put(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	return c
}

// noErr returns b, failing the test on err; use as noErr(t)(f()).
func noErr(t testing.TB) func(b []byte, err error) []byte {
	return func(b []byte, err error) []byte {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
}

// exportAll runs every export entry point on c and returns the first error.
func exportAll(t *testing.T, st *diskStore, c cid.Cid) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var errs []error
	if _, err := Stat(ctx, st.dag, c); err != nil {
		errs = append(errs, err)
	}
	if f, err := Open(ctx, st.dag, c); err != nil {
		errs = append(errs, err)
	} else {
		if _, err := io.Copy(io.Discard, f); err != nil {
			errs = append(errs, err)
		}
		f.Close()
	}
	if err := WriteTo(ctx, st.dag, c, filepath.Join(t.TempDir(), "out"), ExportOptions{}); err != nil {
		errs = append(errs, err)
	}
	if ctx.Err() != nil {
		t.Fatal("export hung until the test deadline")
	}
	return errors.Join(errs...)
}

func TestExportBadInput(t *testing.T) {
	ctx := context.Background()
	st := newDiskStore(t)
	leaf := putRawBlock(t, st, cid.Raw, []byte("0123456789"))
	fileData := func(sizes ...uint64) []byte {
		fsn := ft.NewFSNode(ft.TFile)
		for _, s := range sizes {
			fsn.AddBlockSize(s)
		}
		return noErr(t)(fsn.GetBytes())
	}
	dirC := putProto(t, st, ft.FolderPBData(), &ipld.Link{Name: "a", Cid: leaf, Size: 10})
	hamtData := func(fanout uint64, bitfield []byte) []byte {
		return noErr(t)(ft.HAMTShardData(bitfield, fanout, hamtHashMurmur3))
	}
	missing, _ := cid.Prefix{Version: 1, Codec: cid.Raw, MhType: mh.SHA2_256, MhLength: -1}.Sum([]byte("never stored"))

	cases := []struct {
		name string
		c    cid.Cid
		want error // errors.Is target; nil means "any error"
	}{
		{"dag-cbor codec", putRawBlock(t, st, cid.DagCBOR, []byte{0xa0}), ErrNotUnixFS},
		{"undefined cid", cid.Undef, ErrNotUnixFS},
		{"garbage dag-pb block", putRawBlock(t, st, cid.DagProtobuf, []byte("\xff\xfe not protobuf")), nil},
		{"dag-pb without unixfs data", putProto(t, st, nil), nil},
		{"dag-pb with garbage unixfs data", putProto(t, st, []byte{0x08, 0xff}), ErrMalformed},
		{"unixfs metadata node", putProto(t, st, noErr(t)(ft.BytesForMetadata(&ft.Metadata{MimeType: "text/plain"}))), ErrNotUnixFS},
		{"missing root block", missing, ipld.ErrNotFound{}},
		{"missing leaf", putProto(t, st, fileData(10, 10), &ipld.Link{Cid: leaf, Size: 10}, &ipld.Link{Cid: missing, Size: 10}), ipld.ErrNotFound{}},
		{"more links than block sizes", putProto(t, st, fileData(10), &ipld.Link{Cid: leaf, Size: 10}, &ipld.Link{Cid: leaf, Size: 10}), ErrMalformed},
		{"block size lies", putProto(t, st, fileData(11), &ipld.Link{Cid: leaf, Size: 10}), ErrMalformed},
		{"file links to a directory", putProto(t, st, fileData(10), &ipld.Link{Cid: dirC, Size: 10}), ErrMalformed},
		{"file links to dag-cbor", putProto(t, st, fileData(1), &ipld.Link{Cid: putRawBlock(t, st, cid.DagCBOR, []byte{0x01}), Size: 1}), ErrNotUnixFS},
		{"file size overflow", putProto(t, st, fileData(1<<63, 1<<63), &ipld.Link{Cid: leaf}, &ipld.Link{Cid: leaf}), ErrMalformed},
		{"hamt fanout not a power of two", putProto(t, st, hamtData(100, []byte{1})), ErrMalformed},
		{"hamt fanout too large", putProto(t, st, hamtData(1<<20, []byte{1})), ErrMalformed},
		// boxo's hamt panics on this one; here it lists as a directory.
		{"hamt bitfield longer than fanout", putProto(t, st, hamtData(8, bytes.Repeat([]byte{0xff}, 64)), &ipld.Link{Name: "00a", Cid: leaf}), ErrNotFile},
		{"hamt link name too short", putProto(t, st, hamtData(256, []byte{1}), &ipld.Link{Name: "0", Cid: leaf}), ErrMalformed},
		{"hamt shard link to a file", putProto(t, st, hamtData(256, []byte{1}), &ipld.Link{Name: "00", Cid: leaf}), ErrMalformed},
		{"entry named ..", putProto(t, st, ft.FolderPBData(), &ipld.Link{Name: "..", Cid: leaf}), ErrInvalidName},
		{"entry with a slash", putProto(t, st, ft.FolderPBData(), &ipld.Link{Name: "a/../../x", Cid: leaf}), ErrInvalidName},
		{"hamt entry named ..", putProto(t, st, hamtData(256, []byte{1}), &ipld.Link{Name: "00..", Cid: leaf}), ErrInvalidName},
		{"duplicate entries", putProto(t, st, ft.FolderPBData(), &ipld.Link{Name: "x", Cid: leaf}, &ipld.Link{Name: "x", Cid: dirC}), ErrInvalidName},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := exportAll(t, st, tc.c)
			if err == nil {
				t.Fatal("no error")
			}
			t.Log(err)
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
			if !strings.HasPrefix(err.Error(), "unixfs: ") {
				t.Fatalf("error %q does not say where it comes from", err)
			}
		})
	}
	if _, err := Open(ctx, st.dag, dirC); !errors.Is(err, ErrNotFile) {
		t.Fatalf("open of a directory: %v", err)
	}
}

// WriteTo never replaces what exists, so a symlink in the DAG cannot make it
// write outside the output directory.
func TestWriteToDoesNotClobber(t *testing.T) {
	ctx := context.Background()
	st := newDiskStore(t)
	leaf := putRawBlock(t, st, cid.Raw, []byte("payload"))
	out := filepath.Join(t.TempDir(), "out")
	if err := os.WriteFile(out, []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteTo(ctx, st.dag, leaf, out, ExportOptions{}); !errors.Is(err, os.ErrExist) {
		t.Fatalf("write over an existing file: %v", err)
	}
	if b, _ := os.ReadFile(out); string(b) != "keep" {
		t.Fatal("existing file was changed")
	}

	// A directory holding a symlink "x" -> victim dir and a second entry "x".
	victim := t.TempDir()
	link := putProto(t, st, noErr(t)(ft.SymlinkData(victim)))
	sub := putProto(t, st, ft.FolderPBData(), &ipld.Link{Name: "pwned", Cid: leaf})
	root := putProto(t, st, ft.FolderPBData(), &ipld.Link{Name: "x", Cid: link}, &ipld.Link{Name: "y", Cid: sub})
	out2 := filepath.Join(t.TempDir(), "out2")
	if err := WriteTo(ctx, st.dag, root, out2, ExportOptions{}); err != nil {
		t.Fatal(err)
	}
	if target, err := os.Readlink(filepath.Join(out2, "x")); err != nil || target != victim {
		t.Fatalf("symlink: %q %v", target, err)
	}
	if ents, _ := os.ReadDir(victim); len(ents) != 0 {
		t.Fatal("WriteTo wrote through a symlink")
	}
}

// blockingGetter never answers, like a network fetch of a block nobody has.
type blockingGetter struct{}

func (blockingGetter) Get(ctx context.Context, _ cid.Cid) (ipld.Node, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

func (blockingGetter) GetMany(ctx context.Context, _ []cid.Cid) <-chan *ipld.NodeOption {
	ch := make(chan *ipld.NodeOption)
	go func() {
		<-ctx.Done()
		close(ch)
	}()
	return ch
}

// A missing block whose fetch never returns ends with the caller's ctx.
func TestExportHonoursContext(t *testing.T) {
	c, _ := cid.Prefix{Version: 1, Codec: cid.DagProtobuf, MhType: mh.SHA2_256, MhLength: -1}.Sum([]byte("x"))
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := Stat(ctx, blockingGetter{}, c)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("stat: %v", err)
	}
	err = WriteTo(ctx, blockingGetter{}, c, filepath.Join(t.TempDir(), "o"), ExportOptions{})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("write: %v", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Fatal("took too long to give up")
	}

	// A reader whose root is local but whose leaves never come.
	st := newDiskStore(t)
	leafC, _ := cid.Prefix{Version: 1, Codec: cid.Raw, MhType: mh.SHA2_256, MhLength: -1}.Sum([]byte("far away"))
	fsn := ft.NewFSNode(ft.TFile)
	fsn.AddBlockSize(8)
	root := putProto(t, st, noErr(t)(fsn.GetBytes()), &ipld.Link{Cid: leafC, Size: 8})
	rootNode, err := st.dag.Get(context.Background(), root)
	if err != nil {
		t.Fatal(err)
	}
	g := &localThenBlocking{local: map[cid.Cid]ipld.Node{root: rootNode}}
	ctx2, cancel2 := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel2()
	f, err := Open(ctx2, g, root)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := io.ReadAll(f); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("read: %v", err)
	}
}

type localThenBlocking struct {
	blockingGetter
	local map[cid.Cid]ipld.Node
}

func (g *localThenBlocking) Get(ctx context.Context, c cid.Cid) (ipld.Node, error) {
	if nd, ok := g.local[c]; ok {
		return nd, nil
	}
	return g.blockingGetter.Get(ctx, c)
}

// Import rejects what cannot be a directory entry and reports reader errors.
func TestImportBadInput(t *testing.T) {
	ctx := context.Background()
	st := newDiskStore(t)
	for _, name := range []string{"..", "a/b", ""} {
		_, err := ImportNode(ctx, st.bs, specNode(spec{Type: "dir", Entries: []entrySpec{{Name: name, spec: spec{Type: "file", Text: "x"}}}}, true), Options{})
		if !errors.Is(err, ErrInvalidName) {
			t.Errorf("entry %q: %v", name, err)
		}
	}
	boom := errors.New("disk on fire")
	for _, after := range []int64{0, 10, 3 << 20} {
		_, err := ImportReader(ctx, st.bs, io.MultiReader(io.LimitReader(newPRNG(1), after), errReader{boom}), Options{})
		if !errors.Is(err, boom) {
			t.Errorf("read error after %d bytes: %v", after, err)
		}
	}
	failing := failingWriter{boom}
	if _, err := ImportReader(ctx, failing, io.LimitReader(newPRNG(1), 40<<20), Options{}); !errors.Is(err, boom) {
		t.Errorf("write error: %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := ImportReader(cctx, st.bs, io.LimitReader(newPRNG(1), 5<<20), Options{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled ctx: %v", err)
	}
	if _, err := ImportPath(ctx, st.bs, filepath.Join(t.TempDir(), "nope"), Options{}); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing path: %v", err)
	}
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

type failingWriter struct{ err error }

func (w failingWriter) PutMany(context.Context, []blocks.Block) error { return w.err }

// FuzzExport feeds arbitrary bytes as a dag-pb root (with a stored raw leaf
// and directory to link to) through every export path: errors are fine,
// panics and hangs are not.
func FuzzExport(f *testing.F) {
	leaf := []byte("0123456789")
	leafC, _ := cid.V1Builder{Codec: cid.Raw, MhType: mh.SHA2_256}.Sum(leaf)
	seed := func(data []byte, links ...*ipld.Link) []byte {
		nd := dag.NodeWithData(data)
		for _, l := range links {
			_ = nd.AddRawLink(l.Name, l)
		}
		b, err := nd.EncodeProtobuf(false)
		if err != nil {
			f.Fatal(err)
		}
		return b
	}
	fsn := ft.NewFSNode(ft.TFile)
	fsn.AddBlockSize(10)
	fsn.AddBlockSize(10)
	fileBytes, _ := fsn.GetBytes()
	hamtBytes, _ := ft.HAMTShardData([]byte{0x81}, 8, hamtHashMurmur3)
	symBytes, _ := ft.SymlinkData("target")
	f.Add(seed(fileBytes, &ipld.Link{Cid: leafC, Size: 10}, &ipld.Link{Cid: leafC, Size: 10}))
	f.Add(seed(ft.FolderPBData(), &ipld.Link{Name: "a", Cid: leafC, Size: 10}))
	f.Add(seed(hamtBytes, &ipld.Link{Name: "0a", Cid: leafC, Size: 10}, &ipld.Link{Name: "7b", Cid: leafC, Size: 10}))
	f.Add(seed(symBytes))
	f.Add(seed(ft.FilePBData([]byte("inline"), 6)))
	f.Add([]byte{})
	f.Add([]byte{0x0a, 0x02, 0x08, 0x01})

	st := newDiskStore(f)
	if err := st.bs.Put(context.Background(), mustBlock(f, leaf, leafC)); err != nil {
		f.Fatal(err)
	}
	out := f.TempDir()
	n := 0
	f.Fuzz(func(t *testing.T, raw []byte) {
		c, err := dagPBPrefix.Sum(raw)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.bs.Put(context.Background(), mustBlock(t, raw, c)); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if info, err := Stat(ctx, st.dag, c); err == nil && info.Kind == KindFile {
			if r, err := Open(ctx, st.dag, c); err == nil {
				got, err := io.ReadAll(r)
				if err == nil && int64(len(got)) != info.Size {
					t.Fatalf("read %d bytes of a %d-byte file", len(got), info.Size)
				}
				r.Close()
			}
		}
		n++
		_ = WriteTo(ctx, st.dag, c, filepath.Join(out, fmt.Sprint(n)), ExportOptions{})
		if ctx.Err() != nil {
			t.Fatal("export hung")
		}
	})
}

func mustBlock(t testing.TB, data []byte, c cid.Cid) blocks.Block {
	t.Helper()
	b, err := blocks.NewBlockWithCid(data, c)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

package gateway

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ipfs/boxo/blockservice"
	"github.com/ipfs/boxo/blockstore"
	chunker "github.com/ipfs/boxo/chunker"
	"github.com/ipfs/boxo/exchange/offline"
	"github.com/ipfs/boxo/ipld/merkledag"
	"github.com/ipfs/boxo/ipld/unixfs"
	"github.com/ipfs/boxo/ipld/unixfs/importer/balanced"
	"github.com/ipfs/boxo/ipld/unixfs/importer/helpers"
	uio "github.com/ipfs/boxo/ipld/unixfs/io"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	"github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"
	ipld "github.com/ipfs/go-ipld-format"
	car "github.com/ipld/go-car/v2"
	"github.com/multiformats/go-multihash"
	"github.com/prometheus/client_golang/prometheus"
)

// Test DAG layout (all CIDv1, sha2-256):
//
//	root/              dag-pb directory
//	  hello.txt        single raw block
//	  sub/             dag-pb directory
//	    file           balanced UnixFS file: 1 KiB raw leaves, <=4 links per node
//	    zeros          4 KiB of zeros: 4 links to the same raw leaf
const (
	testChunkSize = 1024
	testMaxLinks  = 4
	testFileSize  = 10*testChunkSize + 500 // 11 leaves, the last one short
)

type testDAG struct {
	bstore blockstore.Blockstore
	bserv  blockservice.BlockService
	dag    ipld.DAGService

	file      cid.Cid
	fileData  []byte
	small     cid.Cid
	smallData []byte
	zeros     cid.Cid
	sub       cid.Cid
	root      cid.Cid
}

func newMemBlockstore() blockstore.Blockstore {
	return blockstore.NewBlockstore(dssync.MutexWrap(datastore.NewMapDatastore()))
}

// newTestDAG imports the test DAG into an in-memory blockstore behind an
// offline block service.
func newTestDAG(t testing.TB) *testDAG {
	t.Helper()
	bstore := newMemBlockstore()
	bserv := blockservice.New(bstore, offline.Exchange(bstore))
	d := &testDAG{bstore: bstore, bserv: bserv, dag: merkledag.NewDAGService(bserv)}

	rng := rand.New(rand.NewPCG(1, 2))
	d.fileData = make([]byte, testFileSize)
	for i := range d.fileData {
		d.fileData[i] = byte(rng.UintN(256))
	}
	d.smallData = []byte("hello, trustless world\n")
	d.file = importFile(t, d.dag, d.fileData)
	d.small = importFile(t, d.dag, d.smallData)
	d.zeros = importFile(t, d.dag, make([]byte, 4*testChunkSize))
	d.sub = importDir(t, d.dag, map[string]cid.Cid{"file": d.file, "zeros": d.zeros})
	d.root = importDir(t, d.dag, map[string]cid.Cid{"hello.txt": d.small, "sub": d.sub})
	return d
}

var testCidBuilder = cid.V1Builder{Codec: cid.DagProtobuf, MhType: multihash.SHA2_256}

func importFile(t testing.TB, dag ipld.DAGService, data []byte) cid.Cid {
	t.Helper()
	params := helpers.DagBuilderParams{
		Dagserv:    dag,
		Maxlinks:   testMaxLinks,
		RawLeaves:  true,
		CidBuilder: testCidBuilder,
	}
	db, err := params.New(chunker.NewSizeSplitter(bytes.NewReader(data), testChunkSize))
	if err != nil {
		t.Fatal(err)
	}
	nd, err := balanced.Layout(db)
	if err != nil {
		t.Fatal(err)
	}
	return nd.Cid()
}

func importDir(t testing.TB, dag ipld.DAGService, entries map[string]cid.Cid) cid.Cid {
	t.Helper()
	ctx := context.Background()
	dir, err := uio.NewDirectory(dag, uio.WithCidBuilder(testCidBuilder))
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range entries {
		nd, err := dag.Get(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		if err := dir.AddChild(ctx, name, nd); err != nil {
			t.Fatal(err)
		}
	}
	nd, err := dir.GetNode()
	if err != nil {
		t.Fatal(err)
	}
	if err := dag.Add(ctx, nd); err != nil {
		t.Fatal(err)
	}
	return nd.Cid()
}

// dfsBlocks lists the blocks of the DAG under c in depth-first pre-order,
// each occurrence when dups is true, only the first otherwise. It is computed
// from the DAG directly, independently of boxo's CAR traversal.
func (d *testDAG) dfsBlocks(t testing.TB, c cid.Cid, dups bool) []cid.Cid {
	t.Helper()
	var out []cid.Cid
	seen := cid.NewSet()
	var walk func(c cid.Cid)
	walk = func(c cid.Cid) {
		if !seen.Visit(c) && !dups {
			return
		}
		out = append(out, c)
		nd, err := d.dag.Get(context.Background(), c)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range nd.Links() {
			walk(l.Cid)
		}
	}
	walk(c)
	return out
}

// rangeBlocks lists, in depth-first pre-order, the minimal blocks of the
// UnixFS file c needed to verify its bytes [from, to] (inclusive): every leaf
// overlapping the range and the nodes linking to them. Child byte offsets
// come from the UnixFS blocksizes of each node.
func (d *testDAG) rangeBlocks(t testing.TB, c cid.Cid, from, to int64) []cid.Cid {
	t.Helper()
	var out []cid.Cid
	var walk func(c cid.Cid, start int64)
	walk = func(c cid.Cid, start int64) {
		out = append(out, c)
		if c.Prefix().Codec == cid.Raw {
			return
		}
		nd, err := d.dag.Get(context.Background(), c)
		if err != nil {
			t.Fatal(err)
		}
		pn := nd.(*merkledag.ProtoNode)
		fsn, err := unixfs.FSNodeFromBytes(pn.Data())
		if err != nil {
			t.Fatal(err)
		}
		off := start + int64(len(fsn.Data()))
		for i, l := range pn.Links() {
			size := int64(fsn.BlockSize(i))
			if off <= to && off+size-1 >= from {
				walk(l.Cid, off)
			}
			off += size
		}
	}
	walk(c, 0)
	return out
}

func cat(lists ...[]cid.Cid) []cid.Cid { return slices.Concat(lists...) }

// readCAR parses a CARv1 stream block by block and fails the test unless
// every block hashes to its CID.
func readCAR(t testing.TB, body []byte) (roots []cid.Cid, got []cid.Cid) {
	t.Helper()
	br, err := car.NewBlockReader(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("read CAR header: %v", err)
	}
	if br.Version != 1 {
		t.Fatalf("CAR version %d, want 1", br.Version)
	}
	for {
		blk, err := br.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("read CAR block %d: %v", len(got), err)
		}
		verifyBlock(t, blk.Cid(), blk.RawData())
		got = append(got, blk.Cid())
	}
	return br.Roots, got
}

// verifyBlock fails the test unless data hashes to c's multihash.
func verifyBlock(t testing.TB, c cid.Cid, data []byte) {
	t.Helper()
	sum, err := c.Prefix().Sum(data)
	if err != nil {
		t.Fatalf("hash block %s: %v", c, err)
	}
	if !sum.Equals(c) {
		t.Fatalf("block %s: data hashes to %s", c, sum)
	}
}

func newTestServer(t testing.TB, bs blockservice.BlockService, opts TrustlessOptions) *httptest.Server {
	t.Helper()
	h, err := NewTrustless(bs, opts)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func do(t testing.TB, srv *httptest.Server, method, target string, hdr ...string) response {
	t.Helper()
	return doCtx(t, context.Background(), srv, method, target, hdr...)
}

// doCtx sends one request; hdr lists header name/value pairs.
func doCtx(t testing.TB, ctx context.Context, srv *httptest.Server, method, target string, hdr ...string) response {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, method, srv.URL+target, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Add(hdr[i], hdr[i+1])
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, target, err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: body}
}

func (r response) expect(t testing.TB, status int) response {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d; body: %q", r.status, status, r.body)
	}
	return r
}

func TestRawBlock(t *testing.T) {
	d := newTestDAG(t)
	srv := newTestServer(t, d.bserv, TrustlessOptions{})

	for _, c := range []cid.Cid{d.file, d.small, d.root} {
		for _, how := range [][]string{
			{"?format=raw"},
			{"", "Accept", "application/vnd.ipld.raw"},
			{"?format=raw", "Accept", "application/vnd.ipld.car"}, // ?format wins
			{"", "Accept", "text/html, application/vnd.ipld.raw;q=0.9, */*;q=0.1"},
		} {
			target := "/ipfs/" + c.String() + how[0]
			r := do(t, srv, http.MethodGet, target, how[1:]...).expect(t, http.StatusOK)
			verifyBlock(t, c, r.body)
			want := map[string]string{
				"Content-Type":           "application/vnd.ipld.raw",
				"Etag":                   `"` + c.String() + `.raw"`,
				"Cache-Control":          "public, max-age=29030400, immutable",
				"X-Ipfs-Roots":           c.String(),
				"X-Content-Type-Options": "nosniff",
				"Content-Length":         fmt.Sprint(len(r.body)),
			}
			for k, v := range want {
				if got := r.header.Get(k); got != v {
					t.Errorf("%s: %s = %q, want %q", target, k, got, v)
				}
			}
			if got := r.header.Get("Content-Disposition"); !strings.HasPrefix(got, "attachment;") || !strings.Contains(got, c.String()+".bin") {
				t.Errorf("%s: Content-Disposition = %q", target, got)
			}
			// Format negotiated by Accept: Content-Location names the ?format URL.
			// (boxo copies Accept's q parameter into it as raw-q=0.9; harmless.)
			if how[0] == "" && !strings.HasPrefix(r.header.Get("Content-Location"), "/ipfs/"+c.String()+"?format=raw") {
				t.Errorf("%s: Content-Location = %q", target, r.header.Get("Content-Location"))
			}
		}
	}

	// The whole small file is one raw block: the block is the file.
	r := do(t, srv, http.MethodGet, "/ipfs/"+d.small.String()+"?format=raw")
	if !bytes.Equal(r.body, d.smallData) {
		t.Fatalf("raw block of single-block file = %q, want %q", r.body, d.smallData)
	}

	// Conditional request with the returned ETag.
	do(t, srv, http.MethodGet, "/ipfs/"+d.file.String()+"?format=raw", "If-None-Match", `"`+d.file.String()+`.raw"`).
		expect(t, http.StatusNotModified)

	// HTTP range request on a raw block.
	r = do(t, srv, http.MethodGet, "/ipfs/"+d.small.String()+"?format=raw", "Range", "bytes=0-4").expect(t, http.StatusPartialContent)
	if string(r.body) != "hello" {
		t.Fatalf("range body = %q", r.body)
	}

	// Spec probe path: the empty identity CID.
	r = do(t, srv, http.MethodGet, "/ipfs/bafkqaaa?format=raw").expect(t, http.StatusOK)
	if len(r.body) != 0 {
		t.Fatalf("probe body = %q, want empty", r.body)
	}
}

func TestCARScopes(t *testing.T) {
	d := newTestDAG(t)
	srv := newTestServer(t, d.bserv, TrustlessOptions{})
	root, sub, file := d.root.String(), d.sub.String(), d.file.String()
	fileAll := d.dfsBlocks(t, d.file, false)
	size := int64(len(d.fileData))
	rng := func(from, to int64) []cid.Cid { return d.rangeBlocks(t, d.file, from, to) }

	tests := []struct {
		target string
		want   []cid.Cid
	}{
		// file
		{"/ipfs/" + file + "?format=car", fileAll},
		{"/ipfs/" + file + "?format=car&dag-scope=all", fileAll},
		{"/ipfs/" + file + "?format=car&dag-scope=entity", fileAll},
		{"/ipfs/" + file + "?format=car&dag-scope=block", []cid.Cid{d.file}},
		// directories
		{"/ipfs/" + root + "?format=car", d.dfsBlocks(t, d.root, false)},
		{"/ipfs/" + root + "?format=car&dag-scope=entity", []cid.Cid{d.root}},
		{"/ipfs/" + root + "?format=car&dag-scope=block", []cid.Cid{d.root}},
		{"/ipfs/" + root + "?format=car&dag-scope=entity&entity-bytes=0:10", []cid.Cid{d.root}}, // ignored on dirs
		// path resolution: the blocks proving each path segment come first
		{"/ipfs/" + root + "/sub/file?format=car", cat([]cid.Cid{d.root, d.sub}, fileAll)},
		{"/ipfs/" + root + "/sub/file?format=car&dag-scope=block", []cid.Cid{d.root, d.sub, d.file}},
		{"/ipfs/" + root + "/sub?format=car&dag-scope=entity", []cid.Cid{d.root, d.sub}},
		{"/ipfs/" + root + "/hello.txt?format=car", []cid.Cid{d.root, d.small}},
		{"/ipfs/" + sub + "/file?format=car&dag-scope=entity", cat([]cid.Cid{d.sub}, fileAll)},
		// a missing path segment: 200 with the blocks proving it is missing
		{"/ipfs/" + root + "/nope?format=car", []cid.Cid{d.root}},
		{"/ipfs/" + root + "/sub/nope/deeper?format=car", []cid.Cid{d.root, d.sub}},
		// entity-bytes: only the blocks covering the range
		{"/ipfs/" + file + "?format=car&entity-bytes=0:*", fileAll},
		{"/ipfs/" + file + "?format=car&entity-bytes=0:0", rng(0, 0)},
		{"/ipfs/" + file + "?format=car&entity-bytes=2000:5000", rng(2000, 5000)},
		{"/ipfs/" + file + "?format=car&entity-bytes=4096:4096", rng(4096, 4096)},
		{"/ipfs/" + file + "?format=car&entity-bytes=-1024:*", rng(size-1024, size-1)},
		{"/ipfs/" + file + "?format=car&entity-bytes=499:-1000", rng(499, size-1000)},
		{"/ipfs/" + file + "?format=car&entity-bytes=9000:*", rng(9000, size-1)},
		{"/ipfs/" + root + "/sub/file?format=car&entity-bytes=1024:2047", cat([]cid.Cid{d.root, d.sub}, rng(1024, 2047))},
		// same, negotiated by Accept
		{"/ipfs/" + file + "?entity-bytes=3000:3001", rng(3000, 3001)},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			hdr := []string{}
			if !strings.Contains(tt.target, "format=car") {
				hdr = []string{"Accept", "application/vnd.ipld.car"}
			}
			r := do(t, srv, http.MethodGet, tt.target, hdr...).expect(t, http.StatusOK)
			_, got := readCAR(t, r.body)
			if !slices.Equal(got, tt.want) {
				t.Fatalf("CAR blocks (%d):\n%v\nwant (%d), in DFS order:\n%v", len(got), got, len(tt.want), tt.want)
			}
			if ct := r.header.Get("Content-Type"); ct != "application/vnd.ipld.car; version=1; order=dfs; dups=n" {
				t.Errorf("Content-Type = %q", ct)
			}
		})
	}
	if n := len(rng(2000, 5000)); n >= len(fileAll) || n < 3 {
		t.Fatalf("range fixture covers %d of %d file blocks; the range test would prove nothing", n, len(fileAll))
	}
}

func TestCARHeaders(t *testing.T) {
	d := newTestDAG(t)
	srv := newTestServer(t, d.bserv, TrustlessOptions{})
	target := "/ipfs/" + d.root.String() + "/sub/file?format=car"

	r := do(t, srv, http.MethodGet, target).expect(t, http.StatusOK)
	roots, _ := readCAR(t, r.body)
	if len(roots) != 1 || !roots[0].Equals(d.file) {
		t.Errorf("CAR roots = %v, want [%s]", roots, d.file)
	}
	wantRoots := strings.Join([]string{d.root.String(), d.sub.String(), d.file.String()}, ",")
	for k, v := range map[string]string{
		"X-Ipfs-Roots":           wantRoots,
		"Cache-Control":          "public, max-age=29030400, immutable",
		"Accept-Ranges":          "none",
		"X-Content-Type-Options": "nosniff",
		"X-Ipfs-Path":            "/ipfs/" + d.root.String() + "/sub/file",
	} {
		if got := r.header.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if cd := r.header.Get("Content-Disposition"); !strings.HasPrefix(cd, "attachment;") || !strings.Contains(cd, d.root.String()+"_file.car") {
		t.Errorf("Content-Disposition = %q", cd)
	}
	etag := r.header.Get("Etag")
	if !strings.HasPrefix(etag, `W/"`+d.root.String()+".car.") {
		t.Fatalf("Etag = %q", etag)
	}
	do(t, srv, http.MethodGet, target, "If-None-Match", etag).expect(t, http.StatusNotModified)

	// Every parameter that changes the blocks changes the ETag.
	etags := map[string]string{etag: target}
	for _, q := range []string{"&dag-scope=block", "&dag-scope=entity", "&entity-bytes=0:99", "&car-dups=y"} {
		e := do(t, srv, http.MethodGet, target+q).expect(t, http.StatusOK).header.Get("Etag")
		if prev, dup := etags[e]; dup {
			t.Errorf("%s and %s share Etag %s", prev, target+q, e)
		}
		etags[e] = target + q
	}
}

func TestCARDuplicatesAndAccept(t *testing.T) {
	d := newTestDAG(t)
	srv := newTestServer(t, d.bserv, TrustlessOptions{})
	zeros := "/ipfs/" + d.zeros.String()
	withDups := d.dfsBlocks(t, d.zeros, true)
	noDups := d.dfsBlocks(t, d.zeros, false)
	if len(withDups) != 5 || len(noDups) != 2 {
		t.Fatalf("fixture: %d blocks with dups, %d without; want 5 and 2", len(withDups), len(noDups))
	}
	tests := []struct {
		name, target, accept string
		want                 []cid.Cid
		contentType          string
	}{
		{"accept dups=y", zeros, "application/vnd.ipld.car; version=1; order=dfs; dups=y", withDups,
			"application/vnd.ipld.car; version=1; order=dfs; dups=y"},
		{"accept dups=n", zeros, "application/vnd.ipld.car; version=1; order=dfs; dups=n", noDups,
			"application/vnd.ipld.car; version=1; order=dfs; dups=n"},
		{"accept no params", zeros, "application/vnd.ipld.car", noDups,
			"application/vnd.ipld.car; version=1; order=dfs; dups=n"},
		{"accept order=unk", zeros, "application/vnd.ipld.car; order=unk", nil,
			"application/vnd.ipld.car; version=1; order=unk; dups=n"},
		{"query car-dups=y", zeros + "?format=car&car-dups=y", "", withDups,
			"application/vnd.ipld.car; version=1; order=dfs; dups=y"},
		{"query overrides accept", zeros + "?format=car&car-dups=n", "application/vnd.ipld.car; dups=y", noDups,
			"application/vnd.ipld.car; version=1; order=dfs; dups=n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var hdr []string
			if tt.accept != "" {
				hdr = []string{"Accept", tt.accept}
			}
			r := do(t, srv, http.MethodGet, tt.target, hdr...).expect(t, http.StatusOK)
			if ct := r.header.Get("Content-Type"); ct != tt.contentType {
				t.Errorf("Content-Type = %q, want %q", ct, tt.contentType)
			}
			_, got := readCAR(t, r.body)
			want := tt.want
			if want == nil { // unknown order: compare as sets
				got, want = slices.SortedFunc(slices.Values(got), cmpCid), slices.SortedFunc(slices.Values(noDups), cmpCid)
			}
			if !slices.Equal(got, want) {
				t.Fatalf("blocks %v, want %v", got, want)
			}
		})
	}
}

func cmpCid(a, b cid.Cid) int { return strings.Compare(a.KeyString(), b.KeyString()) }

func TestNegotiationErrors(t *testing.T) {
	d := newTestDAG(t)
	srv := newTestServer(t, d.bserv, TrustlessOptions{})
	file, root := "/ipfs/"+d.file.String(), "/ipfs/"+d.root.String()
	tests := []struct {
		name, target string
		hdr          []string
		status       int
		bodyHas      string
	}{
		{"no format", file, nil, http.StatusNotAcceptable, "only trustless requests"},
		{"html", file, []string{"Accept", "text/html"}, http.StatusNotAcceptable, "only trustless requests"},
		{"dag-json", file, []string{"Accept", "application/vnd.ipld.dag-json"}, http.StatusNotAcceptable, "only trustless"},
		{"json", file, []string{"Accept", "application/json"}, http.StatusNotAcceptable, "only trustless"},
		{"tar", file + "?format=tar", nil, http.StatusNotAcceptable, "only trustless"},
		{"unknown format", file + "?format=pdf", nil, http.StatusNotAcceptable, "only trustless"},
		{"unknown vnd type", file, []string{"Accept", "application/vnd.ipld.foo"}, http.StatusNotAcceptable, "only trustless"},
		{"raw with path", root + "/sub?format=raw", nil, http.StatusNotAcceptable, "only trustless"},
		{"ipns record", "/ipfs/" + d.file.String() + "?format=ipns-record", nil, http.StatusNotAcceptable, "only trustless"},
		{"car version 2", file, []string{"Accept", "application/vnd.ipld.car; version=2"}, http.StatusBadRequest, "only version=1"},
		{"car-version query", file + "?format=car&car-version=2", nil, http.StatusBadRequest, "only version=1"},
		{"bad order", file + "?format=car&car-order=bfs", nil, http.StatusBadRequest, "order"},
		{"bad dups", file + "?format=car&car-dups=maybe", nil, http.StatusBadRequest, "dups"},
		{"bad scope", file + "?format=car&dag-scope=everything", nil, http.StatusBadRequest, "scope"},
		{"bad range", file + "?format=car&entity-bytes=10", nil, http.StatusBadRequest, "entity-bytes"},
		{"reversed range", file + "?format=car&entity-bytes=10:5", nil, http.StatusBadRequest, "entity-bytes"},
		{"bad accept syntax", file, []string{"Accept", `application/vnd.ipld.car; version="1`}, http.StatusBadRequest, "Accept"},
		{"bad cid raw", "/ipfs/not-a-cid?format=raw", nil, http.StatusBadRequest, "invalid"},
		{"bad cid car", "/ipfs/bafyNOTACID/file?format=car", nil, http.StatusBadRequest, "invalid"},
		{"empty cid", "/ipfs/?format=raw", nil, http.StatusBadRequest, "invalid path"},
		{"no cid", "/ipfs?format=raw", nil, http.StatusBadRequest, "invalid path"},
		{"ipns", "/ipns/example.com?format=car", nil, http.StatusNotFound, "not an /ipfs/ content path"},
		{"other path", "/api/v0/cat", nil, http.StatusNotFound, "/ipfs/{cid}"},
		{"post", file + "?format=raw", nil, http.StatusMethodNotAllowed, "read only"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := http.MethodGet
			if tt.name == "post" {
				method = http.MethodPost
			}
			r := do(t, srv, method, tt.target, tt.hdr...).expect(t, tt.status)
			if !strings.Contains(string(r.body), tt.bodyHas) {
				t.Errorf("body %q does not mention %q", r.body, tt.bodyHas)
			}
			if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
				t.Errorf("error Content-Type = %q, want text/plain", ct)
			}
		})
	}
}

// missingCID returns a raw-codec CIDv1 of data that is stored nowhere.
func missingCID(t testing.TB, data string) cid.Cid {
	t.Helper()
	c, err := cid.V1Builder{Codec: cid.Raw, MhType: multihash.SHA2_256}.Sum([]byte(data))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestMissingContentOffline(t *testing.T) {
	d := newTestDAG(t)
	srv := newTestServer(t, d.bserv, TrustlessOptions{})
	missing := "/ipfs/" + missingCID(t, "nobody has this").String()
	for _, tt := range []struct{ method, target string }{
		{http.MethodGet, missing + "?format=raw"},
		{http.MethodGet, missing + "?format=car"},
		{http.MethodGet, missing + "/a/path?format=car"},
		{http.MethodHead, missing + "?format=raw"},
		{http.MethodHead, missing + "?format=car"},
	} {
		r := do(t, srv, tt.method, tt.target).expect(t, http.StatusNotFound)
		if tt.method == http.MethodGet && !strings.Contains(string(r.body), "not find") {
			t.Errorf("%s %s: body %q", tt.method, tt.target, r.body)
		}
	}

	// A CID whose hash function is not allowed is the client's mistake, not
	// a server error.
	md5, err := cid.V1Builder{Codec: cid.Raw, MhType: multihash.MD5}.Sum([]byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	do(t, srv, http.MethodGet, "/ipfs/"+md5.String()+"?format=raw").expect(t, http.StatusBadRequest)
	do(t, srv, http.MethodGet, "/ipfs/"+md5.String()+"?format=car").expect(t, http.StatusBadRequest)

	// Spec probe path for CARs: 200 and a valid CAR rooted at bafkqaaa.
	r := do(t, srv, http.MethodGet, "/ipfs/bafkqaaa?format=car").expect(t, http.StatusOK)
	roots, _ := readCAR(t, r.body)
	if len(roots) != 1 || roots[0].String() != "bafkqaaa" {
		t.Fatalf("probe CAR roots = %v", roots)
	}
}

func TestHead(t *testing.T) {
	d := newTestDAG(t)
	srv := newTestServer(t, d.bserv, TrustlessOptions{})
	for _, target := range []string{
		"/ipfs/" + d.file.String() + "?format=raw",
		"/ipfs/" + d.file.String() + "?format=car",
		"/ipfs/" + d.root.String() + "/sub/file?format=car&dag-scope=entity",
		"/ipfs/" + d.root.String() + "/nope?format=car",
		"/ipfs/bafkqaaa?format=raw",
	} {
		get := do(t, srv, http.MethodGet, target).expect(t, http.StatusOK)
		head := do(t, srv, http.MethodHead, target).expect(t, http.StatusOK)
		if len(head.body) != 0 {
			t.Errorf("HEAD %s: body of %d bytes", target, len(head.body))
		}
		for _, k := range []string{"Content-Type", "Etag", "Cache-Control", "X-Ipfs-Roots", "Content-Disposition", "Content-Length"} {
			if g, h := get.header.Get(k), head.header.Get(k); g != h {
				t.Errorf("%s: GET %s = %q, HEAD %s = %q", target, k, g, k, h)
			}
		}
	}
}

// stallingExchange is an exchange that never finds anything: each request
// blocks until its context ends, like bitswap when no peer has the block.
type stallingExchange struct {
	started  chan cid.Cid // receives requested CIDs, if there is room
	inFlight atomic.Int64
}

func newStallingExchange() *stallingExchange {
	return &stallingExchange{started: make(chan cid.Cid, 64)}
}

func (e *stallingExchange) GetBlock(ctx context.Context, c cid.Cid) (blocks.Block, error) {
	e.inFlight.Add(1)
	defer e.inFlight.Add(-1)
	select {
	case e.started <- c:
	default:
	}
	<-ctx.Done()
	return nil, ctx.Err()
}

func (e *stallingExchange) GetBlocks(ctx context.Context, ks []cid.Cid) (<-chan blocks.Block, error) {
	out := make(chan blocks.Block)
	e.inFlight.Add(1)
	go func() {
		defer e.inFlight.Add(-1)
		defer close(out)
		for _, c := range ks {
			select {
			case e.started <- c:
			default:
			}
		}
		<-ctx.Done()
	}()
	return out, nil
}

func (e *stallingExchange) NotifyNewBlocks(context.Context, ...blocks.Block) error { return nil }
func (e *stallingExchange) Close() error                                           { return nil }

// waitIdle fails the test unless every exchange call has returned within 5s.
func (e *stallingExchange) waitIdle(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for e.inFlight.Load() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d exchange calls still blocked after the request ended", e.inFlight.Load())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// stallingDAG is the test DAG behind a block service whose exchange never
// finds anything.
func stallingDAG(t testing.TB) (*testDAG, *stallingExchange, blockservice.BlockService) {
	d := newTestDAG(t)
	ex := newStallingExchange()
	return d, ex, blockservice.New(d.bstore, ex)
}

func TestTimeoutBecomes504(t *testing.T) {
	d, ex, bs := stallingDAG(t)
	const timeout = 300 * time.Millisecond
	srv := newTestServer(t, bs, TrustlessOptions{RequestTimeout: timeout})
	missing := missingCID(t, "unprovided").String()
	for _, target := range []string{
		"/ipfs/" + missing + "?format=raw",
		"/ipfs/" + missing + "?format=car",
		"/ipfs/" + missing + "/some/path?format=car&dag-scope=entity",
	} {
		for _, method := range []string{http.MethodGet, http.MethodHead} {
			start := time.Now()
			r := do(t, srv, method, target).expect(t, http.StatusGatewayTimeout)
			elapsed := time.Since(start)
			if elapsed < timeout || elapsed > timeout+3*time.Second {
				t.Errorf("%s %s: 504 after %v, want about %v", method, target, elapsed, timeout)
			}
			if method == http.MethodGet && !strings.Contains(string(r.body), "Unable to retrieve content within timeout period") {
				t.Errorf("%s %s: body %q", method, target, r.body)
			}
			ex.waitIdle(t)
		}
	}

	// Local content is still served through the same block service, and a
	// CAR whose leaves are missing starts streaming: HEAD needs only the
	// path, not the leaves, so it does not wait for them.
	do(t, srv, http.MethodGet, "/ipfs/"+d.file.String()+"?format=raw").expect(t, http.StatusOK)
	leaf := d.dfsBlocks(t, d.file, false)[2]
	if err := d.bstore.DeleteBlock(context.Background(), leaf); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	do(t, srv, http.MethodHead, "/ipfs/"+d.root.String()+"/sub/file?format=car").expect(t, http.StatusOK)
	if elapsed := time.Since(start); elapsed >= timeout {
		t.Errorf("HEAD of a CAR waited %v for blocks it does not need", elapsed)
	}
	ex.waitIdle(t)
}

func TestNoFetch(t *testing.T) {
	d, ex, bs := stallingDAG(t)
	srv := newTestServer(t, bs, TrustlessOptions{NoFetch: true, RequestTimeout: time.Minute})
	missing := missingCID(t, "unprovided").String()

	start := time.Now()
	do(t, srv, http.MethodGet, "/ipfs/"+missing+"?format=raw").expect(t, http.StatusNotFound)
	do(t, srv, http.MethodGet, "/ipfs/"+missing+"?format=car").expect(t, http.StatusNotFound)
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Fatalf("offline misses took %v", elapsed)
	}
	r := do(t, srv, http.MethodGet, "/ipfs/"+d.root.String()+"/sub/file?format=car").expect(t, http.StatusOK)
	if _, got := readCAR(t, r.body); len(got) != 2+len(d.dfsBlocks(t, d.file, false)) {
		t.Fatalf("got %d blocks", len(got))
	}
	select {
	case c := <-ex.started:
		t.Fatalf("NoFetch gateway asked the exchange for %s", c)
	default:
	}
}

func TestConcurrencyCap(t *testing.T) {
	d, ex, bs := stallingDAG(t)
	srv := newTestServer(t, bs, TrustlessOptions{MaxConcurrentRequests: 1, RequestTimeout: time.Minute})
	missing := missingCID(t, "unprovided").String()

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/ipfs/"+missing+"?format=raw", nil)
		if err != nil {
			done <- err
			return
		}
		resp, err := srv.Client().Do(req)
		if err == nil {
			resp.Body.Close()
			err = fmt.Errorf("blocked request finished with %s", resp.Status)
		}
		done <- err
	}()
	select {
	case <-ex.started: // the first request holds the only slot
	case <-time.After(5 * time.Second):
		t.Fatal("first request never reached the exchange")
	}

	r := do(t, srv, http.MethodGet, "/ipfs/"+d.small.String()+"?format=raw").expect(t, http.StatusTooManyRequests)
	if r.header.Get("Retry-After") != "60" {
		t.Errorf("Retry-After = %q", r.header.Get("Retry-After"))
	}

	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("first request: %v", err)
	}
	ex.waitIdle(t)
	// The slot is free again.
	deadline := time.Now().Add(5 * time.Second)
	for {
		r := do(t, srv, http.MethodGet, "/ipfs/"+d.small.String()+"?format=raw")
		if r.status == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("slot not released: %d %q", r.status, r.body)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestOptionsAndMetricsRegistry(t *testing.T) {
	if _, err := NewTrustless(nil, TrustlessOptions{}); err == nil {
		t.Fatal("NewTrustless(nil) succeeded")
	}
	d := newTestDAG(t)
	reg := prometheus.NewRegistry()
	// Two gateways may share a registry.
	newTestServer(t, d.bserv, TrustlessOptions{Registry: reg, MaxConcurrentRequests: -1, RequestTimeout: -1})
	srv := newTestServer(t, d.bserv, TrustlessOptions{Registry: reg})
	do(t, srv, http.MethodGet, "/ipfs/"+d.small.String()+"?format=raw").expect(t, http.StatusOK)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, mf := range mfs {
		names = append(names, mf.GetName())
	}
	if !slices.Contains(names, "ipfs_http_gw_responses_total") {
		t.Fatalf("boxo gateway metrics not on the given registry; have %v", names)
	}
}

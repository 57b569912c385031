package gateway

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/ipfs/boxo/blockservice"
	chunker "github.com/ipfs/boxo/chunker"
	"github.com/ipfs/boxo/exchange/offline"
	"github.com/ipfs/boxo/ipld/merkledag"
	"github.com/ipfs/boxo/ipld/unixfs/importer/balanced"
	"github.com/ipfs/boxo/ipld/unixfs/importer/helpers"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
	car "github.com/ipld/go-car/v2"
	"github.com/ipld/go-car/v2/storage"
)

// benchFile imports size random bytes as a UnixFS file with 256 KiB raw
// leaves (Kubo's classic layout) into an in-memory block service.
func benchFile(b *testing.B, size int) (blockservice.BlockService, ipld.DAGService, cid.Cid) {
	b.Helper()
	bstore := newMemBlockstore()
	bserv := blockservice.New(bstore, offline.Exchange(bstore))
	dag := merkledag.NewDAGService(bserv)
	data := make([]byte, size)
	rng := rand.New(rand.NewPCG(5, 6))
	for i := range data {
		data[i] = byte(rng.UintN(256))
	}
	params := helpers.DagBuilderParams{Dagserv: dag, Maxlinks: helpers.DefaultLinksPerBlock, RawLeaves: true, CidBuilder: testCidBuilder}
	db, err := params.New(chunker.NewSizeSplitter(bytes.NewReader(data), 256<<10))
	if err != nil {
		b.Fatal(err)
	}
	nd, err := balanced.Layout(db)
	if err != nil {
		b.Fatal(err)
	}
	return bserv, dag, nd.Cid()
}

// exportCAR is the baseline: the same CARv1 (DFS, no duplicates) written
// straight from the DAG service, without HTTP or the gateway.
func exportCAR(ctx context.Context, dag ipld.DAGService, root cid.Cid, w io.Writer) error {
	cw, err := storage.NewWritable(w, []cid.Cid{root}, car.WriteAsCarV1(true))
	if err != nil {
		return err
	}
	seen := cid.NewSet()
	var walk func(c cid.Cid) error
	walk = func(c cid.Cid) error {
		if !seen.Visit(c) {
			return nil
		}
		nd, err := dag.Get(ctx, c)
		if err != nil {
			return err
		}
		if err := cw.Put(ctx, c.KeyString(), nd.RawData()); err != nil {
			return err
		}
		for _, l := range nd.Links() {
			if err := walk(l.Cid); err != nil {
				return err
			}
		}
		return nil
	}
	return walk(root)
}

// fetchAll GETs url and discards the body, failing unless it is 200 with at
// least min bytes.
func fetchAll(b *testing.B, client *http.Client, url string, min int64) {
	resp, err := client.Get(url)
	if err != nil {
		b.Fatal(err)
	}
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || n < min {
		b.Fatalf("GET %s: status %d, %d bytes, %v", url, resp.StatusCode, n, err)
	}
}

// BenchmarkTrustlessCAR measures a full-DAG CAR response for a 16 MiB file
// through the trustless gateway against a baseline handler on the same
// loopback server that writes the same CAR (DFS, no duplicates) straight
// from the DAG service, and reports the gateway's time as a multiple of it.
func BenchmarkTrustlessCAR(b *testing.B) {
	const size = 16 << 20
	bserv, dag, root := benchFile(b, size)
	gw, err := NewTrustless(bserv, TrustlessOptions{})
	if err != nil {
		b.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/ipfs/", gw)
	mux.HandleFunc("/direct", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/vnd.ipld.car; version=1")
		if err := exportCAR(r.Context(), dag, root, w); err != nil {
			b.Error(err)
		}
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	client := srv.Client()
	var direct, viaGateway time.Duration
	b.SetBytes(size)
	for b.Loop() {
		start := time.Now()
		fetchAll(b, client, srv.URL+"/direct", size)
		direct += time.Since(start)

		start = time.Now()
		fetchAll(b, client, srv.URL+"/ipfs/"+root.String()+"?format=car", size)
		viaGateway += time.Since(start)
	}
	b.ReportMetric(float64(viaGateway)/float64(direct), "x-vs-direct-car")
	b.ReportMetric(float64(size)*float64(b.N)/viaGateway.Seconds()/(1<<20), "gateway-MiB/s")
	b.ReportMetric(float64(size)*float64(b.N)/direct.Seconds()/(1<<20), "direct-MiB/s")
}

// BenchmarkTrustlessRaw measures raw-block responses (one 256 KiB leaf)
// through the gateway against a baseline handler on the same loopback server
// that writes the block read from the block service.
func BenchmarkTrustlessRaw(b *testing.B) {
	bserv, dag, root := benchFile(b, 1<<20)
	nd, err := dag.Get(context.Background(), root)
	if err != nil {
		b.Fatal(err)
	}
	leaf := nd.Links()[0].Cid
	gw, err := NewTrustless(bserv, TrustlessOptions{})
	if err != nil {
		b.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/ipfs/", gw)
	mux.HandleFunc("/direct", func(w http.ResponseWriter, r *http.Request) {
		blk, err := bserv.GetBlock(r.Context(), leaf)
		if err != nil {
			b.Error(err)
			return
		}
		w.Header().Set("Content-Type", "application/vnd.ipld.raw")
		w.Write(blk.RawData())
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	client := srv.Client()
	var direct, viaGateway time.Duration
	for b.Loop() {
		start := time.Now()
		fetchAll(b, client, srv.URL+"/direct", 256<<10)
		direct += time.Since(start)

		start = time.Now()
		fetchAll(b, client, srv.URL+"/ipfs/"+leaf.String()+"?format=raw", 256<<10)
		viaGateway += time.Since(start)
	}
	b.ReportMetric(float64(viaGateway)/float64(direct), "x-vs-direct-raw")
	b.ReportMetric(float64(viaGateway.Microseconds())/float64(b.N), "gateway-us/op")
}

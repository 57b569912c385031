package p2p_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/ipfs/boxo/blockservice"
	"github.com/ipfs/boxo/exchange/offline"
	"github.com/ipfs/boxo/files"
	"github.com/ipfs/boxo/ipld/merkledag"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/ipdm/ipdm/p2p"
	"github.com/ipdm/ipdm/p2p/p2ptest"
	"github.com/ipdm/ipdm/storage/car"
	"github.com/ipdm/ipdm/storage/unixfs"
)

// importFile stores data as a UnixFS file (1 MiB chunks) in node i's
// block store and returns its root.
func importFile(t testing.TB, net *p2ptest.Net, i int, data []byte) cid.Cid {
	t.Helper()
	root, err := unixfs.ImportNode(context.Background(), net.Blockstores[i], files.NewBytesFile(data), unixfs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// readLocal reads a UnixFS file from node i's block store alone.
func readLocal(t testing.TB, net *p2ptest.Net, i int, root cid.Cid) ([]byte, error) {
	t.Helper()
	bs := net.Blockstores[i]
	dag := merkledag.NewDAGService(blockservice.New(bs, offline.Exchange(bs)))
	f, err := unixfs.Open(context.Background(), dag, root)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}

func TestFetchDAG(t *testing.T) {
	net := p2ptest.New(t, 2, p2ptest.Options{})
	server, client := net.Nodes[0], net.Nodes[1]
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	data := randomBlock(t, 1_700_000).RawData()
	root := importFile(t, net, 0, data)
	n, err := client.FetchDAG(ctx, server.ID(), root, 0)
	if err != nil {
		t.Fatal(err)
	}
	if n != 3 { // 2 leaves of at most 1 MiB and the root
		t.Errorf("stored %d blocks, want 3", n)
	}
	got, err := readLocal(t, net, 1, root)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("fetched file reads back %d bytes (%v), want the %d stored", len(got), err, len(data))
	}

	t.Run("missing root", func(t *testing.T) {
		other := randomBlock(t, 100).Cid()
		if _, err := client.FetchDAG(ctx, server.ID(), other, 0); !errors.Is(err, p2p.ErrDAGUnavailable) {
			t.Fatalf("err = %v, want ErrDAGUnavailable", err)
		}
	})
	t.Run("byte limit", func(t *testing.T) {
		root := importFile(t, net, 0, randomBlock(t, 600_000).RawData())
		if _, err := client.FetchDAG(ctx, server.ID(), root, 300_000); err == nil {
			t.Fatal("a DAG over the byte limit was fetched")
		}
		if _, err := readLocal(t, net, 1, root); err == nil {
			t.Fatal("the whole DAG is stored despite the limit")
		}
	})
	t.Run("partial DAG", func(t *testing.T) {
		data := randomBlock(t, 2_500_000).RawData()
		root := importFile(t, net, 0, data)
		nd, err := merkledag.NewDAGService(blockservice.New(net.Blockstores[0], offline.Exchange(net.Blockstores[0]))).Get(ctx, root)
		if err != nil {
			t.Fatal(err)
		}
		last := nd.Links()[len(nd.Links())-1].Cid
		if err := net.Blockstores[0].DeleteBlock(ctx, last); err != nil {
			t.Fatal(err)
		}
		n, err := client.FetchDAG(ctx, server.ID(), root, 0)
		if err == nil {
			t.Fatal("a DAG the server holds only in part was fetched without error")
		}
		if n == 0 {
			t.Error("no block before the missing one was read")
		}
		if _, err := readLocal(t, net, 1, root); err == nil {
			t.Error("the client claims the whole DAG")
		}
	})
	t.Run("empty file not stored", func(t *testing.T) {
		// A node's block service answers the empty block from its CID
		// and need not store it; the server must do the same.
		root, err := unixfs.ImportNode(ctx, net.Blockstores[0], files.NewMapDirectory(map[string]files.Node{
			"stderr": files.NewBytesFile(nil),
			"out":    files.NewBytesFile(randomBlock(t, 600_000).RawData()),
		}), unixfs.Options{})
		if err != nil {
			t.Fatal(err)
		}
		empty, err := unixfs.ImportNode(ctx, net.Blockstores[0], files.NewBytesFile(nil), unixfs.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if err := net.Blockstores[0].DeleteBlock(ctx, empty); err != nil {
			t.Fatal(err)
		}
		if n, err := client.FetchDAG(ctx, server.ID(), root, 0); err != nil || n != 3 {
			t.Fatalf("fetch = %d blocks, %v; want 3, nil", n, err)
		}
	})
	t.Run("self", func(t *testing.T) {
		if n, err := server.FetchDAG(ctx, server.ID(), root, 0); err != nil || n != 0 {
			t.Fatalf("fetch from self = %d, %v; want 0, nil", n, err)
		}
	})
}

// TestFetchDAGRefusesForeignBlocks has a peer answer with a CAR of another
// DAG: nothing it sends may be stored.
func TestFetchDAGRefusesForeignBlocks(t *testing.T) {
	net := p2ptest.New(t, 2, p2ptest.Options{})
	server, client := net.Nodes[0], net.Nodes[1]
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	asked := importFile(t, net, 0, randomBlock(t, 2_500_000).RawData())
	other := importFile(t, net, 0, randomBlock(t, 2_500_000).RawData())
	server.HostForTest().SetStreamHandler(protocol.ID(p2p.ProtoDAG), func(s network.Stream) {
		defer s.Close()
		io.ReadFull(s, make([]byte, 1+len(asked.Bytes()))) // the request frame
		s.Write([]byte{0})
		car.Export(context.Background(), s, net.Blockstores[0], other)
	})
	if _, err := client.FetchDAG(ctx, server.ID(), asked, 0); !errors.Is(err, p2p.ErrMalformedMessage) {
		t.Fatalf("err = %v, want ErrMalformedMessage", err)
	}
	if has, _ := net.Blockstores[1].Has(ctx, other); has {
		t.Fatal("a block of a DAG nobody asked for was stored")
	}
}

// BenchmarkFetchDAG fetches a 1.7 MB UnixFS file (3 blocks: the size of
// the block data of a 10-block Ethereum pipeline segment) from a connected peer with ProtoDAG and
// with bitswap, each from a fresh client store, and reports the ratio.
// Bitswap pays its want rounds, which boxo spaces at least 20 ms apart
// per peer.
//
//	go test ./p2p -run '^$' -bench FetchDAG -benchtime 20x
func BenchmarkFetchDAG(b *testing.B) {
	ctx := context.Background()
	var tDAG, tBitswap time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		net := p2ptest.New(b, 3, p2ptest.Options{Topology: p2ptest.Full})
		root := importFile(b, net, 0, randomBlock(b, 1_700_000).RawData())
		b.StartTimer()
		start := time.Now()
		if _, err := net.Nodes[1].FetchDAG(ctx, net.Nodes[0].ID(), root, 0); err != nil {
			b.Fatal(err)
		}
		tDAG += time.Since(start)
		start = time.Now()
		dag := merkledag.NewDAGService(blockservice.New(net.Blockstores[2], net.Nodes[2].Exchange()))
		f, err := unixfs.Open(ctx, dag, root)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, f); err != nil {
			b.Fatal(err)
		}
		f.Close()
		tBitswap += time.Since(start)
		b.StopTimer()
		net.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(tDAG.Microseconds())/1000/float64(b.N), "dag-ms/op")
	b.ReportMetric(float64(tBitswap.Microseconds())/1000/float64(b.N), "bitswap-ms/op")
	b.ReportMetric(tBitswap.Seconds()/tDAG.Seconds(), "x-faster-than-bitswap")
}

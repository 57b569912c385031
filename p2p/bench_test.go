package p2p_test

import (
	"context"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/ipdm/ipdm/p2p"
	"github.com/ipdm/ipdm/p2p/p2ptest"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
)

const rawBenchProto = protocol.ID("/ipdm/bench/raw/1.0.0")

// BenchmarkTransfer64MiB moves 64 raw 1 MiB blocks from one node to another
// over loopback, once with bitswap (GetBlocks, blocks hash-verified on
// receipt) and once as the same bytes over a plain libp2p stream between
// the same two hosts, and reports bitswap throughput / raw throughput as
// "x-vs-raw-stream". Sub-benchmarks run over TCP and over QUIC.
func BenchmarkTransfer64MiB(b *testing.B) {
	for _, tr := range []struct{ name, listen string }{
		{"tcp", "/ip4/127.0.0.1/tcp/0"},
		{"quic", "/ip4/127.0.0.1/udp/0/quic-v1"},
	} {
		b.Run(tr.name, func(b *testing.B) { benchTransfer(b, tr.listen, p2p.BitswapTuning{}) })
	}
}

func benchTransfer(b *testing.B, listen string, tuning p2p.BitswapTuning) {
	const nBlocks, blockSize = 64, 1 << 20
	const total = nBlocks * blockSize
	net := p2ptest.New(b, 2, p2ptest.Options{
		Topology: p2ptest.Full,
		Configure: func(_ int, cfg *p2p.Config) {
			cfg.ListenAddrs = []string{listen}
			cfg.AdvertInterval = time.Minute
			cfg.AdvertTTL = 0
			cfg.ResourceMaxMemory = 2 << 30
			cfg.Bitswap = tuning
		},
	})
	server, client := net.Nodes[0], net.Nodes[1]
	ctx := context.Background()

	cids := make([]cid.Cid, nBlocks)
	for i := range cids {
		blk := randomBlock(b, blockSize)
		if err := net.Blockstores[0].Put(ctx, blk); err != nil {
			b.Fatal(err)
		}
		cids[i] = blk.Cid()
	}
	// The raw baseline serves the same bytes from the same block store.
	server.HostForTest().SetStreamHandler(rawBenchProto, func(s network.Stream) {
		defer s.Close()
		for _, c := range cids {
			blk, err := net.Blockstores[0].Get(context.Background(), c)
			if err != nil {
				_ = s.Reset()
				return
			}
			if _, err := s.Write(blk.RawData()); err != nil {
				_ = s.Reset()
				return
			}
		}
	})
	serverID, err := peer.Decode(server.ID())
	if err != nil {
		b.Fatal(err)
	}

	fetchBitswap := func() {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		defer cancel()
		ch, err := client.Exchange().GetBlocks(ctx, cids)
		if err != nil {
			b.Fatal(err)
		}
		n, size := 0, 0
		for blk := range ch {
			n++
			size += len(blk.RawData())
		}
		if n != nBlocks || size != total {
			b.Fatalf("bitswap moved %d blocks / %d bytes, want %d / %d", n, size, nBlocks, total)
		}
	}
	fetchRaw := func() {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		defer cancel()
		s, err := client.HostForTest().NewStream(ctx, serverID, rawBenchProto)
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		n, err := io.Copy(io.Discard, s)
		if err != nil || n != total {
			b.Fatalf("raw stream moved %d bytes (%v), want %d", n, err, total)
		}
	}
	// Warm up both paths (connection windows, bitswap sessions).
	fetchBitswap()
	fetchRaw()

	var tBitswap, tRaw time.Duration
	b.SetBytes(2 * total) // one op moves the data twice: bitswap, then raw
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		fetchBitswap()
		tBitswap += time.Since(start)
		start = time.Now()
		fetchRaw()
		tRaw += time.Since(start)
	}
	b.StopTimer()
	mbps := func(d time.Duration) float64 { return float64(b.N) * total / d.Seconds() / (1 << 20) }
	b.ReportMetric(mbps(tBitswap), "bitswap-MiB/s")
	b.ReportMetric(mbps(tRaw), "raw-MiB/s")
	b.ReportMetric(tRaw.Seconds()/tBitswap.Seconds(), "x-vs-raw-stream")
}

// BenchmarkTransfer64MiBTuning compares bitswap settings on TCP (zero
// fields take Config defaults).
func BenchmarkTransfer64MiBTuning(b *testing.B) {
	for _, tc := range []struct {
		name string
		t    p2p.BitswapTuning
	}{
		{"defaults-16MiB", p2p.BitswapTuning{}},
		{"boxo-default-1MiB", p2p.BitswapTuning{MaxOutstandingBytesPerPeer: 1 << 20}},
		{"outstanding-4MiB", p2p.BitswapTuning{MaxOutstandingBytesPerPeer: 4 << 20}},
		{"outstanding-64MiB", p2p.BitswapTuning{MaxOutstandingBytesPerPeer: 64 << 20}},
		{"msg-2MiB", p2p.BitswapTuning{TargetMessageSize: 2 << 20}},
		{"workers-2", p2p.BitswapTuning{EngineTaskWorkers: 2, TaskWorkers: 2}},
		{"workers-16", p2p.BitswapTuning{EngineTaskWorkers: 16, TaskWorkers: 16}},
	} {
		b.Run(fmt.Sprint(tc.name), func(b *testing.B) { benchTransfer(b, "/ip4/127.0.0.1/tcp/0", tc.t) })
	}
}

package p2ptest

import (
	"context"
	"testing"
	"time"

	blocks "github.com/ipfs/go-block-format"
)

func TestNewTopologies(t *testing.T) {
	for _, tc := range []struct {
		name  string
		opts  Options
		edges [][2]int // pairs that must be connected
		none  [][2]int // pairs that must not be
	}{
		{"full", Options{}, [][2]int{{0, 1}, {0, 2}, {1, 2}}, nil},
		{"line on disk", Options{Topology: Line, OnDisk: true}, [][2]int{{0, 1}, {1, 2}}, nil},
		{"star", Options{Topology: Star}, [][2]int{{0, 1}, {0, 2}}, nil},
		{"none", Options{Topology: None}, nil, [][2]int{{0, 1}, {0, 2}, {1, 2}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			net := New(t, 3, tc.opts)
			isConn := func(a, b int) bool {
				return Connected(net.Nodes[a], net.Nodes[b]) && Connected(net.Nodes[b], net.Nodes[a])
			}
			for _, e := range tc.edges {
				if !isConn(e[0], e[1]) {
					t.Fatalf("nodes %d and %d not connected", e[0], e[1])
				}
			}
			for _, e := range tc.none {
				if isConn(e[0], e[1]) {
					t.Fatalf("nodes %d and %d connected", e[0], e[1])
				}
			}
			ctx := context.Background()
			blk := blocks.NewBlock([]byte("hello " + tc.name))
			if err := net.Blockstores[0].Put(ctx, blk); err != nil {
				t.Fatal(err)
			}
			if has, err := net.Blockstores[0].Has(ctx, blk.Cid()); err != nil || !has {
				t.Fatalf("blockstore Has = %v, %v", has, err)
			}
			if tc.opts.Topology != None {
				WaitCapabilities(t, 10*time.Second, net.Nodes, net.Nodes)
			}
			if err := net.Close(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

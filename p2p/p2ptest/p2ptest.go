// Package p2ptest starts real p2p nodes on 127.0.0.1 for other packages'
// tests.
//
// New(t, n, opts) creates n nodes, each with its own block store (in memory
// by default, flatfs in a temp dir with Options.OnDisk), starts them,
// connects them in the requested topology and registers t.Cleanup to close
// everything. Nodes listen on loopback TCP and QUIC-v1 with kernel-chosen
// ports, use the "/ipdm" DHT in server mode and publish capability adverts
// every AdvertInterval (fast by default, see Config). Nothing leaves the
// loopback interface: mDNS is off and no bootstrap peers are configured
// except between the nodes themselves.
//
// Helpers are safe to call from the test goroutine only (they call t.Fatal).
package p2ptest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ipdm/ipdm/p2p"
	"github.com/ipfs/boxo/blockstore"
	datastore "github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"
	flatfs "github.com/ipfs/go-ds-flatfs"
)

// LoopbackListenAddrs are the listen addresses of test nodes.
var LoopbackListenAddrs = []string{"/ip4/127.0.0.1/tcp/0", "/ip4/127.0.0.1/udp/0/quic-v1"}

// Topology says how New wires the nodes together.
type Topology int

const (
	// Full connects every node to every other node (the default).
	Full Topology = iota
	// None leaves the nodes unconnected.
	None
	// Line connects node i to node i+1 only.
	Line
	// Star starts node 0 first and gives its addresses to every other node
	// as Config.Bootstrap, so nodes 1..n-1 reach each other only through
	// node 0 (and whatever the DHT tells them).
	Star
)

// Options tune New. The zero value gives n fully connected in-memory nodes.
type Options struct {
	// Topology of the connections made after start; default Full.
	Topology Topology
	// OnDisk backs each node's block store with flatfs in t.TempDir()
	// instead of an in-memory map.
	OnDisk bool
	// Configure, if set, edits node i's config (which starts as Config())
	// before the node is created.
	Configure func(i int, cfg *p2p.Config)
}

// Net is a set of running test nodes.
type Net struct {
	// Nodes are the started nodes, in creation order.
	Nodes []*p2p.Node
	// Blockstores[i] is the block store of Nodes[i].
	Blockstores []blockstore.Blockstore
}

// Config returns the base config of test nodes: loopback listen addresses,
// adverts every 250 ms (TTL 2 s), provider search after 100 ms, small
// resource limits.
func Config() p2p.Config {
	return p2p.Config{
		ListenAddrs:         append([]string(nil), LoopbackListenAddrs...),
		AdvertInterval:      250 * time.Millisecond,
		AdvertTTL:           2 * time.Second,
		ProviderSearchDelay: 100 * time.Millisecond,
		ResourceMaxMemory:   512 << 20,
		ResourceMaxFDs:      1024,
		DialTimeout:         5 * time.Second,
		Version:             "ipdm/p2ptest",
	}
}

// NewBlockstore returns an in-memory block store.
func NewBlockstore() blockstore.Blockstore {
	return blockstore.NewBlockstore(dssync.MutexWrap(datastore.NewMapDatastore()))
}

// NewDiskBlockstore returns a flatfs-backed block store in a temp dir
// removed at the end of the test.
func NewDiskBlockstore(t testing.TB) blockstore.Blockstore {
	t.Helper()
	fs, err := flatfs.CreateOrOpen(t.TempDir(), flatfs.NextToLast(2), false)
	if err != nil {
		t.Fatalf("p2ptest: flatfs: %v", err)
	}
	t.Cleanup(func() { _ = fs.Close() })
	// flatfs accepts only single-component keys: no "/blocks" prefix.
	return blockstore.NewBlockstoreNoPrefix(fs)
}

// NewNode creates and starts one node with cfg and bs (a fresh in-memory
// store if nil); t.Cleanup closes it.
func NewNode(t testing.TB, cfg p2p.Config, bs blockstore.Blockstore) *p2p.Node {
	t.Helper()
	if bs == nil {
		bs = NewBlockstore()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n, err := p2p.New(ctx, cfg, bs)
	if err != nil {
		t.Fatalf("p2ptest: new node: %v", err)
	}
	t.Cleanup(func() {
		if err := n.Close(); err != nil {
			t.Errorf("p2ptest: close node %s: %v", n.ID(), err)
		}
	})
	if err := n.Start(ctx); err != nil {
		t.Fatalf("p2ptest: start node: %v", err)
	}
	return n
}

// New starts n nodes on loopback, wires them per opts.Topology and closes
// them when the test ends.
func New(t testing.TB, n int, opts Options) *Net {
	t.Helper()
	net := &Net{}
	for i := 0; i < n; i++ {
		cfg := Config()
		if opts.Topology == Star && i > 0 {
			cfg.Bootstrap = net.Nodes[0].Addrs()
		}
		if opts.Configure != nil {
			opts.Configure(i, &cfg)
		}
		var bs blockstore.Blockstore
		if opts.OnDisk {
			bs = NewDiskBlockstore(t)
		} else {
			bs = NewBlockstore()
		}
		net.Blockstores = append(net.Blockstores, bs)
		net.Nodes = append(net.Nodes, NewNode(t, cfg, bs))
	}
	switch opts.Topology {
	case Full:
		for i := range net.Nodes {
			for j := i + 1; j < len(net.Nodes); j++ {
				Connect(t, net.Nodes[i], net.Nodes[j])
			}
		}
	case Line:
		for i := 0; i+1 < len(net.Nodes); i++ {
			Connect(t, net.Nodes[i], net.Nodes[i+1])
		}
	case Star:
		for _, leaf := range net.Nodes[1:] {
			waitLinked(t, leaf, net.Nodes[0])
		}
	case None:
	default:
		t.Fatalf("p2ptest: unknown topology %d", opts.Topology)
	}
	return net
}

// Connect connects a to b (trying each of b's addresses) and waits until
// both list each other in Peers; it fails the test if that does not happen.
func Connect(t testing.TB, a, b *p2p.Node) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var errs []error
	for _, addr := range b.Addrs() {
		err := a.Connect(ctx, addr)
		if err == nil {
			waitLinked(t, a, b)
			return
		}
		errs = append(errs, err)
	}
	t.Fatalf("p2ptest: connect %s -> %s: %v", a.ID(), b.ID(), errs)
}

// waitLinked waits until a and b list each other as connected. The dialer
// finishes its handshake before the listener registers the connection, so
// the two sides see it at slightly different times.
func waitLinked(t testing.TB, a, b *p2p.Node) {
	t.Helper()
	WaitFor(t, 5*time.Second, fmt.Sprintf("%s and %s to see each other connected", a.ID(), b.ID()), func() bool {
		return Connected(a, b) && Connected(b, a)
	})
}

// Connected reports whether a lists b among its connected peers.
func Connected(a, b *p2p.Node) bool {
	for _, p := range a.Peers() {
		if p.ID == b.ID() {
			return true
		}
	}
	return false
}

// WaitFor polls cond every 20 ms until it returns true or timeout passes,
// then fails the test with the message from what.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("p2ptest: timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// WaitCapabilities waits until the capability index of every observer
// lists exactly the peer IDs of want (an observer's own ID included if it
// is in want).
func WaitCapabilities(t testing.TB, timeout time.Duration, observers, want []*p2p.Node) {
	t.Helper()
	ids := make(map[string]bool, len(want))
	for _, n := range want {
		ids[n.ID()] = true
	}
	for i, n := range observers {
		WaitFor(t, timeout, fmt.Sprintf("observer %d (%s) to index exactly %d adverts", i, n.ID(), len(ids)), func() bool {
			return sameIDs(n, ids)
		})
	}
}

func sameIDs(n *p2p.Node, ids map[string]bool) bool {
	caps := n.Capabilities()
	if len(caps) != len(ids) {
		return false
	}
	for _, a := range caps {
		if !ids[a.PeerID] {
			return false
		}
	}
	return true
}

// Close closes every node concurrently (t.Cleanup does it too; Close is
// idempotent).
func (net *Net) Close() error {
	var wg sync.WaitGroup
	errs := make([]error, len(net.Nodes))
	for i, n := range net.Nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = n.Close()
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

package p2p_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ipdm/ipdm/capability"
	"github.com/ipdm/ipdm/p2p"
	"github.com/ipdm/ipdm/p2p/p2ptest"
	"github.com/ipfs/boxo/blockservice"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	mh "github.com/multiformats/go-multihash"
)

// randomBlock returns a raw-codec CIDv1 block of size random bytes.
func randomBlock(t testing.TB, size int) blocks.Block {
	t.Helper()
	data := make([]byte, size)
	if _, err := rand.Read(data); err != nil {
		t.Fatal(err)
	}
	return rawBlock(t, data)
}

func rawBlock(t testing.TB, data []byte) blocks.Block {
	t.Helper()
	c, err := cid.NewPrefixV1(cid.Raw, mh.SHA2_256).Sum(data)
	if err != nil {
		t.Fatal(err)
	}
	b, err := blocks.NewBlockWithCid(data, c)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func connected(n *p2p.Node, id string) bool {
	return slices.ContainsFunc(n.Peers(), func(p p2p.PeerInfo) bool { return p.ID == id })
}

func TestNodeBasics(t *testing.T) {
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	cfg := p2ptest.Config()
	cfg.Identity = key
	cfg.Roles = []string{capability.RoleStorage}
	a := p2ptest.NewNode(t, cfg, nil)
	b := p2ptest.NewNode(t, p2ptest.Config(), nil)

	// The peer ID is derived from the configured ed25519 key.
	pid, err := peer.Decode(a.ID())
	if err != nil {
		t.Fatal(err)
	}
	pub, err := pid.ExtractPublicKey()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := pub.Raw()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(raw, key.Public().(ed25519.PublicKey)) {
		t.Fatal("peer ID does not match the configured identity")
	}

	// Addrs are full multiaddrs on loopback, TCP and QUIC, ending in /p2p/ID.
	var sawTCP, sawQUIC bool
	for _, s := range a.Addrs() {
		if !strings.HasPrefix(s, "/ip4/127.0.0.1/") || !strings.HasSuffix(s, "/p2p/"+a.ID()) {
			t.Fatalf("unexpected addr %s", s)
		}
		sawTCP = sawTCP || strings.Contains(s, "/tcp/")
		sawQUIC = sawQUIC || strings.Contains(s, "/quic-v1/")
	}
	if !sawTCP || !sawQUIC {
		t.Fatalf("addrs %v lack TCP or QUIC", a.Addrs())
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.Connect(ctx, "/ip4/127.0.0.1/tcp/1"); err == nil || !strings.Contains(err.Error(), "/p2p/") {
		t.Fatalf("Connect without /p2p: err = %v", err)
	}
	if err := a.Connect(ctx, a.Addrs()[0]); err == nil {
		t.Fatal("Connect to self succeeded")
	}
	p2ptest.Connect(t, a, b)
	if !connected(a, b.ID()) || !connected(b, a.ID()) {
		t.Fatalf("not connected: a.Peers=%v b.Peers=%v", a.Peers(), b.Peers())
	}
	rtt, err := a.Ping(ctx, b.ID())
	if err != nil || rtt <= 0 {
		t.Fatalf("Ping = %v, %v", rtt, err)
	}
	p2ptest.WaitFor(t, 5*time.Second, "latency recorded", func() bool {
		for _, p := range a.Peers() {
			if p.ID == b.ID() {
				return p.Latency > 0 && p.Direction == "Outbound"
			}
		}
		return false
	})
	p2ptest.WaitFor(t, 5*time.Second, "dht routing tables", func() bool {
		return a.Stats().DHTRoutingTableSize == 1 && b.Stats().DHTRoutingTableSize == 1
	})

	// Start again returns the first result; Close is idempotent; methods
	// fail cleanly afterwards.
	if err := a.Start(ctx); err != nil {
		t.Fatalf("second Start: %v", err)
	}
	if err := a.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := a.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := a.Start(ctx); !errors.Is(err, p2p.ErrClosed) {
		t.Fatalf("Start after Close = %v, want ErrClosed", err)
	}
	if err := a.Provide(ctx, randomBlock(t, 10).Cid()); !errors.Is(err, p2p.ErrClosed) {
		t.Fatalf("Provide after Close = %v, want ErrClosed", err)
	}
	if err := a.Connect(ctx, b.Addrs()[0]); !errors.Is(err, p2p.ErrClosed) {
		t.Fatalf("Connect after Close = %v, want ErrClosed", err)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	ctx := context.Background()
	cfg := p2ptest.Config()
	cfg.Bootstrap = []string{"/ip4/127.0.0.1/tcp/4001"} // no /p2p
	if _, err := p2p.New(ctx, cfg, p2ptest.NewBlockstore()); !errors.Is(err, p2p.ErrInvalidConfig) {
		t.Fatalf("New with bad bootstrap = %v, want ErrInvalidConfig", err)
	}
	if _, err := p2p.New(ctx, p2ptest.Config(), nil); !errors.Is(err, p2p.ErrInvalidConfig) {
		t.Fatalf("New with nil blockstore = %v, want ErrInvalidConfig", err)
	}
}

// Start reports listen failures. (A busy TCP port is not one: go-libp2p
// binds TCP with SO_REUSEPORT. An address not assigned to any local
// interface is.)
func TestStartFailsWhenItCannotListen(t *testing.T) {
	cfg := p2ptest.Config()
	cfg.ListenAddrs = []string{"/ip4/127.0.0.1/tcp/0", "/ip4/192.0.2.1/tcp/0"} // TEST-NET-1
	n, err := p2p.New(context.Background(), cfg, p2ptest.NewBlockstore())
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	err = n.Start(context.Background())
	if err == nil || !strings.Contains(err.Error(), "listen on /ip4/192.0.2.1/tcp/0") {
		t.Fatalf("Start = %v, want listen error", err)
	}
	if err2 := n.Start(context.Background()); err2 == nil || err2.Error() != err.Error() {
		t.Fatalf("second Start = %v, want the first error again", err2)
	}
}

func TestCapabilityAdvertsPropagateAndExpire(t *testing.T) {
	roles := [][]string{
		{capability.RoleStorage},
		{capability.RoleProcessing, capability.RoleGateway},
		{capability.RoleStorage, capability.RoleProcessing},
	}
	// A line 0-1-2: node 0 hears node 2 only through node 1 forwarding.
	net := p2ptest.New(t, 3, p2ptest.Options{
		Topology: p2ptest.Line,
		Configure: func(i int, cfg *p2p.Config) {
			cfg.Roles = roles[i]
			cfg.Cores = i + 1
			cfg.MemoryBytes = uint64(i+1) << 30
			cfg.FreeDiskBytes = uint64(i+1) << 20
			cfg.Version = "ipdm/test-" + string(rune('a'+i))
		},
	})
	n0, n1, n2 := net.Nodes[0], net.Nodes[1], net.Nodes[2]
	if connected(n0, n2.ID()) {
		t.Fatal("nodes 0 and 2 are directly connected; the test needs forwarding")
	}
	p2ptest.WaitCapabilities(t, 10*time.Second, net.Nodes, net.Nodes)

	for i, n := range net.Nodes {
		for _, a := range n.Capabilities() {
			j := slices.IndexFunc(net.Nodes, func(m *p2p.Node) bool { return m.ID() == a.PeerID })
			if !slices.Equal(a.Roles, roles[j]) || a.Cores != j+1 || a.MemoryBytes != uint64(j+1)<<30 ||
				a.FreeDiskBytes != uint64(j+1)<<20 || a.Version != "ipdm/test-"+string(rune('a'+j)) {
				t.Fatalf("node %d holds wrong advert for node %d: %+v", i, j, a)
			}
			if len(a.Addrs) == 0 {
				t.Fatalf("node %d: advert of node %d has no addrs", i, j)
			}
			for _, s := range a.Addrs {
				if _, err := ma.NewMultiaddr(s); err != nil {
					t.Fatalf("advert addr %q: %v", s, err)
				}
			}
		}
	}
	if s := n0.Stats(); s.AdvertsPublished == 0 || s.AdvertsReceived == 0 || s.CapabilityPeers != 3 {
		t.Fatalf("node 0 stats = %+v", s)
	}

	// Node 2 goes away: after the advert TTL (2 s) the others forget it.
	if err := n2.Close(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	p2ptest.WaitCapabilities(t, 6*time.Second, []*p2p.Node{n0, n1}, []*p2p.Node{n0, n1})
	if d := time.Since(start); d < time.Second {
		t.Fatalf("node 2 forgotten after %v, before its advert could expire", d)
	}
}

// A peer that publishes adverts claiming another peer's identity, or
// malformed ones, is ignored: its messages are signed by its own key, so the
// advert's PeerID does not match the signed origin.
func TestForgedAdvertRejected(t *testing.T) {
	victim := p2ptest.NewNode(t, p2ptest.Config(), nil)
	honest := p2ptest.NewNode(t, p2ptest.Config(), nil)
	p2ptest.Connect(t, victim, honest)
	p2ptest.WaitCapabilities(t, 10*time.Second, []*p2p.Node{victim}, []*p2p.Node{victim, honest})

	// The rogue is a bare libp2p host with gossipsub and no validator.
	rogue, err := libp2p.New(libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"), libp2p.DisableMetrics())
	if err != nil {
		t.Fatal(err)
	}
	defer rogue.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ps, err := pubsub.NewGossipSub(ctx, rogue)
	if err != nil {
		t.Fatal(err)
	}
	topic, err := ps.Join(p2p.DefaultAdvertTopic)
	if err != nil {
		t.Fatal(err)
	}
	ai, err := peer.AddrInfoFromString(victim.Addrs()[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := rogue.Connect(ctx, *ai); err != nil {
		t.Fatal(err)
	}
	p2ptest.WaitFor(t, 10*time.Second, "rogue to see the victim on the topic", func() bool {
		return len(topic.ListPeers()) > 0
	})

	honestID := honest.ID()
	forged := capability.Advert{PeerID: honestID, Roles: []string{capability.RoleGateway}, Cores: 999, Seq: ^uint64(0)}
	payloads := [][]byte{
		mustEncode(t, forged), // impersonates honest
		[]byte(`{"v":1,"peer":"` + rogue.ID().String() + `","seq":1,"cores":-1}`), // malformed
	}
	before := victim.Stats().AdvertsRejected
	for _, p := range payloads {
		if err := topic.Publish(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	p2ptest.WaitFor(t, 10*time.Second, "victim to reject both adverts", func() bool {
		return victim.Stats().AdvertsRejected >= before+2
	})
	// The honest peer's entry is still its own advert; the rogue is absent.
	for _, a := range victim.Capabilities() {
		if a.PeerID == rogue.ID().String() {
			t.Fatalf("rogue indexed: %+v", a)
		}
		if a.PeerID == honestID && (a.Cores == 999 || a.HasRole(capability.RoleGateway)) {
			t.Fatalf("forged advert replaced the honest one: %+v", a)
		}
	}
	// A well-formed advert in the rogue's own name is accepted.
	own := capability.Advert{PeerID: rogue.ID().String(), Seq: 1, Cores: 3}
	if err := topic.Publish(ctx, mustEncode(t, own)); err != nil {
		t.Fatal(err)
	}
	p2ptest.WaitFor(t, 10*time.Second, "victim to index the rogue's own advert", func() bool {
		return slices.ContainsFunc(victim.Capabilities(), func(a capability.Advert) bool {
			return a.PeerID == own.PeerID && a.Cores == 3
		})
	})
}

func mustEncode(t testing.TB, a capability.Advert) []byte {
	t.Helper()
	b, err := a.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A-B-C: A and C bootstrap via B and are not connected to each other. C
// fetches a block only A holds: bitswap asks its peers (B: don't have),
// then finds A's provider record in the DHT, dials A and gets the block.
func TestProviderDiscoveryThroughDHT(t *testing.T) {
	net := p2ptest.New(t, 3, p2ptest.Options{Topology: p2ptest.Star})
	b, a, c := net.Nodes[0], net.Nodes[1], net.Nodes[2]
	bsB, bsA, bsC := net.Blockstores[0], net.Blockstores[1], net.Blockstores[2]

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	blk := randomBlock(t, 256<<10)
	if err := bsA.Put(ctx, blk); err != nil {
		t.Fatal(err)
	}
	if err := a.Provide(ctx, blk.Cid()); err != nil {
		t.Fatal(err)
	}
	p2ptest.WaitFor(t, 20*time.Second, "A to announce the block", func() bool {
		s := a.Stats()
		return s.Provided == 1 && s.ProvidePending == 0
	})

	// DHT lookups during start-up connect A and C (both are DHT servers and
	// learn of each other from B). Wait for that, then cut the link until it
	// stays cut, so that C is connected to B only: bitswap's want to B gets
	// DONT_HAVE, and the session must find A as a provider through the DHT
	// and dial it.
	p2ptest.WaitFor(t, 10*time.Second, "C to learn of A through the DHT", func() bool {
		return c.Stats().DHTRoutingTableSize >= 2
	})
	aID, err := peer.Decode(a.ID())
	if err != nil {
		t.Fatal(err)
	}
	p2ptest.WaitFor(t, 10*time.Second, "the A-C link to stay closed", func() bool {
		_ = c.HostForTest().Network().ClosePeer(aID)
		time.Sleep(300 * time.Millisecond)
		return !connected(c, a.ID())
	})
	if !connected(c, b.ID()) {
		t.Fatalf("want C connected to B, have %v", c.Peers())
	}

	// Fetch through a blockservice, as the storage layer does: it asks the
	// exchange and stores what arrives in C's block store.
	got, err := blockservice.New(bsC, c.Exchange()).GetBlock(ctx, blk.Cid())
	if err != nil {
		t.Fatalf("C GetBlock: %v", err)
	}
	if !bytes.Equal(got.RawData(), blk.RawData()) {
		t.Fatal("C got different bytes")
	}
	if !connected(c, a.ID()) {
		t.Fatal("C fetched the block without connecting to A")
	}
	if has, _ := bsB.Has(ctx, blk.Cid()); has {
		t.Fatal("B holds the block; it should only have routed")
	}
	if has, _ := bsC.Has(ctx, blk.Cid()); !has {
		t.Fatal("C did not store the fetched block")
	}
	if s := c.Stats(); s.BlocksReceived != 1 || s.DataReceived != uint64(len(blk.RawData())) {
		t.Fatalf("C stats = %+v", s)
	}
	if s := a.Stats(); s.BlocksSent != 1 {
		t.Fatalf("A stats = %+v", s)
	}
}

func TestFetchUnknownCIDTimesOut(t *testing.T) {
	net := p2ptest.New(t, 2, p2ptest.Options{})
	missing := randomBlock(t, 100).Cid()
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := net.Nodes[0].Exchange().GetBlock(ctx, missing)
	elapsed := time.Since(start)
	if err == nil {
		t.Fatal("GetBlock of an unknown CID succeeded")
	}
	if !errors.Is(err, p2p.ErrBlockUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error %v does not wrap ErrBlockUnavailable and DeadlineExceeded", err)
	}
	var fe *p2p.FetchError
	if !errors.As(err, &fe) || !fe.CID.Equals(missing) || !strings.Contains(err.Error(), missing.String()) {
		t.Fatalf("error %v does not name the CID", err)
	}
	if elapsed > 3*time.Second {
		t.Fatalf("GetBlock returned %v after its 1.5 s deadline", elapsed)
	}
	// Sessions report the same way.
	sctx, scancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer scancel()
	_, err = net.Nodes[0].Exchange().NewSession(sctx).GetBlock(sctx, missing)
	if !errors.Is(err, p2p.ErrBlockUnavailable) {
		t.Fatalf("session GetBlock error = %v", err)
	}
}

// FindProviders answers from the DHT's provider records: the node that
// announced a block, seen from a node that never held it, and nobody for a
// block nobody announced (within the caller's deadline, without error).
func TestFindProviders(t *testing.T) {
	net := p2ptest.New(t, 3, p2ptest.Options{Topology: p2ptest.Star})
	hub, a, c := net.Nodes[0], net.Nodes[1], net.Nodes[2]
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	blk := randomBlock(t, 1024)
	if err := net.Blockstores[1].Put(ctx, blk); err != nil {
		t.Fatal(err)
	}
	if err := a.Provide(ctx, blk.Cid()); err != nil {
		t.Fatal(err)
	}
	p2ptest.WaitFor(t, 20*time.Second, "A to announce the block", func() bool {
		s := a.Stats()
		return s.Provided == 1 && s.ProvidePending == 0
	})
	for _, asker := range []*p2p.Node{c, hub, a} {
		got, err := asker.FindProviders(ctx, blk.Cid(), 0)
		if err != nil || !slices.Contains(got, a.ID()) {
			t.Fatalf("%s: FindProviders = %v, %v; want %s among them", asker.ID(), got, err, a.ID())
		}
	}
	lctx, lcancel := context.WithTimeout(ctx, 2*time.Second)
	defer lcancel()
	if got, err := c.FindProviders(lctx, randomBlock(t, 10).Cid(), 0); err != nil || len(got) != 0 {
		t.Fatalf("FindProviders of an unannounced block = %v, %v", got, err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := a.FindProviders(ctx, blk.Cid(), 0); !errors.Is(err, p2p.ErrClosed) {
		t.Fatalf("FindProviders after Close = %v, want ErrClosed", err)
	}
}

package p2p

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ipdm/ipdm/capability"
	"github.com/ipfs/boxo/bitswap"
	bsnet "github.com/ipfs/boxo/bitswap/network/bsnet"
	"github.com/ipfs/boxo/blockstore"
	"github.com/ipfs/boxo/exchange"
	"github.com/ipfs/go-cid"
	dht "github.com/libp2p/go-libp2p-kad-dht"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/libp2p/go-libp2p/p2p/discovery/mdns"
	"github.com/libp2p/go-libp2p/p2p/protocol/ping"
	ma "github.com/multiformats/go-multiaddr"
)

// ErrClosed is returned by methods called after Close.
var ErrClosed = errors.New("p2p: node closed")

// bootstrapTag protects bootstrap peers from connection trimming.
const bootstrapTag = "ipdm-bootstrap"

// maxProvideAttempts bounds retries of one DHT provide.
const maxProvideAttempts = 3

// Node is an IPDM libp2p peer: host, DHT, gossipsub capability adverts and
// bitswap. Create it with New, then Start it; Close releases everything.
// All methods are safe for concurrent use.
type Node struct {
	cfg Config
	log *slog.Logger

	host      host.Host
	dht       *dht.IpfsDHT
	ps        *pubsub.PubSub
	topic     *pubsub.Topic
	sub       *pubsub.Subscription
	topicEvts *pubsub.TopicEventHandler
	bs        *bitswap.Bitswap
	bstore    blockstore.Blockstore
	exch      *blockExchange
	index     *capability.Index
	provq     *provideQueue
	bootstrap []peer.AddrInfo

	// ctx spans the node's life: libraries' internal goroutines and ours
	// stop when Close cancels it.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex
	started  bool
	startErr error
	closed   bool
	closeErr error
	mdns     mdns.Service

	handlersMu sync.Mutex
	handlers   map[string]Handler // request handlers, for requests to self

	advertSeq  atomic.Uint64
	advertKick chan struct{}
	counters   counters
}

type counters struct {
	advertsPublished atomic.Uint64
	advertsReceived  atomic.Uint64
	advertsRejected  atomic.Uint64
	advertsStale     atomic.Uint64
	provided         atomic.Uint64
	provideFailed    atomic.Uint64
}

// New builds a node around bstore, the block store bitswap serves from and
// writes fetched blocks to. The node does not listen or talk to anyone
// until Start. ctx only bounds construction. The caller must Close the node,
// even if Start is never called.
func New(ctx context.Context, cfg Config, bstore blockstore.Blockstore) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if bstore == nil {
		return nil, fmt.Errorf("%w: nil blockstore", ErrInvalidConfig)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("p2p: new: %w", err)
	}
	cfg = cfg.withDefaults()
	cfg.Roles = append([]string(nil), cfg.Roles...)
	// Several addresses of one peer become one AddrInfo.
	bootstrap := make([]peer.AddrInfo, 0, len(cfg.Bootstrap))
	byID := make(map[peer.ID]int)
	for _, s := range cfg.Bootstrap {
		ai, err := parseP2PAddr(s)
		if err != nil {
			return nil, fmt.Errorf("%w: bootstrap: %v", ErrInvalidConfig, err)
		}
		if i, ok := byID[ai.ID]; ok {
			bootstrap[i].Addrs = append(bootstrap[i].Addrs, ai.Addrs...)
			continue
		}
		byID[ai.ID] = len(bootstrap)
		bootstrap = append(bootstrap, ai)
	}
	key, err := libp2pKey(cfg.Identity)
	if err != nil {
		return nil, fmt.Errorf("p2p: new: %w", err)
	}

	n := &Node{
		cfg:        cfg,
		log:        cfg.Logger,
		index:      capability.NewIndex(cfg.AdvertTTL),
		provq:      newProvideQueue(cfg.ProvideQueueLimit, cfg.ProvideDedupWindow),
		bootstrap:  bootstrap,
		advertKick: make(chan struct{}, 1),
	}
	n.ctx, n.cancel = context.WithCancel(context.WithoutCancel(ctx))
	if err := n.build(key, bstore); err != nil {
		n.teardown()
		return nil, fmt.Errorf("p2p: new: %w", err)
	}
	n.log = n.log.With("peer", n.host.ID().String())
	return n, nil
}

// build creates the host and the protocols on top of it.
func (n *Node) build(key crypto.PrivKey, bstore blockstore.Blockstore) error {
	cfg := n.cfg
	h, err := newHost(cfg, key)
	if err != nil {
		return err
	}
	n.host = h
	n.bstore = bstore

	// Bitswap speaks the standard /ipfs/bitswap protocols (no prefix) so it
	// interoperates with Kubo. Content routing goes through the DHT: the
	// client wraps it in boxo's ProviderQueryManager, which bounds parallel
	// lookups and dials the providers it finds.
	bopts := []bitswap.Option{
		bitswap.ProviderSearchDelay(cfg.ProviderSearchDelay),
		bitswap.SetSendDontHaves(true),
	}
	t := cfg.Bitswap
	if t.MaxOutstandingBytesPerPeer > 0 {
		bopts = append(bopts, bitswap.MaxOutstandingBytesPerPeer(t.MaxOutstandingBytesPerPeer))
	}
	if t.EngineTaskWorkers > 0 {
		bopts = append(bopts, bitswap.EngineTaskWorkerCount(t.EngineTaskWorkers))
	}
	if t.TaskWorkers > 0 {
		bopts = append(bopts, bitswap.TaskWorkerCount(t.TaskWorkers))
	}
	if t.TargetMessageSize > 0 {
		bopts = append(bopts, bitswap.WithTargetMessageSize(t.TargetMessageSize))
	}
	if t.MaxWantlistPerPeer > 0 {
		bopts = append(bopts, bitswap.MaxQueuedWantlistEntriesPerPeer(t.MaxWantlistPerPeer))
	}
	// Bitswap starts before the DHT: dht.New dials the bootstrap peers at
	// once, and a connection made before bitswap registers for network
	// notifications is one bitswap never hears of, so it would never send
	// that peer a want. Its provider lookups reach the DHT made next.
	finder := &dhtFinder{}
	n.bs = bitswap.New(n.ctx, bsnet.NewFromIpfsHost(h), finder, bstore, bopts...)

	var mode dht.ModeOpt
	switch cfg.DHTMode {
	case DHTModeClient:
		mode = dht.ModeClient
	case DHTModeAuto:
		mode = dht.ModeAuto
	default:
		mode = dht.ModeServer
	}
	// dht.New on its own (unlike the dual LAN/WAN DHT Kubo uses) applies no
	// address, query or routing-table filters, so loopback and private
	// addresses are kept: the DHT works on 127.0.0.1 devnets and LANs.
	n.dht, err = dht.New(h,
		dht.ProtocolPrefix(protocol.ID(cfg.DHTPrefix)),
		dht.Mode(mode),
		dht.BootstrapPeers(n.bootstrap...),
	)
	if err != nil {
		return fmt.Errorf("dht: %w", err)
	}
	finder.dht = n.dht

	n.ps, err = pubsub.NewGossipSub(n.ctx, h,
		pubsub.WithMessageSignaturePolicy(pubsub.StrictSign),
		pubsub.WithPeerExchange(true),
	)
	if err != nil {
		return fmt.Errorf("gossipsub: %w", err)
	}
	if err := n.ps.RegisterTopicValidator(cfg.AdvertTopic, n.validateAdvert); err != nil {
		return fmt.Errorf("gossipsub validator: %w", err)
	}
	if n.topic, err = n.ps.Join(cfg.AdvertTopic); err != nil {
		return fmt.Errorf("gossipsub join: %w", err)
	}
	if n.sub, err = n.topic.Subscribe(); err != nil {
		return fmt.Errorf("gossipsub subscribe: %w", err)
	}
	if n.topicEvts, err = n.topic.EventHandler(); err != nil {
		return fmt.Errorf("gossipsub events: %w", err)
	}

	n.exch = &blockExchange{bs: n.bs}
	h.SetStreamHandler(protocol.ID(ProtoDAG), n.serveDAG)
	n.advertSeq.Store(uint64(time.Now().UnixNano()))
	return nil
}

// dhtFinder hands bitswap's provider lookups to the DHT, which build sets
// before the node can fetch anything.
type dhtFinder struct{ dht *dht.IpfsDHT }

func (f *dhtFinder) FindProvidersAsync(ctx context.Context, c cid.Cid, max int) <-chan peer.AddrInfo {
	return f.dht.FindProvidersAsync(ctx, c, max)
}

// Start listens on the configured addresses, starts the node's loops,
// connects to the bootstrap peers (failures are logged, not returned: a node
// must come up offline) and starts mDNS if enabled. It returns an error only
// if the node cannot listen. Calling Start again returns the first result.
func (n *Node) Start(ctx context.Context) error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return ErrClosed
	}
	if n.started {
		err := n.startErr
		n.mu.Unlock()
		return err
	}
	n.started = true
	n.startErr = n.startLocked()
	err := n.startErr
	n.mu.Unlock()
	if err != nil {
		return err
	}
	n.connectBootstrap(ctx)
	if err := n.dht.Bootstrap(n.ctx); err != nil {
		n.log.Warn("dht bootstrap", "err", err)
	}
	n.log.Info("p2p node started", "addrs", n.Addrs())
	return nil
}

// startLocked runs with n.mu held so that Close cannot race the wg.Add calls.
func (n *Node) startLocked() error {
	for _, s := range n.cfg.ListenAddrs {
		a, err := ma.NewMultiaddr(s)
		if err != nil {
			return fmt.Errorf("p2p: start: listen addr %q: %w", s, err)
		}
		if err := n.host.Network().Listen(a); err != nil {
			return fmt.Errorf("p2p: start: listen on %s: %w", s, err)
		}
	}
	n.goroutine(n.advertLoop)
	n.goroutine(n.receiveLoop)
	n.goroutine(n.topicEventLoop)
	for i := 0; i < n.cfg.ProvideWorkers; i++ {
		n.goroutine(n.provideWorker)
	}
	if n.cfg.EnableMDNS {
		found := make(chan peer.AddrInfo, 16)
		n.mdns = mdns.NewMdnsService(n.host, n.cfg.MDNSServiceName, mdnsNotifee(found))
		if err := n.mdns.Start(); err != nil {
			return fmt.Errorf("p2p: start: mdns: %w", err)
		}
		n.goroutine(func(ctx context.Context) { n.mdnsLoop(ctx, found) })
	}
	return nil
}

// goroutine runs f(n.ctx) in a goroutine that Close waits for.
func (n *Node) goroutine(f func(ctx context.Context)) {
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		f(n.ctx)
	}()
}

// connectBootstrap dials every bootstrap peer concurrently and waits for
// all attempts. ctx or Close abort the dials.
func (n *Node) connectBootstrap(ctx context.Context) {
	if len(n.bootstrap) == 0 {
		return
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(n.ctx, cancel)
	defer stop()
	var wg sync.WaitGroup
	var ok atomic.Int32
	for _, ai := range n.bootstrap {
		if ai.ID == n.host.ID() {
			continue
		}
		n.host.ConnManager().Protect(ai.ID, bootstrapTag)
		wg.Add(1)
		go func(ai peer.AddrInfo) {
			defer wg.Done()
			dctx, cancel := context.WithTimeout(ctx, n.cfg.DialTimeout)
			defer cancel()
			if err := n.host.Connect(dctx, ai); err != nil {
				n.log.Warn("bootstrap peer unreachable", "bootstrap", ai.ID.String(), "err", err)
				return
			}
			ok.Add(1)
		}(ai)
	}
	wg.Wait()
	n.log.Debug("bootstrap done", "connected", ok.Load(), "of", len(n.bootstrap))
}

type mdnsNotifee chan<- peer.AddrInfo

// HandlePeerFound hands the peer to mdnsLoop without blocking mDNS.
func (f mdnsNotifee) HandlePeerFound(ai peer.AddrInfo) {
	select {
	case f <- ai:
	default:
	}
}

func (n *Node) mdnsLoop(ctx context.Context, found <-chan peer.AddrInfo) {
	for {
		select {
		case <-ctx.Done():
			return
		case ai := <-found:
			if ai.ID == n.host.ID() || n.host.Network().Connectedness(ai.ID) == network.Connected {
				continue
			}
			dctx, cancel := context.WithTimeout(ctx, n.cfg.DialTimeout)
			if err := n.host.Connect(dctx, ai); err != nil {
				n.log.Debug("mdns peer unreachable", "found", ai.ID.String(), "err", err)
			}
			cancel()
		}
	}
}

// Close stops the node's goroutines and closes bitswap, gossipsub, the DHT
// and the host. It is idempotent; later calls return the first result.
func (n *Node) Close() error {
	n.mu.Lock()
	if n.closed {
		err := n.closeErr
		n.mu.Unlock()
		return err
	}
	n.closed = true
	// Holding mu while tearing down makes concurrent Close calls wait for
	// the first one and then see its result.
	n.closeErr = n.teardown()
	err := n.closeErr
	n.mu.Unlock()
	return err
}

// teardown releases whatever build and Start created, in reverse order.
func (n *Node) teardown() error {
	n.cancel()
	n.provq.close()
	n.wg.Wait()
	var errs []error
	if n.mdns != nil {
		errs = append(errs, n.mdns.Close())
	}
	if n.bs != nil {
		errs = append(errs, n.bs.Close())
	}
	if n.topicEvts != nil {
		n.topicEvts.Cancel()
	}
	if n.sub != nil {
		n.sub.Cancel()
	}
	if n.dht != nil {
		errs = append(errs, n.dht.Close())
	}
	if n.host != nil {
		errs = append(errs, n.host.Close())
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("p2p: close: %w", err)
	}
	return nil
}

func (n *Node) isClosed() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.closed
}

// ID returns the node's peer ID (base58).
func (n *Node) ID() string { return n.host.ID().String() }

// Addrs returns the node's listen addresses as full multiaddrs ending in
// /p2p/<ID>, ready to hand to another node's Connect or Bootstrap. Empty
// before Start.
func (n *Node) Addrs() []string {
	ai := peer.AddrInfo{ID: n.host.ID(), Addrs: n.host.Addrs()}
	full, err := peer.AddrInfoToP2pAddrs(&ai)
	if err != nil {
		return nil
	}
	out := make([]string, len(full))
	for i, a := range full {
		out[i] = a.String()
	}
	return out
}

// Connect dials the peer at addr, a full multiaddr ending in /p2p/<ID>.
func (n *Node) Connect(ctx context.Context, addr string) error {
	if n.isClosed() {
		return ErrClosed
	}
	ai, err := parseP2PAddr(addr)
	if err != nil {
		return fmt.Errorf("p2p: connect: %w", err)
	}
	if ai.ID == n.host.ID() {
		return fmt.Errorf("p2p: connect %s: cannot connect to self", addr)
	}
	ctx, cancel := context.WithTimeout(ctx, n.cfg.DialTimeout)
	defer cancel()
	if err := n.host.Connect(ctx, ai); err != nil {
		return fmt.Errorf("p2p: connect %s: %w", addr, err)
	}
	return nil
}

// PeerInfo describes one connected peer.
type PeerInfo struct {
	// ID is the peer's ID.
	ID string
	// Addr is the remote multiaddr of the (first) connection.
	Addr string
	// Direction is "inbound" or "outbound".
	Direction string
	// Latency is the smoothed round-trip time measured by pings and DHT
	// queries; 0 if not measured yet.
	Latency time.Duration
}

// Peers lists the connected peers, sorted by ID.
func (n *Node) Peers() []PeerInfo {
	var out []PeerInfo
	for _, p := range n.host.Network().Peers() {
		conns := n.host.Network().ConnsToPeer(p)
		if len(conns) == 0 {
			continue
		}
		out = append(out, PeerInfo{
			ID:        p.String(),
			Addr:      conns[0].RemoteMultiaddr().String(),
			Direction: conns[0].Stat().Direction.String(),
			Latency:   n.host.Peerstore().LatencyEWMA(p),
		})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Ping measures the round-trip time to a peer (connected, or dialable from
// known addresses) and records it for Peers.
func (n *Node) Ping(ctx context.Context, peerID string) (time.Duration, error) {
	if n.isClosed() {
		return 0, ErrClosed
	}
	pid, err := peer.Decode(peerID)
	if err != nil {
		return 0, fmt.Errorf("p2p: ping: peer id %q: %w", peerID, err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // stops the ping stream
	select {
	case res := <-ping.Ping(ctx, n.host, pid):
		if res.Error != nil {
			return 0, fmt.Errorf("p2p: ping %s: %w", peerID, res.Error)
		}
		return res.RTT, nil
	case <-ctx.Done():
		return 0, fmt.Errorf("p2p: ping %s: %w", peerID, ctx.Err())
	}
}

// Capabilities returns the live capability index: the latest advert of every
// peer heard from within the advert TTL, this node included, sorted by peer
// ID.
func (n *Node) Capabilities() []capability.Advert {
	return n.index.Adverts(time.Now())
}

// Exchange returns the bitswap block exchange (client and server on the
// standard /ipfs/bitswap protocols). It also implements
// exchange.SessionExchange. Its Close is a no-op: Node.Close stops bitswap.
func (n *Node) Exchange() exchange.SessionExchange { return n.exch }

// Provide queues cids for announcement as provider records in the DHT and
// returns once they are queued; announcing happens in the background (see
// Stats). cids[0] is treated as the root of the batch: it goes to a priority
// lane served before the non-root CIDs of earlier calls. CIDs already queued
// or announced within Config.ProvideDedupWindow are skipped. Provide blocks
// while Config.ProvideQueueLimit CIDs are pending, until ctx ends. It may be
// called before Start; announcing starts with Start.
func (n *Node) Provide(ctx context.Context, cids ...cid.Cid) error {
	if n.isClosed() {
		return ErrClosed
	}
	if err := n.provq.push(ctx, time.Now(), cids); err != nil {
		if errors.Is(err, errQueueClosed) {
			return ErrClosed
		}
		return fmt.Errorf("p2p: provide: %w", err)
	}
	return nil
}

// FindProviders returns the IDs of the peers that provider records in the
// DHT name for c (this node first when it provides c itself), at most max
// of them (0: no limit). The lookup runs until the DHT query completes, max
// are found or ctx ends; what was found by then is the answer, so a lookup
// cut short by ctx is not an error. It fails only on a closed node.
func (n *Node) FindProviders(ctx context.Context, c cid.Cid, max int) ([]string, error) {
	if n.isClosed() {
		return nil, ErrClosed
	}
	if max < 0 {
		max = 0
	}
	var out []string
	seen := map[peer.ID]bool{}
	for ai := range n.dht.FindProvidersAsync(ctx, c, max) {
		if ai.ID == "" || seen[ai.ID] {
			continue
		}
		seen[ai.ID] = true
		out = append(out, ai.ID.String())
	}
	return out, nil
}

func (n *Node) provideWorker(ctx context.Context) {
	for {
		c, err := n.provq.pop(ctx)
		if err != nil {
			return
		}
		err = n.provideOne(ctx, c)
		n.provq.done(c, err == nil, time.Now())
		switch {
		case err == nil:
			n.counters.provided.Add(1)
		case ctx.Err() != nil:
			return
		default:
			n.counters.provideFailed.Add(1)
			n.log.Warn("dht provide failed", "cid", c.String(), "err", err)
		}
	}
}

// provideOne announces c, waiting first for a non-empty routing table (an
// announcement needs someone to announce to) and retrying with backoff.
func (n *Node) provideOne(ctx context.Context, c cid.Cid) error {
	backoff := time.Second
	for attempt := 1; ; attempt++ {
		if err := n.waitRoutingTable(ctx); err != nil {
			return err
		}
		pctx, cancel := context.WithTimeout(ctx, n.cfg.ProvideTimeout)
		err := n.dht.Provide(pctx, c, true)
		cancel()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil || attempt == maxProvideAttempts {
			return err
		}
		n.log.Debug("dht provide retry", "cid", c.String(), "attempt", attempt, "err", err)
		if err := sleepCtx(ctx, backoff); err != nil {
			return err
		}
		backoff *= 2
	}
}

func (n *Node) waitRoutingTable(ctx context.Context) error {
	const poll = 100 * time.Millisecond
	for n.dht.RoutingTable().Size() == 0 {
		if err := sleepCtx(ctx, poll); err != nil {
			return err
		}
	}
	return nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Stats is a snapshot of the node's counters, for metrics.
type Stats struct {
	// ConnectedPeers is the number of peers with an open connection.
	ConnectedPeers int
	// DHTRoutingTableSize is the number of peers in the DHT routing table.
	DHTRoutingTableSize int
	// Bitswap client and server counters since start.
	BlocksReceived, BlocksSent         uint64
	DataReceived, DataSent             uint64 // bytes of block data
	DupBlocksReceived, DupDataReceived uint64
	MessagesReceived                   uint64
	// WantlistSize is the number of CIDs this node currently wants.
	WantlistSize int
	// ProvidePending is the number of CIDs queued or being announced;
	// Provided and ProvideFailed count finished announcements.
	ProvidePending          int
	Provided, ProvideFailed uint64
	// CapabilityPeers is the size of the live capability index (self included).
	CapabilityPeers int
	// Advert counters: published by this node; received (valid, from
	// others); rejected by validation (malformed or PeerID not matching the
	// signed origin); stale (older Seq than held).
	AdvertsPublished, AdvertsReceived, AdvertsRejected, AdvertsStale uint64
}

// Stats returns current counters.
func (n *Node) Stats() Stats {
	s := Stats{
		ConnectedPeers:      len(n.host.Network().Peers()),
		DHTRoutingTableSize: n.dht.RoutingTable().Size(),
		ProvidePending:      n.provq.len(),
		Provided:            n.counters.provided.Load(),
		ProvideFailed:       n.counters.provideFailed.Load(),
		CapabilityPeers:     n.index.Len(time.Now()),
		AdvertsPublished:    n.counters.advertsPublished.Load(),
		AdvertsReceived:     n.counters.advertsReceived.Load(),
		AdvertsRejected:     n.counters.advertsRejected.Load(),
		AdvertsStale:        n.counters.advertsStale.Load(),
	}
	if bst, err := n.bs.Stat(); err == nil {
		s.BlocksReceived = bst.BlocksReceived
		s.BlocksSent = bst.BlocksSent
		s.DataReceived = bst.DataReceived
		s.DataSent = bst.DataSent
		s.DupBlocksReceived = bst.DupBlksReceived
		s.DupDataReceived = bst.DupDataReceived
		s.MessagesReceived = bst.MessagesReceived
		s.WantlistSize = len(bst.Wantlist)
	}
	return s
}

// parseP2PAddr parses a full multiaddr ending in /p2p/<ID>.
func parseP2PAddr(s string) (peer.AddrInfo, error) {
	a, err := ma.NewMultiaddr(s)
	if err != nil {
		return peer.AddrInfo{}, fmt.Errorf("addr %q: %w", s, err)
	}
	ai, err := peer.AddrInfoFromP2pAddr(a)
	if err != nil {
		return peer.AddrInfo{}, fmt.Errorf("addr %q: want a multiaddr ending in /p2p/<peer id>: %w", s, err)
	}
	return *ai, nil
}

package p2p

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"
	"time"

	"github.com/ipdm/ipdm/capability"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/prometheus/client_golang/prometheus"
)

// DHT modes accepted by Config.DHTMode.
const (
	// DHTModeServer answers DHT queries and stores records for others. It is
	// the default: IPDM networks are small and often run on private or
	// loopback addresses where automatic detection would pick client mode.
	DHTModeServer = "server"
	// DHTModeClient only queries the DHT.
	DHTModeClient = "client"
	// DHTModeAuto switches between client and server on AutoNAT reachability.
	DHTModeAuto = "auto"
)

// Defaults applied by Config.withDefaults to zero-valued fields.
const (
	DefaultDHTPrefix           = "/ipdm"
	DefaultAdvertTopic         = "/ipdm/capabilities/v1"
	DefaultAdvertInterval      = 30 * time.Second
	DefaultProviderSearchDelay = time.Second
	DefaultProvideWorkers      = 4
	DefaultProvideTimeout      = time.Minute
	DefaultProvideQueueLimit   = 1 << 20
	DefaultProvideDedupWindow  = time.Hour
	DefaultConnLow             = 100
	DefaultConnHigh            = 400
	DefaultConnGrace           = time.Minute
	DefaultDialTimeout         = 15 * time.Second
	DefaultMDNSServiceName     = "_ipdm-discovery"
	// DefaultBitswapMaxOutstandingBytesPerPeer replaces boxo's 1 MiB: with
	// 1 MiB blocks, 1 MiB lets the server send one block at a time to a
	// peer; 16 MiB keeps several in flight and raised loopback throughput
	// from ~440 to ~650 MiB/s in BenchmarkTransfer64MiBTuning.
	DefaultBitswapMaxOutstandingBytesPerPeer = 16 << 20
	// MaxBitswapTargetMessageSize bounds BitswapTuning.TargetMessageSize.
	MaxBitswapTargetMessageSize = 2 << 20
)

// DefaultListenAddrs are used when Config.ListenAddrs is empty: TCP and
// QUIC-v1 on every IPv4 interface, on ports chosen by the kernel.
var DefaultListenAddrs = []string{"/ip4/0.0.0.0/tcp/0", "/ip4/0.0.0.0/udp/0/quic-v1"}

// ErrInvalidConfig is wrapped by every error from Config.Validate.
var ErrInvalidConfig = errors.New("p2p: invalid config")

// Config configures a Node. The zero value is usable: it yields a node with
// a fresh ephemeral identity listening on DefaultListenAddrs, no bootstrap
// peers, mDNS off, the "/ipdm" DHT in server mode and capability adverts
// every 30 s.
type Config struct {
	// Identity is the node's private key. Nil generates an ephemeral key
	// (a new peer ID on every start): fine for tests, not for a daemon.
	Identity ed25519.PrivateKey

	// ListenAddrs are the multiaddrs to listen on (no /p2p component).
	// Empty means DefaultListenAddrs. Tests use "/ip4/127.0.0.1/tcp/0" and
	// "/ip4/127.0.0.1/udp/0/quic-v1".
	ListenAddrs []string

	// AnnounceAddrs, when set, replace the listen addresses the node tells
	// other peers about (identify, DHT records, adverts).
	AnnounceAddrs []string

	// Bootstrap are full multiaddrs (".../p2p/<peer ID>") of peers to connect
	// to on Start and to fall back on when the DHT routing table empties.
	// They are protected from the connection manager's trimming.
	Bootstrap []string

	// EnableMDNS turns on multicast DNS discovery of peers on the local
	// network. Off by default (it sends multicast traffic).
	EnableMDNS bool
	// MDNSServiceName is the mDNS service tag; default DefaultMDNSServiceName.
	MDNSServiceName string

	// DHTPrefix is the protocol prefix of the Kademlia DHT; default
	// DefaultDHTPrefix ("/ipdm", i.e. protocol "/ipdm/kad/1.0.0"). It keeps
	// IPDM's DHT separate from the public IPFS Amino DHT.
	DHTPrefix string
	// DHTMode is DHTModeServer (default), DHTModeClient or DHTModeAuto.
	DHTMode string

	// AdvertTopic is the gossipsub topic carrying capability adverts;
	// default DefaultAdvertTopic.
	AdvertTopic string
	// AdvertInterval is how often the node publishes its capability advert;
	// default DefaultAdvertInterval.
	AdvertInterval time.Duration
	// AdvertTTL is how long a peer stays in the capability index after its
	// last advert; default 3 × AdvertInterval. Must exceed AdvertInterval.
	AdvertTTL time.Duration

	// Roles this node advertises (capability.RoleProcessing, RoleStorage,
	// RoleGateway). Empty advertises a plain peer.
	Roles []string
	// Version is the software version advertised and used as the libp2p
	// user agent; default "ipdm/<module version>".
	Version string
	// Cores advertised; 0 measures runtime.NumCPU().
	Cores int
	// MemoryBytes advertised; 0 measures total system memory where the
	// platform allows (Linux), else advertises 0 (unknown).
	MemoryBytes uint64
	// FreeDiskBytes advertised; 0 measures the free space of the file
	// system holding DiskPath at every advert (0 if DiskPath is empty).
	FreeDiskBytes uint64
	// DiskPath is the directory whose file system's free space is measured
	// when FreeDiskBytes is 0 (typically the block store directory).
	DiskPath string

	// ProviderSearchDelay is how long a bitswap session asks connected
	// peers before it also looks up providers in the DHT; default
	// DefaultProviderSearchDelay.
	ProviderSearchDelay time.Duration
	// Bitswap tunes the bitswap engine; zero fields take defaults.
	Bitswap BitswapTuning

	// ProvideWorkers is the number of concurrent DHT provide operations;
	// default DefaultProvideWorkers.
	ProvideWorkers int
	// ProvideTimeout bounds a single DHT provide; default DefaultProvideTimeout.
	ProvideTimeout time.Duration
	// ProvideQueueLimit is the number of pending CIDs above which Provide
	// blocks; default DefaultProvideQueueLimit.
	ProvideQueueLimit int
	// ProvideDedupWindow: a CID announced successfully less than this long
	// ago is not queued again; default DefaultProvideDedupWindow.
	ProvideDedupWindow time.Duration

	// ConnLow and ConnHigh are the connection manager watermarks: above
	// ConnHigh connections, unprotected ones are trimmed down to ConnLow.
	// Defaults DefaultConnLow and DefaultConnHigh.
	ConnLow, ConnHigh int
	// ConnGrace is how long a new connection is exempt from trimming;
	// default DefaultConnGrace.
	ConnGrace time.Duration

	// ResourceMaxMemory caps the memory the libp2p resource manager lets
	// connections and streams reserve; 0 scales the limits to 1/8 of system
	// memory (go-libp2p's autoscaling).
	ResourceMaxMemory int64
	// ResourceMaxFDs caps file descriptors for libp2p when ResourceMaxMemory
	// is set; 0 means 512.
	ResourceMaxFDs int

	// DialTimeout bounds a single Connect and every bootstrap dial; default
	// DefaultDialTimeout.
	DialTimeout time.Duration

	// DisableNATTraversal turns off AutoNAT (v1 service and v2 client),
	// hole punching and the relay client. They are on by default.
	DisableNATTraversal bool

	// MetricsRegisterer receives libp2p's Prometheus metrics. Nil disables
	// libp2p metrics (Node.Stats still works).
	MetricsRegisterer prometheus.Registerer

	// Logger receives the node's own logs; nil discards them. (libp2p and
	// boxo log through go-log, configured separately.)
	Logger *slog.Logger
}

// BitswapTuning holds bitswap engine knobs. Zero fields take the defaults
// noted per field.
type BitswapTuning struct {
	// MaxOutstandingBytesPerPeer is how many bytes the server keeps in
	// flight to one peer; default DefaultBitswapMaxOutstandingBytesPerPeer
	// (16 MiB; boxo's own default is 1 MiB).
	MaxOutstandingBytesPerPeer int
	// EngineTaskWorkers is the number of decision-engine workers preparing
	// outgoing blocks (boxo default 8).
	EngineTaskWorkers int
	// TaskWorkers is the number of workers sending outgoing messages (boxo
	// default 8).
	TaskWorkers int
	// TargetMessageSize is the size the server aims for per message (boxo
	// default 16 KiB; a larger block is always sent whole). At most
	// MaxBitswapTargetMessageSize: a message can overshoot the target by one
	// block and receivers drop messages over 4 MiB.
	TargetMessageSize int
	// MaxWantlistPerPeer bounds the wants kept per peer (boxo default 1024).
	MaxWantlistPerPeer uint
}

// withDefaults returns a copy of c with zero fields replaced by defaults.
func (c Config) withDefaults() Config {
	if len(c.ListenAddrs) == 0 {
		c.ListenAddrs = append([]string(nil), DefaultListenAddrs...)
	}
	if c.MDNSServiceName == "" {
		c.MDNSServiceName = DefaultMDNSServiceName
	}
	if c.DHTPrefix == "" {
		c.DHTPrefix = DefaultDHTPrefix
	}
	if c.DHTMode == "" {
		c.DHTMode = DHTModeServer
	}
	if c.AdvertTopic == "" {
		c.AdvertTopic = DefaultAdvertTopic
	}
	if c.AdvertInterval == 0 {
		c.AdvertInterval = DefaultAdvertInterval
	}
	if c.AdvertTTL == 0 {
		c.AdvertTTL = 3 * c.AdvertInterval
	}
	if c.Version == "" {
		c.Version = defaultVersion()
	}
	if c.ProviderSearchDelay == 0 {
		c.ProviderSearchDelay = DefaultProviderSearchDelay
	}
	if c.ProvideWorkers == 0 {
		c.ProvideWorkers = DefaultProvideWorkers
	}
	if c.ProvideTimeout == 0 {
		c.ProvideTimeout = DefaultProvideTimeout
	}
	if c.ProvideQueueLimit == 0 {
		c.ProvideQueueLimit = DefaultProvideQueueLimit
	}
	if c.ProvideDedupWindow == 0 {
		c.ProvideDedupWindow = DefaultProvideDedupWindow
	}
	if c.Bitswap.MaxOutstandingBytesPerPeer == 0 {
		c.Bitswap.MaxOutstandingBytesPerPeer = DefaultBitswapMaxOutstandingBytesPerPeer
	}
	if c.ConnLow == 0 && c.ConnHigh == 0 {
		c.ConnLow, c.ConnHigh = DefaultConnLow, DefaultConnHigh
	}
	if c.ConnGrace == 0 {
		c.ConnGrace = DefaultConnGrace
	}
	if c.ResourceMaxMemory != 0 && c.ResourceMaxFDs == 0 {
		c.ResourceMaxFDs = 512
	}
	if c.DialTimeout == 0 {
		c.DialTimeout = DefaultDialTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

func defaultVersion() string {
	v := "(devel)"
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		v = bi.Main.Version
	}
	return "ipdm/" + v
}

// Validate reports the first problem with c (after defaults are applied).
// The error wraps ErrInvalidConfig.
func (c Config) Validate() error {
	c = c.withDefaults()
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidConfig, fmt.Sprintf(format, args...))
	}
	if c.Identity != nil && len(c.Identity) != ed25519.PrivateKeySize {
		return bad("identity: ed25519 private key is %d bytes, want %d", len(c.Identity), ed25519.PrivateKeySize)
	}
	for _, s := range c.ListenAddrs {
		a, err := ma.NewMultiaddr(s)
		if err != nil {
			return bad("listen addr %q: %v", s, err)
		}
		if _, err := a.ValueForProtocol(ma.P_P2P); err == nil {
			return bad("listen addr %q must not contain /p2p", s)
		}
	}
	for _, s := range c.AnnounceAddrs {
		if _, err := ma.NewMultiaddr(s); err != nil {
			return bad("announce addr %q: %v", s, err)
		}
	}
	for _, s := range c.Bootstrap {
		if _, err := parseP2PAddr(s); err != nil {
			return bad("bootstrap: %v", err)
		}
	}
	if !strings.HasPrefix(c.DHTPrefix, "/") || strings.HasSuffix(c.DHTPrefix, "/") {
		return bad("dht prefix %q must start with / and not end with /", c.DHTPrefix)
	}
	if c.DHTPrefix == "/ipfs" {
		return bad("dht prefix /ipfs is the public Amino DHT; IPDM runs its own")
	}
	switch c.DHTMode {
	case DHTModeServer, DHTModeClient, DHTModeAuto:
	default:
		return bad("dht mode %q (want %s, %s or %s)", c.DHTMode, DHTModeServer, DHTModeClient, DHTModeAuto)
	}
	if c.AdvertInterval < 0 || c.AdvertTTL < 0 {
		return bad("advert interval and ttl must be positive")
	}
	if c.AdvertTTL <= c.AdvertInterval {
		return bad("advert ttl %v must exceed advert interval %v", c.AdvertTTL, c.AdvertInterval)
	}
	probe := capability.Advert{
		PeerID:        "QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N",
		Roles:         c.Roles,
		Cores:         c.Cores,
		MemoryBytes:   c.MemoryBytes,
		FreeDiskBytes: c.FreeDiskBytes,
		Version:       c.Version,
	}
	if err := probe.Validate(); err != nil {
		return bad("capabilities: %v", err)
	}
	if c.ProviderSearchDelay < 0 || c.ProvideTimeout < 0 || c.ProvideDedupWindow < 0 || c.ConnGrace < 0 || c.DialTimeout < 0 {
		return bad("durations must not be negative")
	}
	if c.ProvideWorkers < 0 || c.ProvideQueueLimit < 0 {
		return bad("provide workers and queue limit must not be negative")
	}
	if c.ConnLow < 0 || c.ConnHigh <= 0 || c.ConnLow > c.ConnHigh {
		return bad("connection watermarks low %d high %d: want 0 <= low <= high, high > 0", c.ConnLow, c.ConnHigh)
	}
	if c.ResourceMaxMemory < 0 || c.ResourceMaxFDs < 0 {
		return bad("resource limits must not be negative")
	}
	t := c.Bitswap
	if t.MaxOutstandingBytesPerPeer < 0 || t.EngineTaskWorkers < 0 || t.TaskWorkers < 0 || t.TargetMessageSize < 0 {
		return bad("bitswap tuning values must not be negative")
	}
	if t.TargetMessageSize > MaxBitswapTargetMessageSize {
		return bad("bitswap target message size %d exceeds %d", t.TargetMessageSize, MaxBitswapTargetMessageSize)
	}
	return nil
}

package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/ipfs/boxo/blockservice"
	"github.com/ipfs/boxo/blockstore"
	"github.com/ipfs/boxo/exchange"
	"github.com/ipfs/boxo/exchange/offline"
	"github.com/ipfs/boxo/ipld/merkledag"
	pebbleds "github.com/ipfs/go-ds-pebble"
	ipld "github.com/ipfs/go-ipld-format"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ipdm/ipdm/gateway"
	"github.com/ipdm/ipdm/jobs/service"
	"github.com/ipdm/ipdm/modules"
	"github.com/ipdm/ipdm/p2p"
	"github.com/ipdm/ipdm/pipeline/engine"
	"github.com/ipdm/ipdm/repo"
	"github.com/ipdm/ipdm/storage/blocks"
	"github.com/ipdm/ipdm/storage/pin"
	"github.com/ipdm/ipdm/wasm"
)

// Version is reported in adverts and by 'ipdm id'.
const Version = "ipdm/0.1.0"

// ErrOffline is returned by operations that need the network when the node
// was opened without it.
var ErrOffline = errors.New("node is offline")

// Options tunes New. Config values come from the repo; these are the parts
// the process decides.
type Options struct {
	// Online starts the libp2p host, DHT, gossipsub and bitswap, and the
	// HTTP listeners. Offline nodes serve the CLI directly.
	Online bool
	// Config overrides the repo's config when non-nil (flags applied).
	Config *repo.Config
	// Logger receives structured logs. Nil discards them.
	Logger *slog.Logger
	// Fault "lie" makes this node's executions report wrong results. TEST
	// ONLY: it exists so tests and operators can watch detection work.
	Fault string
}

// Node is an assembled IPDM node.
type Node struct {
	repo   *repo.Repo
	cfg    repo.Config
	log    *slog.Logger
	online bool

	blocks *blocks.Disk
	meta   *pebbleds.Datastore
	pins   *pin.Pinner
	host   *p2p.Node // nil offline
	exch   exchange.Interface
	bserv  blockservice.BlockService
	dag    ipld.DAGService
	// plans keeps the plans of recent pipeline segment tasks.
	plans engine.PlanCache

	wasm     *wasm.Runtime
	registry *modules.Registry
	jobs     *service.Service // nil offline

	reg     *prometheus.Registry
	servers []*http.Server
	wg      sync.WaitGroup

	apiAddr, gwAddr string

	closeOnce sync.Once
	closeErr  error
}

// New opens the node's stores (and, online, its libp2p host) on an opened
// repo. The node takes ownership of r and closes it on Close.
func New(ctx context.Context, r *repo.Repo, opts Options) (n *Node, err error) {
	cfg := r.Config()
	if opts.Config != nil {
		cfg = *opts.Config
	}
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	n = &Node{repo: r, cfg: cfg, log: log, online: opts.Online, reg: prometheus.NewRegistry()}
	defer func() {
		if err != nil {
			n.Close()
		}
	}()
	if n.blocks, err = blocks.OpenDisk(r.BlocksPath(), blocks.DiskOptions{Logger: log}); err != nil {
		return nil, fmt.Errorf("open block store: %w", err)
	}
	if n.meta, err = pin.OpenMeta(r.MetaPath()); err != nil {
		return nil, fmt.Errorf("open metadata store: %w", err)
	}
	n.pins = pin.New(n.meta, pin.Options{})
	n.registry = modules.NewRegistry(n.meta)
	if n.wasm, err = wasm.New(ctx, wasm.Config{CacheDir: filepath.Join(r.Path(), "wasm-cache")}); err != nil {
		return nil, fmt.Errorf("wasm runtime: %w", err)
	}
	if opts.Online {
		n.host, err = p2p.New(ctx, p2p.Config{
			Identity:       r.Key(),
			ListenAddrs:    cfg.Listen,
			Bootstrap:      cfg.Bootstrap,
			EnableMDNS:     cfg.MDNSEnabled(),
			AdvertInterval: cfg.AdvertInterval,
			Roles:          cfg.Roles,
			Version:        Version,
			Cores:          runtime.NumCPU(),
			DiskPath:       r.BlocksPath(),
			Logger:         log,
		}, n.blocks)
		if err != nil {
			return nil, fmt.Errorf("start libp2p: %w", err)
		}
		n.exch = stallExchange{SessionExchange: n.host.Exchange(), d: cfg.FetchTimeout}
	} else {
		n.exch = offline.Exchange(n.blocks)
	}
	// Identity CIDs carry their data inline; the IdStore answers them
	// without touching disk or network, as Kubo does. The empty block is
	// answered from its CID too: bitswap cannot move a zero-length block.
	n.bserv = blockservice.New(blocks.KnownEmpty(blockstore.NewIdStore(n.blocks)), n.exch)
	n.dag = merkledag.NewDAGService(n.bserv)
	if opts.Online {
		if n.jobs, err = n.newJobService(opts); err != nil {
			return nil, err
		}
	}
	n.registerMetrics()
	return n, nil
}

// Start connects to the network and opens the HTTP listeners, then writes
// their addresses to the repo's api and gateway files. Only online nodes
// start anything.
func (n *Node) Start(ctx context.Context) error {
	if !n.online {
		return nil
	}
	n.host.Handle(protoModuleAnnounce, n.handleModuleAnnounce)
	n.host.Handle(protoModuleResolve, n.handleModuleResolve)
	n.host.Handle(protoPin, n.handlePin)
	n.host.Handle(protoSegmentCache, n.handleSegmentCache)
	if err := n.jobs.Start(ctx); err != nil {
		return fmt.Errorf("start jobs: %w", err)
	}
	if err := n.host.Start(ctx); err != nil {
		return fmt.Errorf("start libp2p: %w", err)
	}
	metrics, err := gateway.NewMetrics(n.reg)
	if err != nil {
		return err
	}
	apiHandler := gateway.NewAPI(n, gateway.APIOptions{
		Metrics:        metrics,
		MetricsHandler: promhttp.HandlerFor(n.reg, promhttp.HandlerOpts{}),
	})
	gwHandler, err := gateway.NewTrustless(n.bserv, gateway.TrustlessOptions{
		RequestTimeout: n.cfg.FetchTimeout,
		Registry:       n.reg,
	})
	if err != nil {
		return err
	}
	gwHandler = metrics.Wrap("gateway", gwHandler)
	if n.apiAddr, err = n.serve(n.cfg.API, apiHandler); err != nil {
		return fmt.Errorf("api listener: %w", err)
	}
	if n.gwAddr, err = n.serve(n.cfg.Gateway, gwHandler); err != nil {
		return fmt.Errorf("gateway listener: %w", err)
	}
	// The api file goes last: its presence tells the CLI and scripts the
	// daemon is ready, gateway file included.
	if err := n.repo.WriteAddr(repo.GatewayFile, n.gwAddr); err != nil {
		return err
	}
	if err := n.repo.WriteAddr(repo.APIFile, n.apiAddr); err != nil {
		return err
	}
	n.log.Info("node ready", "peer", n.host.ID(), "api", n.apiAddr, "gateway", n.gwAddr, "addrs", n.host.Addrs())
	return nil
}

func (n *Node) serve(addr string, h http.Handler) (string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	n.servers = append(n.servers, srv)
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			n.log.Error("http server stopped", "addr", ln.Addr().String(), "err", err)
		}
	}()
	return ln.Addr().String(), nil
}

// APIAddr and GatewayAddr are the listeners' real addresses once started.
func (n *Node) APIAddr() string     { return n.apiAddr }
func (n *Node) GatewayAddr() string { return n.gwAddr }

// Close stops everything in reverse start order and releases the repo.
func (n *Node) Close() error {
	n.closeOnce.Do(func() {
		var errs []error
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		for _, s := range n.servers {
			if err := s.Shutdown(ctx); err != nil {
				s.Close()
			}
		}
		n.wg.Wait()
		if n.online && n.repo != nil {
			errs = append(errs, n.repo.RemoveAddr(repo.APIFile), n.repo.RemoveAddr(repo.GatewayFile))
		}
		if n.jobs != nil {
			errs = append(errs, n.jobs.Close())
		}
		if n.bserv != nil {
			errs = append(errs, n.bserv.Close())
		}
		if n.host != nil {
			errs = append(errs, n.host.Close())
		}
		if n.wasm != nil {
			errs = append(errs, n.wasm.Close(context.Background()))
		}
		if n.meta != nil {
			errs = append(errs, n.meta.Close())
		}
		if n.blocks != nil {
			errs = append(errs, n.blocks.Close())
		}
		errs = append(errs, n.repo.Close())
		n.closeErr = errors.Join(errs...)
	})
	return n.closeErr
}

func (n *Node) registerMetrics() {
	n.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	stat := func(pick func(blocks.Stats) int64) func() float64 {
		return func() float64 {
			s, err := n.blocks.Stat(context.Background())
			if err != nil {
				return 0
			}
			return float64(pick(s))
		}
	}
	n.reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "ipdm_blocks_stored", Help: "Blocks in the block store."},
			stat(func(s blocks.Stats) int64 { return s.Blocks })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "ipdm_bytes_stored", Help: "Bytes in the block store."},
			stat(func(s blocks.Stats) int64 { return s.Bytes })),
	)
	if n.host == nil {
		return
	}
	p2pStat := func(pick func(p2p.Stats) float64) func() float64 {
		return func() float64 { return pick(n.host.Stats()) }
	}
	n.reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "ipdm_peers_connected", Help: "Connected libp2p peers."},
			p2pStat(func(s p2p.Stats) float64 { return float64(s.ConnectedPeers) })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "ipdm_capability_peers", Help: "Peers in the live capability index."},
			p2pStat(func(s p2p.Stats) float64 { return float64(s.CapabilityPeers) })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "ipdm_bitswap_blocks_received_total", Help: "Blocks received over bitswap."},
			p2pStat(func(s p2p.Stats) float64 { return float64(s.BlocksReceived) })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "ipdm_bitswap_bytes_received_total", Help: "Block bytes received over bitswap."},
			p2pStat(func(s p2p.Stats) float64 { return float64(s.DataReceived) })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "ipdm_bitswap_blocks_sent_total", Help: "Blocks sent over bitswap."},
			p2pStat(func(s p2p.Stats) float64 { return float64(s.BlocksSent) })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "ipdm_bitswap_bytes_sent_total", Help: "Block bytes sent over bitswap."},
			p2pStat(func(s p2p.Stats) float64 { return float64(s.DataSent) })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "ipdm_bitswap_dup_blocks_received_total", Help: "Duplicate blocks received over bitswap."},
			p2pStat(func(s p2p.Stats) float64 { return float64(s.DupBlocksReceived) })),
	)
}

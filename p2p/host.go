package p2p

import (
	"crypto/ed25519"
	"crypto/rand"
	"fmt"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	rcmgr "github.com/libp2p/go-libp2p/p2p/host/resource-manager"
	"github.com/libp2p/go-libp2p/p2p/muxer/yamux"
	"github.com/libp2p/go-libp2p/p2p/net/connmgr"
	noise "github.com/libp2p/go-libp2p/p2p/security/noise"
	libp2ptls "github.com/libp2p/go-libp2p/p2p/security/tls"
	libp2pquic "github.com/libp2p/go-libp2p/p2p/transport/quic"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	ma "github.com/multiformats/go-multiaddr"
)

// libp2pKey converts the configured ed25519 identity (or a fresh one) into a
// libp2p private key.
func libp2pKey(k ed25519.PrivateKey) (crypto.PrivKey, error) {
	if k == nil {
		_, fresh, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("generate identity: %w", err)
		}
		k = fresh
	}
	pk, err := crypto.UnmarshalEd25519PrivateKey(k)
	if err != nil {
		return nil, fmt.Errorf("identity: %w", err)
	}
	return pk, nil
}

// newHost builds the libp2p host: TCP and QUIC-v1 transports, Noise and TLS
// security, yamux, identify and ping (libp2p defaults), a resource manager,
// a connection manager and, unless disabled, AutoNAT, the relay client and
// hole punching. It does not listen yet: Node.Start does.
func newHost(cfg Config, key crypto.PrivKey) (host.Host, error) {
	limits := rcmgr.DefaultLimits
	libp2p.SetDefaultServiceLimits(&limits)
	var concrete rcmgr.ConcreteLimitConfig
	if cfg.ResourceMaxMemory > 0 {
		concrete = limits.Scale(cfg.ResourceMaxMemory, cfg.ResourceMaxFDs)
	} else {
		concrete = limits.AutoScale()
	}
	rm, err := rcmgr.NewResourceManager(rcmgr.NewFixedLimiter(concrete))
	if err != nil {
		return nil, fmt.Errorf("resource manager: %w", err)
	}
	cm, err := connmgr.NewConnManager(cfg.ConnLow, cfg.ConnHigh, connmgr.WithGracePeriod(cfg.ConnGrace))
	if err != nil {
		rm.Close()
		return nil, fmt.Errorf("connection manager: %w", err)
	}

	opts := []libp2p.Option{
		libp2p.Identity(key),
		libp2p.NoListenAddrs,
		libp2p.Transport(tcp.NewTCPTransport),
		libp2p.Transport(libp2pquic.NewTransport),
		// TLS first, as go-libp2p and Kubo order them: AES-GCM with AES-NI
		// outruns Noise's ChaCha20-Poly1305 on servers.
		libp2p.Security(libp2ptls.ID, libp2ptls.New),
		libp2p.Security(noise.ID, noise.New),
		libp2p.Muxer(yamux.ID, yamux.DefaultTransport),
		libp2p.ResourceManager(rm),
		libp2p.ConnectionManager(cm),
		libp2p.Ping(true),
		libp2p.UserAgent(cfg.Version),
		libp2p.WithDialTimeout(cfg.DialTimeout),
	}
	if cfg.MetricsRegisterer != nil {
		opts = append(opts, libp2p.PrometheusRegisterer(cfg.MetricsRegisterer))
	} else {
		opts = append(opts, libp2p.DisableMetrics())
	}
	if cfg.DisableNATTraversal {
		opts = append(opts, libp2p.DisableRelay())
	} else {
		// NATPortMap (UPnP/NAT-PMP) is deliberately not enabled: it sends
		// discovery traffic to the LAN gateway, unwanted on servers and tests.
		opts = append(opts,
			libp2p.EnableRelay(),
			libp2p.EnableNATService(),
			libp2p.EnableAutoNATv2(),
			libp2p.EnableHolePunching(),
		)
	}
	if len(cfg.AnnounceAddrs) > 0 {
		announce := make([]ma.Multiaddr, 0, len(cfg.AnnounceAddrs))
		for _, s := range cfg.AnnounceAddrs {
			a, err := ma.NewMultiaddr(s)
			if err != nil {
				cm.Close()
				rm.Close()
				return nil, fmt.Errorf("announce addr %q: %w", s, err)
			}
			announce = append(announce, a)
		}
		opts = append(opts, libp2p.AddrsFactory(func([]ma.Multiaddr) []ma.Multiaddr { return announce }))
	}
	h, err := libp2p.New(opts...)
	if err != nil {
		// libp2p.New closes the resource and connection managers it was
		// given when it fails.
		return nil, fmt.Errorf("libp2p host: %w", err)
	}
	return h, nil
}

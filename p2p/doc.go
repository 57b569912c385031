// Package p2p is IPDM's networking layer: a libp2p host with the IPDM
// Kademlia DHT, gossipsub capability adverts and bitswap. It is the only
// package in the project that imports go-libp2p, go-libp2p-pubsub,
// go-libp2p-kad-dht and boxo/bitswap; the rest of the project talks to it
// through plain types: peer IDs and multiaddrs as strings, identities as
// crypto/ed25519 keys, blocks through boxo's exchange interface and go-cid.
//
// # Use
//
//	n, err := p2p.New(ctx, p2p.Config{Identity: key, Bootstrap: addrs, Roles: roles}, bstore)
//	if err != nil { ... }
//	defer n.Close()
//	if err := n.Start(ctx); err != nil { ... }
//	bserv := blockservice.New(bstore, n.Exchange()) // fetches missing blocks over bitswap
//	n.Provide(ctx, root, children...)                // announce in the DHT, in the background
//	n.FindProviders(ctx, root, 20)                   // who announced root (bounded by ctx)
//	n.Capabilities()                                 // who is out there and what they offer
//
// New builds everything but does not listen; Start listens, connects to the
// bootstrap peers and starts the background work; Close stops it all. Both
// Start and Close are idempotent. The zero Config is valid (see Config).
//
// # What runs
//
//   - Host: TCP and QUIC-v1 transports, TLS and Noise security, yamux,
//     identify, ping, a resource manager (limits scaled to
//     Config.ResourceMaxMemory or 1/8 of RAM) and a connection manager
//     (Config.ConnLow/ConnHigh; bootstrap peers are protected). AutoNAT (v1
//     service, v2 client), the circuit-relay client and hole punching are on
//     unless Config.DisableNATTraversal. UPnP/NAT-PMP port mapping is off.
//     mDNS discovery is off unless Config.EnableMDNS.
//   - DHT: a Kademlia DHT under Config.DHTPrefix ("/ipdm/kad/1.0.0"),
//     separate from the public IPFS Amino DHT, in server mode by default.
//     It is built with dht.New alone, which applies no address, query or
//     routing-table filters, so it works on loopback and private networks
//     (the dual LAN/WAN DHT Kubo uses would drop those addresses on the WAN
//     side and loopback on the LAN side).
//   - Provide: Node.Provide queues CIDs; Config.ProvideWorkers goroutines
//     announce them with the DHT, roots first, deduplicated by multihash,
//     retried with backoff, waiting while the routing table is empty.
//     Announcing once is all Provide does: re-announcing before provider
//     records expire (48 h) is the caller's schedule.
//   - Bitswap: boxo's bitswap client and server on the standard
//     /ipfs/bitswap/1.x protocols (no prefix), so stock Kubo nodes fetch
//     from and serve to IPDM nodes. The client finds providers through the
//     DHT (wrapped in boxo's ProviderQueryManager) when no connected peer
//     has a block, and dials them. The exchange does not write fetched
//     blocks to the block store: wrap it in a boxo blockservice, which
//     stores them and announces them to bitswap's server.
//   - Capability adverts: every Config.AdvertInterval, on Start and soon
//     after a peer joins, the node publishes a capability.Advert on the
//     gossipsub topic Config.AdvertTopic. Messages are signed (StrictSign);
//     the topic validator rejects adverts that do not decode or whose
//     PeerID differs from the signed origin, so a peer cannot speak for
//     another. Valid adverts feed a capability.Index whose entries expire
//     Config.AdvertTTL after a peer's last advert.
//
// # Block verification
//
// Every block received over bitswap is hash-verified before it is handed
// to the caller: boxo's bitswap message decoder recomputes each payload's
// CID from its bytes with the sender-supplied CID prefix
// (message.NewWantlistBlock), and the client only accepts blocks whose
// recomputed CID it wants. A payload whose bytes do not match is therefore
// never delivered nor stored. This is always on in boxo (there is no option
// to disable it); TestTamperedBlockRejected checks it against a peer that
// sends wrong bytes. boxo's blockservice additionally refuses CIDs with
// insecure or oversized hash functions (verifcid).
//
// # Errors
//
// Fetches that run out of time fail with a *FetchError wrapping
// ErrBlockUnavailable and the context error. Calls on a closed node return
// ErrClosed; bad configuration ErrInvalidConfig.
//
// # Concurrency
//
// All Node methods are safe for concurrent use. Every goroutine the node
// starts is stopped and waited for by Close; libp2p, DHT, gossipsub and
// bitswap internals stop when Close cancels the node's context and closes
// them.
package p2p

package p2p

import "github.com/libp2p/go-libp2p/core/host"

// HostForTest exposes the libp2p host to this package's external tests.
func (n *Node) HostForTest() host.Host { return n.host }

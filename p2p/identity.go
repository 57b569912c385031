package p2p

import (
	"crypto/ed25519"
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/ipdm/ipdm/capability"
)

// PeerIDFromKey returns the libp2p peer ID (base58, 12D3KooW…) of an
// Ed25519 identity, without starting anything.
func PeerIDFromKey(k ed25519.PrivateKey) (string, error) {
	lk, err := libp2pKey(k)
	if err != nil {
		return "", err
	}
	id, err := peer.IDFromPrivateKey(lk)
	if err != nil {
		return "", fmt.Errorf("p2p: peer id: %w", err)
	}
	return id.String(), nil
}

// CapabilityEntries is Capabilities with the time each advert was heard.
func (n *Node) CapabilityEntries() []capability.Entry {
	return n.index.List(time.Now())
}

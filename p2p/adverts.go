package p2p

import (
	"context"
	"errors"
	"runtime"
	"time"

	"github.com/ipdm/ipdm/capability"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"
)

// minKickGap spaces out the extra adverts published when peers join the
// topic, so a burst of joins costs one publish.
const minKickGap = 200 * time.Millisecond

// validateAdvert is the gossipsub topic validator. Gossipsub has already
// checked the message signature against its origin (StrictSign); here the
// payload must decode and name that same origin as its PeerID. Rejected
// messages are dropped, not forwarded, and count against the forwarding
// peer's gossipsub score.
func (n *Node) validateAdvert(_ context.Context, from peer.ID, msg *pubsub.Message) pubsub.ValidationResult {
	a, err := capability.Decode(msg.Data)
	if err != nil {
		n.counters.advertsRejected.Add(1)
		n.log.Debug("advert rejected", "from", from.String(), "err", err)
		return pubsub.ValidationReject
	}
	if origin := msg.GetFrom(); a.PeerID != origin.String() {
		n.counters.advertsRejected.Add(1)
		n.log.Warn("advert rejected: peer id differs from signed origin",
			"origin", origin.String(), "claimed", a.PeerID, "from", from.String())
		return pubsub.ValidationReject
	}
	msg.ValidatorData = a
	return pubsub.ValidationAccept
}

// currentAdvert describes this node now.
func (n *Node) currentAdvert() capability.Advert {
	cfg := n.cfg
	a := capability.Advert{
		PeerID:        n.host.ID().String(),
		Roles:         cfg.Roles,
		Cores:         cfg.Cores,
		MemoryBytes:   cfg.MemoryBytes,
		FreeDiskBytes: cfg.FreeDiskBytes,
		Version:       cfg.Version,
		Seq:           n.advertSeq.Add(1),
	}
	if a.Cores == 0 {
		a.Cores = min(runtime.NumCPU(), capability.MaxCores)
	}
	if a.MemoryBytes == 0 {
		a.MemoryBytes = min(totalMemory(), capability.MaxMemoryBytes)
	}
	if a.FreeDiskBytes == 0 {
		a.FreeDiskBytes = min(freeDisk(cfg.DiskPath), capability.MaxFreeDiskBytes)
	}
	for _, addr := range n.host.Addrs() {
		s := addr.String()
		if len(s) > capability.MaxAddrLen {
			continue
		}
		a.Addrs = append(a.Addrs, s)
		if len(a.Addrs) == capability.MaxAddrs {
			break
		}
	}
	return a
}

// publishAdvert records this node's advert in its own index and publishes
// it on the topic.
func (n *Node) publishAdvert(ctx context.Context) {
	a := n.currentAdvert()
	b, err := a.Encode()
	if err != nil {
		// Config.Validate checked the static fields; this is a bug.
		n.log.Error("encode own advert", "err", err)
		return
	}
	if err := n.index.Update(a, time.Now()); err != nil {
		n.log.Error("index own advert", "err", err)
	}
	if err := n.topic.Publish(ctx, b); err != nil {
		if ctx.Err() == nil {
			n.log.Warn("publish advert", "err", err)
		}
		return
	}
	n.counters.advertsPublished.Add(1)
}

// advertLoop publishes on start, every AdvertInterval, and soon after a peer
// joins the topic; it also prunes expired index entries.
func (n *Node) advertLoop(ctx context.Context) {
	ticker := time.NewTicker(n.cfg.AdvertInterval)
	defer ticker.Stop()
	n.publishAdvert(ctx)
	last := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		case <-n.advertKick:
			if err := sleepCtx(ctx, time.Until(last.Add(minKickGap))); err != nil {
				return
			}
		}
		n.publishAdvert(ctx)
		last = time.Now()
		if gone := n.index.Prune(last); len(gone) > 0 {
			n.log.Debug("capability adverts expired", "peers", gone)
		}
	}
}

// topicEventLoop asks for an early advert whenever a peer joins the topic,
// so newcomers learn about this node without waiting a full interval.
func (n *Node) topicEventLoop(ctx context.Context) {
	for {
		ev, err := n.topicEvts.NextPeerEvent(ctx)
		if err != nil {
			return
		}
		if ev.Type != pubsub.PeerJoin {
			continue
		}
		select {
		case n.advertKick <- struct{}{}:
		default:
		}
	}
}

// receiveLoop feeds validated adverts from other peers into the index.
func (n *Node) receiveLoop(ctx context.Context) {
	self := n.host.ID()
	for {
		msg, err := n.sub.Next(ctx)
		if err != nil {
			return
		}
		if msg.ReceivedFrom == self || msg.GetFrom() == self {
			continue // own adverts are indexed when published
		}
		a, ok := msg.ValidatorData.(capability.Advert)
		if !ok {
			continue
		}
		n.counters.advertsReceived.Add(1)
		if err := n.index.Update(a, time.Now()); err != nil {
			if errors.Is(err, capability.ErrStale) {
				n.counters.advertsStale.Add(1)
				continue
			}
			n.log.Warn("index advert", "from", a.PeerID, "err", err)
		}
	}
}

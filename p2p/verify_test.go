package p2p_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ipdm/ipdm/p2p"
	"github.com/ipdm/ipdm/p2p/p2ptest"
	bsmsg "github.com/ipfs/boxo/bitswap/message"
	"github.com/ipfs/boxo/bitswap/network/bsnet"
	blocks "github.com/ipfs/go-block-format"
	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-msgio"
)

// A peer answering a want with bytes that do not hash to the wanted CID is
// ignored: bitswap recomputes the CID of every received payload. The same
// peer sending the right bytes is accepted, which shows its messages do get
// through.
func TestTamperedBlockRejected(t *testing.T) {
	n := p2ptest.NewNode(t, p2ptest.Config(), nil)
	good := randomBlock(t, 4096)
	tampered := append([]byte(nil), good.RawData()...)
	tampered[0] ^= 0xff
	bad, err := blocks.NewBlockWithCid(tampered, good.Cid()) // does not check the hash
	if err != nil {
		t.Fatal(err)
	}

	rogue, err := libp2p.New(libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"), libp2p.DisableMetrics())
	if err != nil {
		t.Fatal(err)
	}
	defer rogue.Close()
	var honest atomic.Bool
	var served atomic.Int32
	rogue.SetStreamHandler(bsnet.ProtocolBitswap, func(s network.Stream) {
		defer s.Close()
		r := msgio.NewVarintReaderSize(s, network.MessageSizeMax)
		for {
			msg, _, err := bsmsg.FromMsgReader(r)
			if err != nil {
				return
			}
			for _, e := range msg.Wantlist() {
				if e.Cancel || !e.Cid.Equals(good.Cid()) {
					continue
				}
				var blk blocks.Block = bad
				if honest.Load() {
					blk = good
				}
				if err := sendBlock(rogue, s.Conn().RemotePeer(), blk); err == nil {
					served.Add(1)
				}
			}
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ai, err := peer.AddrInfoFromString(n.Addrs()[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := rogue.Connect(ctx, *ai); err != nil {
		t.Fatal(err)
	}

	short, cancelShort := context.WithTimeout(ctx, time.Second)
	defer cancelShort()
	if _, err := n.Exchange().GetBlock(short, good.Cid()); !errors.Is(err, p2p.ErrBlockUnavailable) {
		t.Fatalf("GetBlock with tampered data: err = %v, want ErrBlockUnavailable", err)
	}
	if served.Load() == 0 {
		t.Fatal("the rogue never answered a want; the test proves nothing")
	}

	// Phase 2: the rogue turns honest. Its reply to a fresh want may be
	// skipped if bitswap coalesces the new want with the pending cancel of
	// phase 1 (the rogue keeps no wantlist), so it also pushes the good
	// block until the fetch returns.
	honest.Store(true)
	type result struct {
		blk blocks.Block
		err error
	}
	done := make(chan result, 1)
	go func() {
		b, err := n.Exchange().GetBlock(ctx, good.Cid())
		done <- result{b, err}
	}()
	nodeID, err := peer.Decode(n.ID())
	if err != nil {
		t.Fatal(err)
	}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case r := <-done:
			if r.err != nil {
				t.Fatalf("GetBlock with honest data: %v", r.err)
			}
			if string(r.blk.RawData()) != string(good.RawData()) {
				t.Fatal("wrong bytes")
			}
			return
		case <-tick.C:
			_ = sendBlock(rogue, nodeID, good)
		}
	}
}

func sendBlock(h host.Host, to peer.ID, b blocks.Block) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := h.NewStream(ctx, to, bsnet.ProtocolBitswap)
	if err != nil {
		return err
	}
	defer s.Close()
	m := bsmsg.New(false)
	m.AddBlock(b)
	return m.ToNetV1(s)
}

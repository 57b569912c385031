package p2p

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	blockformat "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/ipdm/ipdm/storage/blocks"
	"github.com/ipdm/ipdm/storage/car"
	"github.com/ipdm/ipdm/storage/dag"
)

// ProtoDAG streams a whole DAG that the answering node holds as a CAR. It
// is for fetching from a peer already known to hold the data (the node
// that coordinates a job stored its inputs): one round trip instead of
// bitswap's want rounds, which boxo spaces at least 20 ms apart per peer.
//
//	request:  uvarint length, the root CID's bytes
//	response: one status byte; 0: a CARv1 of the DAG under the root, in
//	          depth-first order (car.Export), then the stream closes;
//	          1: uvarint length, why not (e.g. it lacks the root)
//
// The server answers only from its own block store: it never fetches on
// a requester's behalf. A block missing midway resets the stream.
const ProtoDAG = "/ipdm/dag/1.0.0"

// ErrDAGUnavailable is returned by FetchDAG when the peer does not hold
// the DAG's root.
var ErrDAGUnavailable = errors.New("p2p: peer does not hold the DAG")

// dagTimeout bounds serving one DAG.
const dagTimeout = 5 * time.Minute

func (n *Node) serveDAG(s network.Stream) {
	defer s.Close()
	ctx, cancel := context.WithTimeout(n.ctx, dagTimeout)
	defer cancel()
	stop := context.AfterFunc(ctx, func() { s.Reset() })
	defer stop()
	req, err := readFrame(bufio.NewReader(s))
	if err != nil {
		s.Reset()
		return
	}
	root, err := decodeDAGRequest(req)
	if err != nil {
		s.Reset()
		return
	}
	// The empty block is served from its CID, as the node's block service
	// does: a store need not hold it, and a DAG of results with an empty
	// stderr would otherwise break off there.
	src := blocks.KnownEmpty(n.bstore)
	w := bufio.NewWriter(s)
	if has, err := src.Has(ctx, root); err != nil || !has {
		w.WriteByte(1)
		writeFrame(w, []byte(fmt.Sprintf("%s is not stored here", root)))
		w.Flush()
		return
	}
	w.WriteByte(0)
	if err := car.Export(ctx, w, src, root); err != nil {
		n.log.Debug("serve dag", "root", root, "err", err)
		s.Reset()
		return
	}
	if err := w.Flush(); err != nil {
		s.Reset()
	}
}

// decodeDAGRequest reads a ProtoDAG request: the root CID's bytes, nothing
// more.
func decodeDAGRequest(req []byte) (cid.Cid, error) {
	n, c, err := cid.CidFromBytes(req)
	if err != nil {
		return cid.Undef, fmt.Errorf("%w: dag request: %v", ErrMalformedMessage, err)
	}
	if n != len(req) {
		return cid.Undef, fmt.Errorf("%w: dag request: %d bytes after the CID", ErrMalformedMessage, len(req)-n)
	}
	return c, nil
}

// FetchDAG asks peerID for the DAG under root and stores the blocks it
// sends in this node's block store, each checked against its CID and
// against the DAG (a block no earlier block links to ends the fetch), and
// tells bitswap sessions waiting for them. It reads at most max bytes of CAR
// (max ≤ 0: no bound). It returns how many blocks it read and verified. A
// partial DAG (the peer lacked a block, the stream broke, the limit was
// reached) is an error; blocks verified before it may have been stored,
// and a caller can let bitswap fetch what is missing. Stored blocks are not
// pinned.
func (n *Node) FetchDAG(ctx context.Context, peerID string, root cid.Cid, max int64) (int, error) {
	if n.isClosed() {
		return 0, ErrClosed
	}
	pid, err := peer.Decode(peerID)
	if err != nil {
		return 0, fmt.Errorf("p2p: fetch dag: peer %q: %w", peerID, err)
	}
	if pid == n.host.ID() {
		return 0, nil
	}
	if err := n.ensureConnected(ctx, pid); err != nil {
		return 0, fmt.Errorf("p2p: fetch dag %s from %s: %w", root, peerID, err)
	}
	s, err := n.host.NewStream(ctx, pid, protocol.ID(ProtoDAG))
	if err != nil {
		return 0, fmt.Errorf("p2p: fetch dag %s from %s: %w", root, peerID, err)
	}
	defer s.Close()
	stop := context.AfterFunc(ctx, func() { s.Reset() })
	defer stop()
	w := bufio.NewWriter(s)
	if err := writeFrame(w, root.Bytes()); err != nil {
		return 0, n.requestErr(ctx, peerID, err)
	}
	if err := w.Flush(); err != nil {
		return 0, n.requestErr(ctx, peerID, err)
	}
	s.CloseWrite()
	r := bufio.NewReader(s)
	status, err := r.ReadByte()
	if err != nil {
		return 0, n.requestErr(ctx, peerID, err)
	}
	switch status {
	case 0:
	case 1:
		why, err := readFrame(r)
		if err != nil {
			return 0, n.requestErr(ctx, peerID, err)
		}
		return 0, fmt.Errorf("%w: %s: %s", ErrDAGUnavailable, peerID, why)
	default:
		return 0, fmt.Errorf("%w: status byte %d", ErrMalformedMessage, status)
	}
	var in io.Reader = r
	if max > 0 {
		in = io.LimitReader(r, max)
	}
	res, err := car.Import(ctx, in, &dagWriter{n: n, want: map[cid.Cid]struct{}{root: {}}}, car.ImportOptions{})
	if err == nil && (len(res.Roots) != 1 || !res.Roots[0].Equals(root)) {
		err = fmt.Errorf("%w: the CAR's roots are %v, not %s", ErrMalformedMessage, res.Roots, root)
	}
	if err != nil {
		return res.Blocks, fmt.Errorf("p2p: fetch dag %s from %s: %w", root, peerID, err)
	}
	return res.Blocks, nil
}

// dagWriter stores fetched blocks that belong to the DAG asked for, and
// tells bitswap, whose sessions may be waiting for some of them. A CAR in
// depth-first order names every block after a block linking to it, so a
// block nobody linked to so far is not part of the DAG: the fetch fails
// rather than let a peer fill the store with blocks nobody asked for.
type dagWriter struct {
	n    *Node
	want map[cid.Cid]struct{} // linked to, not yet received
}

func (w *dagWriter) PutMany(ctx context.Context, bs []blockformat.Block) error {
	for _, b := range bs {
		c := b.Cid()
		if _, ok := w.want[c]; !ok {
			return fmt.Errorf("%w: block %s is not linked from the DAG's blocks before it", ErrMalformedMessage, c)
		}
		delete(w.want, c)
		links, err := dag.Links(c, b.RawData())
		if err != nil {
			return fmt.Errorf("%w: block %s: %v", ErrMalformedMessage, c, err)
		}
		for _, l := range links {
			w.want[l] = struct{}{}
		}
	}
	if err := w.n.bstore.PutMany(ctx, bs); err != nil {
		return err
	}
	return w.n.bs.NotifyNewBlocks(ctx, bs...)
}

package p2p

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// Request/response messaging over direct libp2p streams, for control
// traffic that must be acknowledged (job assignment, commits, reveals).
// Gossipsub is for adverts only: it drops messages under load and says
// nothing about delivery.
//
// Wire format, one exchange per stream:
//
//	request:  uvarint length, payload
//	response: one status byte (0 ok, 1 error), uvarint length, payload
//	          (the answer, or the handler's error text)
//
// The answer is the acknowledgement: a Request that returns nil error was
// handled by the peer. Retrying is the caller's decision, since only it
// knows whether a message is idempotent.

// MaxMessageSize bounds a request or response payload.
const MaxMessageSize = 4 << 20

// Errors of Request.
var (
	// ErrMessageTooLarge is returned for a payload over MaxMessageSize.
	ErrMessageTooLarge = errors.New("p2p: message too large")
	// ErrMalformedMessage is returned for a frame that does not decode.
	ErrMalformedMessage = errors.New("p2p: malformed message")
)

// RemoteError is the error a peer's handler returned.
type RemoteError struct {
	Peer    string
	Message string
}

func (e *RemoteError) Error() string { return fmt.Sprintf("peer %s: %s", e.Peer, e.Message) }

// Handler answers one request from peer from. It runs on the stream's
// goroutine; ctx ends when the node closes or the request times out.
type Handler func(ctx context.Context, from string, msg []byte) ([]byte, error)

// requestTimeout bounds the handling of one inbound request.
const requestTimeout = 60 * time.Second

// Handle registers h for protocol id (e.g. "/ipdm/jobs/1.0.0"), replacing
// any earlier handler.
func (n *Node) Handle(id string, h Handler) {
	n.handlersMu.Lock()
	if n.handlers == nil {
		n.handlers = map[string]Handler{}
	}
	n.handlers[id] = h
	n.handlersMu.Unlock()
	n.host.SetStreamHandler(protocol.ID(id), func(s network.Stream) {
		defer s.Close()
		ctx, cancel := context.WithTimeout(n.ctx, requestTimeout)
		defer cancel()
		s.SetDeadline(time.Now().Add(requestTimeout))
		msg, err := readFrame(bufio.NewReader(s))
		if err != nil {
			s.Reset()
			return
		}
		out, herr := h(ctx, s.Conn().RemotePeer().String(), msg)
		status := byte(0)
		if herr != nil {
			status, out = 1, []byte(herr.Error())
		}
		if len(out) > MaxMessageSize {
			status, out = 1, []byte(ErrMessageTooLarge.Error())
		}
		w := bufio.NewWriter(s)
		w.WriteByte(status)
		writeFrame(w, out)
		w.Flush()
	})
}

// Request sends msg to peer on protocol id and returns its answer. It dials
// the peer when not connected (finding its addresses in the DHT if needed).
// ctx bounds the whole exchange.
func (n *Node) Request(ctx context.Context, peerID, id string, msg []byte) ([]byte, error) {
	if n.isClosed() {
		return nil, ErrClosed
	}
	if len(msg) > MaxMessageSize {
		return nil, ErrMessageTooLarge
	}
	pid, err := peer.Decode(peerID)
	if err != nil {
		return nil, fmt.Errorf("p2p: request: peer %q: %w", peerID, err)
	}
	if pid == n.host.ID() {
		return n.requestSelf(ctx, id, msg)
	}
	if err := n.ensureConnected(ctx, pid); err != nil {
		return nil, fmt.Errorf("p2p: request %s: %w", peerID, err)
	}
	s, err := n.host.NewStream(ctx, pid, protocol.ID(id))
	if err != nil {
		return nil, fmt.Errorf("p2p: request %s %s: %w", peerID, id, err)
	}
	defer s.Close()
	// The context, not a stream deadline, ends a stuck exchange, so the
	// caller sees ctx.Err() rather than an I/O timeout.
	stop := context.AfterFunc(ctx, func() { s.Reset() })
	defer stop()
	w := bufio.NewWriter(s)
	if err := writeFrame(w, msg); err != nil {
		return nil, n.requestErr(ctx, peerID, err)
	}
	if err := w.Flush(); err != nil {
		return nil, n.requestErr(ctx, peerID, err)
	}
	s.CloseWrite()
	r := bufio.NewReader(s)
	status, err := r.ReadByte()
	if err != nil {
		return nil, n.requestErr(ctx, peerID, err)
	}
	out, err := readFrame(r)
	if err != nil {
		return nil, n.requestErr(ctx, peerID, err)
	}
	switch status {
	case 0:
		return out, nil
	case 1:
		return nil, &RemoteError{Peer: peerID, Message: string(out)}
	}
	return nil, fmt.Errorf("%w: status byte %d", ErrMalformedMessage, status)
}

func (n *Node) requestErr(ctx context.Context, peerID string, err error) error {
	if ctx.Err() != nil {
		err = ctx.Err()
	}
	return fmt.Errorf("p2p: request %s: %w", peerID, err)
}

// ensureConnected dials pid at the addresses the peerstore knows and, when
// there are none or they fail (the peer restarted on other ports), at the
// addresses the DHT finds for it, looking again with backoff until ctx ends.
func (n *Node) ensureConnected(ctx context.Context, pid peer.ID) error {
	if n.host.Network().Connectedness(pid) == network.Connected {
		return nil
	}
	var err error
	if addrs := n.host.Peerstore().Addrs(pid); len(addrs) > 0 {
		if err = n.dial(ctx, peer.AddrInfo{ID: pid, Addrs: addrs}); err == nil {
			return nil
		}
		n.host.Peerstore().ClearAddrs(pid)
	}
	for wait := 50 * time.Millisecond; ; wait = min(2*wait, time.Second) {
		found, ferr := n.dht.FindPeer(ctx, pid)
		if ferr == nil {
			if err = n.dial(ctx, found); err == nil {
				return nil
			}
		} else {
			err = fmt.Errorf("find peer: %w", ferr)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (%w)", err, ctx.Err())
		case <-time.After(wait):
		}
	}
}

func (n *Node) dial(ctx context.Context, ai peer.AddrInfo) error {
	dctx, cancel := context.WithTimeout(ctx, n.cfg.DialTimeout)
	defer cancel()
	return n.host.Connect(dctx, ai)
}

func writeFrame(w *bufio.Writer, payload []byte) error {
	var hdr [binary.MaxVarintLen64]byte
	k := binary.PutUvarint(hdr[:], uint64(len(payload)))
	if _, err := w.Write(hdr[:k]); err != nil {
		return err
	}
	_, err := w.Write(payload)
	return err
}

// readFrame reads one length-prefixed payload, refusing lengths over
// MaxMessageSize before allocating.
func readFrame(r *bufio.Reader) ([]byte, error) {
	size, err := binary.ReadUvarint(r)
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%w: missing length", ErrMalformedMessage)
		}
		return nil, fmt.Errorf("%w: %v", ErrMalformedMessage, err)
	}
	if size > MaxMessageSize {
		return nil, fmt.Errorf("%w: %d bytes", ErrMessageTooLarge, size)
	}
	buf := make([]byte, size)
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, fmt.Errorf("%w: payload cut short: %v", ErrMalformedMessage, err)
	}
	return buf, nil
}

// requestSelf answers a request to this node in process, as if it had come
// over a stream: same handler, same error form.
func (n *Node) requestSelf(ctx context.Context, id string, msg []byte) ([]byte, error) {
	n.handlersMu.Lock()
	h := n.handlers[id]
	n.handlersMu.Unlock()
	if h == nil {
		return nil, fmt.Errorf("p2p: request self: protocol %s not handled", id)
	}
	out, err := h(ctx, n.host.ID().String(), bytes.Clone(msg))
	if err != nil {
		return nil, &RemoteError{Peer: n.host.ID().String(), Message: err.Error()}
	}
	if len(out) > MaxMessageSize {
		return nil, ErrMessageTooLarge
	}
	return out, nil
}

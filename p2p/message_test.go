package p2p_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ipdm/ipdm/p2p"
	"github.com/ipdm/ipdm/p2p/p2ptest"
)

const echoProto = "/ipdm/test-echo/1.0.0"

// TestRequestResponse sends acknowledged requests between real hosts,
// including to a peer that is not directly connected (found via the DHT).
func TestRequestResponse(t *testing.T) {
	net := p2ptest.New(t, 3, p2ptest.Options{Topology: p2ptest.Star})
	a, c := net.Nodes[1], net.Nodes[2]
	c.Handle(echoProto, func(ctx context.Context, from string, msg []byte) ([]byte, error) {
		if string(msg) == "fail" {
			return nil, errors.New("refused: bad job")
		}
		return append([]byte(from+":"), msg...), nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for a.Stats().DHTRoutingTableSize == 0 {
		if ctx.Err() != nil {
			t.Fatal("node1's DHT routing table stayed empty")
		}
		time.Sleep(20 * time.Millisecond)
	}

	out, err := a.Request(ctx, c.ID(), echoProto, []byte("hello"))
	if err != nil {
		t.Fatal(err)
	}
	if want := a.ID() + ":hello"; string(out) != want {
		t.Fatalf("answer %q, want %q", out, want)
	}
	big := bytes.Repeat([]byte{7}, 3<<20)
	out, err = a.Request(ctx, c.ID(), echoProto, big)
	if err != nil || len(out) != len(a.ID())+1+len(big) {
		t.Fatalf("3 MiB request: %d bytes, %v", len(out), err)
	}
	_, err = a.Request(ctx, c.ID(), echoProto, []byte("fail"))
	var re *p2p.RemoteError
	if !errors.As(err, &re) || !strings.Contains(re.Message, "bad job") {
		t.Fatalf("handler error: %v", err)
	}
	if _, err := a.Request(ctx, c.ID(), echoProto, make([]byte, p2p.MaxMessageSize+1)); !errors.Is(err, p2p.ErrMessageTooLarge) {
		t.Fatalf("oversized: %v", err)
	}
	if _, err := a.Request(ctx, c.ID(), "/ipdm/nobody/1.0.0", []byte("x")); err == nil {
		t.Fatal("request on an unhandled protocol succeeded")
	}
	if _, err := a.Request(ctx, "not-a-peer", echoProto, nil); err == nil {
		t.Fatal("request to a malformed peer ID succeeded")
	}
}

// TestRequestHonoursContext: a handler that never answers does not hang the
// caller past its deadline.
func TestRequestHonoursContext(t *testing.T) {
	net := p2ptest.New(t, 2, p2ptest.Options{})
	a, b := net.Nodes[0], net.Nodes[1]
	release := make(chan struct{})
	defer close(release)
	b.Handle(echoProto, func(ctx context.Context, from string, msg []byte) ([]byte, error) {
		select {
		case <-release:
		case <-ctx.Done():
		}
		return nil, fmt.Errorf("late")
	})
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := a.Request(ctx, b.ID(), echoProto, []byte("x"))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v, want deadline exceeded", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("returned after %s", d)
	}
}

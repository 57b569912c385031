package p2p

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"
)

func testCID(t testing.TB, i int) cid.Cid {
	t.Helper()
	h, err := mh.Sum([]byte(fmt.Sprint(i)), mh.SHA2_256, -1)
	if err != nil {
		t.Fatal(err)
	}
	return cid.NewCidV1(cid.Raw, h)
}

func drain(t *testing.T, q *provideQueue, n int) []cid.Cid {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	var out []cid.Cid
	for i := 0; i < n; i++ {
		c, err := q.pop(ctx)
		if err != nil {
			t.Fatalf("pop %d: %v", i, err)
		}
		out = append(out, c)
	}
	return out
}

func TestProvideQueueOrderAndDedup(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(0, 0)
	c := func(i int) cid.Cid { return testCID(t, i) }
	q := newProvideQueue(100, time.Hour)

	// Call 1: root 1, children 2 3. Call 2: root 4, children 5 and 2 again.
	if err := q.push(ctx, now, []cid.Cid{c(1), c(2), c(3)}); err != nil {
		t.Fatal(err)
	}
	v0 := cid.NewCidV0(c(3).Hash()) // same multihash as c(3): a duplicate
	if err := q.push(ctx, now, []cid.Cid{c(4), c(5), c(2), v0, cid.Undef}); err != nil {
		t.Fatal(err)
	}
	if got := q.len(); got != 5 {
		t.Fatalf("len = %d, want 5", got)
	}
	got := drain(t, q, 5)
	want := []cid.Cid{c(1), c(4), c(2), c(3), c(5)} // roots first, then FIFO
	for i := range want {
		if !got[i].Equals(want[i]) {
			t.Fatalf("pop order = %v, want %v", got, want)
		}
	}
	// In flight until done: pushing again is a no-op.
	if err := q.push(ctx, now, []cid.Cid{c(1)}); err != nil {
		t.Fatal(err)
	}
	if q.len() != 5 {
		t.Fatalf("len = %d, want 5 in flight", q.len())
	}
	q.done(c(1), true, now)
	q.done(c(2), false, now)
	for _, i := range []int{3, 4, 5} {
		q.done(c(i), true, now)
	}
	if q.len() != 0 {
		t.Fatalf("len = %d after done", q.len())
	}
	// c(1) was announced within the window: skipped. c(2) failed: requeued.
	if err := q.push(ctx, now.Add(time.Minute), []cid.Cid{c(1), c(2)}); err != nil {
		t.Fatal(err)
	}
	if got := drain(t, q, 1); !got[0].Equals(c(2)) || q.len() != 1 {
		t.Fatalf("after re-push got %v, len %d; want only c(2)", got, q.len())
	}
	q.done(c(2), true, now)
	// After the window c(1) is queued again.
	if err := q.push(ctx, now.Add(2*time.Hour), []cid.Cid{c(1)}); err != nil {
		t.Fatal(err)
	}
	if q.len() != 1 {
		t.Fatalf("len = %d, want c(1) requeued after the window", q.len())
	}
}

func TestProvideQueueLimitBlocks(t *testing.T) {
	now := time.Unix(0, 0)
	q := newProvideQueue(2, time.Hour)
	ctx := context.Background()
	if err := q.push(ctx, now, []cid.Cid{testCID(t, 1), testCID(t, 2)}); err != nil {
		t.Fatal(err)
	}
	// Full: a push blocks until ctx ends.
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if err := q.push(short, now, []cid.Cid{testCID(t, 3)}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("push to full queue = %v, want DeadlineExceeded", err)
	}
	// ... or until a worker finishes one.
	pushed := make(chan error, 1)
	go func() { pushed <- q.push(ctx, now, []cid.Cid{testCID(t, 3)}) }()
	select {
	case err := <-pushed:
		t.Fatalf("push returned %v while full", err)
	case <-time.After(50 * time.Millisecond):
	}
	c := drain(t, q, 1)[0]
	q.done(c, true, now)
	select {
	case err := <-pushed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(time.Second):
		t.Fatal("push still blocked after room was made")
	}
	// close wakes blocked pushers and fails pops.
	go func() { pushed <- q.push(ctx, now, []cid.Cid{testCID(t, 4)}) }()
	time.Sleep(20 * time.Millisecond)
	q.close()
	if err := <-pushed; !errors.Is(err, errQueueClosed) {
		t.Fatalf("push after close = %v", err)
	}
	if _, err := q.pop(ctx); !errors.Is(err, errQueueClosed) {
		t.Fatalf("pop after close = %v", err)
	}
}

func TestProvideQueueWakesAllWorkers(t *testing.T) {
	q := newProvideQueue(1000, time.Hour)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	const workers, items = 4, 200
	got := make(chan cid.Cid, items)
	for w := 0; w < workers; w++ {
		go func() {
			for {
				c, err := q.pop(ctx)
				if err != nil {
					return
				}
				got <- c
				q.done(c, true, time.Unix(0, 0))
			}
		}()
	}
	var cids []cid.Cid
	for i := 0; i < items; i++ {
		cids = append(cids, testCID(t, i))
	}
	if err := q.push(ctx, time.Unix(0, 0), cids); err != nil {
		t.Fatal(err)
	}
	seen := map[cid.Cid]bool{}
	for len(seen) < items {
		select {
		case c := <-got:
			if seen[c] {
				t.Fatalf("%s popped twice", c)
			}
			seen[c] = true
		case <-ctx.Done():
			t.Fatalf("only %d of %d popped", len(seen), items)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(*Config)
		want   string // "" = valid
	}{
		{"zero value", func(*Config) {}, ""},
		{"short identity", func(c *Config) { c.Identity = make([]byte, 10) }, "identity"},
		{"bad listen", func(c *Config) { c.ListenAddrs = []string{"/ip4/1.2.3/tcp/1"} }, "listen addr"},
		{"listen with p2p", func(c *Config) {
			c.ListenAddrs = []string{"/ip4/127.0.0.1/tcp/1/p2p/12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA"}
		}, "must not contain /p2p"},
		{"bootstrap without p2p", func(c *Config) { c.Bootstrap = []string{"/ip4/127.0.0.1/tcp/1"} }, "bootstrap"},
		{"bad announce", func(c *Config) { c.AnnounceAddrs = []string{"nope"} }, "announce"},
		{"amino prefix", func(c *Config) { c.DHTPrefix = "/ipfs" }, "Amino"},
		{"prefix slash", func(c *Config) { c.DHTPrefix = "ipdm" }, "dht prefix"},
		{"dht mode", func(c *Config) { c.DHTMode = "sometimes" }, "dht mode"},
		{"ttl below interval", func(c *Config) { c.AdvertInterval = time.Minute; c.AdvertTTL = time.Second }, "must exceed"},
		{"negative interval", func(c *Config) { c.AdvertInterval = -time.Second }, "positive"},
		{"unknown role", func(c *Config) { c.Roles = []string{"miner"} }, "unknown role"},
		{"negative cores", func(c *Config) { c.Cores = -2 }, "negative"},
		{"long version", func(c *Config) { c.Version = string(make([]byte, 100)) }, "version"},
		{"conn watermarks", func(c *Config) { c.ConnLow = 10; c.ConnHigh = 5 }, "watermarks"},
		{"negative workers", func(c *Config) { c.ProvideWorkers = -1 }, "negative"},
		{"negative bitswap", func(c *Config) { c.Bitswap.TaskWorkers = -1 }, "bitswap"},
		{"huge bitswap message", func(c *Config) { c.Bitswap.TargetMessageSize = 3 << 20 }, "target message size"},
		{"valid full", func(c *Config) {
			c.Roles = []string{"storage", "gateway"}
			c.DHTMode = DHTModeClient
			c.Bootstrap = []string{"/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA"}
		}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var c Config
			tc.mutate(&c)
			err := c.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Validate = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("Validate = %v, want ErrInvalidConfig", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate = %q, want mention of %q", err, tc.want)
			}
		})
	}
}

func TestConfigDefaults(t *testing.T) {
	c := Config{}.withDefaults()
	if len(c.ListenAddrs) != 2 || c.DHTPrefix != "/ipdm" || c.DHTMode != DHTModeServer ||
		c.AdvertTopic != DefaultAdvertTopic || c.AdvertTTL != 3*DefaultAdvertInterval ||
		c.Logger == nil || c.Version == "" || c.ConnHigh != DefaultConnHigh ||
		c.Bitswap.MaxOutstandingBytesPerPeer != DefaultBitswapMaxOutstandingBytesPerPeer {
		t.Fatalf("defaults = %+v", c)
	}
}

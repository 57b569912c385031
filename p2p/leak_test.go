package p2p_test

import (
	"context"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/ipdm/ipdm/p2p"
	"github.com/ipdm/ipdm/p2p/p2ptest"
)

// Close stops every goroutine the nodes started (libraries' process-wide
// singletons started by the first node aside, hence the warm-up).
func TestCloseStopsGoroutines(t *testing.T) {
	run := func() {
		var nodes []*p2p.Node
		for i := 0; i < 2; i++ {
			n, err := p2p.New(context.Background(), p2ptest.Config(), p2ptest.NewBlockstore())
			if err != nil {
				t.Fatal(err)
			}
			if err := n.Start(context.Background()); err != nil {
				t.Fatal(err)
			}
			nodes = append(nodes, n)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := nodes[0].Connect(ctx, nodes[1].Addrs()[0]); err != nil {
			t.Fatal(err)
		}
		blk := randomBlock(t, 1000)
		if err := nodes[0].Provide(ctx, blk.Cid()); err != nil {
			t.Fatal(err)
		}
		p2ptest.WaitFor(t, 10*time.Second, "capabilities", func() bool { return len(nodes[0].Capabilities()) == 2 })
		for _, n := range nodes {
			if err := n.Close(); err != nil {
				t.Fatal(err)
			}
		}
	}
	run() // warm-up: lets process-wide goroutines start
	time.Sleep(500 * time.Millisecond)
	base := runtime.NumGoroutine()
	run()
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > base && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > base {
		buf := make([]byte, 1<<20)
		stacks := string(buf[:runtime.Stack(buf, true)])
		t.Fatalf("%d goroutines after Close, %d before:\n%s", n, base, trimStacks(stacks))
	}
}

func trimStacks(s string) string {
	if len(s) > 20000 {
		s = s[:20000]
	}
	return strings.TrimSpace(s)
}

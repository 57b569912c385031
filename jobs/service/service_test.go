package service

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ipfs/boxo/blockservice"
	"github.com/ipfs/boxo/blockstore"
	"github.com/ipfs/boxo/exchange/offline"
	"github.com/ipfs/boxo/ipld/merkledag"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	ds "github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"
	mh "github.com/multiformats/go-multihash"

	"github.com/ipdm/ipdm/jobs/spec"
	"github.com/ipdm/ipdm/jobs/state"
	"github.com/ipdm/ipdm/verify"
	"github.com/ipdm/ipdm/wasm"
)

// loopModule is a WASI command whose _start spins until its fuel runs out
// or its run is cancelled.
var loopModule = []byte{0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
	0x01, 0x04, 0x01, 0x60, 0x00, 0x00,
	0x03, 0x02, 0x01, 0x00,
	0x07, 0x0a, 0x01, 0x06, '_', 's', 't', 'a', 'r', 't', 0x00, 0x00,
	0x0a, 0x09, 0x01, 0x07, 0x00, 0x03, 0x40, 0x0c, 0x00, 0x0b, 0x0b,
}

// trivialModule is a WASI command whose _start returns at once.
var trivialModule = []byte{0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
	0x01, 0x04, 0x01, 0x60, 0x00, 0x00,
	0x03, 0x02, 0x01, 0x00,
	0x07, 0x0a, 0x01, 0x06, '_', 's', 't', 'a', 'r', 't', 0x00, 0x00,
	0x0a, 0x04, 0x01, 0x02, 0x00, 0x0b,
}

func moduleCID(wasm []byte) cid.Cid {
	h, _ := mh.Sum(wasm, mh.SHA2_256, -1)
	return cid.NewCidV1(cid.Raw, h)
}

// loopNet delivers requests between services in this process, as the
// libp2p transport does between nodes: one handler call per request, with
// the caller's ID as the authenticated sender.
type loopNet struct {
	mu       sync.Mutex
	handlers map[string]map[string]func(ctx context.Context, from string, msg []byte) ([]byte, error)
}

type loopTransport struct {
	net  *loopNet
	self string
}

func (t loopTransport) Request(ctx context.Context, peer, proto string, msg []byte) ([]byte, error) {
	t.net.mu.Lock()
	h := t.net.handlers[peer][proto]
	t.net.mu.Unlock()
	if h == nil {
		return nil, fmt.Errorf("peer %s: no handler for %s", peer, proto)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return h(ctx, t.self, msg)
}

func (t loopTransport) Handle(proto string, h func(ctx context.Context, from string, msg []byte) ([]byte, error)) {
	t.net.mu.Lock()
	defer t.net.mu.Unlock()
	if t.net.handlers[t.self] == nil {
		t.net.handlers[t.self] = map[string]func(context.Context, string, []byte) ([]byte, error){}
	}
	t.net.handlers[t.self][proto] = h
}

type putMany struct{ bs blockservice.BlockService }

func (p putMany) PutMany(ctx context.Context, bs []blocks.Block) error {
	return p.bs.AddBlocks(ctx, bs)
}

type testNode struct {
	id    string
	svc   *Service
	store ds.Batching
}

// newTestNode starts a service on net; store may be shared with an
// earlier node to simulate a restart.
func newTestNode(t *testing.T, net *loopNet, rt *wasm.Runtime, key ed25519.PrivateKey, store ds.Batching, peers func() []Peer, cfg Config) *testNode {
	t.Helper()
	id, err := verify.PeerIDFromPublicKey(key.Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	bs := blockstore.NewBlockstore(dssync.MutexWrap(ds.NewMapDatastore()))
	bserv := blockservice.New(bs, offline.Exchange(bs))
	cfg.NodeID, cfg.Key, cfg.Transport, cfg.Peers = id, key, loopTransport{net, id}, peers
	cfg.Runtime, cfg.DAG, cfg.Blocks, cfg.Store = rt, merkledag.NewDAGService(bserv), putMany{bserv}, store
	cfg.TempDir = t.TempDir()
	cfg.ModuleBytes = func(_ context.Context, c cid.Cid) ([]byte, error) {
		for _, m := range [][]byte{loopModule, trivialModule} {
			if moduleCID(m).Equals(c) {
				return m, nil
			}
		}
		return nil, fmt.Errorf("no module %s", c)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return &testNode{id: id, svc: s, store: store}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func execState(s *Service, id string) state.ExecState {
	j, _ := s.Get(id)
	if len(j.Executions) == 0 {
		return ""
	}
	return j.Executions[len(j.Executions)-1].State
}

// TestExecutorQueueAndBusy: an executor with one slot and a queue of one
// runs one job, queues the next (acknowledged, so the coordinator sees it
// running) and declines a third for the round only; once the first ends,
// the queued one runs and the third is taken in a later round. A
// coordinator restarted on its store resumes every job.
func TestExecutorQueueAndBusy(t *testing.T) {
	ctx := context.Background()
	rt, err := wasm.New(ctx, wasm.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close(ctx)
	net := &loopNet{handlers: map[string]map[string]func(context.Context, string, []byte) ([]byte, error){}}
	_, xkey, _ := ed25519.GenerateKey(nil)
	_, ckey, _ := ed25519.GenerateKey(nil)
	var xid string
	peers := func() []Peer { return []Peer{{ID: xid}} }
	x := newTestNode(t, net, rt, xkey, dssync.MutexWrap(ds.NewMapDatastore()), nil, Config{Processing: true, Slots: 1, Queue: 1})
	xid = x.id
	cstore := dssync.MutexWrap(ds.NewMapDatastore())
	policy := state.Policy{BidWindow: time.Second, BidRetry: 100 * time.Millisecond, BidRetryMax: 100 * time.Millisecond}
	c := newTestNode(t, net, rt, ckey, cstore, peers, Config{Policy: policy})

	mod := moduleCID(loopModule)
	submit := func(c *testNode, name string) string {
		sp, err := spec.Decode([]byte(fmt.Sprintf("apiVersion: ipdm/v1\nkind: Job\nmodule: %s\nargs: [%s]\nresources: {fuel: 1000000000000000}\n", mod, name)))
		if err != nil {
			t.Fatal(err)
		}
		id, err := c.svc.Submit(ctx, sp, mod)
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	first := submit(c, "first")
	waitFor(t, "the first job to run", func() bool { return execState(c.svc, first) == state.ExecRunning })
	second := submit(c, "second")
	waitFor(t, "the second job to be queued", func() bool { return execState(c.svc, second) == state.ExecRunning })
	third := submit(c, "third")
	waitFor(t, "the third job's bid to be declined as busy", func() bool {
		j, _ := c.svc.Get(third)
		for _, h := range j.History {
			if h.Kind == "declined" && strings.Contains(h.Detail, "asked again") {
				return true
			}
		}
		return false
	})
	if j, _ := c.svc.Get(third); j.Phase != state.Bidding || len(j.Executions) != 0 || len(j.Declined) != 0 {
		t.Fatalf("third job: %s, executions %v, declined %v", j.Phase, j.Executions, j.Declined)
	}

	// Restart the coordinator on its store: every job is there.
	c.svc.Close()
	c = newTestNode(t, net, rt, ckey, cstore, peers, Config{Policy: policy})
	for _, id := range []string{first, second, third} {
		if _, ok := c.svc.Get(id); !ok {
			t.Fatalf("job %s lost in the restart", id)
		}
	}
	if err := c.svc.Cancel(first, "test"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the third job to be assigned", func() bool { return execState(c.svc, third) == state.ExecRunning })
	for _, id := range []string{second, third} {
		if err := c.svc.Cancel(id, "test"); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "the executor to stop everything", func() bool {
		x.svc.mu.Lock()
		defer x.svc.mu.Unlock()
		return x.svc.active == 0 && len(x.svc.running) == 0
	})
}

// TestEndedJobsLeaveMemory: beyond MaxResidentJobs, the oldest ended jobs
// are dropped from memory and List; by ID they are still there, read back
// from the store.
func TestEndedJobsLeaveMemory(t *testing.T) {
	ctx := context.Background()
	rt, err := wasm.New(ctx, wasm.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close(ctx)
	net := &loopNet{handlers: map[string]map[string]func(context.Context, string, []byte) ([]byte, error){}}
	_, key, _ := ed25519.GenerateKey(nil)
	var self string
	n := newTestNode(t, net, rt, key, dssync.MutexWrap(ds.NewMapDatastore()), func() []Peer { return []Peer{{ID: self}} },
		Config{Processing: true, MaxResidentJobs: 2})
	self = n.id
	mod := moduleCID(trivialModule)
	var ids []string
	for i := 0; i < 4; i++ {
		sp, err := spec.Decode([]byte(fmt.Sprintf("apiVersion: ipdm/v1\nkind: Job\nmodule: %s\nargs: [%d]\n", mod, i)))
		if err != nil {
			t.Fatal(err)
		}
		id, err := n.svc.Submit(ctx, sp, mod)
		if err != nil {
			t.Fatal(err)
		}
		if j, err := n.svc.Wait(ctx, id); err != nil || j.Phase != state.Completed {
			t.Fatalf("job %d: %s %v", i, j.Phase, err)
		}
		ids = append(ids, id)
	}
	var listed []string
	for _, j := range n.svc.List() {
		listed = append(listed, j.ID)
	}
	if len(listed) != 2 || listed[0] != ids[3] || listed[1] != ids[2] {
		t.Fatalf("List = %v, want the two newest of %v", listed, ids)
	}
	j, ok := n.svc.Get(ids[0])
	if !ok || j.Phase != state.Completed || !j.Result.Defined() {
		t.Fatalf("evicted job by ID: %v %+v", ok, j)
	}
	if j, err := n.svc.Wait(ctx, ids[0]); err != nil || j.ID != ids[0] {
		t.Fatalf("Wait on an evicted job: %v", err)
	}
	if _, _, final, err := n.svc.Watch(ids[1]); err != nil || !final {
		t.Fatalf("Watch on an evicted job: final %v, %v", final, err)
	}
	if _, ok := n.svc.Get("job-unknown"); ok {
		t.Fatal("an unknown job was found")
	}
}

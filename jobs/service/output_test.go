package service

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/ipfs/go-cid"
	ds "github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"

	"github.com/ipdm/ipdm/jobs/spec"
	"github.com/ipdm/ipdm/jobs/state"
	"github.com/ipdm/ipdm/wasm"
)

// printLoopModule is a WASI command whose _start writes "hello\n" to
// stdout and then spins until its fuel runs out or its run is cancelled.
var printLoopModule = func() []byte {
	section := func(id byte, content ...byte) []byte {
		return append([]byte{id, byte(len(content))}, content...) // every section is < 128 bytes
	}
	name := func(s string) []byte { return append([]byte{byte(len(s))}, s...) }
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	code := []byte{
		0x00,                                                       // no locals
		0x41, 0x01, 0x41, 0x00, 0x41, 0x01, 0x41, 0x08, 0x10, 0x00, // fd_write(1, iovec at 0, 1, nwritten at 8)
		0x1a,                               // drop
		0x03, 0x40, 0x0c, 0x00, 0x0b, 0x0b, // loop br 0 end; end
	}
	data := cat([]byte{16, 0, 0, 0, 6, 0, 0, 0}, make([]byte, 8), []byte("hello\n"))
	return cat([]byte("\x00asm\x01\x00\x00\x00"),
		section(1, 0x02, 0x60, 0x00, 0x00, 0x60, 0x04, 0x7f, 0x7f, 0x7f, 0x7f, 0x01, 0x7f),
		section(2, cat([]byte{0x01}, name("wasi_snapshot_preview1"), name("fd_write"), []byte{0x00, 0x01})...),
		section(3, 0x01, 0x00),
		section(5, 0x01, 0x00, 0x01),
		section(7, cat([]byte{0x02}, name("_start"), []byte{0x00, 0x01}, name("memory"), []byte{0x02, 0x00})...),
		section(10, cat([]byte{0x01, byte(len(code))}, code)...),
		section(11, cat([]byte{0x01, 0x00, 0x41, 0x00, 0x0b, byte(len(data))}, data)...),
	)
}()

func TestOutputRing(t *testing.T) {
	stream := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(i*7 + i/251)
		}
		return b
	}
	for _, tc := range []struct {
		name   string
		max    int
		writes []int // sizes, cut in order from one stream
		from   int64
		limit  int
		want   [2]int64 // kept range [from, to) of the stream returned
	}{
		{"empty", 8, nil, 0, 10, [2]int64{0, 0}},
		{"growing", 8, []int{3, 2}, 0, 10, [2]int64{0, 5}},
		{"from the middle", 8, []int{3, 2}, 2, 10, [2]int64{2, 5}},
		{"past the end", 8, []int{3}, 9, 10, [2]int64{3, 3}},
		{"limited", 8, []int{6}, 1, 3, [2]int64{1, 4}},
		{"wrapped", 8, []int{5, 5, 3}, 0, 10, [2]int64{5, 13}},
		{"wrapped from kept", 8, []int{5, 5, 3}, 7, 10, [2]int64{7, 13}},
		{"wrapped limited", 8, []int{5, 5, 3}, 6, 4, [2]int64{6, 10}},
		{"one huge write", 8, []int{2, 21}, 0, 100, [2]int64{15, 23}},
		{"exactly full", 8, []int{8}, 0, 100, [2]int64{0, 8}},
		{"byte by byte", 4, []int{1, 1, 1, 1, 1, 1, 1}, 0, 100, [2]int64{3, 7}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			total := 0
			for _, n := range tc.writes {
				total += n
			}
			all := stream(total)
			r := outputRing{max: tc.max}
			off := 0
			for _, n := range tc.writes {
				r.write(all[off : off+n])
				off += n
			}
			got := r.read(tc.from, tc.limit)
			if got.From != tc.want[0] || got.Next() != tc.want[1] || !bytes.Equal(got.Data, all[tc.want[0]:tc.want[1]]) {
				t.Fatalf("read(%d, %d) = [%d, %d) %v; want [%d, %d) %v", tc.from, tc.limit, got.From, got.Next(), got.Data,
					tc.want[0], tc.want[1], all[tc.want[0]:tc.want[1]])
			}
			if len(r.buf) > tc.max {
				t.Fatalf("ring holds %d bytes, max %d", len(r.buf), tc.max)
			}
		})
	}
}

// TestLiveOutputProtocol: the coordinator pulls a running execution's
// output from an offset; nobody else can; it reports the end.
func TestLiveOutputProtocol(t *testing.T) {
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
	x := newTestNode(t, net, rt, xkey, dssync.MutexWrap(ds.NewMapDatastore()), nil, Config{Processing: true})
	xid = x.id
	c := newTestNode(t, net, rt, ckey, dssync.MutexWrap(ds.NewMapDatastore()), func() []Peer { return []Peer{{ID: xid}} }, Config{})
	x.svc.cfg.ModuleBytes = func(_ context.Context, _ cid.Cid) ([]byte, error) { return printLoopModule, nil }

	mod := moduleCID(printLoopModule)
	sp, err := spec.Decode([]byte(fmt.Sprintf("apiVersion: ipdm/v1\nkind: Job\nmodule: %s\nresources: {fuel: 1000000000000000}\n", mod)))
	if err != nil {
		t.Fatal(err)
	}
	id, err := c.svc.Submit(ctx, sp, mod)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the job to run", func() bool { return execState(c.svc, id) == state.ExecRunning })
	var out LiveOutput
	waitFor(t, "live output", func() bool {
		out, err = c.svc.Output(ctx, id, xid, 0, 0)
		return err == nil && len(out.Stdout.Data) > 0
	})
	if string(out.Stdout.Data) != "hello\n" || out.Stdout.From != 0 || out.Stderr.Next() != 0 || out.Ended {
		t.Fatalf("live output while running: %+v", out)
	}
	if j, _ := c.svc.Get(id); j.Phase.Terminal() {
		t.Fatalf("job ended: %s", j.Phase)
	}
	if out, err = c.svc.Output(ctx, id, xid, 6, 0); err != nil || out.Stdout.From != 6 || len(out.Stdout.Data) != 0 {
		t.Fatalf("output from the end: %+v, %v", out, err)
	}
	if out, err = c.svc.Output(ctx, id, xid, 2, 0); err != nil || string(out.Stdout.Data) != "llo\n" || out.Stdout.From != 2 {
		t.Fatalf("output from offset 2: %+v, %v", out, err)
	}
	// Only the coordinator may pull; only from an executor of the job.
	stranger := loopTransport{net, "stranger"}
	if _, err := stranger.Request(ctx, xid, protoOutput, encode(outputRequest{JobID: id})); err == nil || !strings.Contains(err.Error(), "another node") {
		t.Fatalf("a stranger pulled the output: %v", err)
	}
	if _, err := c.svc.Output(ctx, id, c.id, 0, 0); !errors.Is(err, ErrNotExecutor) {
		t.Fatalf("output from a non-executor: %v", err)
	}
	if _, err := c.svc.Output(ctx, "job-unknown", xid, 0, 0); !errors.Is(err, ErrUnknownJob) {
		t.Fatalf("output of an unknown job: %v", err)
	}

	// The end is reported once the run is over (here: the executor's
	// copy, since a cancelled job's execution is forgotten).
	x.svc.mu.Lock()
	live := x.svc.running[id].output
	x.svc.mu.Unlock()
	if err := c.svc.Cancel(id, "test"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the run to end", func() bool { return live.read(0, 0).Ended })
	if got := live.read(0, 0); string(got.Stdout.Data) != "hello\n" {
		t.Fatalf("output after the end: %+v", got)
	}
	live.release()
	if got := live.read(0, 0); !got.Ended || got.Stdout.From != 6 || len(got.Stdout.Data) != 0 {
		t.Fatalf("output after release: %+v", got)
	}
}

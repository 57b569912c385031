package p2p_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ipdm/ipdm/p2p/p2ptest"
	"github.com/ipfs/go-cid"
)

// kubo runs a stock Kubo daemon in a temp repo on loopback.
type kubo struct {
	t    *testing.T
	bin  string
	repo string
	cmd  *exec.Cmd

	mu  sync.Mutex
	out bytes.Buffer // daemon stdout+stderr, for failure reports
}

func startKubo(t *testing.T) *kubo {
	bin := os.Getenv("IPDM_KUBO_BIN")
	if bin == "" {
		t.Skip("IPDM_KUBO_BIN not set: path to a Kubo (go-ipfs) 0.43 binary enables the interop test")
	}
	k := &kubo{t: t, bin: bin, repo: t.TempDir()}
	// The test profile binds API, gateway and swarm to 127.0.0.1 on
	// kernel-chosen ports and empties the bootstrap list.
	k.run(nil, "init", "--profile=test")
	k.run(nil, "config", "Routing.Type", "none")
	k.run(nil, "config", "--json", "Bootstrap", "[]")

	k.cmd = exec.Command(bin, "daemon", "--offline=false")
	k.cmd.Env = k.env()
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	k.cmd.Stdout, k.cmd.Stderr = pw, pw
	if err := k.cmd.Start(); err != nil {
		t.Fatalf("start kubo daemon: %v", err)
	}
	pw.Close()
	ready := make(chan struct{})
	scanDone := make(chan struct{})
	go func() { // ends when the daemon exits and the pipe closes
		defer close(scanDone)
		sc := bufio.NewScanner(pr)
		once := sync.Once{}
		for sc.Scan() {
			k.mu.Lock()
			k.out.WriteString(sc.Text() + "\n")
			k.mu.Unlock()
			if strings.Contains(sc.Text(), "Daemon is ready") {
				once.Do(func() { close(ready) })
			}
		}
	}()
	t.Cleanup(func() {
		_ = k.cmd.Process.Signal(os.Interrupt)
		waited := make(chan error, 1)
		go func() { waited <- k.cmd.Wait() }()
		select {
		case <-waited:
		case <-time.After(15 * time.Second):
			_ = k.cmd.Process.Kill()
			<-waited
		}
		<-scanDone
		pr.Close()
	})
	select {
	case <-ready:
	case <-scanDone:
		t.Fatalf("kubo daemon exited:\n%s", k.output())
	case <-time.After(60 * time.Second):
		t.Fatalf("kubo daemon not ready after 60s:\n%s", k.output())
	}
	return k
}

func (k *kubo) env() []string {
	return append(os.Environ(), "IPFS_PATH="+k.repo)
}

func (k *kubo) output() string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.out.String()
}

// run runs an ipfs command against the repo with a 60 s limit and returns
// its stdout.
func (k *kubo) run(stdin []byte, args ...string) []byte {
	k.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, k.bin, args...)
	cmd.Env = k.env()
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		daemon := ""
		if k.cmd != nil {
			daemon = "\ndaemon output:\n" + k.output()
		}
		k.t.Fatalf("ipfs %s: %v\nstderr: %s%s", strings.Join(args, " "), err, stderr.String(), daemon)
	}
	return out
}

func TestKuboInterop(t *testing.T) {
	k := startKubo(t)
	var id struct {
		ID        string
		Addresses []string
	}
	if err := json.Unmarshal(k.run(nil, "id"), &id); err != nil {
		t.Fatal(err)
	}

	bs := p2ptest.NewBlockstore()
	n := p2ptest.NewNode(t, p2ptest.Config(), bs)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var dialed bool
	for _, a := range id.Addresses {
		if strings.HasPrefix(a, "/ip4/127.0.0.1/") && n.Connect(ctx, a) == nil {
			dialed = true
			break
		}
	}
	if !dialed {
		t.Fatalf("could not connect to kubo at %v", id.Addresses)
	}

	// Kubo holds a block; we fetch it over bitswap.
	kuboData := []byte("block added by kubo " + time.Now().String())
	kuboCID, err := cid.Decode(strings.TrimSpace(string(k.run(kuboData, "block", "put", "--cid-codec=raw"))))
	if err != nil {
		t.Fatal(err)
	}
	got, err := n.Exchange().GetBlock(ctx, kuboCID)
	if err != nil {
		t.Fatalf("fetch %s from kubo: %v", kuboCID, err)
	}
	if !bytes.Equal(got.RawData(), kuboData) {
		t.Fatal("block from kubo has wrong bytes")
	}

	// We hold blocks; Kubo fetches them with `ipfs block get` and `ipfs cat`.
	for _, cmd := range [][]string{{"block", "get"}, {"cat"}} {
		blk := randomBlock(t, 300<<10)
		if err := bs.Put(ctx, blk); err != nil {
			t.Fatal(err)
		}
		if err := n.Exchange().NotifyNewBlocks(ctx, blk); err != nil {
			t.Fatal(err)
		}
		out := k.run(nil, append(cmd, "--timeout=30s", blk.Cid().String())...)
		if !bytes.Equal(out, blk.RawData()) {
			t.Fatalf("ipfs %s returned %d bytes, want our %d-byte block", strings.Join(cmd, " "), len(out), len(blk.RawData()))
		}
	}
	t.Logf("kubo %s exchanged blocks with %s", id.ID, n.ID())
	if s := n.Stats(); s.BlocksSent != 2 || s.BlocksReceived != 1 {
		t.Fatalf("stats = %+v, want 2 blocks sent and 1 received", s)
	}
}

package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ipdm/ipdm/api"
	"github.com/ipdm/ipdm/devnet"
)

// loopModule is a WASI command whose _start spins for ever: it ends only
// when its fuel runs out or its run is cancelled.
var loopModule = []byte{0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
	0x01, 0x04, 0x01, 0x60, 0x00, 0x00, // type () -> ()
	0x03, 0x02, 0x01, 0x00, // one function
	0x07, 0x0a, 0x01, 0x06, '_', 's', 't', 'a', 'r', 't', 0x00, 0x00, // export _start
	0x0a, 0x09, 0x01, 0x07, 0x00, 0x03, 0x40, 0x0c, 0x00, 0x0b, 0x0b, // loop br 0 end
}

// loopJob publishes the loop module on n and returns a job spec file for it.
func loopJob(t *testing.T, n *devnet.Node, replicas int, fuel uint64, execTimeout string) string {
	t.Helper()
	mod := filepath.Join(t.TempDir(), "loop.wasm")
	os.WriteFile(mod, loopModule, 0o600)
	out := mustIPDM(t, "module", "add", "--repo", n.Repo, mod)
	c := regexpFind(t, out, `cid: (\S+)`)
	spec := filepath.Join(t.TempDir(), "job.yaml")
	os.WriteFile(spec, []byte(fmt.Sprintf(`apiVersion: ipdm/v1
kind: Job
module: %s
replicas: %d
resources:
  fuel: %d
  timeouts:
    execution: %s
`, c, replicas, fuel, execTimeout)), 0o600)
	return spec
}

func describe(t *testing.T, n *devnet.Node, id string) api.Job {
	t.Helper()
	var j api.Job
	if err := json.Unmarshal([]byte(mustIPDM(t, "job", "describe", "--json", "--repo", n.Repo, id)), &j); err != nil {
		t.Fatal(err)
	}
	return j
}

// waitJob polls until cond holds for the job or the timeout passes.
func waitJob(t *testing.T, n *devnet.Node, id string, timeout time.Duration, what string, cond func(api.Job) bool) api.Job {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		j := describe(t, n, id)
		if cond(j) {
			return j
		}
		if time.Now().After(deadline) {
			d, _ := json.MarshalIndent(j, "", " ")
			t.Fatalf("job %s: not %s after %s:\n%s", id, what, timeout, d)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func running(j api.Job) bool {
	for _, x := range j.Executions {
		if x.State == "running" {
			return true
		}
	}
	return false
}

func nodeByPeer(net *devnet.Net, id string) *devnet.Node {
	for _, n := range net.Nodes {
		if n.PeerID == id {
			return n
		}
	}
	return nil
}

// TestCancelStopsModule cancels a job whose module loops for ever: the
// executor's sandbox stops within a second.
func TestCancelStopsModule(t *testing.T) {
	net := startNet(t, 2, devnet.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := net.WaitPeers(ctx, 1); err != nil {
		t.Fatal(err)
	}
	n0 := net.Nodes[0]
	spec := loopJob(t, n0, 1, 1<<62, "5m")
	id := strings.TrimSpace(mustIPDM(t, "job", "run", "--repo", n0.Repo, "-f", spec, "--id-only"))
	j := waitJob(t, n0, id, 30*time.Second, "running", running)
	exec := nodeByPeer(net, j.Executions[0].Node)
	time.Sleep(300 * time.Millisecond)
	start := time.Now()
	mustIPDM(t, "job", "cancel", "--repo", n0.Repo, id)
	for {
		log, _ := os.ReadFile(exec.Log)
		if strings.Contains(string(log), "execution ended early") {
			break
		}
		if time.Since(start) > 5*time.Second {
			t.Fatalf("node%d still runs the module 5s after cancel", exec.Index)
		}
		time.Sleep(20 * time.Millisecond)
	}
	stopped := time.Since(start)
	t.Logf("module stopped %s after cancel (includes the CLI round trip)", stopped)
	if stopped > time.Second {
		t.Fatalf("module stopped %s after cancel, want within a second", stopped)
	}
	if j := describe(t, n0, id); j.State != "cancelled" {
		t.Fatalf("state %s", j.State)
	}
}

// TestCoordinatorRestartResumes kills the coordinator while its job runs;
// restarted, it picks the job up from its store and completes it.
func TestCoordinatorRestartResumes(t *testing.T) {
	// The coordinator (node1) offers no processing, so both executions run
	// elsewhere and survive its crash.
	net := startNet(t, 3, devnet.Options{PerNodeArgs: map[int][]string{1: {"--role", "storage", "--role", "gateway"}}})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := net.WaitPeers(ctx, 2); err != nil {
		t.Fatal(err)
	}
	coord := net.Nodes[1]
	spec := loopJob(t, coord, 2, 1_000_000_000, "5m")
	id := strings.TrimSpace(mustIPDM(t, "job", "run", "--repo", coord.Repo, "-f", spec, "--id-only"))
	waitJob(t, coord, id, 30*time.Second, "running", running)
	net.Kill(1)
	if err := net.Start(ctx, 1); err != nil {
		t.Fatal(err)
	}
	j := waitJob(t, coord, id, 90*time.Second, "completed", func(j api.Job) bool { return j.State == "completed" })
	if len(j.Agreeing) < 2 || j.ExitCode == nil {
		t.Fatalf("resumed job: %+v", j)
	}
}

// TestExecutorKilledIsReplaced kills the node running a job's only
// execution: the coordinator times it out, assigns another node, and the
// job completes once.
func TestExecutorKilledIsReplaced(t *testing.T) {
	net := startNet(t, 4, devnet.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := net.WaitPeers(ctx, 3); err != nil {
		t.Fatal(err)
	}
	n0 := net.Nodes[0]
	spec := loopJob(t, n0, 1, 1_000_000_000, "6s")
	id := strings.TrimSpace(mustIPDM(t, "job", "run", "--repo", n0.Repo, "-f", spec, "--id-only"))
	j := waitJob(t, n0, id, 30*time.Second, "running", running)
	victim := nodeByPeer(net, j.Executions[0].Node)
	if victim.Index == 0 {
		t.Skip("the coordinator picked itself; killing it is the restart test's case")
	}
	net.Kill(victim.Index)
	j = waitJob(t, n0, id, 90*time.Second, "completed", func(j api.Job) bool { return j.State == "completed" })
	accepted, lost := 0, 0
	for _, x := range j.Executions {
		switch {
		case x.State == "accepted":
			accepted++
		case x.Node == victim.PeerID:
			lost++
		}
	}
	if accepted != 1 || lost != 1 {
		d, _ := json.MarshalIndent(j, "", " ")
		t.Fatalf("want one lost and one accepted execution:\n%s", d)
	}
}

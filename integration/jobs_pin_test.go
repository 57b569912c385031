package integration

import (
	"bytes"
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
	"github.com/ipdm/ipdm/examples/csvfilter-c/csvfilter"
)

// TestPinOnRespectsStorageCap: a job's 3 MiB result is to be replicated
// (publisher.pin_on) to the one storage node, whose cap leaves room for 1
// MiB. The cap is checked block by block during the fetch: the pin fails
// with "storage limit reached", the store never passes its cap, and the
// blocks the aborted pin stored are removed again.
func TestPinOnRespectsStorageCap(t *testing.T) {
	const capBytes = 1 << 20
	net := startNet(t, 3, devnet.Options{PerNodeArgs: map[int][]string{
		0: {"--role", "processing", "--role", "gateway"},
		1: {"--role", "processing", "--label", "exec=yes"},
		2: {"--role", "storage", "--storage-max-bytes", fmt.Sprint(capBytes)},
	}})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := net.WaitPeers(ctx, 2); err != nil {
		t.Fatal(err)
	}
	n0, n1, n2 := net.Nodes[0], net.Nodes[1], net.Nodes[2]
	c2 := n2.Client()
	defer c2.Close()
	before, err := c2.RepoStat(ctx)
	if err != nil {
		t.Fatal(err)
	}

	var csv bytes.Buffer
	csv.WriteString("k,v\n")
	for i := 0; csv.Len() < 3<<20; i++ {
		fmt.Fprintf(&csv, "a,%x\n", randomBytes(uint64(i), 32))
	}
	data := filepath.Join(t.TempDir(), "rows.csv")
	os.WriteFile(data, csv.Bytes(), 0o600)
	input := strings.TrimSpace(mustIPDM(t, "add", "-Q", "--repo", n1.Repo, data))
	mod := filepath.Join(t.TempDir(), "csvfilter.wasm")
	os.WriteFile(mod, csvfilter.Module, 0o600)
	module := regexpFind(t, mustIPDM(t, "module", "add", "--repo", n0.Repo, mod), `cid: (\S+)`)
	spec := filepath.Join(t.TempDir(), "job.yaml")
	os.WriteFile(spec, []byte(fmt.Sprintf(`apiVersion: ipdm/v1
kind: Job
module: %s
inputs: [%s]
args: [k, a]
constraints: {labels: {exec: "yes"}}
publisher: {pin_on: 1}
`, module, input)), 0o600)
	var j api.Job
	if err := json.Unmarshal([]byte(mustIPDM(t, "job", "run", "--repo", n0.Repo, "-f", spec, "--wait", "--json")), &j); err != nil {
		t.Fatal(err)
	}
	if j.State != "completed" || j.ExitCode == nil || *j.ExitCode != 0 {
		t.Fatalf("job: %+v", j)
	}
	// The coordinator asked node2 (the only storage peer) and got a refusal.
	for start := time.Now(); ; time.Sleep(50 * time.Millisecond) {
		log, _ := os.ReadFile(n0.Log)
		if strings.Contains(string(log), "msg=\"result replicated\"") {
			if !strings.Contains(string(log), "storage limit reached") {
				t.Fatalf("the result was replicated, or refused for another reason:\n%s", lastBytes(log, 2048))
			}
			break
		}
		if time.Since(start) > 30*time.Second {
			t.Fatalf("no replication outcome in the coordinator's log:\n%s", lastBytes(log, 2048))
		}
	}
	if j = describe(t, n0, j.ID); len(j.PinnedOn) != 0 {
		t.Fatalf("pinned on %v despite the cap", j.PinnedOn)
	}
	after, err := c2.RepoStat(ctx)
	if err != nil {
		t.Fatal(err)
	}
	pins, err := c2.PinLs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pins {
		if p.CID == j.Result {
			t.Fatalf("node2 pinned %s", j.Result)
		}
	}
	log2, _ := os.ReadFile(n2.Log)
	if !strings.Contains(string(log2), "aborted pin: partial data removed") {
		t.Fatalf("node2 did not fetch part of the result before refusing (the test must exercise the cap during the fetch):\n%s", lastBytes(log2, 2048))
	}
	if after.Bytes > capBytes || after.Bytes != before.Bytes || after.Blocks != before.Blocks {
		t.Fatalf("node2 store: %d bytes in %d blocks before, %d in %d after (cap %d)", before.Bytes, before.Blocks, after.Bytes, after.Blocks, capBytes)
	}
}

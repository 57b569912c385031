package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ipdm/ipdm/api"
	"github.com/ipdm/ipdm/devnet"
)

// TestLocalityFromProviders: the input lives on node3 only, and node3's
// bids never say so (--fault hide-inputs, TEST ONLY): the coordinator
// (node0) learns where the data is from the DHT provider records of the
// input, which it looks up while bids come in, so every job runs on node3
// and its history names node3 as provider.
func TestLocalityFromProviders(t *testing.T) {
	net := startNet(t, 5, devnet.Options{PerNodeArgs: map[int][]string{3: {"--fault", "hide-inputs"}}})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := net.WaitPeers(ctx, 4); err != nil {
		t.Fatal(err)
	}
	n0, n3 := net.Nodes[0], net.Nodes[3]
	data := filepath.Join(t.TempDir(), "data.txt")
	os.WriteFile(data, []byte("held by node3 only\n"), 0o600)
	input := strings.TrimSpace(mustIPDM(t, "add", "-Q", "--repo", n3.Repo, data))
	mod := filepath.Join(t.TempDir(), "t.wasm")
	os.WriteFile(mod, trivialModule, 0o600)
	module := regexpFind(t, mustIPDM(t, "module", "add", "--repo", n0.Repo, mod), `cid: (\S+)`)

	// node3 announces the input in the background after the add; wait for
	// the record to be findable from node0.
	c := n0.Client()
	defer c.Close()
	for {
		ids, err := c.FindProviders(ctx, input, 2*time.Second)
		if err == nil && slices.Contains(ids, n3.PeerID) {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("node0 never found node3's provider record for %s: %v %v", input, ids, err)
		}
		time.Sleep(100 * time.Millisecond)
	}

	// Three jobs (three job IDs, so three different tie-breaks among equal
	// nodes): without the provider records each would land on node3 with
	// a chance of one in five.
	for i := 0; i < 3; i++ {
		spec := fmt.Sprintf(`{"apiVersion":"ipdm/v1","kind":"Job","module":%q,"inputs":[%q],"args":["run-%d"]}`, module, input, i)
		start := time.Now()
		j, err := c.JobSubmit(ctx, []byte(spec), true)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("job %d: submit to verified result in %s (provider lookup %s)", i, time.Since(start).Round(time.Millisecond),
			map[bool]string{true: "cached", false: "in the DHT"}[i > 0])
		if j.State != "completed" || len(j.Executions) != 1 || j.Executions[0].Node != n3.PeerID {
			d, _ := json.MarshalIndent(j, "", " ")
			t.Fatalf("job %d did not run on node3 (%s):\n%s", i, n3.PeerID, d)
		}
		var provider, selfReport bool
		for _, h := range j.History {
			provider = provider || (h.Kind == "provider" && h.Node == n3.PeerID)
			selfReport = selfReport || (h.Kind == "bid" && h.Node == n3.PeerID && !strings.HasPrefix(h.Detail, "has 0 of"))
		}
		if !provider || selfReport {
			t.Fatalf("job %d: history should name node3 as provider (%v) with a bid claiming nothing (claimed: %v):\n%s",
				i, provider, selfReport, history(j))
		}
	}
}

func history(j api.Job) string {
	var b strings.Builder
	for _, h := range j.History {
		fmt.Fprintf(&b, "%s %-14s %s %s\n", h.At.Format("15:04:05.000"), h.Kind, h.Node, h.Detail)
	}
	return b.String()
}

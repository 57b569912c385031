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

// TestVerifiedJobs runs a Wasm job on 3 replicas of a 5-node network, one
// of which lies: the honest result is accepted, the liar recorded as
// dissenter, and every receipt verifies offline.
func TestVerifiedJobs(t *testing.T) {
	wc := buildWordcount(t)
	net := startNet(t, 5, devnet.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := net.WaitPeers(ctx, 4); err != nil {
		t.Fatal(err)
	}
	n0 := net.Nodes[0]
	text := filepath.Join(t.TempDir(), "text.txt")
	os.WriteFile(text, []byte(strings.Repeat("the quick brown fox jumps over the lazy dog\n", 200)), 0o600)
	input := strings.TrimSpace(mustIPDM(t, "add", "-Q", "--repo", net.Nodes[3].Repo, text))
	mustIPDM(t, "module", "add", "--repo", n0.Repo, wc, "--name", "wordcount", "--version", "1.0.0")

	spec := filepath.Join(t.TempDir(), "job.yaml")
	os.WriteFile(spec, []byte("apiVersion: ipdm/v1\nkind: Job\nmodule: wordcount@1.0.0\ninputs: ["+input+"]\nreplicas: 3\npublisher: {local: true, pin_on: 2}\n"), 0o600)
	out := mustIPDM(t, "job", "run", "--repo", n0.Repo, "-f", spec, "--wait", "--json")
	var j api.Job
	if err := json.Unmarshal([]byte(out), &j); err != nil {
		t.Fatalf("job run --json: %v\n%s", err, out)
	}
	// The job is accepted as soon as a quorum (2 of 3) agrees.
	if j.State != "completed" || j.Result == "" || j.ExitCode == nil || *j.ExitCode != 0 || len(j.Agreeing) < 2 {
		t.Fatalf("job: %+v", j)
	}
	if !strings.Contains(j.Stdout, "words") {
		t.Fatalf("stdout: %q", j.Stdout)
	}
	nodes := map[string]bool{}
	for _, x := range j.Executions {
		nodes[x.Node] = true
		if x.Result != "" && x.Result != j.Result {
			t.Errorf("execution on %s: result %s, accepted %s", x.Node, x.Result, j.Result)
		}
	}
	if len(nodes) != 3 {
		t.Fatalf("executions on %d distinct nodes: %+v", len(nodes), j.Executions)
	}
	// The input lives on node3 only: data locality ranks it first.
	if !nodes[net.Nodes[3].PeerID] {
		t.Fatalf("node3, which holds the input, was not chosen: %+v", j.Executions)
	}
	// publisher.pin_on: 2 further nodes pin the result.
	pinned := waitJob(t, n0, j.ID, 30*time.Second, "pinned on 2 nodes", func(j api.Job) bool { return len(j.PinnedOn) == 2 })
	if holder := nodeByPeer(net, pinned.PinnedOn[0]); holder == nil || !strings.Contains(mustIPDM(t, "pin", "ls", "--repo", holder.Repo), j.Result) {
		t.Fatalf("result %s not pinned on %v", j.Result, pinned.PinnedOn)
	}
	got := filepath.Join(t.TempDir(), "result")
	mustIPDM(t, "job", "get", "--repo", n0.Repo, "-o", got, j.ID)
	if b, err := os.ReadFile(filepath.Join(got, "exit_code")); err != nil || string(b) != "0\n" {
		t.Fatalf("job get: exit_code %q %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(got, "outputs", "result.json")); err != nil {
		t.Fatalf("job get: %v", err)
	}
	receipts := mustIPDM(t, "job", "receipts", "--repo", n0.Repo, j.ID)
	rf := filepath.Join(t.TempDir(), "receipts.json")
	os.WriteFile(rf, []byte(receipts), 0o600)
	if v := mustIPDM(t, "job", "verify", rf); strings.Count(v, ": valid:") < 2 {
		t.Fatalf("verify: %s", v)
	}
	// A tampered receipt fails offline verification.
	tampered := strings.Replace(receipts, `"fuel_used": `, `"fuel_used": 1`, 1)
	os.WriteFile(rf, []byte(tampered), 0o600)
	if _, _, code := ipdm(t, nil, "job", "verify", rf); code == 0 {
		t.Fatal("a tampered receipt verified")
	}
	// The same job again gives the same result CID (determinism across runs
	// and nodes).
	out = mustIPDM(t, "job", "run", "--repo", net.Nodes[1].Repo, "--module", "wordcount@1.0.0", "--input", input,
		"--replicas", "2", "--follow")
	if !strings.Contains(out, "accept") || !strings.Contains(out, "result:   "+j.Result) {
		t.Fatalf("second run from node1 (--follow) did not accept the first run's result %s:\n%s", j.Result, out)
	}
}

// TestLiarOutvoted runs 3 replicas where every executor but the honest
// majority lies.
func TestLiarOutvoted(t *testing.T) {
	wc := buildWordcount(t)
	dir := t.TempDir()
	// node3 lies about every result it computes.
	net := startNet(t, 4, devnet.Options{Dir: dir, PerNodeArgs: map[int][]string{3: {"--fault", "lie"}}})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := net.WaitPeers(ctx, 3); err != nil {
		t.Fatal(err)
	}
	n0 := net.Nodes[0]
	mustIPDM(t, "module", "add", "--repo", n0.Repo, wc, "--name", "wordcount", "--version", "1.0.0")
	text := filepath.Join(t.TempDir(), "t.txt")
	os.WriteFile(text, []byte("one two two three three three\n"), 0o600)
	input := strings.TrimSpace(mustIPDM(t, "add", "-Q", "--repo", n0.Repo, text))
	// 4 processing nodes, 4 replicas: the liar is always among them.
	out, errs, _ := ipdm(t, nil, "job", "run", "--repo", n0.Repo, "--module", "wordcount@1.0.0", "--input", input,
		"--replicas", "4", "--quorum", "3", "--wait", "--json")
	if errs != "" {
		t.Logf("job run stderr: %s", errs)
	}
	var j api.Job
	if err := json.Unmarshal([]byte(out), &j); err != nil {
		t.Fatal(err)
	}
	liar := net.Nodes[3].PeerID
	if j.State == "completed" && len(j.Dissenting) == 0 {
		// Accepted as soon as 3 agreed; the liar's reveal may land after.
		j = waitJob(t, n0, j.ID, 10*time.Second, "judged", func(j api.Job) bool { return len(j.Agreeing)+len(j.Dissenting) == 4 })
	}
	if j.State != "completed" || len(j.Dissenting) != 1 || j.Dissenting[0] != liar {
		d, _ := json.MarshalIndent(j, "", " ")
		t.Logf("%s", d)
		t.Fatalf("job: state %s result %s agreeing %v dissenting %v (liar %s)", j.State, j.Result, j.Agreeing, j.Dissenting, liar)
	}
	// The verdict lowers the liar's reputation; the coordinator logs it.
	for start := time.Now(); ; time.Sleep(50 * time.Millisecond) {
		log, _ := os.ReadFile(n0.Log)
		if strings.Contains(string(log), "observation=disagreed") && strings.Contains(string(log), "node="+liar) {
			break
		}
		if time.Since(start) > 5*time.Second {
			t.Fatal("coordinator log has no disagreement verdict for the liar")
		}
	}

	// Two more lies quarantine it (three in quick succession), which
	// 'job reputation' and 'job describe' show; the next job refuses its
	// bid and runs without it.
	for i := 0; i < 2; i++ {
		out := mustIPDM(t, "job", "run", "--repo", n0.Repo, "--module", "wordcount@1.0.0", "--input", input,
			"--replicas", "4", "--quorum", "3", "--wait", "--id-only", "--", fmt.Sprint("again-", i))
		id := strings.TrimSpace(out)
		waitJob(t, n0, id, 10*time.Second, "judged", func(j api.Job) bool { return len(j.Agreeing)+len(j.Dissenting) == 4 })
	}
	var reps []api.NodeReputation
	if err := json.Unmarshal([]byte(mustIPDM(t, "job", "reputation", "--json", "--repo", n0.Repo)), &reps); err != nil {
		t.Fatal(err)
	}
	var liarRep, honestRep *api.NodeReputation
	for i, r := range reps {
		switch {
		case r.Node == liar:
			liarRep = &reps[i]
		case r.Node == net.Nodes[1].PeerID:
			honestRep = &reps[i]
		}
	}
	if liarRep == nil || honestRep == nil || !liarRep.Quarantined || liarRep.QuarantinedUntil == nil ||
		liarRep.Disagreements < 2.9 || honestRep.Quarantined || liarRep.Score >= honestRep.Score {
		t.Fatalf("reputation after three lies: liar %+v, honest %+v", liarRep, honestRep)
	}
	if table := mustIPDM(t, "job", "reputation", "--repo", n0.Repo); !strings.Contains(table, liar) || !strings.Contains(table, "until ") {
		t.Fatalf("job reputation does not show the quarantine:\n%s", table)
	}
	var next api.Job
	out = mustIPDM(t, "job", "run", "--repo", n0.Repo, "--module", "wordcount@1.0.0", "--input", input,
		"--replicas", "3", "--wait", "--json", "--", "after-quarantine")
	if err := json.Unmarshal([]byte(out), &next); err != nil {
		t.Fatal(err)
	}
	refused := false
	for _, h := range next.History {
		refused = refused || (h.Node == liar && strings.Contains(h.Detail, "quarantined"))
	}
	for _, x := range next.Executions {
		if x.Node == liar {
			t.Fatalf("quarantined liar executed a job: %+v", next.Executions)
		}
	}
	if next.State != "completed" || !refused {
		t.Fatalf("job after the quarantine: state %s, liar's bid refused as quarantined: %v\n%s", next.State, refused, history(next))
	}
	if d := mustIPDM(t, "job", "describe", "--repo", n0.Repo, j.ID); !strings.Contains(d, "QUARANTINED") {
		t.Fatalf("job describe does not show the liar's quarantine:\n%s", d)
	}
}

// TestLabelConstraint: a job constrained to region=eu runs on the one node
// labelled so, and the others' bids are refused with the reason recorded.
func TestLabelConstraint(t *testing.T) {
	net := startNet(t, 3, devnet.Options{PerNodeArgs: map[int][]string{2: {"--label", "region=eu"}}})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := net.WaitPeers(ctx, 2); err != nil {
		t.Fatal(err)
	}
	n0 := net.Nodes[0]
	mod := filepath.Join(t.TempDir(), "t.wasm")
	os.WriteFile(mod, trivialModule, 0o600)
	c := regexpFind(t, mustIPDM(t, "module", "add", "--repo", n0.Repo, mod), `cid: (\S+)`)
	spec := filepath.Join(t.TempDir(), "job.yaml")
	os.WriteFile(spec, []byte("apiVersion: ipdm/v1\nkind: Job\nmodule: "+c+"\nconstraints:\n  labels: {region: eu}\n"), 0o600)
	var j api.Job
	if err := json.Unmarshal([]byte(mustIPDM(t, "job", "run", "--repo", n0.Repo, "-f", spec, "--wait", "--json")), &j); err != nil {
		t.Fatal(err)
	}
	if j.State != "completed" || len(j.Executions) != 1 || j.Executions[0].Node != net.Nodes[2].PeerID {
		t.Fatalf("job ran on %+v, want node2 (%s) only", j.Executions, net.Nodes[2].PeerID)
	}
	j = describe(t, n0, j.ID)
	refused := 0
	for _, h := range j.History {
		if strings.Contains(h.Detail, "region") {
			refused++
		}
	}
	if refused < 2 {
		t.Fatalf("history does not say why the unlabelled nodes were refused: %+v", j.History)
	}
}

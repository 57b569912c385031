package integration

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ipdm/ipdm/devnet"
)

// TestJobLogs: 'job logs' works in every state. While a job runs it
// prints the history so far and returns; '--follow' streams each event as
// it happens and ends with the job, after the accepted result's stdout.
func TestJobLogs(t *testing.T) {
	wc := buildWordcount(t)
	net := startNet(t, 2, devnet.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := net.WaitPeers(ctx, 1); err != nil {
		t.Fatal(err)
	}
	n0 := net.Nodes[0]

	// A module that runs for a while (until its fuel runs out: a trap,
	// which is a result like any other).
	spec := loopJob(t, n0, 1, 1_000_000_000, "5m")
	id := strings.TrimSpace(mustIPDM(t, "job", "run", "--repo", n0.Repo, "-f", spec, "--id-only"))
	cmd := exec.CommandContext(ctx, ipdmBin, "job", "logs", "--follow", "--repo", n0.Repo, id)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Without --follow, a running job's log is its history so far.
	waitJob(t, n0, id, 30*time.Second, "running", running)
	now := mustIPDM(t, "job", "logs", "--repo", n0.Repo, id)
	if !strings.Contains(now, "assign") || strings.Contains(now, "job "+id) {
		t.Fatalf("logs of a running job:\n%s", now)
	}
	var lines []string
	var assignedAt, endAt time.Time
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		line := sc.Text()
		lines = append(lines, line)
		if strings.Contains(line, " assign ") && assignedAt.IsZero() {
			assignedAt = time.Now()
		}
		if strings.HasPrefix(line, "job "+id) {
			endAt = time.Now()
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("job logs --follow: %v\n%s", err, strings.Join(lines, "\n"))
	}
	out := strings.Join(lines, "\n")
	if assignedAt.IsZero() || endAt.IsZero() || !strings.Contains(out, "job "+id+" completed") {
		t.Fatalf("job logs --follow:\n%s", out)
	}
	// The events came as they happened, not all at the end.
	if endAt.Sub(assignedAt) < 100*time.Millisecond {
		t.Fatalf("the assignment was printed %s before the end: not streamed\n%s", endAt.Sub(assignedAt), out)
	}

	// A finished job's log ends with its output.
	mustIPDM(t, "module", "add", "--repo", n0.Repo, wc, "--name", "wordcount", "--version", "1.0.0")
	text := filepath.Join(t.TempDir(), "t.txt")
	os.WriteFile(text, []byte("one two two\n"), 0o600)
	input := strings.TrimSpace(mustIPDM(t, "add", "-Q", "--repo", n0.Repo, text))
	id = strings.TrimSpace(mustIPDM(t, "job", "run", "--repo", n0.Repo, "--module", "wordcount@1.0.0", "--input", input, "--wait", "--id-only"))
	logs := mustIPDM(t, "job", "logs", "--repo", n0.Repo, id)
	if !strings.Contains(logs, "accept") || !strings.Contains(logs, "words") || !strings.HasSuffix(logs, "job "+id+" completed \n") {
		t.Fatalf("logs of a completed job:\n%s", logs)
	}
}

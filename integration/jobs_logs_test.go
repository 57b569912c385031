package integration

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
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

// printSpinPrintModule is a WASI command whose _start writes "first line"
// to stdout, spins for iters loop iterations (7 fuel each: the sandbox's
// clock is virtual, so a sleep would take no time) and writes "second
// line".
func printSpinPrintModule(iters int32) []byte {
	section := func(id byte, content []byte) []byte {
		return append(append([]byte{id}, uleb(uint64(len(content)))...), content...)
	}
	name := func(s string) []byte { return append(uleb(uint64(len(s))), s...) }
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	i32 := func(v int32) []byte { return append([]byte{0x41}, sleb(int64(v))...) }
	write := func(iov int32) []byte { // fd_write(1, iov, 1, nwritten at 24); drop
		return cat(i32(1), i32(iov), i32(1), i32(24), []byte{0x10, 0x00, 0x1a})
	}
	code := cat([]byte{0x01, 0x01, 0x7f}, // one i32 local
		write(0),
		[]byte{0x03, 0x40, 0x20, 0x00}, i32(1), []byte{0x6a, 0x22, 0x00}, i32(iters), // loop: ++i < iters
		[]byte{0x49, 0x0d, 0x00, 0x0b}, // i32.lt_u; br_if 0; end
		write(8),
		[]byte{0x0b})
	data := cat([]byte{32, 0, 0, 0, 11, 0, 0, 0, 48, 0, 0, 0, 12, 0, 0, 0}, make([]byte, 16),
		[]byte("first line\n\x00\x00\x00\x00\x00second line\n"))
	return cat([]byte("\x00asm\x01\x00\x00\x00"),
		section(1, []byte{0x02, 0x60, 0x00, 0x00, 0x60, 0x04, 0x7f, 0x7f, 0x7f, 0x7f, 0x01, 0x7f}),
		section(2, cat([]byte{0x01}, name("wasi_snapshot_preview1"), name("fd_write"), []byte{0x00, 0x01})),
		section(3, []byte{0x01, 0x00}),
		section(5, []byte{0x01, 0x00, 0x01}),
		section(7, cat([]byte{0x02}, name("_start"), []byte{0x00, 0x01}, name("memory"), []byte{0x02, 0x00})),
		section(10, cat([]byte{0x01}, uleb(uint64(len(code))), code)),
		section(11, cat([]byte{0x01, 0x00, 0x41, 0x00, 0x0b}, uleb(uint64(len(data))), data)),
	)
}

func uleb(v uint64) []byte {
	var b []byte
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v == 0 {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

func sleb(v int64) []byte {
	var b []byte
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if (v == 0 && c&0x40 == 0) || (v == -1 && c&0x40 != 0) {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

// TestJobLogsLiveOutput: 'job logs --follow' shows a module's output as it
// writes it: the first line arrives while the job still runs, long before
// the second; after the end the accepted result's output does not repeat
// what was shown live.
func TestJobLogsLiveOutput(t *testing.T) {
	net := startNet(t, 2, devnet.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := net.WaitPeers(ctx, 1); err != nil {
		t.Fatal(err)
	}
	n0 := net.Nodes[0]
	mod := filepath.Join(t.TempDir(), "printspin.wasm")
	os.WriteFile(mod, printSpinPrintModule(1_500_000_000), 0o600)
	c := regexpFind(t, mustIPDM(t, "module", "add", "--repo", n0.Repo, mod), `cid: (\S+)`)
	spec := filepath.Join(t.TempDir(), "job.yaml")
	os.WriteFile(spec, []byte(fmt.Sprintf("apiVersion: ipdm/v1\nkind: Job\nmodule: %s\nresources:\n  fuel: 100000000000\n  timeouts:\n    execution: 5m\n", c)), 0o600)
	id := strings.TrimSpace(mustIPDM(t, "job", "run", "--repo", n0.Repo, "-f", spec, "--id-only"))

	cmd := exec.CommandContext(ctx, ipdmBin, "job", "logs", "--follow", "--repo", n0.Repo, id)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var lines []string
	var firstAt, secondAt time.Time
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		line := sc.Text()
		lines = append(lines, line)
		switch line {
		case "first line":
			if !firstAt.IsZero() {
				t.Errorf("first line shown twice")
				continue
			}
			firstAt = time.Now()
			if j := describe(t, n0, id); j.State != "running" {
				t.Errorf("the first line arrived after the job ended (%s): not live", j.State)
			}
		case "second line":
			secondAt = time.Now()
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("job logs --follow: %v\n%s", err, strings.Join(lines, "\n"))
	}
	out := strings.Join(lines, "\n")
	if firstAt.IsZero() || secondAt.IsZero() || !strings.Contains(out, "job "+id+" completed") ||
		strings.Count(out, "first line") != 1 || strings.Count(out, "second line") != 1 {
		t.Fatalf("job logs --follow:\n%s", out)
	}
	t.Logf("first line %s before the second", secondAt.Sub(firstAt))
	if secondAt.Sub(firstAt) < 100*time.Millisecond {
		t.Fatalf("the first line came %s before the second: not streamed\n%s", secondAt.Sub(firstAt), out)
	}
	// The finished job's log holds the whole accepted output.
	if logs := mustIPDM(t, "job", "logs", "--repo", n0.Repo, id); !strings.Contains(logs, "first line\nsecond line\n") {
		t.Fatalf("logs of the completed job:\n%s", logs)
	}
}

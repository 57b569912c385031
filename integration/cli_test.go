package integration

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ipdm/ipdm/devnet"
)

// TestDemo runs 'ipdm demo' as a newcomer would.
func TestDemo(t *testing.T) {
	out, errs, code := ipdm(t, nil, "demo")
	if code != 0 {
		t.Fatalf("demo: exit %d\n%s\n%s", code, out, errs)
	}
	for _, want := range []string{"SHA-256 matches", "each hash-verified", "root CID bafybei", "verified result CID bafybei",
		"3 nodes agree, 0 dissent", "signature valid", "demo finished"} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
}

// TestDevnetCommand starts 'ipdm devnet', uses a node it printed, and
// stops everything with SIGINT.
func TestDevnetCommand(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(ipdmBin, "devnet", "--nodes", "2", "--dir", dir)
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	sc := bufio.NewScanner(stdout)
	apis := 0
	apiRe := regexp.MustCompile(`api http://(127\.0\.0\.1:\d+)`)
	for sc.Scan() {
		if apiRe.MatchString(sc.Text()) {
			apis++
		}
		if strings.Contains(sc.Text(), "Ctrl-C stops all nodes") {
			break
		}
	}
	if apis != 2 {
		t.Fatalf("devnet printed %d API addresses, want 2", apis)
	}
	id := mustIPDM(t, "id", "--repo", filepath.Join(dir, "node1"))
	if !strings.Contains(id, "state: online") {
		t.Fatalf("node1 is not online: %s", id)
	}
	cmd.Process.Signal(syscall.SIGINT)
	rest, _ := io.ReadAll(stdout)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("devnet exit: %v\n%s", err, rest)
	}
	if !strings.Contains(string(rest), "all nodes stopped") {
		t.Fatalf("devnet output after SIGINT: %s", rest)
	}
	for _, n := range []string{"node0", "node1"} {
		if _, err := os.Stat(filepath.Join(dir, n, "api")); !os.IsNotExist(err) {
			t.Errorf("%s api file still there after clean stop: %v", n, err)
		}
	}
	// The repos stay usable offline.
	if id := mustIPDM(t, "id", "--repo", filepath.Join(dir, "node0")); !strings.Contains(id, "offline") {
		t.Fatalf("offline id: %s", id)
	}
}

// TestMetrics checks the Prometheus endpoint after some traffic.
func TestMetrics(t *testing.T) {
	net := startNet(t, 2, devnet.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := net.WaitPeers(ctx, 1); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "f")
	os.WriteFile(file, randomBytes(3, 2<<20), 0o600)
	root := strings.TrimSpace(mustIPDM(t, "add", "-Q", "--repo", net.Nodes[0].Repo, file))
	mustIPDM(t, "cat", "--repo", net.Nodes[1].Repo, root)
	resp := httpGet(t, ctx, "http://"+net.Nodes[1].API+"/metrics", "")
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("metrics: %s", resp.Status)
	}
	text := string(body)
	for _, re := range []string{
		`ipdm_peers_connected [1-9]`,
		`ipdm_blocks_stored [1-9]`,
		`ipdm_bytes_stored [1-9]`,
		`ipdm_bitswap_blocks_received_total [1-9]`,
		`ipdm_bitswap_bytes_received_total [1-9]`,
		`ipdm_http_request_duration_seconds_count\{handler="cat"`,
		`ipdm_capability_peers [1-9]`,
	} {
		if !regexp.MustCompile(re).MatchString(text) {
			t.Errorf("metrics lack %s", re)
		}
	}
}

package integration

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ipdm/ipdm/devnet"
)

// kubo is a stock Kubo daemon started for a test.
type kubo struct {
	bin, path string
	addrs     []string
}

// startKubo runs a Kubo daemon on loopback with the test and unixfs-v1-2025
// profiles, or skips the test when IPDM_KUBO_BIN is not set (.ci/run builds
// Kubo and sets it).
func startKubo(t *testing.T) *kubo {
	t.Helper()
	bin := os.Getenv("IPDM_KUBO_BIN")
	if bin == "" {
		t.Skip("IPDM_KUBO_BIN not set: build Kubo 0.43.0 with .ci/build-kubo.sh and point IPDM_KUBO_BIN at it")
	}
	k := &kubo{bin: bin, path: t.TempDir()}
	k.run(t, "init", "--profile=test,unixfs-v1-2025")
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "daemon")
	cmd.Env = append(os.Environ(), "IPFS_PATH="+k.path)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); cmd.Wait() })
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "Daemon is ready") {
				close(ready)
				break
			}
		}
		for sc.Scan() {
		}
	}()
	select {
	case <-ready:
	case <-time.After(60 * time.Second):
		t.Fatal("kubo daemon not ready after 60s")
	}
	var id struct {
		ID        string
		Addresses []string
	}
	if err := json.Unmarshal([]byte(k.run(t, "id")), &id); err != nil {
		t.Fatal(err)
	}
	for _, a := range id.Addresses {
		if strings.HasPrefix(a, "/ip4/127.0.0.1/tcp/") {
			k.addrs = append(k.addrs, a)
		}
	}
	if len(k.addrs) == 0 {
		t.Fatalf("kubo has no loopback TCP address: %v", id.Addresses)
	}
	return k
}

func (k *kubo) run(t *testing.T, args ...string) string {
	t.Helper()
	return k.runIn(t, nil, args...)
}

func (k *kubo) runIn(t *testing.T, stdin []byte, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, k.bin, args...)
	cmd.Env = append(os.Environ(), "IPFS_PATH="+k.path)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	out, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("ipfs %v: %v: %s", args, err, stderr)
	}
	return string(out)
}

// TestKuboInterop checks bitswap both ways between an ipdm daemon and a
// stock Kubo node, and that both compute the same CIDs.
func TestKuboInterop(t *testing.T) {
	k := startKubo(t)
	net := startNet(t, 1, devnet.Options{})
	n := net.Nodes[0]
	mustIPDM(t, "swarm", "connect", "--repo", n.Repo, k.addrs[0])

	// Same bytes, same CID, on both implementations.
	ours := randomBytes(21, 3<<20+17)
	file := filepath.Join(t.TempDir(), "ours.bin")
	os.WriteFile(file, ours, 0o600)
	ourCID := strings.TrimSpace(mustIPDM(t, "add", "-Q", "--repo", n.Repo, file))
	kuboCID := strings.TrimSpace(k.run(t, "add", "-Q", "--only-hash", file))
	if ourCID != kuboCID {
		t.Fatalf("CID mismatch: ipdm %s, kubo %s", ourCID, kuboCID)
	}

	// Kubo fetches from us over bitswap.
	got := k.run(t, "cat", "--timeout=60s", ourCID)
	if sum([]byte(got)) != sum(ours) {
		t.Fatal("kubo fetched different bytes from ipdm")
	}

	// We fetch from Kubo over bitswap.
	theirs := randomBytes(22, 2<<20+3)
	theirCID := strings.TrimSpace(k.runIn(t, theirs, "add", "-Q"))
	got = mustIPDM(t, "cat", "--repo", n.Repo, "--timeout", "60s", theirCID)
	if sum([]byte(got)) != sum(theirs) {
		t.Fatal("ipdm fetched different bytes from kubo")
	}
	// And a directory with a nested file, through get.
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "d", "e"), 0o700)
	os.WriteFile(filepath.Join(dir, "d", "e", "x.txt"), []byte("from kubo\n"), 0o600)
	dirCID := strings.TrimSpace(k.run(t, "add", "-r", "-Q", filepath.Join(dir, "d")))
	out := filepath.Join(t.TempDir(), "got")
	mustIPDM(t, "get", "--repo", n.Repo, "--timeout", "60s", "-o", out, dirCID)
	if b, err := os.ReadFile(filepath.Join(out, "e", "x.txt")); err != nil || string(b) != "from kubo\n" {
		t.Fatalf("get of kubo directory: %q, %v", b, err)
	}
}

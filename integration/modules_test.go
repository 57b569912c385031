package integration

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ipdm/ipdm/devnet"
)

// buildWordcount compiles the Go example guest to a wasip1 module.
func buildWordcount(t *testing.T) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "wordcount.wasm")
	cmd := exec.Command("go", "build", "-o", out, "../examples/wordcount-go")
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build wordcount guest: %v\n%s", err, b)
	}
	return out
}

// TestModuleRegistry publishes a module on one node and resolves it by
// name on the others; names and versions cannot be taken over.
func TestModuleRegistry(t *testing.T) {
	wc := buildWordcount(t)
	net := startNet(t, 3, devnet.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := net.WaitPeers(ctx, 2); err != nil {
		t.Fatal(err)
	}
	n0, n1, n2 := net.Nodes[0], net.Nodes[1], net.Nodes[2]
	out := mustIPDM(t, "module", "add", "--repo", n0.Repo, wc, "--name", "wordcount", "--version", "1.0.0")
	if !strings.Contains(out, "published wordcount@1.0.0 (announced to 2 peers)") {
		t.Fatalf("module add: %s", out)
	}
	cidLine := regexpFind(t, out, `cid: (\S+)`)
	for _, n := range []*devnet.Node{n1, n2} {
		show := mustIPDM(t, "module", "show", "--repo", n.Repo, "wordcount@1.0.0")
		if !strings.Contains(show, "cid: "+cidLine) || !strings.Contains(show, "publisher: "+n0.PeerID) {
			t.Fatalf("node%d module show: %s", n.Index, show)
		}
	}
	// Another node cannot publish under the name, nor rebind the version.
	_, errs, code := ipdm(t, nil, "module", "add", "--repo", n1.Repo, wc, "--name", "wordcount", "--version", "2.0.0")
	if code == 0 || !strings.Contains(errs, "another publisher") {
		t.Fatalf("name takeover: exit %d: %s", code, errs)
	}
	// Modules the sandbox cannot run are refused with the reason.
	evil := filepath.Join(t.TempDir(), "evil.wasm")
	os.WriteFile(evil, []byte{0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
		0x01, 0x04, 0x01, 0x60, 0x00, 0x00,
		0x02, 0x0c, 0x01, 0x03, 'e', 'n', 'v', 0x04, 'e', 'v', 'i', 'l', 0x00, 0x00,
		0x03, 0x02, 0x01, 0x00,
		0x07, 0x0a, 0x01, 0x06, '_', 's', 't', 'a', 'r', 't', 0x00, 0x01,
		0x0a, 0x04, 0x01, 0x02, 0x00, 0x0b}, 0o600)
	_, errs, code = ipdm(t, nil, "module", "add", "--repo", n0.Repo, evil)
	if code == 0 || !strings.Contains(errs, "env.evil") {
		t.Fatalf("module importing env.evil: exit %d: %s", code, errs)
	}
	garbage := filepath.Join(t.TempDir(), "garbage.wasm")
	os.WriteFile(garbage, []byte("not wasm at all"), 0o600)
	_, errs, code = ipdm(t, nil, "module", "add", "--repo", n0.Repo, garbage)
	if code == 0 || !strings.Contains(errs, "invalid module") {
		t.Fatalf("garbage module: exit %d: %s", code, errs)
	}
	ls := mustIPDM(t, "module", "ls", "--repo", n2.Repo)
	if !strings.Contains(ls, "wordcount@1.0.0 "+cidLine) {
		t.Fatalf("module ls on node2: %s", ls)
	}
}

func regexpFind(t *testing.T, s, re string) string {
	t.Helper()
	m := regexp.MustCompile(re).FindStringSubmatch(s)
	if m == nil {
		t.Fatalf("no %s in %q", re, s)
	}
	return m[1]
}

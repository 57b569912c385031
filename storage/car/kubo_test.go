package car_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ipdm/ipdm/storage/blocks"
	"github.com/ipdm/ipdm/storage/car"
	cid "github.com/ipfs/go-cid"
)

// kubo returns a runner for the Kubo binary named by IPDM_KUBO_BIN on a
// fresh repo, or skips the test.
func kubo(t *testing.T) func(args ...string) []byte {
	t.Helper()
	bin := os.Getenv("IPDM_KUBO_BIN")
	if bin == "" {
		t.Skip("IPDM_KUBO_BIN not set: skipping the comparison with Kubo's `ipfs dag export`")
	}
	repo := t.TempDir()
	run := func(args ...string) []byte {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), "IPFS_PATH="+repo)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("ipfs %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
		}
		return out
	}
	run("init", "--profile=unixfs-v1-2025,test")
	return run
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestExportMatchesKubo: for UnixFS DAGs Kubo builds (CIDv1 raw leaves,
// CIDv0, inlined identity CIDs), importing `ipfs dag export`'s CAR and
// exporting it again gives the same bytes.
func TestExportMatchesKubo(t *testing.T) {
	ipfs := kubo(t)
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "tree")
	big := make([]byte, 3<<20+12345)
	_, _ = rand.Read(big)
	writeFile(t, filepath.Join(dir, "big.bin"), big)
	writeFile(t, filepath.Join(dir, "sub", "big-again.bin"), big) // shared subtree
	writeFile(t, filepath.Join(dir, "a.txt"), []byte("hello from ipdm\n"))
	writeFile(t, filepath.Join(dir, "sub", "a-copy.txt"), []byte("hello from ipdm\n"))
	writeFile(t, filepath.Join(dir, "sub", "deeper", "empty"), nil)
	writeFile(t, filepath.Join(dir, "t"), []byte("x"))

	for _, flags := range [][]string{
		{},
		{"--cid-version=0"},
		{"--inline", "--inline-limit=64"},
	} {
		t.Run(strings.Join(append([]string{"add"}, flags...), " "), func(t *testing.T) {
			args := append([]string{"add", "-r", "-Q", "--pin=false"}, flags...)
			root, err := cid.Decode(strings.TrimSpace(string(ipfs(append(args, dir)...))))
			if err != nil {
				t.Fatal(err)
			}
			kuboCAR := ipfs("dag", "export", root.String())

			store := blocks.NewMemory()
			res, err := car.Import(ctx, bytes.NewReader(kuboCAR), store, car.ImportOptions{})
			if err != nil {
				t.Fatalf("import Kubo's CAR: %v", err)
			}
			if len(res.Roots) != 1 || !res.Roots[0].Equals(root) {
				t.Fatalf("roots = %v, want %s", res.Roots, root)
			}
			ours := export(t, store, root)
			if !bytes.Equal(ours, kuboCAR) {
				t.Fatalf("our export (%d bytes) differs from Kubo's (%d bytes) at byte %d", len(ours), len(kuboCAR), firstDiff(ours, kuboCAR))
			}
			t.Logf("%s: %d blocks, %d bytes, identical", root, res.Blocks, len(ours))
		})
	}
}

// TestKuboReadsOurExport: Kubo imports our CAR of a random DAG (mixed CID
// versions, shared subtrees, repeated links, identity leaves) and exports
// the same bytes.
func TestKuboReadsOurExport(t *testing.T) {
	ipfs := kubo(t)
	store, root, _ := randomDAG(t, 99, 5)
	ours := export(t, store, root)
	path := filepath.Join(t.TempDir(), "ours.car")
	writeFile(t, path, ours)
	ipfs("dag", "import", "--pin-roots=false", path)
	if theirs := ipfs("dag", "export", root.String()); !bytes.Equal(ours, theirs) {
		t.Fatalf("Kubo's re-export (%d bytes) differs from ours (%d bytes) at byte %d", len(theirs), len(ours), firstDiff(ours, theirs))
	}
}

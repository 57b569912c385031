package unixfs

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	blocks "github.com/ipfs/go-block-format"
	cid "github.com/ipfs/go-cid"
)

var updateKubo = flag.Bool("update-kubo", false, "rewrite testdata/kubo_vectors.json with the CIDs the Kubo binary at $IPDM_KUBO_BIN gives (use with -run TestKuboVectors)")

// countingWriter discards blocks, counting them. Vector tests only need CIDs.
type countingWriter struct {
	mu     sync.Mutex
	blocks int
	bytes  int64
}

func (w *countingWriter) PutMany(_ context.Context, bs []blocks.Block) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, b := range bs {
		w.blocks++
		w.bytes += int64(len(b.RawData()))
	}
	return nil
}

// importSpec imports a vector case with this package: a file streams from
// its generator; a directory or symlink is imported from an in-memory
// files.Node tree (dot-files dropped unless vc.Hidden, as ImportPath does),
// and also from disk with ImportPath when it is small enough to write
// quickly (both must agree).
func importSpec(t testing.TB, vc vectorCase, dir string) cid.Cid {
	t.Helper()
	ctx := context.Background()
	opts := Options{Hidden: vc.Hidden}
	if vc.Root.Type == "file" {
		c, err := ImportReader(ctx, &countingWriter{}, vc.Root.content(), opts)
		if err != nil {
			t.Fatalf("%s: import: %v", vc.Name, err)
		}
		return c
	}
	c, err := ImportNode(ctx, &countingWriter{}, specNode(vc.Root, vc.Hidden), opts)
	if err != nil {
		t.Fatalf("%s: import node: %v", vc.Name, err)
	}
	if vc.Root.count() <= 1000 {
		path := filepath.Join(dir, "in")
		if err := materialize(path, vc.Root); err != nil {
			t.Fatal(err)
		}
		fromDisk, err := ImportPath(ctx, &countingWriter{}, path, opts)
		if err != nil {
			t.Fatalf("%s: import path: %v", vc.Name, err)
		}
		if !fromDisk.Equals(c) {
			t.Fatalf("%s: ImportPath %s, ImportNode %s", vc.Name, fromDisk, c)
		}
	}
	return c
}

// TestVectors checks this package against the CIDs Kubo 0.43 gave
// (testdata/kubo_vectors.json); it needs no Kubo binary.
func TestVectors(t *testing.T) {
	vf := loadVectors(t)
	if len(vf.Cases) < 15 {
		t.Fatalf("only %d vector cases", len(vf.Cases))
	}
	for _, vc := range vf.Cases {
		t.Run(vc.Name, func(t *testing.T) {
			if vc.Long && testing.Short() {
				t.Skip("long vector skipped under -short")
			}
			if vc.CID == "" {
				t.Fatal("no golden CID: run the Kubo test with -update-kubo")
			}
			got := importSpec(t, vc, t.TempDir())
			if got.String() != vc.CID {
				t.Fatalf("root %s, Kubo %s", got, vc.CID)
			}
		})
	}
}

// TestKuboVectors runs the real Kubo binary (IPDM_KUBO_BIN) on every vector
// input and checks it against the golden CID and this package; with
// -update-kubo it rewrites the golden CIDs instead.
func TestKuboVectors(t *testing.T) {
	bin := os.Getenv("IPDM_KUBO_BIN")
	if bin == "" {
		t.Skip("IPDM_KUBO_BIN not set: skipping the live comparison with Kubo")
	}
	repo := t.TempDir()
	kubo := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), "IPFS_PATH="+repo)
		out, err := cmd.Output()
		if err != nil {
			var stderr string
			if ee, ok := err.(*exec.ExitError); ok {
				stderr = string(ee.Stderr)
			}
			t.Fatalf("ipfs %s: %v: %s", strings.Join(args, " "), err, stderr)
		}
		return strings.TrimSpace(string(out))
	}
	kubo("init", "--profile=unixfs-v1-2025,test")
	t.Logf("kubo %s", kubo("version", "-n"))

	vf := loadVectors(t)
	for i := range vf.Cases {
		vc := &vf.Cases[i]
		t.Run(vc.Name, func(t *testing.T) {
			if vc.Long && testing.Short() && !*updateKubo {
				t.Skip("long vector skipped under -short")
			}
			dir := t.TempDir()
			path := filepath.Join(dir, "in")
			if err := materialize(path, vc.Root); err != nil {
				t.Fatal(err)
			}
			args := []string{"add", "-Q", "--only-hash", "--pin=false", "-r"}
			if vc.Hidden {
				args = append(args, "--hidden")
			}
			want := kubo(append(args, path)...)
			if err := os.RemoveAll(path); err != nil {
				t.Fatal(err)
			}
			ours := importSpec(t, *vc, dir)
			if ours.String() != want {
				t.Errorf("this package %s, Kubo %s", ours, want)
			}
			switch {
			case *updateKubo:
				vc.CID = want
			case vc.CID != want:
				t.Errorf("golden %s, Kubo %s", vc.CID, want)
			}
		})
	}
	if *updateKubo {
		raw, err := json.MarshalIndent(vf, "", " ")
		if err != nil {
			t.Fatal(err)
		}
		raw = append(raw, '\n')
		if err := os.WriteFile(filepath.Join("testdata", "kubo_vectors.json"), raw, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

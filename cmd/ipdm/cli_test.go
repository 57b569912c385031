package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// ipdmRun runs the CLI in-process.
func ipdmRun(t *testing.T, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), args, strings.NewReader(stdin), &out, &errb)
	return out.String(), errb.String(), code
}

func mustRun(t *testing.T, args ...string) string {
	t.Helper()
	out, errs, code := ipdmRun(t, "", args...)
	if code != 0 {
		t.Fatalf("ipdm %s: exit %d\n%s", strings.Join(args, " "), code, errs)
	}
	return out
}

// TestOfflineWorkflow drives every offline verb on one repo, as a user
// without a daemon would.
func TestOfflineWorkflow(t *testing.T) {
	repoDir := filepath.Join(t.TempDir(), "repo")
	r := []string{"--repo", repoDir}
	with := func(args ...string) []string { return append(args, r...) }

	if _, errs, code := ipdmRun(t, "", with("pin", "ls")...); code != 1 || !strings.Contains(errs, "ipdm init") {
		t.Fatalf("pin ls before init: exit %d, %q", code, errs)
	}
	mustRun(t, with("init")...)
	if _, errs, code := ipdmRun(t, "", with("init")...); code != 1 || !strings.Contains(errs, "already") {
		t.Fatalf("second init: exit %d, %q", code, errs)
	}

	dir := t.TempDir()
	hello := filepath.Join(dir, "hello.txt")
	os.WriteFile(hello, []byte("hello world\n"), 0o600)
	cid := strings.TrimSpace(mustRun(t, with("add", "-Q", hello)...))
	if cid != "bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4" {
		t.Fatalf("add hello: %s", cid)
	}
	if got := mustRun(t, with("cat", cid)...); got != "hello world\n" {
		t.Fatalf("cat: %q", got)
	}
	stdinCID := strings.TrimSpace(func() string {
		out, errs, code := ipdmRun(t, "hello world\n", with("add", "-Q", "-")...)
		if code != 0 {
			t.Fatal(errs)
		}
		return out
	}())
	if stdinCID != cid {
		t.Fatalf("add from stdin: %s, want %s", stdinCID, cid)
	}

	tree := filepath.Join(dir, "tree")
	os.MkdirAll(filepath.Join(tree, "a", "b"), 0o700)
	os.WriteFile(filepath.Join(tree, "a", "b", "c.txt"), []byte("deep"), 0o600)
	os.WriteFile(filepath.Join(tree, "top.bin"), bytes.Repeat([]byte{7}, 3<<20), 0o600)
	os.WriteFile(filepath.Join(tree, ".hidden"), []byte("secret"), 0o600)
	if _, _, code := ipdmRun(t, "", with("add", tree)...); code != 2 {
		t.Fatalf("add of a directory without -r: exit %d, want 2", code)
	}
	treeCID := strings.TrimSpace(mustRun(t, with("add", "-r", "-Q", tree)...))
	out := filepath.Join(t.TempDir(), "out")
	mustRun(t, with("get", "-o", out, treeCID)...)
	if b, _ := os.ReadFile(filepath.Join(out, "a", "b", "c.txt")); string(b) != "deep" {
		t.Fatalf("get: c.txt = %q", b)
	}
	if _, err := os.Stat(filepath.Join(out, ".hidden")); err == nil {
		t.Fatal("hidden file added without --hidden")
	}
	withHidden := strings.TrimSpace(mustRun(t, with("add", "-r", "-Q", "--hidden", tree)...))
	if withHidden == treeCID {
		t.Fatal("--hidden did not change the directory CID")
	}

	var pins []struct{ CID, Type string }
	json.Unmarshal([]byte(mustRun(t, with("pin", "ls", "--json")...)), &pins)
	if len(pins) != 3 {
		t.Fatalf("pins: %+v", pins)
	}

	car := filepath.Join(t.TempDir(), "tree.car")
	os.WriteFile(car, []byte(mustRun(t, with("dag", "export", treeCID)...)), 0o600)
	mustRun(t, with("pin", "rm", treeCID)...)
	mustRun(t, with("pin", "rm", withHidden)...)
	gc := mustRun(t, with("repo", "gc", "--json")...)
	var gcRes struct{ Removed int }
	json.Unmarshal([]byte(gc), &gcRes)
	if gcRes.Removed < 3 {
		t.Fatalf("gc removed %d blocks: %s", gcRes.Removed, gc)
	}
	if _, errs, code := ipdmRun(t, "", with("cat", cid)...); code != 0 {
		t.Fatalf("pinned hello was collected: %s", errs)
	}
	if _, _, code := ipdmRun(t, "", with("get", "-o", filepath.Join(t.TempDir(), "x"), treeCID)...); code == 0 {
		t.Fatal("get of a collected DAG succeeded offline")
	}
	imp := mustRun(t, with("dag", "import", car)...)
	if !strings.Contains(imp, "root "+treeCID+" pinned") {
		t.Fatalf("import: %s", imp)
	}
	mustRun(t, with("get", "-o", filepath.Join(t.TempDir(), "again"), treeCID)...)

	blk := strings.TrimSpace(func() string {
		out, errs, code := ipdmRun(t, "raw block bytes", with("block", "put", "-")...)
		if code != 0 {
			t.Fatal(errs)
		}
		return out
	}())
	if got := mustRun(t, with("block", "get", blk)...); got != "raw block bytes" {
		t.Fatalf("block get: %q", got)
	}
	if st := mustRun(t, with("block", "stat", blk)...); !strings.Contains(st, "Size: 15") {
		t.Fatalf("block stat: %s", st)
	}

	var id struct {
		ID        string   `json:"id"`
		Addresses []string `json:"addresses"`
	}
	if err := json.Unmarshal([]byte(mustRun(t, with("id", "--json")...)), &id); err != nil || !strings.HasPrefix(id.ID, "12D3KooW") || id.Addresses == nil {
		t.Fatalf("id --json: %+v %v", id, err)
	}
	if v := mustRun(t, with("repo", "verify")...); !strings.Contains(v, " 0 corrupt") {
		t.Fatalf("verify: %s", v)
	}
}

func TestCLIErrors(t *testing.T) {
	repoDir := filepath.Join(t.TempDir(), "repo")
	mustRun(t, "init", "--repo", repoDir)
	for _, tc := range []struct {
		args       []string
		code       int
		stderrWant []string
	}{
		{[]string{"frobnicate"}, 2, []string{"unknown command", "ipdm help"}},
		{[]string{"cat", "--repo", repoDir, "not-a-cid"}, 1, []string{"ipdm: error: invalid CID", "ipdm: hint:"}},
		{[]string{"cat", "--repo", repoDir}, 2, []string{"usage: ipdm cat"}},
		{[]string{"swarm", "peers", "--repo", repoDir}, 1, []string{"offline", "ipdm daemon"}},
		{[]string{"pin", "rm", "--repo", repoDir, "bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4"}, 1, []string{"not pinned"}},
		{[]string{"cat", "--repo", repoDir, "bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4"}, 1, []string{"ipdm: error:"}},
		{[]string{"daemon", "--repo", repoDir, "--api", "nohostport"}, 2, []string{"not host:port"}},
		{[]string{"add", "--repo", repoDir, "--bogus", "x"}, 2, []string{"bogus"}},
	} {
		_, errs, code := ipdmRun(t, "", tc.args...)
		if code != tc.code {
			t.Errorf("%v: exit %d, want %d (stderr %q)", tc.args, code, tc.code, errs)
		}
		for _, w := range tc.stderrWant {
			if !strings.Contains(errs, w) {
				t.Errorf("%v: stderr %q lacks %q", tc.args, errs, w)
			}
		}
		if n := strings.Count(errs, "ipdm: error:"); n != 1 && tc.code != 0 {
			t.Errorf("%v: error printed %d times: %q", tc.args, n, errs)
		}
	}
}

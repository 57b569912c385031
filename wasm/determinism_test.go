package wasm

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// writeTree creates files in the given order with the given mode and mtime,
// as two machines holding the same input data might.
func writeTree(t *testing.T, files []string, mode os.FileMode, mtime time.Time) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range files {
		p := filepath.Join(dir, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("content of "+f+"\n"), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

type runOutcome struct {
	res    Result
	report []byte
}

func TestGoGuestIsDeterministic(t *testing.T) {
	wasm := goGuest(t, "wasm/testdata/detgo")
	files := []string{"b.txt", "a.txt", "sub/z.txt", "sub/c.txt", "m.txt"}
	reversed := []string{"m.txt", "sub/c.txt", "sub/z.txt", "a.txt", "b.txt"}
	treeA := writeTree(t, files, 0o644, time.Unix(1_600_000_000, 0))
	treeB := writeTree(t, reversed, 0o600, time.Unix(1_700_000_123, 456))
	stdinA := filepath.Join(treeA, "a.txt")
	stdinB := filepath.Join(treeB, "a.txt")

	run := func(rt *Runtime, tree, stdin string, seed string) runOutcome {
		t.Helper()
		out := t.TempDir()
		res := mustRun(t, rt, mustCompile(t, rt, wasm), RunSpec{
			Args:      []string{"detgo", "arg"},
			Env:       map[string]string{"B": "2", "A": "1"},
			Inputs:    []Input{{Name: "stdin.txt", Path: stdin}, {Name: "tree", Path: tree}},
			OutputDir: out,
			Seed:      []byte(seed),
		})
		if !res.Success() {
			t.Fatalf("run failed: %+v\nstderr: %s", res, res.Stderr)
		}
		report, err := os.ReadFile(filepath.Join(out, "sub", "report.txt"))
		if err != nil {
			t.Fatal(err)
		}
		return runOutcome{res, report}
	}

	cache := t.TempDir()
	rt := newRuntime(t, Config{CacheDir: cache})
	first := run(rt, treeA, stdinA, "seed-1")
	t.Logf("fuel %d, %v\n%s", first.res.FuelUsed, first.res.Duration, first.res.Stdout)
	for _, bad := range []string{"MISMATCH", "writable!", "symlink allowed!", "walk ", "info "} {
		if bytes.Contains(first.res.Stdout, []byte(bad)) {
			t.Errorf("guest reported %q", bad)
		}
	}
	epoch := "mtime=946684800000000000"
	// WASI has no permission bits: Go's wasip1 port shows 0600 and 0700.
	for _, want := range []string{"input tree/a.txt mode=-rw------- size=17 " + epoch, "input tree/sub mode=drwx------ size=0 " + epoch,
		"nlink=1", "dev=0", "report mode=-rw------- " + epoch, `env=["A=1" "B=2"]`, "since=25004000",
		"nan64=7ff8000000000000 nan32=7fc00000 sqrt=7ff8000000000000", "stdin=17 bytes"} {
		if !bytes.Contains(first.res.Stdout, []byte(want)) {
			t.Errorf("stdout lacks %q", want)
		}
	}
	if i, j := bytes.Index(first.res.Stdout, []byte("tree/a.txt")), bytes.Index(first.res.Stdout, []byte("tree/b.txt")); i < 0 || j < i {
		t.Error("directory listing is not sorted")
	}

	others := map[string]runOutcome{
		"same runtime":                      run(rt, treeA, stdinA, "seed-1"),
		"other file order, times and modes": run(rt, treeB, stdinB, "seed-1"),
		"fresh runtime, disk cache":         run(newRuntime(t, Config{CacheDir: cache}), treeA, stdinA, "seed-1"),
		"fresh runtime, no cache":           run(newRuntime(t, Config{}), treeB, stdinB, "seed-1"),
	}
	for name, o := range others {
		if !bytes.Equal(o.res.Stdout, first.res.Stdout) {
			t.Errorf("%s: stdout differs:\n%s\nvs\n%s", name, o.res.Stdout, first.res.Stdout)
		}
		if !bytes.Equal(o.report, first.report) || o.res.FuelUsed != first.res.FuelUsed || o.res.OutputBytes != first.res.OutputBytes {
			t.Errorf("%s: outputs or fuel differ (fuel %d vs %d)", name, o.res.FuelUsed, first.res.FuelUsed)
		}
	}
	reseeded := run(rt, treeA, stdinA, "seed-2")
	if bytes.Equal(reseeded.res.Stdout, first.res.Stdout) {
		t.Error("a different seed gave the same output: randomness is not reaching the guest")
	}
}

func TestConcurrentRunsShareOneCompilation(t *testing.T) {
	rt := newRuntime(t, Config{})
	wasm := countLoop(100_000)
	var wg sync.WaitGroup
	results := make([]Result, 8)
	errs := make([]error, 8)
	for i := range results {
		wg.Go(func() {
			m, err := rt.Compile(context.Background(), wasm)
			if err != nil {
				errs[i] = err
				return
			}
			results[i], errs[i] = rt.Run(context.Background(), m, RunSpec{})
		})
	}
	wg.Wait()
	for i := range results {
		if errs[i] != nil || results[i].FuelUsed != results[0].FuelUsed || !results[i].Success() {
			t.Fatalf("run %d: %+v, %v", i, results[i], errs[i])
		}
	}
	if n := rt.lru.Len(); n != 1 {
		t.Errorf("%d cache entries, want 1", n)
	}
}

func TestEvictedModuleIsRecompiled(t *testing.T) {
	rt := newRuntime(t, Config{MaxCachedModules: 1})
	a := mustCompile(t, rt, countLoop(10))
	b := mustCompile(t, rt, countLoop(20))
	ra := mustRun(t, rt, a, RunSpec{}) // a was evicted by b
	rb := mustRun(t, rt, b, RunSpec{})
	if !ra.Success() || !rb.Success() || rb.FuelUsed-ra.FuelUsed != 70 {
		t.Fatalf("runs after eviction: %+v %+v", ra, rb)
	}
	if rt.lru.Len() != 1 {
		t.Errorf("%d cache entries, want 1", rt.lru.Len())
	}
	if a.Info().SHA256 == b.Info().SHA256 || a.Info().Size == 0 {
		t.Error("module infos are wrong")
	}
}

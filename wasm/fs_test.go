package wasm

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
)

func TestInputsAndOutputs(t *testing.T) {
	rt := newRuntime(t, Config{})
	m := mustCompile(t, rt, goGuest(t, "wasm/testdata/fsprobe"))
	run := func(spec RunSpec, args ...string) Result {
		t.Helper()
		spec.Args = append([]string{"fsprobe"}, args...)
		return mustRun(t, rt, m, spec)
	}

	big := t.TempDir()
	var names []string
	for i := range 300 {
		names = append(names, fmt.Sprintf("n%03d", (i*7919)%300))
	}
	for _, n := range names { // created in a scrambled order
		if err := os.WriteFile(filepath.Join(big, n), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	slices.Sort(names)
	res := run(RunSpec{Inputs: []Input{{Name: "big", Path: big}}}, "list", "/inputs/big")
	if got := strings.Fields(string(res.Stdout)); !slices.Equal(got, names) {
		t.Errorf("listing of 300 entries is not the sorted names: %d entries, first %q", len(got), got[:min(3, len(got))])
	}

	mem := fstest.MapFS{"x/y.txt": {Data: []byte("from memory")}}
	res = run(RunSpec{Inputs: []Input{{Name: "mem", FS: mem}}}, "cat", "/inputs/mem/x/y.txt")
	if string(res.Stdout) != "from memory" {
		t.Errorf("fs.FS input: %q %s", res.Stdout, res.Stderr)
	}

	outside := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(outside, []byte("secret"), 0o644); err != nil {
		t.Fatal(err)
	}
	withLink := t.TempDir()
	if err := os.Symlink(outside, filepath.Join(withLink, "escape")); err != nil {
		t.Fatal(err)
	}
	res = run(RunSpec{Inputs: []Input{{Name: "d", Path: withLink}}}, "cat", "/inputs/d/escape")
	if strings.Contains(string(res.Stdout), "secret\n") || res.ExitCode != 1 {
		t.Errorf("symlink out of an input directory was followed: %+v %q", res, res.Stdout)
	}

	res = run(RunSpec{OutputDir: t.TempDir(), MaxOutputBytes: 10_000 + entryCost}, "fill", "3000")
	if !res.OutputLimitHit || !strings.HasPrefix(string(res.Stdout), "wrote 9000, then:") || res.OutputBytes != 9000 {
		t.Errorf("output quota: %+v %q", res, res.Stdout)
	}
	res = run(RunSpec{OutputDir: t.TempDir(), MaxOutputBytes: 10 * entryCost}, "files", "100")
	if !res.OutputLimitHit || !strings.HasPrefix(string(res.Stdout), "created 10, then:") {
		t.Errorf("file count quota: %+v %q", res, res.Stdout)
	}
	res = run(RunSpec{}, "files", "1")
	if res.OutputLimitHit || !strings.HasPrefix(string(res.Stdout), "created 0, then:") {
		t.Errorf("no OutputDir: %+v %q", res, res.Stdout)
	}
}

func TestInvalidRunSpecs(t *testing.T) {
	rt := newRuntime(t, Config{})
	m := mustCompile(t, rt, exitSeven)
	file := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for name, spec := range map[string]RunSpec{
		"empty arg":          {Args: []string{"main", ""}},
		"bad env":            {Env: map[string]string{"A=B": "c"}},
		"input name":         {Inputs: []Input{{Name: "a/b", Path: file}}},
		"duplicate input":    {Inputs: []Input{{Name: "a", Path: file}, {Name: "a", Path: file}}},
		"input path and fs":  {Inputs: []Input{{Name: "a", Path: file, FS: fstest.MapFS{}}}},
		"output is a file":   {OutputDir: file},
		"fuel beyond 2^62":   {Fuel: 1<<62 + 1},
		"call depth too big": {MaxCallDepth: MaxCallDepthLimit + 1},
	} {
		if _, err := rt.Run(context.Background(), m, spec); !errors.Is(err, ErrInvalidRunSpec) {
			t.Errorf("%s: err = %v, want ErrInvalidRunSpec", name, err)
		}
	}
	if _, err := rt.Run(context.Background(), m, RunSpec{Inputs: []Input{{Name: "a", Path: filepath.Join(file, "missing")}}}); err == nil {
		t.Error("missing input path: no error")
	}
	checkServing(t, rt)
}

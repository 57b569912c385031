package execute

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/ipfs/boxo/blockservice"
	"github.com/ipfs/boxo/exchange/offline"
	"github.com/ipfs/boxo/files"
	"github.com/ipfs/boxo/ipld/merkledag"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"

	"github.com/ipdm/ipdm/jobs/spec"
	"github.com/ipdm/ipdm/storage/blocks"
	"github.com/ipdm/ipdm/storage/unixfs"
	"github.com/ipdm/ipdm/wasm"
)

var (
	buildOnce sync.Once
	guestWasm []byte
	buildErr  error
)

// wordcount builds the Go example guest once per test binary.
func wordcount(t *testing.T) []byte {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "ipdm-wc-")
		if err != nil {
			buildErr = err
			return
		}
		defer os.RemoveAll(dir)
		out := filepath.Join(dir, "wc.wasm")
		cmd := exec.Command("go", "build", "-o", out, "../../examples/wordcount-go")
		cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
		if b, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("%v: %s", err, b)
			return
		}
		guestWasm, buildErr = os.ReadFile(out)
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return guestWasm
}

// node is an isolated "node": its own store and runtime.
type node struct {
	store *blocks.Disk
	dag   ipld.DAGService
	rt    *wasm.Runtime
}

func newNode(t *testing.T) *node {
	t.Helper()
	st, err := blocks.OpenDisk(filepath.Join(t.TempDir(), "blocks"), blocks.DiskOptions{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	rt, err := wasm.New(context.Background(), wasm.Config{CacheDir: filepath.Join(t.TempDir(), "cache")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close(context.Background()) })
	return &node{store: st, dag: merkledag.NewDAGService(blockservice.New(st, offline.Exchange(st))), rt: rt}
}

func (n *node) add(t *testing.T, data string) cid.Cid {
	t.Helper()
	c, err := unixfs.ImportNode(context.Background(), n.store, files.NewBytesFile([]byte(data)), unixfs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (n *node) run(t *testing.T, mod []byte, s spec.Spec) Outcome {
	t.Helper()
	ctx := context.Background()
	m, err := n.rt.Compile(ctx, mod)
	if err != nil {
		t.Fatal(err)
	}
	out, err := Execute(ctx, n.rt, n.dag, n.store, Job{Spec: s.WithDefaults(), Module: m}, Options{TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func (n *node) cat(t *testing.T, root cid.Cid, name string) string {
	t.Helper()
	ctx := context.Background()
	c := root
	for _, seg := range strings.Split(name, "/") {
		nd, err := n.dag.Get(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		lnk, _, err := nd.ResolveLink([]string{seg})
		if err != nil {
			t.Fatalf("%s in result: %v", name, err)
		}
		c = lnk.Cid
	}
	f, err := unixfs.Open(ctx, n.dag, c)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var b strings.Builder
	if _, err := f.WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func jobSpec(t *testing.T, yaml string) spec.Spec {
	t.Helper()
	s, err := spec.Decode([]byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestSameResultOnEveryNode runs the same job on two isolated nodes and
// twice on one: every run yields the same result CID.
func TestSameResultOnEveryNode(t *testing.T) {
	mod := wordcount(t)
	a, b := newNode(t), newNode(t)
	text := "the quick brown fox jumps over the lazy dog\nthe end\n"
	in := a.add(t, text)
	if got := b.add(t, text); !got.Equals(in) {
		t.Fatalf("input CIDs differ: %s %s", in, got)
	}
	s := jobSpec(t, fmt.Sprintf(`apiVersion: ipdm/v1
kind: Job
module: %s
inputs:
  - cid: %s
    name: text.txt
args: [--top, "3"]
`, in, in))
	first := a.run(t, mod, s)
	if first.ExitCode != 0 || first.Trap != "" {
		t.Fatalf("run: exit %d trap %q stderr %s", first.ExitCode, first.Trap, first.Stderr)
	}
	for i, o := range []Outcome{a.run(t, mod, s), b.run(t, mod, s)} {
		if !o.Result.Equals(first.Result) || o.FuelUsed != first.FuelUsed {
			t.Fatalf("run %d: result %s fuel %d, first %s fuel %d", i+2, o.Result, o.FuelUsed, first.Result, first.FuelUsed)
		}
	}
	if got := a.cat(t, first.Result, "exit_code"); got != "0\n" {
		t.Fatalf("exit_code %q", got)
	}
	if got := a.cat(t, first.Result, "outputs/result.json"); !strings.Contains(got, `"word":"the"`) && !strings.Contains(got, `"word": "the"`) {
		t.Fatalf("result.json: %s", got)
	}
	if a.cat(t, first.Result, "stdout") != string(first.Stdout) {
		t.Fatal("stdout file differs from the captured stdout")
	}
}

// TestTrapIsAResult: a run out of fuel is a deterministic result with a
// trap file, identical on every run.
func TestTrapIsAResult(t *testing.T) {
	mod := wordcount(t)
	n := newNode(t)
	in := n.add(t, strings.Repeat("word ", 10000))
	s := jobSpec(t, fmt.Sprintf("apiVersion: ipdm/v1\nkind: Job\nmodule: %s\ninputs: [%s]\nresources: {fuel: 200000}\n", in, in))
	o1, o2 := n.run(t, mod, s), n.run(t, mod, s)
	if o1.Trap != wasm.TrapOutOfFuel || !o1.Result.Equals(o2.Result) || o1.FuelUsed != 200000 {
		t.Fatalf("out of fuel: trap %q fuel %d, results %s %s", o1.Trap, o1.FuelUsed, o1.Result, o2.Result)
	}
	if got := n.cat(t, o1.Result, "trap"); got != wasm.TrapOutOfFuel+"\n" {
		t.Fatalf("trap file %q", got)
	}
}

func TestMissingInput(t *testing.T) {
	mod := wordcount(t)
	n := newNode(t)
	missing := "bafkreie7ohywtosou76tasm7j63yigtzxe7d5zqus4zu3j6oltvgtibeom"
	s := jobSpec(t, fmt.Sprintf("apiVersion: ipdm/v1\nkind: Job\nmodule: %s\ninputs: [%s]\n", missing, missing))
	m, err := n.rt.Compile(context.Background(), mod)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Execute(context.Background(), n.rt, n.dag, n.store, Job{Spec: s.WithDefaults(), Module: m}, Options{TempDir: t.TempDir()})
	if !errors.Is(err, ErrInput) || !ipld.IsNotFound(err) {
		t.Fatalf("missing input: %v", err)
	}
}

// TestLiveOutput: Options.Stdout and Stderr see what the module writes,
// the same bytes the result keeps, and the result does not change.
func TestLiveOutput(t *testing.T) {
	mod := wordcount(t)
	n := newNode(t)
	in := n.add(t, "one two two\n")
	s := jobSpec(t, fmt.Sprintf("apiVersion: ipdm/v1\nkind: Job\nmodule: %s\ninputs: [%s]\n", in, in))
	plain := n.run(t, mod, s)
	m, err := n.rt.Compile(context.Background(), mod)
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr strings.Builder
	out, err := Execute(context.Background(), n.rt, n.dag, n.store, Job{Spec: s.WithDefaults(), Module: m},
		Options{TempDir: t.TempDir(), Stdout: &stdout, Stderr: &stderr})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Stdout) == 0 || stdout.String() != string(out.Stdout) || stderr.String() != string(out.Stderr) {
		t.Fatalf("live stdout %q stderr %q; captured %q %q", stdout.String(), stderr.String(), out.Stdout, out.Stderr)
	}
	if !out.Result.Equals(plain.Result) {
		t.Fatalf("result %s with live output, %s without", out.Result, plain.Result)
	}
}

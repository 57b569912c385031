package integration

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ipdm/ipdm/devnet"
)

// ipdmBin is the ipdm binary built once for all tests.
var ipdmBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "ipdm-integration-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ipdmBin = filepath.Join(dir, "ipdm")
	out, err := exec.Command("go", "build", "-o", ipdmBin, "../cmd/ipdm").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build ipdm: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// startNet starts an n-node devnet that the test stops.
func startNet(t testing.TB, n int, opts devnet.Options) *devnet.Net {
	t.Helper()
	opts.Binary, opts.Nodes = ipdmBin, n
	if opts.Dir == "" {
		opts.Dir = t.TempDir()
	}
	if opts.FetchTimeout == 0 {
		opts.FetchTimeout = 15 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	net, err := devnet.Start(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := net.Stop(); err != nil {
			t.Errorf("stop devnet: %v", err)
		}
		if t.Failed() {
			for _, nd := range net.Nodes {
				if data, err := os.ReadFile(nd.Log); err == nil {
					t.Logf("--- node%d log (last 4 KiB):\n%s", nd.Index, lastBytes(data, 4096))
				}
			}
		}
	})
	return net
}

func lastBytes(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// ipdm runs the CLI and returns stdout, stderr and the exit code.
func ipdm(t testing.TB, stdin io.Reader, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, ipdmBin, args...)
	cmd.Stdin = stdin
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("ipdm %v: %v", args, err)
	}
	return out.String(), errb.String(), code
}

// mustIPDM runs the CLI and fails the test on a non-zero exit.
func mustIPDM(t testing.TB, args ...string) string {
	t.Helper()
	out, errs, code := ipdm(t, nil, args...)
	if code != 0 {
		t.Fatalf("ipdm %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errs)
	}
	return out
}

// randomBytes returns n deterministic pseudo-random bytes.
func randomBytes(seed uint64, n int) []byte {
	b := make([]byte, n)
	rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), 1}).Read(b)
	return b
}

func sum(b []byte) [32]byte { return sha256.Sum256(b) }

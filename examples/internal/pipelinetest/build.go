package pipelinetest

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// goVersionRe finds the Go version the runtime in a Go Wasm binary reports.
var goVersionRe = regexp.MustCompile(`go1\.[0-9]+(\.[0-9]+)?((rc|beta)[0-9]+)?`)

// CheckBuild keeps an embedded binary honest: got, checked in as
// dir/file (dir relative to the module root, such as
// "examples/spl-transfers"), must be exactly what the Go package pkg (such
// as "./examples/spl-transfers/guest") compiles to for wasip1, with the
// toolchain that built it. It skips with -short, without a go command, or
// when got was built by another Go version (which compiles differently).
func CheckBuild(t *testing.T, got []byte, dir, file, pkg string) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the guest: skipped with -short")
	}
	regenerate := "GOOS=wasip1 GOARCH=wasm CGO_ENABLED=0 go build -buildmode=c-shared -trimpath -buildvcs=false -ldflags='-s -w' -o " + dir + "/" + file + " " + pkg
	goVersion, err := exec.Command("go", "env", "GOVERSION").Output()
	if err != nil {
		t.Skipf("no go command: %v", err)
	}
	toolchain := strings.TrimSpace(string(goVersion))
	if builtWith := string(goVersionRe.Find(got)); builtWith != toolchain {
		t.Skipf("%s was built with %s and this toolchain is %s, which compiles differently: to compare, rebuild it with\n  %s", file, builtWith, toolchain, regenerate)
	}
	root, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), file)
	cmd := exec.Command("go", "build", "-buildmode=c-shared", "-trimpath", "-buildvcs=false", "-ldflags=-s -w", "-o", out, pkg)
	cmd.Dir = filepath.Dir(strings.TrimSpace(string(root)))
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0", "GOFLAGS=", "GOWASM=", "GOEXPERIMENT=")
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", cmd, err, msg)
	}
	built, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(built, got) {
		t.Fatalf("%s (%d bytes) differs from what %s compiles to (%d bytes): rebuild it, from the module root, with\n  %s", file, len(got), pkg, len(built), regenerate)
	}
}

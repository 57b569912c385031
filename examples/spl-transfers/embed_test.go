package spltransfers

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/ipdm/ipdm/pipeline/manifest"
)

const regenerate = "GOOS=wasip1 GOARCH=wasm CGO_ENABLED=0 go build -buildmode=c-shared -trimpath -buildvcs=false -ldflags='-s -w' -o examples/spl-transfers/spl_transfers.wasm ./examples/spl-transfers/guest"

// goVersionRe finds the Go version the runtime in a Go Wasm binary reports.
var goVersionRe = regexp.MustCompile(`go1\.[0-9]+(\.[0-9]+)?((rc|beta)[0-9]+)?`)

// TestWasmMatchesSource keeps the embedded binary honest: it is exactly
// what the guest's source compiles to, with the toolchain that built it.
func TestWasmMatchesSource(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the guest: skipped with -short")
	}
	goVersion, err := exec.Command("go", "env", "GOVERSION").Output()
	if err != nil {
		t.Skipf("no go command: %v", err)
	}
	toolchain := strings.TrimSpace(string(goVersion))
	if builtWith := string(goVersionRe.Find(Wasm)); builtWith != toolchain {
		t.Skipf("spl_transfers.wasm was built with %s and this toolchain is %s, which compiles differently: to compare, rebuild it with\n  %s", builtWith, toolchain, regenerate)
	}
	root, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), WasmFile)
	cmd := exec.Command("go", "build", "-buildmode=c-shared", "-trimpath", "-buildvcs=false", "-ldflags=-s -w", "-o", out, "./examples/spl-transfers/guest")
	cmd.Dir = filepath.Dir(strings.TrimSpace(string(root)))
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0", "GOFLAGS=", "GOWASM=", "GOEXPERIMENT=")
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", cmd, err, msg)
	}
	built, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(built, Wasm) {
		t.Fatalf("spl_transfers.wasm (%d bytes) differs from what ./guest compiles to (%d bytes): rebuild it, from the module root, with\n  %s", len(Wasm), len(built), regenerate)
	}
}

func TestManifest(t *testing.T) {
	m, err := manifest.Decode(Manifest)
	if err != nil {
		t.Fatal(err)
	}
	mod, ok := m.Module("spl_transfers")
	if !ok || len(m.Modules) != 1 {
		t.Fatalf("modules %+v", m.Modules)
	}
	if mod.Kind != manifest.KindMap || mod.File != WasmFile || mod.Entrypoint != "map_spl_transfers" ||
		len(mod.Inputs) != 1 || mod.Inputs[0].Source != manifest.SourceSolanaInstructions || mod.Output != "json:ipdm.spl.Transfers" {
		t.Errorf("spl_transfers: %+v", mod)
	}
	if len(m.Windows) != 1 || len(m.Rules) != 1 {
		t.Errorf("windows %+v, rules %+v", m.Windows, m.Rules)
	}
	if _, err := os.Stat(WasmFile); err != nil {
		t.Error(err)
	}
}

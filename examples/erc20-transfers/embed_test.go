package erc20transfers

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/ipdm/ipdm/pipeline/manifest"
	"github.com/ipdm/ipdm/pipeline/source"
)

// buildCommand is how erc20_transfers.wasm is built, from the module root.
var buildCommand = []string{"go", "build", "-buildmode=c-shared", "-trimpath", "-buildvcs=false", "-ldflags=-s -w", "-o", "OUT", "./examples/erc20-transfers/guest"}

const regenerate = "GOOS=wasip1 GOARCH=wasm CGO_ENABLED=0 go build -buildmode=c-shared -trimpath -buildvcs=false -ldflags='-s -w' -o examples/erc20-transfers/erc20_transfers.wasm ./examples/erc20-transfers/guest"

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
	builtWith := string(goVersionRe.Find(Wasm))
	if builtWith != toolchain {
		t.Skipf("erc20_transfers.wasm was built with %s and this toolchain is %s, which compiles differently: to compare, rebuild it with\n  %s", builtWith, toolchain, regenerate)
	}
	root, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "erc20_transfers.wasm")
	args := append([]string(nil), buildCommand[1:]...)
	for i, a := range args {
		if a == "OUT" {
			args[i] = out
		}
	}
	cmd := exec.Command("go", args...)
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
		t.Fatalf("erc20_transfers.wasm (%d bytes) differs from what ./guest compiles to (%d bytes): rebuild it, from the module root, with\n  %s", len(Wasm), len(built), regenerate)
	}
}

func TestManifest(t *testing.T) {
	m, err := manifest.Decode(Manifest)
	if err != nil {
		t.Fatal(err)
	}
	mapper, ok1 := m.Module("erc20_transfers")
	store, ok2 := m.Module("token_volume")
	if !ok1 || !ok2 || len(m.Modules) != 2 {
		t.Fatalf("modules %+v", m.Modules)
	}
	if mapper.Kind != manifest.KindMap || mapper.File != WasmFile || mapper.Entrypoint != "map_transfers" ||
		len(mapper.Inputs) != 1 || mapper.Inputs[0].Source != manifest.SourceEthereumLogs || mapper.Output != "json:ipdm.erc20.Transfers" {
		t.Errorf("erc20_transfers: %+v", mapper)
	}
	if store.Kind != manifest.KindStore || store.File != WasmFile || store.Entrypoint != "store_volume" ||
		len(store.Inputs) != 1 || store.Inputs[0].Kind != manifest.InputMap || store.Inputs[0].Module != "erc20_transfers" ||
		store.ValueType != manifest.ValueBigInt || store.UpdatePolicy != manifest.PolicyAdd {
		t.Errorf("token_volume: %+v", store)
	}
	if len(m.Windows) != 1 || len(m.Rules) != 1 {
		t.Errorf("windows %+v, rules %+v", m.Windows, m.Rules)
	}
	// The manifest names the file beside it.
	if _, err := os.Stat(WasmFile); err != nil {
		t.Error(err)
	}
}

func TestFixtureETL(t *testing.T) {
	blocks, txs, logs := FixtureETL()
	bs, err := source.DecodeETL(blocks, txs, logs)
	if err != nil {
		t.Fatal(err)
	}
	nt, nl := 0, 0
	for _, b := range bs {
		nt += len(b.Transactions)
		nl += len(b.Logs)
	}
	if len(bs) != 2 || bs[0].Number != FixtureFirstBlock || bs[1].Number != FixtureLastBlock || nt != 298 || nl != 681 {
		t.Errorf("%d blocks from %d, %d transactions, %d logs", len(bs), bs[0].Number, nt, nl)
	}
	if !strings.Contains(FixtureLicense, "MIT License") {
		t.Error("FixtureLicense is not the MIT license")
	}
	// Fresh readers per call.
	again, _, _ := FixtureETL()
	if b, err := io.ReadAll(again); err != nil || !bytes.HasPrefix(b, []byte(`{"type": "block", "number": 17173049`)) {
		t.Errorf("second call: %.60q, %v", b, err)
	}
}

// The embedded files decompress to the shared fixture files they were made
// from.
func TestFixtureMatchesShared(t *testing.T) {
	dir := sharedFixture(t, "ethereum/mainnet-17173049-17173050")
	readers := [3]io.Reader{}
	readers[0], readers[1], readers[2] = FixtureETL()
	for i, name := range []string{"blocks.json", "transactions.json", "logs.json"} {
		want, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(readers[i])
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: embedded copy differs from the shared fixture (%v)", name, err)
		}
	}
	lic, err := os.ReadFile(filepath.Join(dir, "..", "LICENSE"))
	if err != nil || string(lic) != FixtureLicense {
		t.Errorf("testdata/LICENSE differs from the shared fixture's LICENSE (%v)", err)
	}
}

// sharedFixture finds shared/fixtures/rel in a parent directory, or skips.
func sharedFixture(t testing.TB, rel string) string {
	t.Helper()
	dir, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	for {
		p := filepath.Join(dir, "shared", "fixtures", rel)
		if st, err := os.Stat(p); err == nil && st.IsDir() {
			return p
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Skipf("shared/fixtures/%s not found in any parent directory (the shared fixtures must be beside the checkout, as /work/shared/fixtures is for /work/main)", rel)
		}
		dir = parent
	}
}

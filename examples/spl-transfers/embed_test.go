package spltransfers

import (
	"os"
	"testing"

	"github.com/ipdm/ipdm/examples/internal/pipelinetest"
	"github.com/ipdm/ipdm/pipeline/manifest"
)

// TestWasmMatchesSource keeps the embedded binary honest: it is exactly
// what the guest's source compiles to, with the toolchain that built it.
// (The check is shared with the other examples, in
// examples/internal/pipelinetest.)
func TestWasmMatchesSource(t *testing.T) {
	pipelinetest.CheckBuild(t, Wasm, "examples/spl-transfers", WasmFile, "./examples/spl-transfers/guest")
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

package erc20transfers

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ipdm/ipdm/examples/internal/pipelinetest"
	"github.com/ipdm/ipdm/pipeline/manifest"
	"github.com/ipdm/ipdm/pipeline/source"
)

// TestWasmMatchesSource keeps the embedded binary honest: it is exactly
// what the guest's source compiles to, with the toolchain that built it.
// (The check is shared with the other examples, in
// examples/internal/pipelinetest.)
func TestWasmMatchesSource(t *testing.T) {
	pipelinetest.CheckBuild(t, Wasm, "examples/erc20-transfers", WasmFile, "./examples/erc20-transfers/guest")
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
	dir := pipelinetest.FixturePath(t, "ethereum/mainnet-17173049-17173050")
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

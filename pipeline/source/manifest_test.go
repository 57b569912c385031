package source

import (
	"testing"

	"github.com/ipdm/ipdm/pipeline/manifest"
)

// The manifest declares the types source kinds yield; they must name this
// package's encodings, or type checks in manifests would check nothing real.
func TestManifestSourceTypes(t *testing.T) {
	for kind, version := range map[manifest.SourceKind]string{
		manifest.SourceEthereumBlock:      BlockVersion,
		manifest.SourceEthereumLogs:       LogsVersion,
		manifest.SourceSolanaInstructions: SlotVersion,
	} {
		if got := kind.Type(); got != "json:"+version {
			t.Errorf("manifest says %s yields %s; source encodes %s", kind, got, version)
		}
	}
}

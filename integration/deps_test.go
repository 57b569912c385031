package integration

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencyFences keeps heavy dependencies behind their packages: only
// p2p imports libp2p (and boxo's bitswap, which is libp2p-bound), and the
// pure and storage packages pull in no networking at all.
func TestDependencyFences(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}} {{join .Imports \" \"}}", "github.com/ipdm/ipdm/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	fenced := []struct{ prefix, owner string }{
		{"github.com/libp2p/", "github.com/ipdm/ipdm/p2p"},
		{"github.com/ipfs/boxo/bitswap", "github.com/ipdm/ipdm/p2p"},
		{"github.com/tetratelabs/wazero", "github.com/ipdm/ipdm/wasm"},
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		pkg, imports := fields[0], fields[1:]
		for _, imp := range imports {
			for _, f := range fenced {
				if strings.HasPrefix(imp, f.prefix) && pkg != f.owner && !strings.HasPrefix(pkg, f.owner+"/") {
					t.Errorf("%s imports %s: only %s may", pkg, imp, f.owner)
				}
			}
		}
	}
	for _, pkg := range []string{"capability", "repo", "api", "storage/blocks", "storage/unixfs", "storage/pin", "storage/car", "storage/dag", "modules", "jobs/spec", "jobs/state", "verify", "wasm", "fieldpath"} {
		out, err := exec.Command("go", "list", "-deps", "github.com/ipdm/ipdm/"+pkg).Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", pkg, err)
		}
		for _, dep := range strings.Fields(string(out)) {
			if strings.HasPrefix(dep, "github.com/libp2p/go-libp2p") || strings.HasPrefix(dep, "github.com/ipdm/ipdm/p2p") {
				t.Errorf("%s depends on %s", pkg, dep)
				break
			}
		}
	}
}

package csvfilter

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestEmbeddedModuleMatchesSource keeps the committed binary honest: it is
// exactly what the source compiles to.
func TestEmbeddedModuleMatchesSource(t *testing.T) {
	clang, err := exec.LookPath("clang")
	if err != nil {
		t.Skip("clang not found; install it with: apt-get install -y clang lld wasi-libc libclang-rt-14-dev-wasm32")
	}
	out := filepath.Join(t.TempDir(), "csvfilter.wasm")
	if b, err := exec.Command(clang, "--target=wasm32-wasi", "-O2", "-o", out, "../csvfilter.c").CombinedOutput(); err != nil {
		t.Skipf("clang cannot build wasm32-wasi here (%v): %s", err, b)
	}
	built, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(built, Module) {
		t.Fatalf("csvfilter.wasm (%d bytes) differs from what csvfilter.c compiles to (%d bytes): rebuild it with\n  clang --target=wasm32-wasi -O2 -o examples/csvfilter-c/csvfilter/csvfilter.wasm examples/csvfilter-c/csvfilter.c", len(Module), len(built))
	}
}

package pipelinetest

import (
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// The shared fixtures live in shared/fixtures beside the checkout
// (/work/shared/fixtures for /work/main); FixtureDir walks up from the
// test's directory to find them.

// FixtureDir returns the shared/fixtures directory of the nearest parent
// directory that has one, "" if none does.
var FixtureDir = sync.OnceValue(func() string {
	dir, err := filepath.Abs(".")
	if err != nil {
		return ""
	}
	for {
		p := filepath.Join(dir, "shared", "fixtures")
		if st, err := os.Stat(p); err == nil && st.IsDir() {
			return p
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
})

const notFound = "shared/fixtures not found in any parent directory (the shared fixtures must be beside the checkout, as /work/shared/fixtures is for /work/main)"

// FixturePath returns the path of shared/fixtures/rel (a file or a
// directory), or skips the test if it is not there.
func FixturePath(t testing.TB, rel string) string {
	t.Helper()
	if FixtureDir() == "" {
		t.Skip(notFound)
	}
	p := filepath.Join(FixtureDir(), rel)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("fixture %s: %v", rel, err)
	}
	return p
}

// ReadFixture reads shared/fixtures/rel, or skips the test if it is not
// there.
func ReadFixture(t testing.TB, rel string) []byte {
	t.Helper()
	if FixtureDir() == "" {
		t.Skip(notFound)
	}
	b, err := os.ReadFile(filepath.Join(FixtureDir(), rel))
	if err != nil {
		t.Skipf("fixture %s: %v", rel, err)
	}
	return b
}

// FixtureFile reads shared/fixtures/rel for a fuzz seed: nil when absent.
func FixtureFile(rel string) []byte {
	if FixtureDir() == "" {
		return nil
	}
	b, _ := os.ReadFile(filepath.Join(FixtureDir(), rel))
	return b
}

package execute

import (
	"os"
	"path/filepath"
	"testing"
)

func TestWorkDirsReuse(t *testing.T) {
	root := t.TempDir()
	w := NewWorkDirs(root, 1)
	a, err := w.get()
	if err != nil {
		t.Fatal(err)
	}
	b, err := w.get()
	if err != nil || a == b {
		t.Fatalf("second folder %q (%v), first %q", b, err, a)
	}
	// What a run leaves behind is removed before the folder is reused.
	os.MkdirAll(filepath.Join(a, "sub", "deeper"), 0o755)
	os.WriteFile(filepath.Join(a, "sub", "deeper", "f"), []byte("x"), 0o644)
	os.WriteFile(filepath.Join(a, "g"), []byte("y"), 0o644)
	w.put(a)
	w.put(b) // over the limit of 1 idle folder: removed
	if _, err := os.Stat(b); !os.IsNotExist(err) {
		t.Fatalf("folder beyond the idle limit kept: %v", err)
	}
	c, err := w.get()
	if err != nil || c != a {
		t.Fatalf("got %q (%v), want the kept %q", c, err, a)
	}
	if entries, err := os.ReadDir(c); err != nil || len(entries) != 0 {
		t.Fatalf("reused folder not empty: %v %v", entries, err)
	}
	w.put(c)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(root); len(entries) != 0 {
		t.Fatalf("Close left %d folders", len(entries))
	}
}

package execute

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
)

// WorkDirs hands out empty working folders for executions and takes them
// back emptied, so that running a job costs no directory creation or
// removal: on some file systems (the project machine's among them) a mkdir
// and an rmdir cost about a millisecond each, more than a trivial job's
// whole run. Safe for concurrent use.
type WorkDirs struct {
	root string
	max  int

	mu   sync.Mutex
	free []string
}

// DefaultMaxIdleDirs is how many emptied folders WorkDirs keeps by default.
const DefaultMaxIdleDirs = 64

// NewWorkDirs makes folders under root (empty: os.TempDir()), keeping up to
// maxIdle emptied ones for reuse (0: DefaultMaxIdleDirs).
func NewWorkDirs(root string, maxIdle int) *WorkDirs {
	if maxIdle <= 0 {
		maxIdle = DefaultMaxIdleDirs
	}
	return &WorkDirs{root: root, max: maxIdle}
}

// get returns an empty folder.
func (w *WorkDirs) get() (string, error) {
	w.mu.Lock()
	if n := len(w.free); n > 0 {
		d := w.free[n-1]
		w.free = w.free[:n-1]
		w.mu.Unlock()
		return d, nil
	}
	w.mu.Unlock()
	d, err := os.MkdirTemp(w.root, "ipdm-exec-")
	if err != nil {
		return "", fmt.Errorf("execute: %w", err)
	}
	return d, nil
}

// put empties dir and keeps it for reuse, or removes it when enough are
// kept or it cannot be emptied.
func (w *WorkDirs) put(dir string) {
	if err := empty(dir); err == nil {
		w.mu.Lock()
		if len(w.free) < w.max {
			w.free = append(w.free, dir)
			w.mu.Unlock()
			return
		}
		w.mu.Unlock()
	}
	os.RemoveAll(dir)
}

// Close removes the kept folders.
func (w *WorkDirs) Close() error {
	w.mu.Lock()
	free := w.free
	w.free = nil
	w.mu.Unlock()
	var errs []error
	for _, d := range free {
		errs = append(errs, os.RemoveAll(d))
	}
	return errors.Join(errs...)
}

// empty removes everything inside dir. (Nothing in it is read-only: WASI
// cannot change permissions and inputs are written writable.)
func empty(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

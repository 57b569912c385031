//go:build unix

package unixfs

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// Like `ipfs add`, a named pipe given as the path is read as a file, and one
// inside a directory is an error.
func TestImportPathNamedPipe(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	fifo := filepath.Join(dir, "pipe")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	writeErr := make(chan error, 1)
	go func() {
		writeErr <- os.WriteFile(fifo, []byte("hello world\n"), 0o600)
	}()
	c, err := ImportPath(ctx, &countingWriter{}, fifo, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := <-writeErr; err != nil {
		t.Fatal(err)
	}
	if want := "bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4"; c.String() != want {
		t.Fatalf("pipe imported as %s, want %s", c, want)
	}
	if _, err := ImportPath(ctx, &countingWriter{}, dir, Options{}); err == nil {
		t.Fatal("a pipe inside a directory was imported")
	}
}

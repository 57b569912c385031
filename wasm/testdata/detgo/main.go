// Command detgo exercises everything that would make a guest
// nondeterministic on a plain runtime: clocks, sleeping, randomness, map
// order, goroutine scheduling, floats (NaN bits), file metadata and directory
// order. The sandbox tests run it repeatedly and require identical output.
package main

import (
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"io"
	"io/fs"
	"math"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ipdm/ipdm/wasm/guest"
)

func main() {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }

	t0 := time.Now()
	time.Sleep(25 * time.Millisecond)
	w("now=%d since=%d", t0.UnixNano(), time.Since(t0))
	timer := time.After(5 * time.Millisecond)
	<-timer

	r := make([]byte, 16)
	_, _ = rand.Read(r)
	w("crypto/rand=%x math/rand=%d", r, mrand.Int64())

	m := map[int]string{}
	for i := range 64 {
		m[i] = fmt.Sprint(i)
	}
	var order []string
	for _, v := range m {
		order = append(order, v)
	}
	w("map=%s", strings.Join(order, ","))

	var mu sync.Mutex
	var wg sync.WaitGroup
	var sched []int
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 3 {
				runtime.Gosched()
				mu.Lock()
				sched = append(sched, i*10+j)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	w("sched=%v", sched)

	zero := float64(len(os.Args) - len(os.Args))
	nan := zero / zero
	f32 := float32(zero) / float32(zero)
	w("nan64=%016x nan32=%08x sqrt=%016x sin=%v exp=%v", math.Float64bits(nan), math.Float32bits(f32),
		math.Float64bits(math.Sqrt(zero-1)), math.Sin(1e6), math.Exp(12.5))
	w("args=%q env=%q", os.Args, os.Environ())

	_ = fs.WalkDir(os.DirFS("/inputs"), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			w("walk %s: %v", p, err)
			return nil
		}
		info, err := d.Info()
		if err != nil {
			w("info %s: %v", p, err)
			return nil
		}
		st, _ := info.Sys().(*syscall.Stat_t)
		if st == nil {
			st = &syscall.Stat_t{}
		}
		w("input %s mode=%v size=%d mtime=%d ino=%d dev=%d nlink=%d atime=%d", p, info.Mode(), info.Size(),
			info.ModTime().UnixNano(), st.Ino, st.Dev, st.Nlink, st.Atime)
		return nil
	})
	if in, err := io.ReadAll(os.Stdin); err == nil {
		w("stdin=%d bytes", len(in))
		if guest.SHA256(in) != sha256.Sum256(in) {
			w("host sha256 MISMATCH")
		}
	}

	if err := os.MkdirAll("/outputs/sub", 0o755); err != nil {
		w("mkdir: %v", err)
	}
	if err := os.WriteFile(filepath.Join("/outputs/sub", "report.txt"), []byte(b.String()), 0o600); err != nil {
		w("write: %v", err)
	}
	if st, err := os.Stat("/outputs/sub/report.txt"); err == nil {
		w("report mode=%v mtime=%d", st.Mode(), st.ModTime().UnixNano())
	}
	if err := os.WriteFile("/inputs/x", nil, 0o644); err == nil {
		w("inputs are writable!")
	}
	if err := os.Symlink("/etc/passwd", "/outputs/link"); err == nil {
		w("symlink allowed!")
	}
	fmt.Print(b.String())
}

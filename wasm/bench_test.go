package wasm

import (
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ipdm/ipdm/examples/recordscan"
)

// BenchmarkRecordScan runs the same record-scan kernel natively, as a C guest
// (with and without fuel metering) and as a Go guest in one benchmark, and
// reports each variant's time per op and its ratio to native. Guest times
// include instantiation and reading the input, like a job's would.
//
//	go test ./wasm -run '^$' -bench RecordScan -benchtime 5x
func BenchmarkRecordScan(b *testing.B) {
	const records, passes, kind, mask = 1 << 20, 16, 3, 0x5
	data := recordscan.Generate(records, 1)
	file := filepath.Join(b.TempDir(), "records.bin")
	if err := os.WriteFile(file, data, 0o644); err != nil {
		b.Fatal(err)
	}
	native := func() string {
		d, err := os.ReadFile(file)
		if err != nil {
			b.Fatal(err)
		}
		var s recordscan.Stats
		for range passes {
			s = recordscan.Scan(d, kind, mask)
		}
		return s.String() + "\n"
	}
	want := native()

	rt := newRuntime(b, Config{})
	raw := newRuntime(b, Config{})
	raw.noInstr = true
	spec := RunSpec{
		Args:   []string{"recordscan", fmt.Sprint(kind), fmt.Sprint(mask), fmt.Sprint(passes)},
		Inputs: []Input{{Name: "records.bin", Path: file}},
	}
	guest := func(r *Runtime, m *Module) func() string {
		return func() string {
			res := mustRun(b, r, m, spec)
			if !res.Success() {
				b.Fatalf("%+v\n%s", res, res.Stderr)
			}
			return string(res.Stdout)
		}
	}
	cWasm := cGuest(b, "examples/recordscan/guest-c/recordscan.c")
	variants := []struct {
		name string
		run  func() string
	}{
		{"native", native},
		{"c", guest(rt, mustCompile(b, rt, cWasm))},
		{"c-unmetered", guest(raw, mustCompile(b, raw, cWasm))},
		{"go", guest(rt, mustCompile(b, rt, goGuest(b, "examples/recordscan/guest-go")))},
		{"go-unmetered", guest(raw, mustCompile(b, raw, goGuest(b, "examples/recordscan/guest-go")))},
	}
	total := make([]time.Duration, len(variants))
	for _, v := range variants { // warm up and check
		if got := v.run(); got != want {
			b.Fatalf("%s: got %q, want %q", v.name, got, want)
		}
	}
	b.ResetTimer()
	for range b.N {
		for i, v := range variants {
			start := time.Now()
			v.run()
			total[i] += time.Since(start)
		}
	}
	b.StopTimer()
	for i, v := range variants {
		b.ReportMetric(float64(total[i].Milliseconds())/float64(b.N), v.name+"-ms/op")
		if i > 0 {
			b.ReportMetric(float64(total[i])/float64(total[0]), v.name+"-x-native")
		}
	}
	b.ReportMetric(float64(total[1])/float64(total[2]), "c-fuel-overhead-x")
	b.ReportMetric(float64(total[3])/float64(total[4]), "go-fuel-overhead-x")
}

// BenchmarkRunCached measures a whole Run of an already compiled module:
// instantiation, host set-up and the guest's own start-up.
//
//	go test ./wasm -run '^$' -bench RunCached
func BenchmarkRunCached(b *testing.B) {
	rt := newRuntime(b, Config{})
	for _, tc := range []struct {
		name string
		wasm func() []byte
	}{
		{"tiny", func() []byte { return exitSeven }},
		{"c-hello", func() []byte { return cGuest(b, "wasm/testdata/hello.c") }},
		{"go-wordcount", func() []byte { return goGuest(b, "examples/wordcount-go") }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			m := mustCompile(b, rt, tc.wasm())
			for b.Loop() {
				if _, err := rt.Run(context.Background(), m, RunSpec{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkCompileGoGuest compiles the Go wordcount guest (3.4 MB) without
// and with a warm on-disk cache; a fresh runtime each time.
//
//	go test ./wasm -run '^$' -bench CompileGoGuest -benchtime 3x
func BenchmarkCompileGoGuest(b *testing.B) {
	wasm := goGuest(b, "examples/wordcount-go")
	dir := b.TempDir()
	for _, tc := range []struct{ name, dir string }{{"no-cache", ""}, {"disk-cache", dir}} {
		b.Run(tc.name, func(b *testing.B) {
			if tc.dir != "" { // fill the cache
				warm := newRuntime(b, Config{CacheDir: tc.dir})
				mustCompile(b, warm, wasm)
			}
			for b.Loop() {
				rt, err := New(context.Background(), Config{CacheDir: tc.dir})
				if err != nil {
					b.Fatal(err)
				}
				mustCompile(b, rt, wasm)
				rt.Close(context.Background())
			}
		})
	}
}

// BenchmarkGuestSHA256 hashes 16 MiB in a Go guest with crypto/sha256 and
// with the host's ipdm.sha256, plus a run that only reads the data and
// crypto/sha256 natively, to report how much slower hashing inside the guest
// is than the host's code that ipdm.sha256 runs.
//
//	go test ./wasm -run '^$' -bench GuestSHA256 -benchtime 5x
func BenchmarkGuestSHA256(b *testing.B) {
	rt := newRuntime(b, Config{})
	m := mustCompile(b, rt, goGuest(b, "wasm/testdata/hashgo"))
	file := filepath.Join(b.TempDir(), "data")
	data := recordscan.Generate(1<<19, 2) // 16 MiB
	if err := os.WriteFile(file, data, 0o644); err != nil {
		b.Fatal(err)
	}
	sum := fmt.Sprintf("%x\n", sha256.Sum256(data))
	modes := []struct{ name, want string }{{"guest", sum}, {"host", sum}, {"none", fmt.Sprintln(len(data))}}
	var took [3]time.Duration
	var fuel [3]uint64
	var native time.Duration
	for range b.N {
		start := time.Now()
		sha256.Sum256(data)
		native += time.Since(start)
		for i, mode := range modes {
			start := time.Now()
			res := mustRun(b, rt, m, RunSpec{Args: []string{"hashgo", mode.name}, Inputs: []Input{{Name: "data", Path: file}}})
			took[i] += time.Since(start)
			fuel[i] = res.FuelUsed
			if string(res.Stdout) != mode.want {
				b.Fatalf("%s: %q, want %q (%+v)", mode.name, res.Stdout, mode.want, res)
			}
		}
	}
	b.ReportMetric(float64(took[0].Milliseconds())/float64(b.N), "guest-ms/op")
	b.ReportMetric(float64(took[1].Milliseconds())/float64(b.N), "host-ms/op")
	b.ReportMetric(float64(took[2].Milliseconds())/float64(b.N), "read-only-ms/op")
	b.ReportMetric(float64(took[0]-took[2])/float64(native), "guest-hash-x-native")
	b.ReportMetric(float64(fuel[0]-fuel[2])/float64(len(data)), "guest-fuel/byte")
}

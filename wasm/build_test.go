package wasm

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// This file builds test modules: small hand-assembled ones (tmod) for hostile
// and edge cases, and the Go and C guests from source.

// tmod assembles a module. Function indices count imports first.
type tmod struct {
	types   []funcType
	imports []timport
	funcs   []tfunc
	mem     *[2]uint32 // min, max (max 0 = none)
	table   *[2]uint32
	data    []tdata
	start   int // function index + 1 of a start section; 0 = none
	exports []texport
	// noStart leaves out the _start export (funcs[0] is exported otherwise).
	noStart bool
	// elem is the raw content of an element section.
	elem []byte
	// names maps function indices to names in a "name" section.
	names map[uint32]string
}

type timport struct {
	module, name string
	typ          int
}

type tfunc struct {
	typ    int
	locals []byte // one value type per local
	body   []byte // instructions without the final end
}

type tdata struct {
	offset uint32
	bytes  []byte
}

type texport struct {
	name string
	kind byte
	idx  uint32
}

func (m *tmod) bytes() []byte {
	out := []byte("\x00asm\x01\x00\x00\x00")
	vec := func(n int, f func(b []byte, i int) []byte) []byte {
		b := appendU32(nil, uint32(n))
		for i := 0; i < n; i++ {
			b = f(b, i)
		}
		return b
	}
	types := m.types
	if len(types) == 0 {
		types = []funcType{{}}
	}
	out = appendSection(out, secType, vec(len(types), func(b []byte, i int) []byte {
		b = append(b, 0x60)
		b = appendU32(b, uint32(len(types[i].params)))
		b = append(b, types[i].params...)
		b = appendU32(b, uint32(len(types[i].results)))
		return append(b, types[i].results...)
	}))
	if len(m.imports) > 0 {
		out = appendSection(out, secImport, vec(len(m.imports), func(b []byte, i int) []byte {
			b = appendName(b, m.imports[i].module)
			b = appendName(b, m.imports[i].name)
			b = append(b, 0)
			return appendU32(b, uint32(m.imports[i].typ))
		}))
	}
	out = appendSection(out, secFunction, vec(len(m.funcs), func(b []byte, i int) []byte {
		return appendU32(b, uint32(m.funcs[i].typ))
	}))
	if m.table != nil {
		out = appendSection(out, secTable, vec(1, func(b []byte, _ int) []byte {
			b = append(b, valFuncref)
			if m.table[1] == 0 {
				return appendU32(append(b, 0), m.table[0])
			}
			return appendLimits(b, m.table[0], m.table[1])
		}))
	}
	if m.mem != nil {
		out = appendSection(out, secMemory, vec(1, func(b []byte, _ int) []byte {
			if m.mem[1] == 0 {
				return appendU32(append(b, 0), m.mem[0])
			}
			return appendLimits(b, m.mem[0], m.mem[1])
		}))
	}
	exports := m.exports
	if !m.noStart {
		exports = append([]texport{{"_start", 0, uint32(len(m.imports))}}, exports...)
	}
	if m.mem != nil {
		exports = append(exports, texport{"memory", 2, 0})
	}
	out = appendSection(out, secExport, vec(len(exports), func(b []byte, i int) []byte {
		b = appendName(b, exports[i].name)
		b = append(b, exports[i].kind)
		return appendU32(b, exports[i].idx)
	}))
	if m.start > 0 {
		out = appendSection(out, secStart, appendU32(nil, uint32(m.start-1)))
	}
	if m.elem != nil {
		out = appendSection(out, secElement, m.elem)
	}
	out = appendSection(out, secCode, vec(len(m.funcs), func(b []byte, i int) []byte {
		f := m.funcs[i]
		body := vec(len(f.locals), func(b []byte, j int) []byte { return append(b, 1, f.locals[j]) })
		body = append(body, f.body...)
		body = append(body, opEnd)
		b = appendU32(b, uint32(len(body)))
		return append(b, body...)
	}))
	if len(m.data) > 0 {
		out = appendSection(out, secData, vec(len(m.data), func(b []byte, i int) []byte {
			b = append(b, 0, opI32Const)
			b = appendS64(b, int64(int32(m.data[i].offset)))
			b = append(b, opEnd)
			b = appendU32(b, uint32(len(m.data[i].bytes)))
			return append(b, m.data[i].bytes...)
		}))
	}
	if len(m.names) > 0 {
		var idxs []uint32
		for i := range m.names {
			idxs = append(idxs, i)
		}
		slices.Sort(idxs)
		sub := vec(len(idxs), func(b []byte, i int) []byte {
			return appendName(appendU32(b, idxs[i]), m.names[idxs[i]])
		})
		content := appendName(nil, "name")
		content = appendU32(append(content, 1), uint32(len(sub)))
		out = appendSection(out, secCustom, append(content, sub...))
	}
	return out
}

// Instruction helpers for tmod bodies.
func i32c(v int32) []byte { return appendS64([]byte{opI32Const}, int64(v)) }
func i64c(v int64) []byte { return appendS64([]byte{opI64Const}, v) }
func op1(op byte, idx uint32) []byte {
	return appendU32([]byte{op}, idx)
}
func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

var (
	tVoid      = funcType{}
	tProcExit  = funcType{params: []byte{valI32}}
	tFdWrite   = funcType{params: []byte{valI32, valI32, valI32, valI32}, results: []byte{valI32}}
	importExit = timport{"wasi_snapshot_preview1", "proc_exit", 1}
)

// exitWith returns a module whose _start computes an i32 with expr and
// passes it to proc_exit.
func exitWith(expr []byte, locals ...byte) []byte {
	m := &tmod{
		types:   []funcType{tVoid, tProcExit},
		imports: []timport{importExit},
		funcs:   []tfunc{{typ: 0, locals: locals, body: cat(expr, op1(opCall, 0))}},
		mem:     &[2]uint32{1, 0},
	}
	return m.bytes()
}

// Guests built from source, once per test binary.
var (
	guestMu    sync.Mutex
	guestCache = map[string]guestBuild{}
)

type guestBuild struct {
	wasm []byte
	err  error
	skip string
}

func moduleRoot(t testing.TB) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v", err)
	}
	return filepath.Dir(strings.TrimSpace(string(out)))
}

// goGuest builds the Go package at pkg (relative to the module root) with
// GOOS=wasip1 GOARCH=wasm.
func goGuest(t testing.TB, pkg string) []byte {
	t.Helper()
	return goBuild(t, pkg)
}

// goReactor builds the Go package at pkg as a WASI reactor (a pipeline
// module): -buildmode=c-shared.
func goReactor(t testing.TB, pkg string) []byte {
	t.Helper()
	return goBuild(t, pkg, "-buildmode=c-shared")
}

func goBuild(t testing.TB, pkg string, flags ...string) []byte {
	t.Helper()
	return cachedGuest(t, "go:"+pkg+":"+strings.Join(flags, " "), func(dir string) ([]byte, string, error) {
		out := filepath.Join(dir, "guest.wasm")
		args := append([]string{"build", "-trimpath", "-o", out}, flags...)
		cmd := exec.Command("go", append(args, "./"+pkg)...)
		cmd.Dir = moduleRoot(t)
		cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
		if msg, err := cmd.CombinedOutput(); err != nil {
			return nil, "", &buildError{cmd.String(), string(msg), err}
		}
		b, err := os.ReadFile(out)
		return b, "", err
	})
}

// aptClang is what CI installs for the C guests (Debian bookworm).
const aptClang = "apt-get install -y clang lld wasi-libc libclang-rt-14-dev-wasm32"

// cGuest compiles the C source files (relative to the module root) with
// clang --target=wasm32-wasi -O2, or skips the test when clang or wasi-libc
// is missing.
func cGuest(t testing.TB, srcs ...string) []byte {
	t.Helper()
	return cBuild(t, nil, srcs...)
}

// cReactor compiles the C sources as a WASI reactor (a pipeline module) with
// pipeline/guest on the include path.
func cReactor(t testing.TB, srcs ...string) []byte {
	t.Helper()
	return cBuild(t, []string{"-mexec-model=reactor", "-I", filepath.Join(moduleRoot(t), "pipeline", "guest")}, srcs...)
}

func cBuild(t testing.TB, flags []string, srcs ...string) []byte {
	t.Helper()
	return cachedGuest(t, "c:"+strings.Join(flags, " ")+":"+strings.Join(srcs, ","), func(dir string) ([]byte, string, error) {
		clang, err := exec.LookPath("clang")
		if err != nil {
			return nil, "clang not found; install it with: " + aptClang, nil
		}
		probe := filepath.Join(dir, "probe.c")
		if err := os.WriteFile(probe, []byte("#include <stdio.h>\nint main(void){puts(\"\");return 0;}\n"), 0o644); err != nil {
			return nil, "", err
		}
		if msg, err := exec.Command(clang, "--target=wasm32-wasi", "-O2", "-o", filepath.Join(dir, "probe.wasm"), probe).CombinedOutput(); err != nil {
			return nil, "clang cannot build for wasm32-wasi (" + strings.TrimSpace(string(msg)) + "); install: " + aptClang, nil
		}
		out := filepath.Join(dir, "guest.wasm")
		args := append([]string{"--target=wasm32-wasi", "-O2", "-Wall", "-Werror", "-o", out}, flags...)
		root := moduleRoot(t)
		for _, s := range srcs {
			args = append(args, filepath.Join(root, s))
		}
		cmd := exec.Command(clang, args...)
		if msg, err := cmd.CombinedOutput(); err != nil {
			return nil, "", &buildError{cmd.String(), string(msg), err}
		}
		b, err := os.ReadFile(out)
		return b, "", err
	})
}

type buildError struct {
	cmd, out string
	err      error
}

func (e *buildError) Error() string { return e.cmd + ": " + e.err.Error() + "\n" + e.out }

func cachedGuest(t testing.TB, key string, build func(dir string) ([]byte, string, error)) []byte {
	t.Helper()
	guestMu.Lock()
	defer guestMu.Unlock()
	g, ok := guestCache[key]
	if !ok {
		dir, err := os.MkdirTemp("", "ipdm-wasm-guest-")
		if err != nil {
			t.Fatal(err)
		}
		g.wasm, g.skip, g.err = build(dir)
		os.RemoveAll(dir)
		guestCache[key] = g
	}
	switch {
	case g.err != nil:
		t.Fatalf("build %s: %v", key, g.err)
	case g.skip != "":
		t.Skip(g.skip)
	}
	return g.wasm
}

// newRuntime returns a runtime closed at the end of the test.
func newRuntime(t testing.TB, cfg Config) *Runtime {
	t.Helper()
	rt, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := rt.Close(context.Background()); err != nil {
			t.Error(err)
		}
	})
	return rt
}

func mustCompile(t testing.TB, rt *Runtime, wasm []byte) *Module {
	t.Helper()
	m, err := rt.Compile(context.Background(), wasm)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func mustRun(t testing.TB, rt *Runtime, m *Module, spec RunSpec) Result {
	t.Helper()
	res, err := rt.Run(context.Background(), m, spec)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

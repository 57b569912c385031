package wasm

import (
	"container/list"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
)

// Defaults for zero Config fields.
const (
	DefaultMaxCachedModules = 32
	DefaultMaxModuleBytes   = 64 << 20
	DefaultMaxMemoryPages   = 16384 // 1 GiB
	maxMemoryPagesLimit     = 65536 // 4 GiB, the wasm32 maximum
)

// Config configures a Runtime. The zero value is ready to use.
type Config struct {
	// CacheDir is a directory for wazero's on-disk compilation cache, shared
	// across restarts (and by runtimes using the same directory). Entries are
	// keyed by the instrumented module's content and the wazero version.
	// Empty keeps compiled code in memory only.
	CacheDir string

	// MaxCachedModules is how many compiled modules the runtime keeps in
	// memory, least recently used evicted first. Zero means
	// DefaultMaxCachedModules.
	MaxCachedModules int

	// MaxModuleBytes is the largest module accepted. Zero means
	// DefaultMaxModuleBytes.
	MaxModuleBytes int

	// MaxMemoryPages caps the linear memory of every instance, in 64 KiB
	// pages; a module whose initial memory is larger is rejected, larger
	// declared maximums are lowered. RunSpec.MemoryPages can only lower it
	// further. Zero means DefaultMaxMemoryPages; at most 65536 (4 GiB).
	MaxMemoryPages uint32
}

// Validate reports whether the configuration is usable.
func (c Config) Validate() error {
	if c.MaxCachedModules < 0 {
		return fmt.Errorf("wasm: config: MaxCachedModules %d is negative", c.MaxCachedModules)
	}
	if c.MaxModuleBytes < 0 {
		return fmt.Errorf("wasm: config: MaxModuleBytes %d is negative", c.MaxModuleBytes)
	}
	if c.MaxMemoryPages > maxMemoryPagesLimit {
		return fmt.Errorf("wasm: config: MaxMemoryPages %d exceeds %d", c.MaxMemoryPages, maxMemoryPagesLimit)
	}
	return nil
}

func (c Config) withDefaults() Config {
	if c.MaxCachedModules == 0 {
		c.MaxCachedModules = DefaultMaxCachedModules
	}
	if c.MaxModuleBytes == 0 {
		c.MaxModuleBytes = DefaultMaxModuleBytes
	}
	if c.MaxMemoryPages == 0 {
		c.MaxMemoryPages = DefaultMaxMemoryPages
	}
	return c
}

var (
	// ErrInvalidModule wraps every reason a module is rejected: malformed
	// bytes, a disallowed feature or import, a size limit. Retrying will not
	// help.
	ErrInvalidModule = errors.New("invalid module")
	// ErrInvalidRunSpec is returned by Run for a RunSpec that cannot be used.
	ErrInvalidRunSpec = errors.New("invalid run spec")
	// ErrClosed is returned after Close.
	ErrClosed = errors.New("wasm: runtime closed")
)

// ImportError names an import the sandbox does not provide. It matches
// ErrInvalidModule with errors.Is.
type ImportError struct {
	Module, Name string
	Reason       string
}

func (e *ImportError) Error() string {
	return fmt.Sprintf("import %s.%s: %s", e.Module, e.Name, e.Reason)
}

// Is makes errors.Is(err, ErrInvalidModule) true.
func (e *ImportError) Is(target error) bool { return target == ErrInvalidModule }

func invalidModule(err error) error {
	return fmt.Errorf("wasm: %w: %w", ErrInvalidModule, err)
}

// ModuleInfo describes a validated module.
type ModuleInfo struct {
	// SHA256 is the hash of the module bytes; the runtime's cache key.
	SHA256 [32]byte
	// Size is the module's size in bytes.
	Size int
	// Imports lists the imported functions as "module.name", in order.
	Imports []string
	// Exports lists the exported functions.
	Exports []string
	// Functions is the number of functions the module defines.
	Functions int
	// MemoryMinPages is the initial memory size in 64 KiB pages.
	MemoryMinPages uint32
	// MemoryMaxPages is the maximum the memory can grow to: the module's
	// declared maximum lowered to Config.MaxMemoryPages.
	MemoryMaxPages uint32
	// InstrumentedSize is the size of the module after instrumentation.
	InstrumentedSize int
	// Kind says how the module runs: a command with Run, a reactor with
	// Instantiate.
	Kind ModuleKind
}

// ModuleKind is the WASI execution model of a module.
type ModuleKind uint8

const (
	// KindCommand is a module exporting _start (and not _initialize): it
	// runs once with Runtime.Run.
	KindCommand ModuleKind = iota + 1
	// KindReactor is a module exporting entrypoints but no _start, and
	// optionally _initialize: Runtime.Instantiate makes a long-lived
	// instance whose entrypoints the host calls many times.
	KindReactor
)

func (k ModuleKind) String() string {
	switch k {
	case KindCommand:
		return "command"
	case KindReactor:
		return "reactor"
	}
	return fmt.Sprintf("ModuleKind(%d)", uint8(k))
}

// Module is a validated, compiled module, ready to Run. It holds the module
// bytes (which the caller must not modify) so that it can be recompiled if
// the runtime's cache evicted it.
type Module struct {
	wasm     []byte
	info     ModuleInfo
	hasStart bool
}

// Info describes the module.
func (m *Module) Info() ModuleInfo { return m.info }

// Runtime validates, compiles, caches and runs modules. It is safe for
// concurrent use; every Run gets its own instance.
type Runtime struct {
	cfg     Config
	rt      wazero.Runtime
	cache   wazero.CompilationCache // nil without CacheDir
	allowed map[string]map[string]funcType
	noInstr bool // benchmarks only: compile modules as they are

	mu      sync.Mutex
	closed  bool
	done    chan struct{} // closed by Close: runs in progress stop
	lru     *list.List    // of *cacheEntry, most recent first
	entries map[[32]byte]*cacheEntry
	runs    sync.WaitGroup
}

// cacheEntry is one compiled module. refs counts callers using it; an entry
// evicted while in use is closed by the last release.
type cacheEntry struct {
	id       [32]byte
	ready    chan struct{} // closed when compiled or err is set
	compiled wazero.CompiledModule
	info     ModuleInfo
	hasStart bool
	err      error
	refs     int
	elem     *list.Element // nil once evicted
}

// New builds a runtime with the compiler engine (the interpreter on
// platforms wazero cannot compile for) and the host modules guests may import.
func New(ctx context.Context, cfg Config) (*Runtime, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	// WithCloseOnContextDone stays off: wazero implements it with a call at
	// every loop header, which made tight loops 3x slower. Runs stop in the
	// refuel host function instead, which the guest calls every fuelSlice.
	rc := wazero.NewRuntimeConfig().
		WithCoreFeatures(api.CoreFeaturesV2.SetEnabled(api.CoreFeatureSIMD, false)).
		WithMemoryLimitPages(cfg.MaxMemoryPages).
		WithDebugInfoEnabled(false)
	r := &Runtime{cfg: cfg, lru: list.New(), entries: map[[32]byte]*cacheEntry{}, done: make(chan struct{})}
	if cfg.CacheDir != "" {
		cache, err := wazero.NewCompilationCacheWithDir(cfg.CacheDir)
		if err != nil {
			return nil, fmt.Errorf("wasm: compilation cache %s: %w", cfg.CacheDir, err)
		}
		r.cache = cache
		rc = rc.WithCompilationCache(cache)
	}
	r.rt = wazero.NewRuntimeWithConfig(ctx, rc)
	_, err := wasi_snapshot_preview1.Instantiate(ctx, r.rt)
	if err == nil {
		err = instantiateHost(ctx, r.rt)
	}
	if err != nil {
		_ = r.rt.Close(ctx)
		if r.cache != nil {
			_ = r.cache.Close(ctx)
		}
		return nil, fmt.Errorf("wasm: host modules: %w", err)
	}
	r.allowed = allowedImports(r.rt.Module(wasi_snapshot_preview1.ModuleName))
	return r, nil
}

// Close stops runs in progress (they return ErrClosed), waits for them and
// releases all compiled code. It is idempotent.
func (r *Runtime) Close(ctx context.Context) error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	close(r.done)
	r.mu.Unlock()
	r.runs.Wait()
	err := r.rt.Close(ctx)
	if r.cache != nil {
		if cerr := r.cache.Close(ctx); err == nil {
			err = cerr
		}
	}
	return err
}

// Validate checks that wasm is a module the sandbox can run and compiles it
// (the compiled code stays cached for Run). Rejections wrap ErrInvalidModule.
func (r *Runtime) Validate(ctx context.Context, wasm []byte) (ModuleInfo, error) {
	m, err := r.Compile(ctx, wasm)
	if err != nil {
		return ModuleInfo{}, err
	}
	return m.info, nil
}

// Compile validates and compiles wasm, or finds it in the cache.
func (r *Runtime) Compile(ctx context.Context, wasm []byte) (*Module, error) {
	if len(wasm) > r.cfg.MaxModuleBytes {
		return nil, invalidModule(fmt.Errorf("module is %d bytes; the limit is %d", len(wasm), r.cfg.MaxModuleBytes))
	}
	e, err := r.acquire(ctx, wasm, sha256.Sum256(wasm))
	if err != nil {
		return nil, err
	}
	defer r.release(e)
	return &Module{wasm: wasm, info: e.info, hasStart: e.hasStart}, nil
}

// acquire returns the compiled entry for the module, compiling it if needed
// (concurrent callers for the same module wait for one compilation). The
// caller must release it.
func (r *Runtime) acquire(ctx context.Context, wasm []byte, id [32]byte) (*cacheEntry, error) {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil, ErrClosed
	}
	if e := r.entries[id]; e != nil {
		e.refs++
		r.lru.MoveToFront(e.elem)
		r.mu.Unlock()
		select {
		case <-e.ready:
		case <-ctx.Done():
			r.release(e)
			return nil, ctx.Err()
		}
		if e.err != nil {
			r.release(e)
			return nil, e.err
		}
		return e, nil
	}
	e := &cacheEntry{id: id, ready: make(chan struct{}), refs: 1}
	e.elem = r.lru.PushFront(e)
	r.entries[id] = e
	r.evictLocked()
	r.mu.Unlock()

	e.compiled, e.info, e.hasStart, e.err = r.compile(ctx, wasm, id)
	close(e.ready)
	if e.err != nil {
		// Failures are not cached: the next caller tries again (the
		// failure may have been a cancelled context).
		r.mu.Lock()
		if e.elem != nil {
			r.lru.Remove(e.elem)
			e.elem = nil
			delete(r.entries, id)
		}
		e.refs--
		r.mu.Unlock()
		return nil, e.err
	}
	return e, nil
}

func (r *Runtime) release(e *cacheEntry) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e.refs--
	if e.refs == 0 && e.elem == nil && e.compiled != nil {
		_ = e.compiled.Close(context.Background())
	}
}

// evictLocked drops least recently used entries beyond the configured size;
// entries in use are closed by their last release.
func (r *Runtime) evictLocked() {
	for r.lru.Len() > r.cfg.MaxCachedModules {
		e := r.lru.Remove(r.lru.Back()).(*cacheEntry)
		e.elem = nil
		delete(r.entries, e.id)
		if e.refs == 0 && e.compiled != nil {
			_ = e.compiled.Close(context.Background())
		}
	}
}

// compile instruments, checks imports, compiles and test-instantiates the
// module. Instantiation runs no guest code (the start function is deferred
// to Run) but checks linking and segment bounds, so that a module that
// passes here fails in Run only for resource reasons.
func (r *Runtime) compile(ctx context.Context, wasm []byte, id [32]byte) (wazero.CompiledModule, ModuleInfo, bool, error) {
	out, pm, err := instrument(wasm, instrumentOptions{maxMemoryPages: r.cfg.MaxMemoryPages})
	if err != nil {
		return nil, ModuleInfo{}, false, invalidModule(err)
	}
	if r.noInstr {
		out, pm.hasStart = wasm, false // wazero runs the start section itself
	}
	info := ModuleInfo{
		SHA256:           id,
		Size:             len(wasm),
		Exports:          pm.exportedFuncs,
		Functions:        pm.definedFuncs,
		MemoryMinPages:   pm.memMin,
		MemoryMaxPages:   pm.memMax,
		InstrumentedSize: len(out),
		Kind:             pm.kind,
	}
	for _, im := range pm.imports {
		if err := r.checkImport(im, pm.kind); err != nil {
			return nil, ModuleInfo{}, false, invalidModule(err)
		}
		info.Imports = append(info.Imports, im.module+"."+im.name)
	}
	if len(pm.imports) > 0 && !pm.hasMemory {
		// Host functions read and write guest memory.
		return nil, ModuleInfo{}, false, invalidModule(errors.New("the module imports host functions but has no memory"))
	}
	compiled, err := r.rt.CompileModule(ctx, out)
	if err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return nil, ModuleInfo{}, false, cerr
		}
		return nil, ModuleInfo{}, false, invalidModule(err)
	}
	mod, err := r.rt.InstantiateModule(ctx, compiled, wazero.NewModuleConfig().WithName("").WithStartFunctions())
	if err != nil {
		_ = compiled.Close(ctx)
		if cerr := ctx.Err(); cerr != nil {
			return nil, ModuleInfo{}, false, cerr
		}
		return nil, ModuleInfo{}, false, invalidModule(fmt.Errorf("instantiate: %w", err))
	}
	_ = mod.Close(ctx)
	return compiled, info, pm.hasStart, nil
}

// checkImport allows the functions of the host modules with their exact
// signature; the pipeline functions only for reactors.
func (r *Runtime) checkImport(im importedFunc, kind ModuleKind) error {
	fns, ok := r.allowed[im.module]
	if !ok {
		return &ImportError{Module: im.module, Name: im.name,
			Reason: fmt.Sprintf("module %q is not provided (the sandbox provides %s and %s)", im.module, wasi_snapshot_preview1.ModuleName, hostModuleName)}
	}
	want, ok := fns[im.name]
	if !ok {
		reason := "function is not provided"
		if _, isSock := deniedWASI[im.name]; isSock {
			reason = "function is not provided: jobs have no network access"
		}
		return &ImportError{Module: im.module, Name: im.name, Reason: reason}
	}
	if string(want.params) != string(im.typ.params) || string(want.results) != string(im.typ.results) {
		return &ImportError{Module: im.module, Name: im.name,
			Reason: fmt.Sprintf("imported with type %s; the host provides %s", im.typ, want)}
	}
	if _, ok := streamFuncTypes()[im.name]; ok && im.module == hostModuleName && kind != KindReactor {
		return &ImportError{Module: im.module, Name: im.name,
			Reason: "only reactor modules (pipeline instances) may import it; the module exports _start"}
	}
	return nil
}

// deniedWASI are the WASI preview1 functions wazero implements that the
// sandbox does not offer.
var deniedWASI = map[string]struct{}{
	"sock_accept": {}, "sock_recv": {}, "sock_send": {}, "sock_shutdown": {},
}

func allowedImports(wasi api.Module) map[string]map[string]funcType {
	w := map[string]funcType{}
	for name, def := range wasi.ExportedFunctionDefinitions() {
		if _, denied := deniedWASI[name]; denied {
			continue
		}
		w[name] = funcType{params: valueTypes(def.ParamTypes()), results: valueTypes(def.ResultTypes())}
	}
	return map[string]map[string]funcType{
		wasi_snapshot_preview1.ModuleName: w,
		hostModuleName:                    hostFuncTypes(),
	}
}

func valueTypes(ts []api.ValueType) []byte {
	b := make([]byte, len(ts))
	copy(b, ts)
	return b
}

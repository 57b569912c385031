package wasm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"runtime"
	"strings"
	"time"

	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/sys"
)

// Defaults for zero RunSpec fields.
const (
	DefaultFuel         = 10_000_000_000
	DefaultMaxCallDepth = 1 << 16
	// MaxCallDepthLimit keeps the sandbox's deterministic depth limit below
	// wazero's own stack ceiling (400 MB, about 2.6 million small frames on
	// amd64), whose depth depends on the CPU architecture.
	MaxCallDepthLimit     = 1 << 20
	DefaultMaxStdout      = 1 << 20
	DefaultMaxStderr      = 1 << 20
	DefaultMaxOutputBytes = 1 << 30
)

// DefaultEpoch is what the guest's wall clock reads at the start of a run
// when RunSpec.Epoch is zero.
var DefaultEpoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// Input is a file or directory the guest reads under /inputs/Name. Exactly
// one of Path and FS is set.
type Input struct {
	// Name is the entry's name under /inputs: one path element.
	Name string
	// Path is a host file or directory. A directory is opened with os.Root:
	// symlinks inside it cannot lead outside it.
	Path string
	// FS is a directory tree served from memory or elsewhere.
	FS fs.FS
}

// RunSpec is everything a run depends on besides the module. Two runs of the
// same module with equal specs (and equal input contents) produce equal
// deterministic Result fields on every machine. The zero value is valid.
type RunSpec struct {
	// Args is the guest's argv, argv[0] included. Empty means ["main"].
	// Arguments must be non-empty and contain no NUL.
	Args []string
	// Env is the guest's environment; nothing from the host leaks in.
	Env map[string]string
	// Inputs are mounted read-only under /inputs. The first input whose
	// Path is a regular file is also the guest's stdin (otherwise stdin is
	// empty).
	Inputs []Input
	// OutputDir is a host directory mounted writable at /outputs; empty
	// means no /outputs. It should be a fresh empty directory: the guest can
	// read, replace and delete what it holds.
	OutputDir string
	// Seed seeds the guest's randomness (WASI random_get). Equal seeds give
	// equal random bytes.
	Seed []byte
	// Epoch is the wall-clock time the guest sees at start; its clocks then
	// advance 1µs per reading and by the requested duration per sleep. Zero
	// means DefaultEpoch.
	Epoch time.Time

	// Fuel is the instruction budget (see MeteringVersion for the cost
	// model). Zero means DefaultFuel; the budget is always finite.
	Fuel uint64
	// MemoryPages caps linear memory in 64 KiB pages; memory.grow beyond it
	// fails. Zero, or more than Config.MaxMemoryPages, means
	// Config.MaxMemoryPages.
	MemoryPages uint32
	// MaxCallDepth bounds the call stack, counted in frames of up to 32
	// locals (a function with more takes 1+locals/32). Zero means
	// DefaultMaxCallDepth; at most MaxCallDepthLimit.
	MaxCallDepth uint32
	// MaxStdout and MaxStderr cap the captured streams; the rest is dropped
	// and the Result marks the truncation. Zero means the defaults.
	MaxStdout, MaxStderr int
	// MaxOutputBytes caps what the guest may write under /outputs: bytes
	// written plus 512 per file or directory created. Beyond it writes fail
	// with EIO. Zero means DefaultMaxOutputBytes.
	MaxOutputBytes int64

	// Stdout and Stderr, when set, receive a live copy of what the guest
	// writes to its streams, as it writes it: exactly the bytes that the
	// Result keeps (after MaxStdout and MaxStderr), in order, from the
	// goroutine running the guest. Their errors are ignored and they do
	// not change the run or its Result. The guest waits while they run:
	// pass non-blocking sinks (a bounded buffer, a drop-when-full
	// channel), never a network connection or pipe. Nil means none.
	Stdout, Stderr io.Writer
}

// Result is the outcome of a run. A trap, a non-zero exit code or an
// exhausted budget is a Result, not an error. All fields except TrapDetail
// and Duration are deterministic.
type Result struct {
	// ExitCode is the code passed to proc_exit, or 0 when _start returned.
	ExitCode uint32
	// Trap is empty unless the guest trapped: "out of fuel", "call stack
	// exhausted", "memory limit ... below the module's initial memory", or
	// wazero's reason ("unreachable", "out of bounds memory access",
	// "integer divide by zero", ...).
	Trap string
	// OutOfFuel reports that the budget ran out (Trap is "out of fuel").
	OutOfFuel bool
	// FuelUsed is the fuel consumed; equal to the budget when OutOfFuel.
	FuelUsed uint64
	// Stdout and Stderr are what the guest wrote, up to the caps.
	Stdout, Stderr                   []byte
	StdoutTruncated, StderrTruncated bool
	// OutputBytes is the total size of the regular files under OutputDir
	// after the run.
	OutputBytes int64
	// OutputLimitHit reports that a write under /outputs failed because of
	// MaxOutputBytes.
	OutputLimitHit bool
	// MemoryPages is the size of linear memory at the end of the run.
	MemoryPages uint32

	// TrapDetail is wazero's full trap message with the guest stack trace,
	// for logs. It may differ between wazero versions.
	TrapDetail string
	// Duration is the wall-clock time the guest ran.
	Duration time.Duration
}

// Success reports a run that neither trapped nor exited with a non-zero code.
func (r Result) Success() bool { return r.Trap == "" && r.ExitCode == 0 }

// Trap reasons the sandbox itself produces.
const (
	TrapOutOfFuel = "out of fuel"
	TrapCallDepth = "call stack exhausted"
	trapMemoryLow = "memory limit of %d pages is below the module's initial memory of %d pages"
	defaultArgv0  = "main"
)

func (s RunSpec) withDefaults(cfg Config) (RunSpec, error) {
	if len(s.Args) == 0 {
		s.Args = []string{defaultArgv0}
	}
	for _, a := range s.Args {
		if a == "" || strings.ContainsRune(a, 0) {
			return s, fmt.Errorf("%w: argument %q is empty or contains NUL", ErrInvalidRunSpec, a)
		}
	}
	for k, v := range s.Env {
		if k == "" || strings.ContainsAny(k, "=\x00") || strings.ContainsRune(v, 0) {
			return s, fmt.Errorf("%w: environment variable %q is invalid", ErrInvalidRunSpec, k)
		}
	}
	if s.Epoch.IsZero() {
		s.Epoch = DefaultEpoch
	}
	if s.Fuel == 0 {
		s.Fuel = DefaultFuel
	}
	if s.Fuel > 1<<62 {
		return s, fmt.Errorf("%w: fuel %d exceeds 2^62", ErrInvalidRunSpec, s.Fuel)
	}
	if s.MemoryPages == 0 || s.MemoryPages > cfg.MaxMemoryPages {
		s.MemoryPages = cfg.MaxMemoryPages
	}
	if s.MaxCallDepth == 0 {
		s.MaxCallDepth = DefaultMaxCallDepth
	}
	if s.MaxCallDepth > MaxCallDepthLimit {
		return s, fmt.Errorf("%w: call depth %d exceeds %d", ErrInvalidRunSpec, s.MaxCallDepth, MaxCallDepthLimit)
	}
	if s.MaxStdout <= 0 {
		s.MaxStdout = DefaultMaxStdout
	}
	if s.MaxStderr <= 0 {
		s.MaxStderr = DefaultMaxStderr
	}
	if s.MaxOutputBytes <= 0 {
		s.MaxOutputBytes = DefaultMaxOutputBytes
	}
	return s, nil
}

// Run runs the module's _start with the spec's inputs and limits. Errors are
// host failures only: an invalid spec, a cancelled context (the guest is
// stopped within milliseconds), a closed runtime, I/O errors of the host.
func (r *Runtime) Run(ctx context.Context, m *Module, spec RunSpec) (Result, error) {
	if m == nil {
		return Result{}, fmt.Errorf("wasm: run: %w: nil module", ErrInvalidRunSpec)
	}
	spec, err := spec.withDefaults(r.cfg)
	if err != nil {
		return Result{}, fmt.Errorf("wasm: run: %w", err)
	}
	if m.info.Kind != KindCommand {
		return Result{}, fmt.Errorf("wasm: run: %w: no exported function _start: the module is a WASI %s; use Instantiate", ErrInvalidModule, m.info.Kind)
	}
	if err := ctx.Err(); err != nil {
		return Result{}, fmt.Errorf("wasm: run: %w", err)
	}
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return Result{}, ErrClosed
	}
	r.runs.Add(1)
	r.mu.Unlock()
	defer r.runs.Done()

	e, err := r.acquire(ctx, m.wasm, m.info.SHA256)
	if err != nil {
		return Result{}, fmt.Errorf("wasm: run: %w", err)
	}
	defer r.release(e)

	if spec.MemoryPages < e.info.MemoryMinPages {
		return Result{Trap: fmt.Sprintf(trapMemoryLow, spec.MemoryPages, e.info.MemoryMinPages)}, nil
	}

	sb, err := newSandbox(spec)
	if err != nil {
		return Result{}, fmt.Errorf("wasm: run: %w", err)
	}
	defer sb.close()
	mod, err := r.rt.InstantiateModule(ctx, e.compiled, sb.config)
	if err != nil {
		return Result{}, r.hostErr(ctx, "instantiate", err)
	}
	defer mod.Close(context.Background())

	res, err := r.call(ctx, mod, e.hasStart, spec)
	if err != nil {
		return Result{}, err
	}
	if e.info.MemoryMaxPages > 0 { // Memory() is a typed nil without memory
		res.MemoryPages = mod.Memory().Size() / 65536
	}
	res.Stdout, res.StdoutTruncated = sb.stdout.buf.Bytes(), sb.stdout.truncated
	res.Stderr, res.StderrTruncated = sb.stderr.buf.Bytes(), sb.stderr.truncated
	if q := sb.quota; q != nil {
		if q.hostErr != nil {
			return Result{}, q.hostErr
		}
		res.OutputLimitHit = q.exceeded
		if res.OutputBytes, err = dirSize(spec.OutputDir); err != nil {
			return Result{}, fmt.Errorf("wasm: run: outputs: %w", err)
		}
	}
	return res, nil
}

// call sets the instrumentation globals, runs the start function (if the
// module had a start section) and _start, and classifies the outcome.
func (r *Runtime) call(ctx context.Context, mod api.Module, hasStart bool, spec RunSpec) (Result, error) {
	st := &runState{done: r.done}
	if fuel, ok := mod.ExportedGlobal(exportFuel).(api.MutableGlobal); ok {
		give := min(spec.Fuel, fuelSlice)
		fuel.Set(give)
		st.fuel, st.reserve = fuel, int64(spec.Fuel-give)
		mod.ExportedGlobal(exportStack).(api.MutableGlobal).Set(uint64(spec.MaxCallDepth))
		mod.ExportedGlobal(exportMemLimit).(api.MutableGlobal).Set(uint64(spec.MemoryPages))
	}
	callCtx := context.WithValue(ctx, runStateKey{}, st)

	started := time.Now()
	var err error
	if hasStart {
		_, err = mod.ExportedFunction(exportStart).Call(callCtx)
	}
	if err == nil {
		_, err = mod.ExportedFunction("_start").Call(callCtx)
	}
	res := Result{Duration: time.Since(started), FuelUsed: st.fuelUsed(spec.Fuel)}
	if err == nil {
		return res, nil
	}
	var exit *sys.ExitError
	var rtErr runtime.Error
	switch {
	case errors.Is(err, errStopped):
		if cerr := ctx.Err(); cerr != nil {
			return Result{}, fmt.Errorf("wasm: run: %w", cerr)
		}
		return Result{}, ErrClosed
	case errors.As(err, &exit):
		res.ExitCode = exit.ExitCode()
	case errors.As(err, &rtErr):
		return Result{}, fmt.Errorf("wasm: run: host failure: %w", err)
	case st.outOfFuel:
		res.OutOfFuel, res.Trap, res.TrapDetail = true, TrapOutOfFuel, err.Error()
	default:
		res.Trap, res.TrapDetail = trapReason(err), err.Error()
		if g, ok := mod.ExportedGlobal(exportStack).(api.MutableGlobal); ok && int32(g.Get()) < 0 {
			res.Trap = TrapCallDepth
		}
	}
	return res, nil
}

func (r *Runtime) isClosed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.closed
}

func (r *Runtime) hostErr(ctx context.Context, op string, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return fmt.Errorf("wasm: run: %w", cerr)
	}
	if r.isClosed() {
		return ErrClosed
	}
	return fmt.Errorf("wasm: run: %s: %w", op, err)
}

// trapReason reduces wazero's trap message ("wasm error: unreachable\nwasm
// stack trace: ...") to its stable first line.
func trapReason(err error) string {
	first, _, _ := strings.Cut(err.Error(), "\n")
	first = strings.TrimPrefix(first, "wasm error: ")
	return strings.TrimSuffix(first, " (recovered by wazero)")
}

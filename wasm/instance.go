package wasm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"sync"
	"time"

	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/sys"
)

// DefaultMaxLogBytes caps the log lines of one call when
// InstanceOptions.MaxLogBytes is zero.
const DefaultMaxLogBytes = 64 << 10

var (
	// ErrInvalidCall is returned for options or call arguments that cannot
	// be used: an entrypoint the module does not export or exports with
	// another type than (i32) -> (), an input too large for an i32, a fuel
	// budget above 2^62, bad InstanceOptions.
	ErrInvalidCall = errors.New("invalid call")
	// ErrInstanceClosed is returned by Call after Close.
	ErrInstanceClosed = errors.New("wasm: instance closed")
	// ErrInstanceDead is returned by Call after a call trapped or was
	// stopped: the guest's state is undefined, so the instance cannot be
	// used again. Close it and instantiate afresh.
	ErrInstanceDead = errors.New("wasm: instance is dead")
)

// InstanceOptions configure an instance. Two instances of the same module
// with equal options that receive the same calls produce equal
// deterministic CallResult fields on every machine. The zero value is valid.
type InstanceOptions struct {
	// Seed seeds the guest's randomness (WASI random_get).
	Seed []byte
	// Epoch is the wall-clock time the guest sees when it is instantiated;
	// its clocks then advance 1µs per reading and by the requested duration
	// per sleep, across all calls. Zero means DefaultEpoch.
	Epoch time.Time
	// MemoryPages caps linear memory in 64 KiB pages for the instance's
	// whole life; memory.grow beyond it fails. Zero, or more than
	// Config.MaxMemoryPages, means Config.MaxMemoryPages.
	MemoryPages uint32
	// MaxCallDepth bounds the call stack of each call, as
	// RunSpec.MaxCallDepth. Zero means DefaultMaxCallDepth.
	MaxCallDepth uint32
	// InitFuel is the budget for initialising the module (its start
	// section, then _initialize). Zero means DefaultFuel.
	InitFuel uint64
	// MaxStdout and MaxStderr cap what is captured of each call's (and the
	// initialisation's) streams. Zero means the defaults.
	MaxStdout, MaxStderr int
	// MaxLogBytes caps the bytes of ipdm.log lines passed to
	// StreamHost.Log per call; a line that would pass the cap is dropped
	// and counted in CallResult.LogsDropped. Zero means
	// DefaultMaxLogBytes.
	MaxLogBytes int
}

func (o InstanceOptions) withDefaults(cfg Config) (InstanceOptions, error) {
	if o.Epoch.IsZero() {
		o.Epoch = DefaultEpoch
	}
	if o.MemoryPages == 0 || o.MemoryPages > cfg.MaxMemoryPages {
		o.MemoryPages = cfg.MaxMemoryPages
	}
	if o.MaxCallDepth == 0 {
		o.MaxCallDepth = DefaultMaxCallDepth
	}
	if o.MaxCallDepth > MaxCallDepthLimit {
		return o, fmt.Errorf("%w: call depth %d exceeds %d", ErrInvalidCall, o.MaxCallDepth, MaxCallDepthLimit)
	}
	if o.InitFuel == 0 {
		o.InitFuel = DefaultFuel
	}
	if o.InitFuel > 1<<62 {
		return o, fmt.Errorf("%w: init fuel %d exceeds 2^62", ErrInvalidCall, o.InitFuel)
	}
	if o.MaxStdout <= 0 {
		o.MaxStdout = DefaultMaxStdout
	}
	if o.MaxStderr <= 0 {
		o.MaxStderr = DefaultMaxStderr
	}
	if o.MaxLogBytes <= 0 {
		o.MaxLogBytes = DefaultMaxLogBytes
	}
	return o, nil
}

// CallResult is the outcome of one call (or of an instance's
// initialisation). A trap is a result, not an error. All fields except
// HostError's identity, TrapDetail and Duration are deterministic.
type CallResult struct {
	// Trap is empty unless the call failed deterministically: the message
	// the guest passed to ipdm.panic; the text of the StreamHost error; a
	// Go guest's panic or fatal error as printed to stderr ("panic: runtime
	// error: index out of range [5] with length 3"); "exit code N" for
	// another proc_exit; TrapOutOfFuel; TrapCallDepth; or wazero's reason
	// ("unreachable", "out of bounds memory access", ...). After a trap the
	// instance is dead.
	Trap string
	// OutOfFuel reports that the budget ran out (Trap is TrapOutOfFuel).
	OutOfFuel bool
	// HostError is the StreamHost error that caused the trap, if one did;
	// Trap is its text.
	HostError error
	// FuelUsed is the fuel the call consumed, host functions included;
	// equal to the budget when OutOfFuel.
	FuelUsed uint64
	// Stdout and Stderr are what the guest wrote during the call, up to the
	// caps.
	Stdout, Stderr                   []byte
	StdoutTruncated, StderrTruncated bool
	// LogsDropped counts ipdm.log lines dropped because of MaxLogBytes.
	LogsDropped int
	// MemoryPages is the size of linear memory after the call.
	MemoryPages uint32

	// TrapDetail is wazero's full trap message with the guest stack trace,
	// for logs. It may differ between wazero versions.
	TrapDetail string
	// Duration is the wall-clock time the call ran.
	Duration time.Duration
}

// TrapError is returned by Instantiate when the module's initialisation
// trapped (or its memory limit is below the module's initial memory): a
// deterministic failure of the module, the same on every node.
type TrapError struct {
	// Func is what trapped: "_initialize", the start section ("start"),
	// or "instantiate" for the memory limit.
	Func string
	// Result is the outcome of the failed initialisation.
	Result CallResult
}

func (e *TrapError) Error() string {
	return fmt.Sprintf("wasm: instantiate: %s trapped: %s", e.Func, e.Result.Trap)
}

// Instance is a reactor module instantiated once, whose entrypoints the
// host calls many times (one call per block of a pipeline segment). Memory
// and globals persist between calls; fuel, call depth, captured streams and
// the StreamHost are per call.
//
// Calls are serialised: an Instance runs one call at a time and Close waits
// for the running call (cancel its context to stop it).
type Instance struct {
	rt    *Runtime
	entry *cacheEntry
	mod   api.Module
	opts  InstanceOptions

	fuel, stack api.MutableGlobal // nil for uninstrumented modules
	stdout      *capWriter
	stderr      *capWriter
	hasMemory   bool
	init        CallResult

	mu     sync.Mutex
	fns    map[string]api.Function // checked entrypoints
	stackb [1]uint64
	closed bool
	dead   string // why the instance cannot be called again
}

// Instantiate creates an instance of a reactor module and initialises it:
// it runs the module's start section, if any, then its _initialize export,
// if any, with InitFuel. A deterministic failure there is a *TrapError.
// Other errors are host failures: a cancelled context, a closed runtime, a
// module that is not a reactor (ErrInvalidModule), invalid options
// (ErrInvalidCall). The instance must be closed.
func (r *Runtime) Instantiate(ctx context.Context, m *Module, opts InstanceOptions) (*Instance, error) {
	if m == nil {
		return nil, fmt.Errorf("wasm: instantiate: %w: nil module", ErrInvalidCall)
	}
	if m.info.Kind != KindReactor {
		return nil, fmt.Errorf("wasm: instantiate: %w: the module is a WASI %s (exports _start); pipeline modules are reactors (build with -buildmode=c-shared or clang -mexec-model=reactor)", ErrInvalidModule, m.info.Kind)
	}
	opts, err := opts.withDefaults(r.cfg)
	if err != nil {
		return nil, fmt.Errorf("wasm: instantiate: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("wasm: instantiate: %w", err)
	}
	if !r.enter() {
		return nil, ErrClosed
	}
	defer r.runs.Done()

	e, err := r.acquire(ctx, m.wasm, m.info.SHA256)
	if err != nil {
		return nil, fmt.Errorf("wasm: instantiate: %w", err)
	}
	if opts.MemoryPages < e.info.MemoryMinPages {
		r.release(e)
		return nil, &TrapError{Func: "instantiate", Result: CallResult{Trap: fmt.Sprintf(trapMemoryLow, opts.MemoryPages, e.info.MemoryMinPages)}}
	}
	i := &Instance{
		rt: r, entry: e, opts: opts,
		stdout:    &capWriter{max: opts.MaxStdout},
		stderr:    &capWriter{max: opts.MaxStderr},
		hasMemory: e.info.MemoryMaxPages > 0,
		fns:       map[string]api.Function{},
	}
	cfg := detModuleConfig(opts.Epoch, opts.Seed, i.stdout, i.stderr).WithArgs(defaultArgv0)
	i.mod, err = r.rt.InstantiateModule(ctx, e.compiled, cfg)
	if err != nil {
		r.release(e)
		switch {
		case ctx.Err() != nil:
			return nil, fmt.Errorf("wasm: instantiate: %w", ctx.Err())
		case r.isClosed():
			return nil, ErrClosed
		}
		return nil, fmt.Errorf("wasm: instantiate: %w", err)
	}
	if g, ok := i.mod.ExportedGlobal(exportFuel).(api.MutableGlobal); ok {
		i.fuel = g
		i.stack = i.mod.ExportedGlobal(exportStack).(api.MutableGlobal)
		i.mod.ExportedGlobal(exportMemLimit).(api.MutableGlobal).Set(uint64(opts.MemoryPages))
	}

	budget := opts.InitFuel
	for _, init := range []struct{ name, export string }{{"start", exportStart}, {"_initialize", "_initialize"}} {
		fn := i.mod.ExportedFunction(init.export)
		if fn == nil {
			continue
		}
		res, err := i.invoke(ctx, fn, nil, budget, &callState{host: noHost{}, maxLog: opts.MaxLogBytes})
		i.init.FuelUsed += res.FuelUsed
		i.init.Stdout = append(i.init.Stdout, res.Stdout...)
		i.init.Stderr = append(i.init.Stderr, res.Stderr...)
		i.init.Duration += res.Duration
		if err != nil {
			i.shut()
			return nil, err
		}
		if res.Trap != "" {
			i.shut()
			res.FuelUsed = i.init.FuelUsed
			return nil, &TrapError{Func: init.name, Result: res}
		}
		budget -= res.FuelUsed
	}
	i.init.MemoryPages = i.memoryPages()
	return i, nil
}

// enter registers a call into guest code unless the runtime is closed; the
// caller must call r.runs.Done.
func (r *Runtime) enter() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return false
	}
	r.runs.Add(1)
	return true
}

// InitResult is the outcome of the instance's initialisation: fuel used,
// what it wrote to stdout and stderr.
func (i *Instance) InitResult() CallResult { return i.init }

// Call runs the exported function entry, of type (i32) -> (), with
// len(input) as its argument; the guest fetches input with ipdm.input and
// talks to host through the other pipeline functions (a nil host discards
// logs and fails the others). fuel is the call's budget; zero means
// DefaultFuel.
//
// Deterministic failures are a CallResult with a Trap, after which the
// instance is dead. Errors are host failures: a cancelled context (the
// guest is stopped within milliseconds and the instance is dead), a closed
// runtime or instance, ErrInstanceDead, ErrInvalidCall.
func (i *Instance) Call(ctx context.Context, entry string, input []byte, host StreamHost, fuel uint64) (CallResult, error) {
	i.mu.Lock()
	defer i.mu.Unlock()
	switch {
	case i.closed:
		return CallResult{}, ErrInstanceClosed
	case i.dead != "":
		return CallResult{}, fmt.Errorf("%w: %s", ErrInstanceDead, i.dead)
	}
	fn, err := i.function(entry)
	if err != nil {
		return CallResult{}, err
	}
	if len(input) > math.MaxInt32 {
		return CallResult{}, fmt.Errorf("wasm: call %s: %w: input of %d bytes does not fit an i32", entry, ErrInvalidCall, len(input))
	}
	if fuel == 0 {
		fuel = DefaultFuel
	}
	if fuel > 1<<62 {
		return CallResult{}, fmt.Errorf("wasm: call %s: %w: fuel %d exceeds 2^62", entry, ErrInvalidCall, fuel)
	}
	if err := ctx.Err(); err != nil {
		return CallResult{}, fmt.Errorf("wasm: call %s: %w", entry, err)
	}
	if host == nil {
		host = noHost{}
	}
	if !i.rt.enter() {
		return CallResult{}, ErrClosed
	}
	defer i.rt.runs.Done()
	i.stackb[0] = uint64(len(input))
	return i.invoke(ctx, fn, i.stackb[:], fuel, &callState{input: input, host: host, maxLog: i.opts.MaxLogBytes})
}

// function returns the checked entrypoint.
func (i *Instance) function(entry string) (api.Function, error) {
	if fn, ok := i.fns[entry]; ok {
		return fn, nil
	}
	fn := i.mod.ExportedFunction(entry)
	if fn == nil || entry == "_initialize" {
		return nil, fmt.Errorf("wasm: call %s: %w: the module exports no function %q", entry, ErrInvalidCall, entry)
	}
	def := fn.Definition()
	if p, res := def.ParamTypes(), def.ResultTypes(); len(p) != 1 || p[0] != api.ValueTypeI32 || len(res) != 0 {
		t := funcType{params: valueTypes(p), results: valueTypes(res)}
		return nil, fmt.Errorf("wasm: call %s: %w: entrypoint has type %s; want (i32) -> ()", entry, ErrInvalidCall, t)
	}
	i.fns[entry] = fn
	return fn, nil
}

// invoke runs fn with a fresh budget and classifies the outcome. It marks
// the instance dead after a trap or a stop.
func (i *Instance) invoke(ctx context.Context, fn api.Function, stack []uint64, fuel uint64, cs *callState) (CallResult, error) {
	st := &runState{done: i.rt.done, call: cs}
	if i.fuel != nil {
		give := min(fuel, fuelSlice)
		i.fuel.Set(give)
		st.fuel, st.reserve = i.fuel, int64(fuel-give)
		i.stack.Set(uint64(i.opts.MaxCallDepth))
	}
	i.stdout.reset()
	i.stderr.reset()
	callCtx := context.WithValue(ctx, runStateKey{}, st)

	started := time.Now()
	err := fn.CallWithStack(callCtx, stack)
	res := CallResult{
		Duration:        time.Since(started),
		FuelUsed:        st.fuelUsed(fuel),
		Stdout:          cloneOrNil(i.stdout.buf.Bytes()),
		Stderr:          cloneOrNil(i.stderr.buf.Bytes()),
		StdoutTruncated: i.stdout.truncated,
		StderrTruncated: i.stderr.truncated,
		LogsDropped:     cs.logsDropped,
	}
	if err == nil {
		res.MemoryPages = i.memoryPages()
		return res, nil
	}
	var exit *sys.ExitError
	var rtErr runtime.Error
	switch {
	case errors.Is(err, errStopped):
		i.dead = "a call was stopped"
		if cerr := ctx.Err(); cerr != nil {
			return CallResult{}, fmt.Errorf("wasm: call: %w", cerr)
		}
		return CallResult{}, ErrClosed
	case errors.As(err, &exit):
		res.Trap = exitTrap(exit.ExitCode(), res.Stderr)
	case errors.As(err, &rtErr):
		i.dead = "a call failed in the host"
		return CallResult{}, fmt.Errorf("wasm: call: host failure: %w", err)
	case cs.trap != "":
		res.Trap, res.HostError = cs.trap, cs.hostErr
	case st.outOfFuel:
		res.OutOfFuel, res.Trap = true, TrapOutOfFuel
	default:
		res.Trap = trapReason(err)
		if i.stack != nil && int32(i.stack.Get()) < 0 {
			res.Trap = TrapCallDepth
		} else if msg, ok := goPanic(res.Stderr); ok && res.Trap == "unreachable" {
			res.Trap = msg
		}
	}
	res.TrapDetail = err.Error()
	res.MemoryPages = i.memoryPages()
	i.dead = "a call trapped: " + res.Trap
	return res, nil
}

func (i *Instance) memoryPages() uint32 {
	if !i.hasMemory || i.mod.IsClosed() {
		return 0
	}
	return i.mod.Memory().Size() / 65536
}

// Close releases the instance. It waits for a running call and is
// idempotent.
func (i *Instance) Close(ctx context.Context) error {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.closed {
		return nil
	}
	i.closed = true
	return i.shutCtx(ctx)
}

// shut releases the module instance and the compiled module reference.
func (i *Instance) shut() { _ = i.shutCtx(context.Background()) }

func (i *Instance) shutCtx(ctx context.Context) error {
	err := i.mod.Close(ctx)
	i.rt.release(i.entry)
	return err
}

func cloneOrNil(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return bytes.Clone(b)
}

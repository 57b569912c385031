// Package wasm is IPDM's sandbox for WebAssembly jobs: the only package that
// imports wazero. It validates modules, compiles and caches them, and runs
// WASI preview1 commands so that every node running the same module on the
// same inputs gets byte-identical results, including when the module is
// hostile.
//
// # Use
//
//	rt, err := wasm.New(ctx, wasm.Config{CacheDir: dir})
//	defer rt.Close(ctx)
//	m, err := rt.Compile(ctx, wasmBytes) // validates; wasm.ErrInvalidModule on rejection
//	res, err := rt.Run(ctx, m, wasm.RunSpec{
//		Args:      []string{"wordcount"},
//		Inputs:    []wasm.Input{{Name: "data.txt", Path: file}}, // /inputs/data.txt, also stdin
//		OutputDir: tmp,                                          // /outputs
//		Seed:      jobID[:],
//		Fuel:      1e9,
//	})
//	// err: host failures only (cancelled ctx, closed runtime, I/O).
//	// res: exit code, trap, fuel used, stdout/stderr, all deterministic.
//
// RunSpec.Stdout and Stderr, when set, also get what the guest writes as it
// writes it (the same capped bytes the Result keeps), for live logs; they
// run on the guest's goroutine and must not block.
//
// # Pipeline instances
//
// Pipeline modules are WASI reactors (no _start; an optional _initialize;
// exported entrypoints of type (i32) -> ()), instantiated once and called
// many times:
//
//	inst, err := rt.Instantiate(ctx, m, wasm.InstanceOptions{Seed: seed, MemoryPages: 4096})
//	// err: *TrapError if _initialize trapped; host failures otherwise.
//	defer inst.Close(ctx)
//	for _, block := range blocks {
//		res, err := inst.Call(ctx, "map_transfers", abi.EncodeInput(...), host, fuel)
//		// err: host failures only. res.Trap != "": deterministic failure;
//		// the instance is dead.
//	}
//
// During a call the guest fetches its input and talks to the StreamHost
// through the pipeline functions of the "ipdm" module (stream.go; guest
// libraries in package github.com/ipdm/ipdm/pipeline/guest and
// pipeline/guest/ipdm_pipeline.h). Memory, globals, the virtual clock and
// the random stream persist across calls; fuel, call depth and the captured
// streams are per call. Every deterministic failure is a CallResult.Trap
// with a readable message: the guest's ipdm.panic text, the StreamHost's
// error text, a Go guest's "panic: ..." or "fatal error: ..." (taken from
// stderr), "out of fuel", and so on.
//
// # What a guest sees
//
// A guest is a WASI preview1 command (exported _start), run by Run, or a
// reactor, run by Instantiate; ModuleInfo.Kind tells which, and each method
// rejects the other kind with ErrInvalidModule. It may import the
// wasi_snapshot_preview1 functions wazero implements, except the socket ones,
// and the "ipdm" host module (ipdm.sha256, see host.go and package
// github.com/ipdm/ipdm/wasm/guest; reactors also the pipeline functions,
// which Validate rejects in commands). Anything else is rejected by Validate
// with an ImportError naming the import. Threads, shared memory, SIMD,
// exception handling and tail calls are rejected too.
//
// The guest's world is a function of the RunSpec alone: args and environment
// from the spec; a virtual clock that starts at RunSpec.Epoch and advances
// per reading and per sleep; random bytes from RunSpec.Seed; inputs
// read-only under /inputs and an output directory at /outputs, with
// normalised metadata and sorted listings; no network.
//
// # Limits
//
// Before compiling, the module is rewritten (instrument.go) to count fuel
// (one unit per Wasm instruction, checked at function entries, loop headers,
// calls and exits), to count call depth, to make memory.grow respect the
// run's page limit and to canonicalise NaNs. Running
// out of any of them is a deterministic Result (a trap), the same on every
// machine; RATIONALE_NOTES.md explains the choices and what remains
// nondeterministic.
//
// # Concurrency
//
// A Runtime is safe for concurrent use; each Run instantiates its own module
// instance and blocks until the guest finishes. An Instance runs one Call at
// a time (concurrent Calls wait); different instances run in parallel. Compiled modules are shared
// (LRU by module SHA-256, plus wazero's on-disk cache). Close stops runs and
// calls in progress, waits for them and releases everything (instances must
// still be closed). Run owns the one
// goroutine it starts (which stops the guest on cancellation) and waits for
// it before returning.
package wasm

package wasm

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// The "ipdm" host module: functions guests import for work that is much
// faster in the host. A Go guest hashing in Wasm is about 34x slower than the
// host's SHA-NI code.
//
//	ipdm.sha256(ptr i32, len i32, out i32)
//	    writes the SHA-256 of memory[ptr:ptr+len] to memory[out:out+32].
//	    Costs 100 + len fuel. Traps when either range is outside memory.
//
// The guest side of this ABI is package github.com/ipdm/ipdm/wasm/guest (Go)
// and examples/csvfilter-c/ipdm.h (C). The module also exports the pipeline
// functions for reactors (stream.go) and refuel, which only the
// instrumented code may import (see fuelSlice).
const hostModuleName = "ipdm"

// sha256BaseFuel is the fixed part of ipdm.sha256's cost.
const sha256BaseFuel = 100

// fuelSlice is how much fuel the guest holds at a time. When its global runs
// out, the instrumented code calls refuel, which moves the next slice from
// the run's reserve. The slice size does not change where a run stops (the
// sum of charges decides that) but bounds how long the guest runs without
// entering Go: refuel is where cancellation is noticed and where the Go
// scheduler can stop the goroutine for garbage collection (wazero's machine
// code cannot be preempted). 1M units is about a millisecond.
const fuelSlice = 1 << 20

var (
	errOutOfFuel = errors.New("out of fuel")
	errStopped   = errors.New("run stopped")
)

func hostFuncTypes() map[string]funcType {
	fns := map[string]funcType{
		"sha256": {params: []byte{valI32, valI32, valI32}},
	}
	for name, t := range streamFuncTypes() {
		fns[name] = t
	}
	return fns
}

func instantiateHost(ctx context.Context, rt wazero.Runtime) error {
	i32 := api.ValueTypeI32
	b := rt.NewHostModuleBuilder(hostModuleName).
		NewFunctionBuilder().
		WithGoModuleFunction(api.GoModuleFunc(hostSHA256), []api.ValueType{i32, i32, i32}, nil).
		WithParameterNames("ptr", "len", "out").
		Export("sha256").
		NewFunctionBuilder().
		WithGoModuleFunction(api.GoModuleFunc(hostRefuel), nil, nil).
		Export(refuelName)
	b = exportStreamFuncs(b)
	_, err := b.Instantiate(ctx)
	return err
}

// runState is the host side of one run, reached by host functions through
// the context of the guest call.
type runState struct {
	fuel      api.MutableGlobal // nil for uninstrumented modules (benchmarks)
	reserve   int64             // fuel not yet handed to the guest
	outOfFuel bool
	done      <-chan struct{} // closed when the runtime closes
	call      *callState      // the stream of an Instance.Call; nil in Run
}

type runStateKey struct{}

func stateOf(ctx context.Context) *runState {
	st, _ := ctx.Value(runStateKey{}).(*runState)
	if st == nil {
		panic(errors.New("ipdm: host function called outside a run"))
	}
	return st
}

// refill hands the guest its next slice, or traps when the budget is spent
// or the run should stop. The fuel left is the global plus the reserve; it is
// negative exactly when the charges so far exceed the budget, wherever the
// slices fell.
func (st *runState) refill(ctx context.Context) {
	if ctx.Err() != nil {
		panic(errStopped)
	}
	select {
	case <-st.done:
		panic(errStopped)
	default:
	}
	left := int64(st.fuel.Get()) + st.reserve
	if left < 0 {
		st.outOfFuel = true
		panic(errOutOfFuel)
	}
	give := min(left, fuelSlice)
	st.fuel.Set(uint64(give))
	st.reserve = left - give
}

// charge takes a host function's cost from the guest's fuel.
func (st *runState) charge(ctx context.Context, cost uint64) {
	if st.fuel == nil {
		return
	}
	g := int64(st.fuel.Get()) - int64(cost)
	st.fuel.Set(uint64(g))
	if g < 0 {
		st.refill(ctx)
	}
}

// fuelUsed is how much of the budget the run consumed.
func (st *runState) fuelUsed(budget uint64) uint64 {
	if st.fuel == nil {
		return 0
	}
	if st.outOfFuel {
		return budget
	}
	return budget - uint64(int64(st.fuel.Get())+st.reserve)
}

func hostRefuel(ctx context.Context, _ api.Module, _ []uint64) {
	stateOf(ctx).refill(ctx)
}

func hostSHA256(ctx context.Context, mod api.Module, stack []uint64) {
	ptr, n, out := api.DecodeU32(stack[0]), api.DecodeU32(stack[1]), api.DecodeU32(stack[2])
	stateOf(ctx).charge(ctx, sha256BaseFuel+uint64(n))
	mem := mod.Memory()
	data, ok := mem.Read(ptr, n)
	if !ok {
		panic(fmt.Errorf("ipdm.sha256: input [%d, %d) is outside memory", ptr, uint64(ptr)+uint64(n)))
	}
	sum := sha256.Sum256(data)
	if !mem.Write(out, sum[:]) {
		panic(fmt.Errorf("ipdm.sha256: output [%d, %d) is outside memory", out, uint64(out)+32))
	}
}

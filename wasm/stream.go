package wasm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// The pipeline functions of the "ipdm" host module, importable only by
// reactors (see Instantiate). They connect one Instance.Call to its
// StreamHost; the framing of what flows through them is package
// github.com/ipdm/ipdm/pipeline/abi, and the guest libraries are package
// github.com/ipdm/ipdm/pipeline/guest and pipeline/guest/ipdm_pipeline.h.
//
//	input(ptr i32)
//	    copies the call's input (its length is the entrypoint's argument)
//	    to memory[ptr:].
//	output(ptr i32, len i32)
//	    StreamHost.Output(memory[ptr:ptr+len]).
//	store_write(kp i32, kl i32, vp i32, vl i32)
//	    StreamHost.StoreWrite(key, value).
//	store_get(input i32, kp i32, kl i32, bp i32, bcap i32) -> i32
//	    StreamHost.StoreGet(input, key): -1 when absent, else the value's
//	    length, with min(length, bcap) bytes copied to memory[bp:].
//	log(ptr i32, len i32)
//	    StreamHost.Log, up to InstanceOptions.MaxLogBytes per call.
//	panic(ptr i32, len i32)
//	    ends the call with the message as its Trap.
//
// Each call costs hostCallFuel plus one unit per byte moved. A range outside
// memory traps, as does an error returned by the StreamHost (the Trap is the
// error's text).
const hostCallFuel = 100

// maxTrapBytes bounds a Trap message taken from guest memory or stderr.
const maxTrapBytes = 4096

// StreamHost is the host side of one Instance.Call: where the guest's
// outputs, store writes and log lines go and where its store reads come
// from. The engine implements it, typically one value per call.
//
// Methods are called synchronously from the goroutine running the call, in
// the guest's order. Slices passed in are copies the host may keep. A
// non-nil error from Output, StoreWrite or StoreGet ends the call with a
// Trap equal to the error's text (CallResult.HostError holds the error); the
// host must return errors only for deterministic reasons (a value of the
// wrong type, an input index that is not a store), since the trap is part
// of the module's result on every node.
type StreamHost interface {
	// Output receives one output record.
	Output(rec []byte) error
	// StoreWrite receives one store write.
	StoreWrite(key, value []byte) error
	// StoreGet reads key from the store that is the module's input number
	// input; ok is false when the key is absent.
	StoreGet(input int, key []byte) (value []byte, ok bool, err error)
	// Log receives one debug line.
	Log(line []byte)
}

// errNoHost is what a call without a StreamHost gets from the functions
// that need one.
var errNoHost = errors.New("ipdm: the call has no stream host")

type noHost struct{}

func (noHost) Output([]byte) error                        { return errNoHost }
func (noHost) StoreWrite(_, _ []byte) error               { return errNoHost }
func (noHost) StoreGet(int, []byte) ([]byte, bool, error) { return nil, false, errNoHost }
func (noHost) Log([]byte)                                 {}

// errTrapped unwinds the guest after a host function recorded a trap in the
// callState.
var errTrapped = errors.New("guest call trapped")

// callState is the stream side of one Instance.Call.
type callState struct {
	input       []byte
	host        StreamHost
	maxLog      int
	logBytes    int
	logsDropped int
	trap        string // set with errTrapped
	hostErr     error
}

// fail ends the call with a deterministic trap, unless the call's context
// is done: a host that failed because of a cancellation must not produce a
// trap other nodes would not see.
func (cs *callState) fail(ctx context.Context, trap string, hostErr error) {
	if ctx.Err() != nil {
		panic(errStopped)
	}
	if trap == "" {
		trap = "ipdm: host error with empty message"
	}
	cs.trap, cs.hostErr = clampTrap(trap), hostErr
	panic(errTrapped)
}

// clampTrap makes a message fit for a Trap: valid UTF-8, at most
// maxTrapBytes.
func clampTrap(s string) string {
	if len(s) > maxTrapBytes {
		s = s[:maxTrapBytes]
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

func streamFuncTypes() map[string]funcType {
	i32 := byte(valI32)
	return map[string]funcType{
		"input":       {params: []byte{i32}},
		"output":      {params: []byte{i32, i32}},
		"store_write": {params: []byte{i32, i32, i32, i32}},
		"store_get":   {params: []byte{i32, i32, i32, i32, i32}, results: []byte{i32}},
		"log":         {params: []byte{i32, i32}},
		"panic":       {params: []byte{i32, i32}},
	}
}

func exportStreamFuncs(b wazero.HostModuleBuilder) wazero.HostModuleBuilder {
	fns := []struct {
		name   string
		fn     api.GoModuleFunc
		params []string
	}{
		{"input", hostInput, []string{"ptr"}},
		{"output", hostOutput, []string{"ptr", "len"}},
		{"store_write", hostStoreWrite, []string{"kp", "kl", "vp", "vl"}},
		{"store_get", hostStoreGet, []string{"input", "kp", "kl", "bp", "bcap"}},
		{"log", hostLog, []string{"ptr", "len"}},
		{"panic", hostPanic, []string{"ptr", "len"}},
	}
	types := streamFuncTypes()
	for _, f := range fns {
		t := types[f.name]
		b = b.NewFunctionBuilder().
			WithGoModuleFunction(f.fn, apiTypes(t.params), apiTypes(t.results)).
			WithParameterNames(f.params...).
			Export(f.name)
	}
	return b
}

func apiTypes(ts []byte) []api.ValueType {
	out := make([]api.ValueType, len(ts))
	copy(out, ts)
	return out
}

// streamOf returns the state of the call a pipeline function runs in.
func streamOf(ctx context.Context, name string) (*runState, *callState) {
	st := stateOf(ctx)
	if st.call == nil {
		panic(fmt.Errorf("ipdm.%s: called outside a pipeline instance", name))
	}
	return st, st.call
}

// read copies memory[ptr:ptr+n] or traps.
func (cs *callState) read(ctx context.Context, mod api.Module, fn, what string, ptr, n uint32) []byte {
	b, ok := mod.Memory().Read(ptr, n)
	if !ok {
		cs.fail(ctx, fmt.Sprintf("ipdm.%s: %s [%d, %d) is outside memory", fn, what, ptr, uint64(ptr)+uint64(n)), nil)
	}
	return bytes.Clone(b)
}

func hostInput(ctx context.Context, mod api.Module, stack []uint64) {
	st, cs := streamOf(ctx, "input")
	ptr := api.DecodeU32(stack[0])
	st.charge(ctx, hostCallFuel+uint64(len(cs.input)))
	if !mod.Memory().Write(ptr, cs.input) {
		cs.fail(ctx, fmt.Sprintf("ipdm.input: destination [%d, %d) is outside memory", ptr, uint64(ptr)+uint64(len(cs.input))), nil)
	}
}

func hostOutput(ctx context.Context, mod api.Module, stack []uint64) {
	st, cs := streamOf(ctx, "output")
	ptr, n := api.DecodeU32(stack[0]), api.DecodeU32(stack[1])
	st.charge(ctx, hostCallFuel+uint64(n))
	rec := cs.read(ctx, mod, "output", "record", ptr, n)
	if err := cs.host.Output(rec); err != nil {
		cs.fail(ctx, err.Error(), err)
	}
}

func hostStoreWrite(ctx context.Context, mod api.Module, stack []uint64) {
	st, cs := streamOf(ctx, "store_write")
	kp, kl := api.DecodeU32(stack[0]), api.DecodeU32(stack[1])
	vp, vl := api.DecodeU32(stack[2]), api.DecodeU32(stack[3])
	st.charge(ctx, hostCallFuel+uint64(kl)+uint64(vl))
	key := cs.read(ctx, mod, "store_write", "key", kp, kl)
	value := cs.read(ctx, mod, "store_write", "value", vp, vl)
	if err := cs.host.StoreWrite(key, value); err != nil {
		cs.fail(ctx, err.Error(), err)
	}
}

func hostStoreGet(ctx context.Context, mod api.Module, stack []uint64) {
	st, cs := streamOf(ctx, "store_get")
	input := int(int32(api.DecodeU32(stack[0])))
	kp, kl := api.DecodeU32(stack[1]), api.DecodeU32(stack[2])
	bp, bcap := api.DecodeU32(stack[3]), api.DecodeU32(stack[4])
	st.charge(ctx, hostCallFuel+uint64(kl))
	key := cs.read(ctx, mod, "store_get", "key", kp, kl)
	value, ok, err := cs.host.StoreGet(input, key)
	if err != nil {
		cs.fail(ctx, err.Error(), err)
	}
	if !ok {
		stack[0] = api.EncodeI32(-1)
		return
	}
	if len(value) > math.MaxInt32 {
		cs.fail(ctx, fmt.Sprintf("ipdm.store_get: value of %d bytes does not fit an i32", len(value)), nil)
	}
	n := min(uint32(len(value)), bcap)
	st.charge(ctx, uint64(n))
	if !mod.Memory().Write(bp, value[:n]) {
		cs.fail(ctx, fmt.Sprintf("ipdm.store_get: buffer [%d, %d) is outside memory", bp, uint64(bp)+uint64(n)), nil)
	}
	stack[0] = api.EncodeI32(int32(len(value)))
}

func hostLog(ctx context.Context, mod api.Module, stack []uint64) {
	st, cs := streamOf(ctx, "log")
	ptr, n := api.DecodeU32(stack[0]), api.DecodeU32(stack[1])
	st.charge(ctx, hostCallFuel+uint64(n))
	line := cs.read(ctx, mod, "log", "line", ptr, n)
	if cs.logBytes+len(line) > cs.maxLog {
		cs.logsDropped++
		return
	}
	cs.logBytes += len(line)
	cs.host.Log(line)
}

func hostPanic(ctx context.Context, mod api.Module, stack []uint64) {
	st, cs := streamOf(ctx, "panic")
	ptr, n := api.DecodeU32(stack[0]), api.DecodeU32(stack[1])
	st.charge(ctx, hostCallFuel+uint64(n))
	msg, ok := mod.Memory().Read(ptr, n)
	if !ok {
		cs.fail(ctx, fmt.Sprintf("ipdm.panic: message [%d, %d) is outside memory", ptr, uint64(ptr)+uint64(n)), nil)
	}
	if len(msg) == 0 {
		cs.fail(ctx, "ipdm.panic: empty message", nil)
	}
	cs.fail(ctx, string(msg[:min(len(msg), maxTrapBytes)]), nil)
}

// exitTrap is the Trap of a guest that called proc_exit during a call,
// which ends the instance: the Go panic message in stderr if there is one
// (see goPanic), else "exit code N".
func exitTrap(code uint32, stderr []byte) string {
	if msg, ok := goPanic(stderr); ok {
		return msg
	}
	return fmt.Sprintf("exit code %d", code)
}

// goPanic finds the message of a Go panic or fatal runtime error in what
// the guest wrote to stderr during the call. A Go reactor prints it and then
// crashes (unreachable; a Go command calls proc_exit(2) instead). The
// message runs from "panic: " or "fatal error: " at the start of a line to
// the blank line or goroutine header before the traceback; a fatal error
// keeps the "runtime: ..." detail line before it.
func goPanic(stderr []byte) (string, bool) {
	for _, marker := range []string{"panic: ", "fatal error: "} {
		i := -1
		if bytes.HasPrefix(stderr, []byte(marker)) {
			i = 0
		} else if j := bytes.Index(stderr, []byte("\n"+marker)); j >= 0 {
			i = j + 1
		}
		if i < 0 {
			continue
		}
		msg := stderr[i:]
		if marker == "fatal error: " && i > 0 {
			prev := stderr[:i-1]
			if k := bytes.LastIndexByte(prev, '\n'); k >= 0 {
				prev = prev[k+1:]
			}
			if bytes.HasPrefix(prev, []byte("runtime: ")) {
				msg = stderr[i-1-len(prev):]
			}
		}
		if end := bytes.Index(msg, []byte("\n\n")); end >= 0 {
			msg = msg[:end]
		}
		if end := bytes.Index(msg, []byte("\ngoroutine ")); end >= 0 {
			msg = msg[:end]
		}
		return clampTrap(string(bytes.TrimRight(msg, "\n"))), true
	}
	return "", false
}

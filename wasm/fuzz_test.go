package wasm

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/ipdm/ipdm/pipeline/abi"
)

// FuzzValidate feeds arbitrary bytes to Validate: it must never panic, must
// reject with ErrInvalidModule, and whatever it accepts must run within its
// budget and give the same result twice (a command's Run; each entrypoint
// of a reactor on two instances).
//
//	go test ./wasm -run '^$' -fuzz FuzzValidate -fuzztime 1m
func FuzzValidate(f *testing.F) {
	for _, seed := range [][]byte{
		exitSeven, infiniteLoop, countLoop(10), exitWith(i32c(65535), valI64),
		exitWith(cat([]byte{opF64Const, 0, 0, 0, 0, 0, 0, 0, 0}, []byte{opF64Const, 0, 0, 0, 0, 0, 0, 0, 0, 0xa3, 0xbd}, i64c(32), []byte{opI64ShrU, 0xa7})),
		exitWith(cat(i32c(0), i32c(0), i32c(100), []byte{opPrefixFC, 11, 0}, i32c(1), []byte{opMemoryGrow, 0})),
		(&tmod{funcs: []tfunc{{}, {}}, start: 2}).bytes(),
		(&tmod{types: []funcType{tVoid, {results: []byte{valI32, valI64}}}, funcs: []tfunc{
			{body: cat(op1(opCall, 1), []byte{0x1a, 0x1a})},
			{typ: 1, body: cat(op1(opCall, 2), i32c(1), i64c(2), []byte{opReturn})},
			{}}}).bytes(),
		[]byte("\x00asm\x01\x00\x00\x00"),
		[]byte("\x00asm\x01\x00\x00\x00\x01\x04\x01\x60\x00\x00"),
		nil,
		reactor("output", tOutput, cat(i32c(0), i32c(4), op1(opCall, 0))),
		reactor("store_get", tStoreGt, cat(i32c(1), i32c(0), i32c(5), i32c(8), i32c(10), op1(opCall, 0), []byte{0x1a})),
		reactor("panic", tOutput, cat(i32c(0), i32c(3), op1(opCall, 0))),
	} {
		f.Add(seed)
	}
	rt := newRuntime(f, Config{MaxMemoryPages: 16, MaxCachedModules: 4})
	f.Fuzz(func(t *testing.T, wasm []byte) {
		ctx := context.Background()
		m, err := rt.Compile(ctx, wasm)
		if err != nil {
			if !errors.Is(err, ErrInvalidModule) {
				t.Fatalf("rejection without ErrInvalidModule: %v", err)
			}
			return
		}
		if m.Info().Kind == KindReactor {
			a, b := fuzzCalls(t, rt, m), fuzzCalls(t, rt, m)
			if !reflect.DeepEqual(a, b) {
				t.Fatalf("calls differ:\n%+v\n%+v", a, b)
			}
			return
		}
		spec := RunSpec{Fuel: 200_000, MaxCallDepth: 1000, MaxStdout: 1000, MaxStderr: 1000}
		a, err := rt.Run(ctx, m, spec)
		if err != nil {
			t.Fatalf("run: %v", err)
		}
		b, err := rt.Run(ctx, m, spec)
		if err != nil {
			t.Fatalf("second run: %v", err)
		}
		a.Duration, b.Duration, a.TrapDetail, b.TrapDetail = 0, 0, "", ""
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("runs differ:\n%+v\n%+v", a, b)
		}
	})
}

// fuzzCalls instantiates a reactor and calls each of its entrypoints once,
// returning the results with the nondeterministic fields cleared.
func fuzzCalls(t *testing.T, rt *Runtime, m *Module) []CallResult {
	ctx := context.Background()
	opts := InstanceOptions{InitFuel: 200_000, MaxCallDepth: 1000, MaxStdout: 1000, MaxStderr: 1000}
	inst, err := rt.Instantiate(ctx, m, opts)
	var te *TrapError
	if errors.As(err, &te) {
		te.Result.Duration, te.Result.TrapDetail = 0, ""
		return []CallResult{te.Result}
	}
	if err != nil {
		t.Fatalf("instantiate: %v", err)
	}
	defer inst.Close(ctx)
	var out []CallResult
	host := &recHost{store: map[string][]byte{"\x00\x00\x00\x00\x00": []byte("value")}}
	for _, entry := range m.Info().Exports {
		res, err := inst.Call(ctx, entry, abi.EncodeInput(1, 2, nil), host, 200_000)
		switch {
		case errors.Is(err, ErrInvalidCall):
			continue
		case errors.Is(err, ErrInstanceDead):
			return out
		case err != nil:
			t.Fatalf("call %s: %v", entry, err)
		}
		res.Duration, res.TrapDetail = 0, ""
		out = append(out, res)
	}
	return append(out, CallResult{Stdout: []byte(fmt.Sprintf("%q %q", host.outputs, host.writes))})
}

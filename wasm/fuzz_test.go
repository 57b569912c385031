package wasm

import (
	"context"
	"errors"
	"reflect"
	"testing"
)

// FuzzValidate feeds arbitrary bytes to Validate: it must never panic, must
// reject with ErrInvalidModule, and whatever it accepts must run within its
// budget and give the same result twice.
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

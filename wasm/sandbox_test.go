package wasm

import (
	"context"
	"crypto/sha256"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"
)

// Hand-assembled modules for the limits and rejections of the sandbox. Each
// case checks that the outcome is a deterministic Result (or a clear error)
// and that the runtime keeps serving afterwards.

var (
	infiniteLoop = (&tmod{funcs: []tfunc{{body: cat([]byte{opLoop, blockEmpty}, op1(opBr, 0), []byte{opEnd})}}}).bytes()
	exitSeven    = exitWith(i32c(7))
)

// countLoop runs a loop n times; each iteration is 7 metered instructions.
func countLoop(n int32) []byte {
	return (&tmod{funcs: []tfunc{{locals: []byte{valI32}, body: cat(
		[]byte{opLoop, blockEmpty},
		op1(opLocalGet, 0), i32c(1), []byte{opI32Add}, op1(opLocalTee, 0), i32c(n), []byte{0x49}, // i32.lt_u
		op1(0x0d, 0), // br_if 0
		[]byte{opEnd})}}}).bytes()
}

// checkServing runs a trivial module to show the runtime still works.
func checkServing(t *testing.T, rt *Runtime) {
	t.Helper()
	res := mustRun(t, rt, mustCompile(t, rt, exitSeven), RunSpec{})
	if res.ExitCode != 7 || res.Trap != "" {
		t.Fatalf("runtime no longer serves: %+v", res)
	}
}

func TestFuelStopsInfiniteLoopDeterministically(t *testing.T) {
	rt := newRuntime(t, Config{})
	m := mustCompile(t, rt, infiniteLoop)
	var first Result
	for i, r := range []*Runtime{rt, rt, newRuntime(t, Config{})} {
		res := mustRun(t, r, m, RunSpec{Fuel: 1_000_003})
		if !res.OutOfFuel || res.Trap != TrapOutOfFuel || res.FuelUsed != 1_000_003 {
			t.Fatalf("run %d: %+v, want out of fuel after 1000003", i, res)
		}
		if i == 0 {
			first = res
		} else if res.FuelUsed != first.FuelUsed || res.Trap != first.Trap {
			t.Fatalf("run %d differs: %+v vs %+v", i, res, first)
		}
	}
	checkServing(t, rt)
}

func TestFuelCountsInstructions(t *testing.T) {
	rt := newRuntime(t, Config{})
	used := func(n int32) uint64 {
		res := mustRun(t, rt, mustCompile(t, rt, countLoop(n)), RunSpec{})
		if !res.Success() {
			t.Fatalf("loop %d: %+v", n, res)
		}
		return res.FuelUsed
	}
	a, b := used(1000), used(3000)
	if b-a != 7*2000 {
		t.Errorf("fuel(3000)-fuel(1000) = %d, want %d (7 per iteration)", b-a, 7*2000)
	}
	if again := used(1000); again != a {
		t.Errorf("fuel differs between runs: %d vs %d", a, again)
	}
	// A budget one short of what the run needs stops it.
	res := mustRun(t, rt, mustCompile(t, rt, countLoop(1000)), RunSpec{Fuel: a - 1})
	if !res.OutOfFuel {
		t.Errorf("budget %d for a run needing %d: %+v", a-1, a, res)
	}
	res = mustRun(t, rt, mustCompile(t, rt, countLoop(1000)), RunSpec{Fuel: a})
	if !res.Success() || res.FuelUsed != a {
		t.Errorf("budget %d for a run needing %d: %+v", a, a, res)
	}
}

func TestCancelStopsLongRun(t *testing.T) {
	rt := newRuntime(t, Config{})
	m := mustCompile(t, rt, infiniteLoop)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	_, err := rt.Run(ctx, m, RunSpec{Fuel: 1 << 62})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("cancel took %v", d)
	}
	ctx, cancel = context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := rt.Run(ctx, m, RunSpec{Fuel: 1 << 62}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want context.DeadlineExceeded", err)
	}
	checkServing(t, rt)
}

// wazero's machine code cannot be preempted, so a guest that never left it
// would stall every stop-the-world pause of the process. The refuel calls
// bound that.
func TestGuestDoesNotBlockGC(t *testing.T) {
	rt := newRuntime(t, Config{})
	m := mustCompile(t, rt, infiniteLoop)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := rt.Run(ctx, m, RunSpec{Fuel: 1 << 62})
		errc <- err
	}()
	time.Sleep(50 * time.Millisecond)
	for range 3 {
		start := time.Now()
		runtime.GC()
		if d := time.Since(start); d > 500*time.Millisecond {
			t.Errorf("GC took %v while a guest ran", d)
		}
	}
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
}

func TestCloseStopsRuns(t *testing.T) {
	rt, err := New(context.Background(), Config{})
	if err != nil {
		t.Fatal(err)
	}
	m := mustCompile(t, rt, infiniteLoop)
	errc := make(chan error, 1)
	go func() {
		_, err := rt.Run(context.Background(), m, RunSpec{Fuel: 1 << 62})
		errc <- err
	}()
	time.Sleep(50 * time.Millisecond)
	if err := rt.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; !errors.Is(err, ErrClosed) {
		t.Fatalf("run during Close: %v, want ErrClosed", err)
	}
	if err := rt.Close(context.Background()); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := rt.Run(context.Background(), m, RunSpec{}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Run after Close: %v", err)
	}
	if _, err := rt.Compile(context.Background(), exitSeven); !errors.Is(err, ErrClosed) {
		t.Fatalf("Compile after Close: %v", err)
	}
}

func TestMemoryLimits(t *testing.T) {
	rt := newRuntime(t, Config{MaxMemoryPages: 300})
	growOneByOne := exitWith(cat(
		[]byte{opLoop, blockEmpty}, i32c(1), []byte{opMemoryGrow, 0}, i32c(-1), []byte{0x47}, op1(0x0d, 0), []byte{opEnd}, // i32.ne; br_if 0
		[]byte{opMemorySize, 0}))
	growHuge := exitWith(cat(i32c(65535), []byte{opMemoryGrow, 0}))
	for _, tc := range []struct {
		name     string
		wasm     []byte
		pages    uint32
		exit     uint32
		memPages uint32
	}{
		{"bomb stops at run limit", growOneByOne, 100, 100, 100},
		{"bomb stops at runtime limit", growOneByOne, 0, 300, 300},
		{"run limit above runtime limit", growOneByOne, 5000, 300, 300},
		{"huge grow fails", growHuge, 0, 0xffffffff, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := mustRun(t, rt, mustCompile(t, rt, tc.wasm), RunSpec{MemoryPages: tc.pages})
			if res.Trap != "" || res.ExitCode != tc.exit || res.MemoryPages != tc.memPages {
				t.Fatalf("got exit %d trap %q pages %d, want exit %d pages %d", res.ExitCode, res.Trap, res.MemoryPages, tc.exit, tc.memPages)
			}
		})
	}
	big := (&tmod{types: []funcType{tVoid}, funcs: []tfunc{{}}, mem: &[2]uint32{301, 0}}).bytes()
	if _, err := rt.Compile(context.Background(), big); !errors.Is(err, ErrInvalidModule) || !strings.Contains(err.Error(), "301 pages") {
		t.Errorf("initial memory above the limit: %v", err)
	}
	declaredMax := (&tmod{types: []funcType{tVoid}, funcs: []tfunc{{}}, mem: &[2]uint32{1, 65536}}).bytes()
	if info, err := rt.Validate(context.Background(), declaredMax); err != nil || info.MemoryMaxPages != 300 {
		t.Errorf("declared maximum above the limit: %+v, %v; want it lowered to 300", info, err)
	}
	res := mustRun(t, rt, mustCompile(t, rt, exitWith(i32c(0))), RunSpec{MemoryPages: 0})
	if res.MemoryPages != 1 {
		t.Errorf("memory pages = %d", res.MemoryPages)
	}
	twoPages := (&tmod{types: []funcType{tVoid}, funcs: []tfunc{{}}, mem: &[2]uint32{2, 0}}).bytes()
	res = mustRun(t, rt, mustCompile(t, rt, twoPages), RunSpec{MemoryPages: 1})
	if !strings.Contains(res.Trap, "below the module's initial memory") {
		t.Errorf("run limit below the initial memory: %+v", res)
	}
	checkServing(t, rt)
}

func TestTableGrowIsBounded(t *testing.T) {
	rt := newRuntime(t, Config{})
	grow := func(n int32) []byte {
		m := &tmod{
			types:   []funcType{tVoid, tProcExit},
			imports: []timport{importExit},
			funcs:   []tfunc{{body: cat([]byte{0xd0, valFuncref}, i32c(n), []byte{opPrefixFC, 15, 0}, op1(opCall, 0))}},
			table:   &[2]uint32{1, 0},
			mem:     &[2]uint32{1, 0},
		}
		return m.bytes()
	}
	if res := mustRun(t, rt, mustCompile(t, rt, grow(0x7fffffff)), RunSpec{}); res.ExitCode != 0xffffffff {
		t.Errorf("table.grow by 2^31-1: %+v, want -1", res)
	}
	if res := mustRun(t, rt, mustCompile(t, rt, grow(1000)), RunSpec{}); res.ExitCode != 1 {
		t.Errorf("table.grow by 1000: %+v, want old size 1", res)
	}
}

func TestCallDepth(t *testing.T) {
	rt := newRuntime(t, Config{})
	// _start calls rec(n); rec(n) = n == 0 ? 0 : rec(n-1)
	recursion := func(n int32, extraLocals int) []byte {
		locals := make([]byte, extraLocals)
		for i := range locals {
			locals[i] = valI64
		}
		m := &tmod{
			types: []funcType{tVoid, {params: []byte{valI32}}},
			funcs: []tfunc{
				{typ: 0, body: cat(i32c(n), op1(opCall, 1))},
				{typ: 1, locals: locals, body: cat(op1(opLocalGet, 0), []byte{opIf, blockEmpty},
					op1(opLocalGet, 0), i32c(1), []byte{opI32Sub}, op1(opCall, 1), []byte{opEnd})},
			},
		}
		return m.bytes()
	}
	for _, tc := range []struct {
		name   string
		wasm   []byte
		depth  uint32
		traps  bool
		detail string
	}{
		{"within limit", recursion(900, 0), 1000, false, ""},
		{"beyond limit", recursion(1100, 0), 1000, true, ""},
		{"big frames count more", recursion(400, 64), 1000, true, ""}, // 65 locals: 3 units a frame
		{"infinite", recursion(-1, 0), 0, true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := mustCompile(t, rt, tc.wasm)
			a := mustRun(t, rt, m, RunSpec{MaxCallDepth: tc.depth})
			b := mustRun(t, newRuntime(t, Config{}), m, RunSpec{MaxCallDepth: tc.depth})
			if (a.Trap == TrapCallDepth) != tc.traps || (!tc.traps && !a.Success()) {
				t.Fatalf("got %+v, want trap=%v", a, tc.traps)
			}
			if a.FuelUsed != b.FuelUsed || a.Trap != b.Trap {
				t.Fatalf("runs differ: %+v vs %+v", a, b)
			}
		})
	}
	checkServing(t, rt)
}

func TestOutputFloodIsCapped(t *testing.T) {
	rt := newRuntime(t, Config{})
	// iovec {ptr 16, len 64} at 0; fd_write(1, 0, 1, 8) forever
	flood := (&tmod{
		types:   []funcType{tVoid, tFdWrite},
		imports: []timport{{"wasi_snapshot_preview1", "fd_write", 1}},
		funcs: []tfunc{{body: cat([]byte{opLoop, blockEmpty},
			i32c(1), i32c(0), i32c(1), i32c(8), op1(opCall, 0), []byte{0x1a}, op1(opBr, 0), []byte{opEnd})}},
		mem:  &[2]uint32{1, 0},
		data: []tdata{{0, []byte{16, 0, 0, 0, 64, 0, 0, 0}}, {16, []byte(strings.Repeat("x", 64))}},
	}).bytes()
	m := mustCompile(t, rt, flood)
	res := mustRun(t, rt, m, RunSpec{Fuel: 2_000_000, MaxStdout: 10_000})
	if !res.OutOfFuel || !res.StdoutTruncated || len(res.Stdout) != 10_000 || res.Stdout[0] != 'x' {
		t.Fatalf("flood: out of fuel %v, truncated %v, %d bytes", res.OutOfFuel, res.StdoutTruncated, len(res.Stdout))
	}
	again := mustRun(t, rt, m, RunSpec{Fuel: 2_000_000, MaxStdout: 10_000})
	if again.FuelUsed != res.FuelUsed || string(again.Stdout) != string(res.Stdout) {
		t.Fatal("flood runs differ")
	}
	checkServing(t, rt)
}

func TestStartSectionIsMetered(t *testing.T) {
	rt := newRuntime(t, Config{})
	// The start section calls proc_exit(9) before _start could run.
	withStart := &tmod{
		types:   []funcType{tVoid, tProcExit},
		imports: []timport{importExit},
		funcs:   []tfunc{{body: cat(i32c(1), op1(opCall, 0))}, {body: cat(i32c(9), op1(opCall, 0))}},
		mem:     &[2]uint32{1, 0},
		start:   3, // function index 2
	}
	if res := mustRun(t, rt, mustCompile(t, rt, withStart.bytes()), RunSpec{}); res.ExitCode != 9 {
		t.Errorf("start section: %+v, want exit 9", res)
	}
	loopStart := &tmod{funcs: []tfunc{{}, {body: cat([]byte{opLoop, blockEmpty}, op1(opBr, 0), []byte{opEnd})}}, start: 2}
	if res := mustRun(t, rt, mustCompile(t, rt, loopStart.bytes()), RunSpec{Fuel: 10_000}); !res.OutOfFuel {
		t.Errorf("looping start section: %+v, want out of fuel", res)
	}
}

func TestNaNsAreCanonical(t *testing.T) {
	rt := newRuntime(t, Config{})
	f64zero := []byte{opF64Const, 0, 0, 0, 0, 0, 0, 0, 0}
	f32zero := []byte{opF32Const, 0, 0, 0, 0}
	high32 := cat([]byte{0xbd}, i64c(32), []byte{opI64ShrU, 0xa7}) // i64.reinterpret_f64; >> 32; i32.wrap_i64
	for _, tc := range []struct {
		name string
		expr []byte
		want uint32
	}{
		{"f64 0/0", cat(f64zero, f64zero, []byte{0xa3}, high32), 0x7ff80000},
		{"f64 sqrt(-1)", cat([]byte{opF64Const, 0, 0, 0, 0, 0, 0, 0xf0, 0xbf}, []byte{0x9f}, high32), 0x7ff80000},
		{"f64 inf-inf", cat([]byte{opF64Const, 0, 0, 0, 0, 0, 0, 0xf0, 0x7f}, []byte{opF64Const, 0, 0, 0, 0, 0, 0, 0xf0, 0x7f}, []byte{0xa1}, high32), 0x7ff80000},
		{"f32 0/0", cat(f32zero, f32zero, []byte{0x95, 0xbc}), 0x7fc00000},
		{"f32 demote of NaN", cat(f64zero, f64zero, []byte{0xa3, 0xb6, 0xbc}), 0x7fc00000},
		{"f64 promote of NaN", cat(f32zero, f32zero, []byte{0x95, 0xbb}, high32), 0x7ff80000},
		{"negated NaN keeps its sign", cat(f64zero, f64zero, []byte{0xa3, 0x9a}, high32), 0xfff80000},
		{"ordinary values pass", cat([]byte{opF32Const, 0, 0, 0xc0, 0x3f}, []byte{opF32Const, 0, 0, 0, 0x40}, []byte{0x94, 0xbc}), 0x40400000}, // 1.5*2
	} {
		t.Run(tc.name, func(t *testing.T) {
			wasm := exitWith(tc.expr)
			if res := mustRun(t, rt, mustCompile(t, rt, wasm), RunSpec{}); res.ExitCode != tc.want {
				t.Errorf("exit %#x, want %#x (%+v)", res.ExitCode, tc.want, res)
			}
			if runtime.GOARCH == "amd64" && tc.name == "f64 0/0" {
				raw := newRuntime(t, Config{})
				raw.noInstr = true
				res := mustRun(t, raw, mustCompile(t, raw, wasm), RunSpec{})
				t.Logf("without canonicalisation this CPU gives %#x", res.ExitCode)
			}
		})
	}
}

func TestMultiValueReturnThroughWrapper(t *testing.T) {
	rt := newRuntime(t, Config{})
	// pair() -> (i32, i32) calls nop() (so its body is wrapped) and returns
	// from inside a block; _start exits with the sum.
	m := &tmod{
		types:   []funcType{tVoid, tProcExit, {results: []byte{valI32, valI32}}},
		imports: []timport{importExit},
		funcs: []tfunc{
			{typ: 0, body: cat(op1(opCall, 2), []byte{opI32Add}, op1(opCall, 0))},
			{typ: 2, body: cat(op1(opCall, 3), []byte{opBlock, blockEmpty}, i32c(5), i32c(7), []byte{opReturn, opEnd}, []byte{opUnreachable})},
			{typ: 0},
		},
		mem: &[2]uint32{1, 0},
	}
	if res := mustRun(t, rt, mustCompile(t, rt, m.bytes()), RunSpec{}); res.ExitCode != 12 {
		t.Fatalf("got %+v, want exit 12", res)
	}
}

// The refuel import shifts every function index; calls through tables,
// ref.func in constant expressions and the name section must follow.
func TestFunctionIndicesRenumbered(t *testing.T) {
	rt := newRuntime(t, Config{})
	tI32 := funcType{results: []byte{valI32}}
	// imports: 0 proc_exit; functions: 1 _start, 2 forty, 3 two, 4 boom
	elem := cat(
		[]byte{2},                            // two segments
		[]byte{0}, i32c(0), []byte{opEnd, 1}, // flags 0: offset 0, [forty]
		appendU32(nil, 2),
		[]byte{4}, i32c(1), []byte{opEnd, 1, opRefFunc, 3, opEnd}, // flags 4: offset 1, [ref.func two]
	)
	m := &tmod{
		types:   []funcType{tVoid, tProcExit, tI32},
		imports: []timport{importExit},
		funcs: []tfunc{
			{typ: 0, body: cat(i32c(0), []byte{opCallIndirect, 2, 0}, i32c(1), []byte{opCallIndirect, 2, 0}, []byte{opI32Add},
				[]byte{opRefFunc, 4, 0x1a}, // declared by the export below
				op1(opCall, 0))},
			{typ: 2, body: i32c(40)},
			{typ: 2, body: i32c(2)},
			{typ: 0, body: []byte{opUnreachable}},
		},
		table:   &[2]uint32{2, 0},
		mem:     &[2]uint32{1, 0},
		elem:    elem,
		exports: []texport{{"boom", 0, 4}},
		names:   map[uint32]string{1: "start", 4: "boom_fn"},
	}
	if res := mustRun(t, rt, mustCompile(t, rt, m.bytes()), RunSpec{}); res.ExitCode != 42 {
		t.Fatalf("got %+v, want exit 42", res)
	}
	// A trap names the right function.
	m.funcs[0].body = op1(opCall, 4)
	res := mustRun(t, rt, mustCompile(t, rt, m.bytes()), RunSpec{})
	if res.Trap != "unreachable" || !strings.Contains(res.TrapDetail, "boom_fn") {
		t.Fatalf("trap %q detail %q, want unreachable in boom_fn", res.Trap, res.TrapDetail)
	}
}

func TestBulkMemoryChargesByLength(t *testing.T) {
	rt := newRuntime(t, Config{})
	fill := func(n int32) uint64 {
		wasm := exitWith(cat(i32c(0), i32c(0), i32c(n), []byte{opPrefixFC, 11, 0}, i32c(0)))
		res := mustRun(t, rt, mustCompile(t, rt, wasm), RunSpec{})
		if !res.Success() {
			t.Fatalf("memory.fill %d: %+v", n, res)
		}
		return res.FuelUsed
	}
	if d := fill(65536) - fill(0); d != 65536/64 {
		t.Errorf("memory.fill of 64 KiB cost %d more than of 0 bytes, want %d", d, 65536/64)
	}
}

func TestHostSHA256(t *testing.T) {
	rt := newRuntime(t, Config{})
	// ipdm.sha256(64, 3, 128); fd_write(1, iovec{128, 32})
	hashAndPrint := func(ptr, n int32) []byte {
		return (&tmod{
			types:   []funcType{tVoid, {params: []byte{valI32, valI32, valI32}}, tFdWrite},
			imports: []timport{{"ipdm", "sha256", 1}, {"wasi_snapshot_preview1", "fd_write", 2}},
			funcs: []tfunc{{body: cat(i32c(ptr), i32c(n), i32c(128), op1(opCall, 0),
				i32c(1), i32c(0), i32c(1), i32c(8), op1(opCall, 1), []byte{0x1a})}},
			mem:  &[2]uint32{1, 0},
			data: []tdata{{0, []byte{128, 0, 0, 0, 32, 0, 0, 0}}, {64, []byte("abc")}},
		}).bytes()
	}
	m := mustCompile(t, rt, hashAndPrint(64, 3))
	res := mustRun(t, rt, m, RunSpec{})
	if sum := sha256.Sum256([]byte("abc")); string(res.Stdout) != string(sum[:]) {
		t.Fatalf("stdout %x, want %x (%+v)", res.Stdout, sum, res)
	}
	res = mustRun(t, rt, mustCompile(t, rt, hashAndPrint(65536-2, 3)), RunSpec{})
	if !strings.Contains(res.Trap, "ipdm.sha256: input") {
		t.Errorf("out-of-bounds input: %+v", res)
	}
	// Hashing 60000 bytes costs 60000 more fuel than hashing 3.
	big := mustRun(t, rt, mustCompile(t, rt, hashAndPrint(0, 60000)), RunSpec{})
	small := mustRun(t, rt, mustCompile(t, rt, hashAndPrint(0, 3)), RunSpec{})
	if d := big.FuelUsed - small.FuelUsed; d != 60000-3 {
		t.Errorf("fuel difference %d, want %d", d, 60000-3)
	}
	res = mustRun(t, rt, mustCompile(t, rt, hashAndPrint(0, 60000)), RunSpec{Fuel: small.FuelUsed + 1000})
	if !res.OutOfFuel || res.Trap != TrapOutOfFuel {
		t.Errorf("host call beyond the budget: %+v", res)
	}
}

func TestValidateRejects(t *testing.T) {
	rt := newRuntime(t, Config{MaxModuleBytes: 1 << 16})
	valid := exitSeven
	withImport := func(mod, name string, typ funcType) []byte {
		return (&tmod{types: []funcType{tVoid, typ}, imports: []timport{{mod, name, 1}}, funcs: []tfunc{{}}}).bytes()
	}
	body := func(instrs ...byte) []byte {
		return (&tmod{funcs: []tfunc{{body: instrs}}, mem: &[2]uint32{1, 0}}).bytes()
	}
	for _, tc := range []struct {
		name    string
		wasm    []byte
		want    string
		import_ string
	}{
		{"empty", nil, "bad magic", ""},
		{"text", []byte("(module)"), "bad magic", ""},
		{"component", []byte("\x00asm\x0d\x00\x01\x00"), "version", ""},
		{"truncated", valid[:len(valid)-3], "unexpected end", ""},
		{"too large", make([]byte, 1<<16+1), "limit is 65536", ""},
		{"unknown section", append(append([]byte{}, valid...), 42, 0), "unknown section", ""},
		{"no _start", (&tmod{funcs: []tfunc{{}}, noStart: true}).bytes(), "no exported function _start", ""},
		{"_start with params", (&tmod{types: []funcType{{params: []byte{valI32}}}, funcs: []tfunc{{}}}).bytes(), "want () -> ()", ""},
		{"reserved export", (&tmod{funcs: []tfunc{{}}, exports: []texport{{"ipdm:fuel", 0, 0}}}).bytes(), "reserved prefix", ""},
		{"env import", withImport("env", "now", tVoid), "module \"env\" is not provided", "env.now"},
		{"socket", withImport("wasi_snapshot_preview1", "sock_accept", funcType{params: []byte{valI32, valI32, valI32}, results: []byte{valI32}}), "no network", "wasi_snapshot_preview1.sock_accept"},
		{"unknown wasi function", withImport("wasi_snapshot_preview1", "fd_fly", tVoid), "not provided", "wasi_snapshot_preview1.fd_fly"},
		{"wrong signature", withImport("wasi_snapshot_preview1", "fd_write", tProcExit), "imported with type (i32) -> ()", "wasi_snapshot_preview1.fd_write"},
		{"unknown ipdm function", withImport("ipdm", "blake3", tVoid), "not provided", "ipdm.blake3"},
		{"shared memory", []byte("\x00asm\x01\x00\x00\x00\x05\x04\x01\x03\x01\x01"), "shared memory is not allowed", ""},
		{"memory64", []byte("\x00asm\x01\x00\x00\x00\x05\x03\x01\x04\x01"), "64-bit", ""},
		{"memory import", []byte("\x00asm\x01\x00\x00\x00\x02\x0c\x01\x03env\x03mem\x02\x00\x01"), "only functions may be imported", "env.mem"},
		{"simd", body(0xfd, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x1a), "SIMD", ""},
		{"atomics", body(i32c(0)[0], 0, 0xfe, 0x10, 2, 0, 0x1a), "atomic", ""},
		{"tail call", body(0x12, 0), "tail calls", ""},
		{"exceptions", body(0x08, 0), "exception", ""},
		{"touches the fuel global", body(opGlobalGet, 0, 0x1a), "global index 0 out of range", ""},
		{"touches a scratch local", body(opLocalGet, 0, 0x1a), "local index 0 out of range", ""},
		{"bad opcode", body(0xff), "unknown or unsupported opcode 0xff", ""},
		{"missing end", (&tmod{funcs: []tfunc{{body: []byte{opBlock, blockEmpty}}}}).bytes(), "missing end", ""},
		{"type error", body(opI32Add), "", ""},
		{"data out of bounds", (&tmod{funcs: []tfunc{{}}, mem: &[2]uint32{1, 0}, data: []tdata{{65535, []byte("xy")}}}).bytes(), "instantiate", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := rt.Validate(context.Background(), tc.wasm)
			if !errors.Is(err, ErrInvalidModule) {
				t.Fatalf("err = %v, want ErrInvalidModule", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want it to mention %q", err, tc.want)
			}
			var ie *ImportError
			if got := errors.As(err, &ie); got != (tc.import_ != "") || got && ie.Module+"."+ie.Name != tc.import_ {
				t.Errorf("ImportError = %v, want %q", ie, tc.import_)
			}
		})
	}
	checkServing(t, rt)
}

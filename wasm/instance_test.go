package wasm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ipdm/ipdm/pipeline/abi"
)

// Pipeline instances: reactor guests built from source (Go and C, see
// testdata/pipego and testdata/pipec) and hand-assembled ones for edge cases.

// recHost is a StreamHost that records what the guest sends. Store input 1
// reads from store; failOutput makes Output fail.
type recHost struct {
	outputs    [][]byte
	writes     []abi.Delta
	logs       []string
	store      map[string][]byte
	failOutput error
}

func (h *recHost) Output(rec []byte) error {
	if h.failOutput != nil {
		return h.failOutput
	}
	h.outputs = append(h.outputs, rec)
	return nil
}

func (h *recHost) StoreWrite(key, value []byte) error {
	h.writes = append(h.writes, abi.Delta{Key: key, Value: value})
	return nil
}

func (h *recHost) StoreGet(input int, key []byte) ([]byte, bool, error) {
	if input != 1 {
		return nil, false, fmt.Errorf("input %d is not a store", input)
	}
	v, ok := h.store[string(key)]
	return v, ok, nil
}

func (h *recHost) Log(line []byte) { h.logs = append(h.logs, string(line)) }

func (h *recHost) outputStrings() []string {
	var s []string
	for _, o := range h.outputs {
		s = append(s, string(o))
	}
	return s
}

// TestPipelineGuests runs the scenarios below on the Go guest
// (testdata/pipego) and the C guest (testdata/pipec), each built from source
// and compiled once.
func TestPipelineGuests(t *testing.T) {
	scenarios := []struct {
		name  string
		only  string // "go" or "c" for guest-specific scenarios
		check func(t *testing.T, rt *Runtime, m *Module)
	}{
		{"EchoPerBlock", "", instanceEchoPerBlock},
		{"StoreWriteAndGet", "", instanceStoreWriteAndGet},
		{"Deltas", "", instanceDeltas},
		{"MalformedInput", "go", instanceGoMalformedInput},
		{"MalformedInput", "c", instanceCMalformedInput},
		{"LogIsCapped", "", instanceLogIsCapped},
		{"ExplicitPanic", "", instanceExplicitPanic},
		{"GoRuntimePanic", "go", instanceGoRuntimePanic},
		{"Trap", "c", instanceCTrap},
		{"HostErrorTraps", "", instanceHostErrorTraps},
		{"FuelExhaustion", "", instanceFuelExhaustion},
		{"MemoryLimit", "c", instanceCMemoryLimit},
		{"MemoryLimit", "go", instanceGoMemoryLimit},
		{"IsDeterministic", "", instanceIsDeterministic},
		{"ManyCalls", "", instanceManyCalls},
		{"Cancel", "", instanceCancel},
	}
	for _, g := range []string{"go", "c"} {
		t.Run(g, func(t *testing.T) {
			rt := newRuntime(t, Config{})
			m := mustCompile(t, rt, pipeGuest(t, g))
			if m.Info().Kind != KindReactor {
				t.Fatalf("Kind = %v, want reactor", m.Info().Kind)
			}
			for _, s := range scenarios {
				if s.only == "" || s.only == g {
					t.Run(s.name, func(t *testing.T) { s.check(t, rt, m) })
				}
			}
		})
	}
}

// pipeGuest builds the Go or C test guest.
func pipeGuest(t testing.TB, lang string) []byte {
	t.Helper()
	if lang == "go" {
		return goReactor(t, "wasm/testdata/pipego")
	}
	return cReactor(t, "wasm/testdata/pipec/pipe.c")
}

func newInstance(t testing.TB, rt *Runtime, m *Module, opts InstanceOptions) *Instance {
	t.Helper()
	inst, err := rt.Instantiate(context.Background(), m, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := inst.Close(context.Background()); err != nil {
			t.Error(err)
		}
	})
	return inst
}

func mustCall(t testing.TB, inst *Instance, entry string, input []byte, host StreamHost, fuel uint64) CallResult {
	t.Helper()
	res, err := inst.Call(context.Background(), entry, input, host, fuel)
	if err != nil {
		t.Fatalf("call %s: %v", entry, err)
	}
	return res
}

func expectDead(t *testing.T, inst *Instance) {
	t.Helper()
	_, err := inst.Call(context.Background(), "echo", abi.EncodeInput(1, 0, nil), &recHost{}, 0)
	if !errors.Is(err, ErrInstanceDead) {
		t.Fatalf("call after a trap: %v, want ErrInstanceDead", err)
	}
}

func instanceEchoPerBlock(t *testing.T, rt *Runtime, m *Module) {
	inst := newInstance(t, rt, m, InstanceOptions{})
	if init := inst.InitResult(); init.FuelUsed == 0 {
		t.Errorf("InitResult = %+v, want fuel used by _initialize", init)
	}
	var fuel []uint64
	for call := 1; call <= 3; call++ {
		block := uint64(17_000_000 + call)
		recs := abi.EncodeRecords([][]byte{[]byte(`{"a":1}`), []byte("b")})
		h := &recHost{}
		res := mustCall(t, inst, "echo", abi.EncodeInput(block, 1_700_000_000, [][]byte{recs, []byte("params")}), h, 0)
		if res.Trap != "" {
			t.Fatalf("trap %q\n%s", res.Trap, res.Stderr)
		}
		want := []string{
			fmt.Sprintf("block=%d time=1700000000 inputs=2 calls=%d", block, call),
			string(recs), "params", `rec:{"a":1}`, "rec:b",
		}
		if got := h.outputStrings(); fmt.Sprintf("%q", got) != fmt.Sprintf("%q", want) {
			t.Fatalf("call %d outputs = %q, want %q", call, got, want)
		}
		if res.FuelUsed == 0 || res.MemoryPages == 0 {
			t.Errorf("result %+v lacks fuel or memory figures", res)
		}
		fuel = append(fuel, res.FuelUsed)
	}
	// The same calls on a fresh instance cost the same fuel.
	other := newInstance(t, rt, m, InstanceOptions{})
	for call := 1; call <= 3; call++ {
		recs := abi.EncodeRecords([][]byte{[]byte(`{"a":1}`), []byte("b")})
		res := mustCall(t, other, "echo", abi.EncodeInput(uint64(17_000_000+call), 1_700_000_000, [][]byte{recs, []byte("params")}), &recHost{}, 0)
		if res.FuelUsed != fuel[call-1] {
			t.Errorf("call %d: fuel %d on a second instance, %d on the first", call, res.FuelUsed, fuel[call-1])
		}
	}
}

func instanceStoreWriteAndGet(t *testing.T, rt *Runtime, m *Module) {
	big := bytes.Repeat([]byte("9"), 300) // larger than both guests' first buffer
	inst := newInstance(t, rt, m, InstanceOptions{})
	h := &recHost{store: map[string][]byte{"alice": []byte("10"), "big": big}}
	in := abi.EncodeInput(5, 0, [][]byte{abi.EncodeRecords([][]byte{[]byte("alice=5"), []byte("bob=-7"), []byte("big=1")}), nil})
	res := mustCall(t, inst, "store", in, h, 0)
	if res.Trap != "" {
		t.Fatalf("trap %q\n%s", res.Trap, res.Stderr)
	}
	wantWrites := "alice=5 bob=-7 big=1"
	var gotWrites []string
	for _, d := range h.writes {
		gotWrites = append(gotWrites, string(d.Key)+"="+string(d.Value))
	}
	if strings.Join(gotWrites, " ") != wantWrites {
		t.Errorf("writes = %q, want %s", gotWrites, wantWrites)
	}
	want := []string{"alice=5|10", "bob=-7|<absent>", "big=1|" + string(big)}
	if got := h.outputStrings(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("outputs = %q, want %q", got, want)
	}
}

func instanceDeltas(t *testing.T, rt *Runtime, m *Module) {
	inst := newInstance(t, rt, m, InstanceOptions{})
	frame := abi.EncodeDeltas([]abi.Delta{{Key: []byte("alice"), Value: []byte("15")}, {Key: []byte("bob"), Value: []byte("")}, {Key: []byte(""), Value: []byte("-3")}})
	h := &recHost{}
	if res := mustCall(t, inst, "deltas", abi.EncodeInput(1, 0, [][]byte{frame}), h, 0); res.Trap != "" {
		t.Fatalf("%+v", res)
	}
	if got, want := fmt.Sprintf("%q", h.outputStrings()), `["alice=15" "bob=" "=-3"]`; got != want {
		t.Fatalf("outputs %s, want %s", got, want)
	}
	// A frame with a trailing byte is rejected by the guest's decoder.
	res := mustCall(t, inst, "deltas", abi.EncodeInput(2, 0, [][]byte{append(frame, 0)}), &recHost{}, 0)
	if res.Trap != "deltas: malformed frame" {
		t.Fatalf("Trap = %q", res.Trap)
	}
}

func instanceGoMalformedInput(t *testing.T, rt *Runtime, m *Module) {
	inst := newInstance(t, rt, m, InstanceOptions{})
	res := mustCall(t, inst, "echo", []byte("short"), &recHost{}, 0)
	if want := "guest: read input: abi: malformed frame: input header needs 20 bytes, have 5"; res.Trap != want {
		t.Fatalf("Trap = %q, want %q", res.Trap, want)
	}
}

func instanceCMalformedInput(t *testing.T, rt *Runtime, m *Module) {
	inst := newInstance(t, rt, m, InstanceOptions{})
	in := abi.EncodeInput(1, 0, [][]byte{[]byte("abc")})
	res := mustCall(t, inst, "echo", in[:len(in)-1], &recHost{}, 0)
	if res.Trap != "pipec: malformed input" {
		t.Fatalf("Trap = %q", res.Trap)
	}
}

func instanceLogIsCapped(t *testing.T, rt *Runtime, m *Module) {
	inst := newInstance(t, rt, m, InstanceOptions{MaxLogBytes: 50})
	for range 2 { // the cap is per call
		h := &recHost{}
		res := mustCall(t, inst, "log", abi.EncodeInput(7, 0, nil), h, 0)
		if res.Trap != "" || res.LogsDropped != 1 {
			t.Fatalf("result %+v, want one dropped line", res)
		}
		if fmt.Sprint(h.logs) != "[hello from block 7]" || fmt.Sprint(h.outputStrings()) != "[logged]" {
			t.Fatalf("logs %q outputs %q", h.logs, h.outputStrings())
		}
	}
}

func instanceExplicitPanic(t *testing.T, rt *Runtime, m *Module) {
	inst := newInstance(t, rt, m, InstanceOptions{})
	res := mustCall(t, inst, "explicit_panic", abi.EncodeInput(9, 0, [][]byte{[]byte("no logs")}), &recHost{}, 0)
	if want := "bad block 9: no logs"; res.Trap != want {
		t.Fatalf("Trap = %q, want %q (%+v)", res.Trap, want, res)
	}
	expectDead(t, inst)
}

func instanceGoRuntimePanic(t *testing.T, rt *Runtime, m *Module) {
	inst := newInstance(t, rt, m, InstanceOptions{})
	res := mustCall(t, inst, "index_panic", abi.EncodeInput(5, 0, nil), &recHost{}, 0)
	if want := "panic: runtime error: index out of range [5] with length 3"; res.Trap != want {
		t.Fatalf("Trap = %q, want %q\nstderr: %s", res.Trap, want, res.Stderr)
	}
	if !bytes.Contains(res.Stderr, []byte("goroutine ")) {
		t.Errorf("stderr lacks the traceback: %s", res.Stderr)
	}
	expectDead(t, inst)
}

func instanceCTrap(t *testing.T, rt *Runtime, m *Module) {
	inst := newInstance(t, rt, m, InstanceOptions{})
	res := mustCall(t, inst, "trap", nil, nil, 0)
	if res.Trap != "unreachable" {
		t.Fatalf("Trap = %q, want unreachable", res.Trap)
	}
	expectDead(t, inst)
}

func instanceHostErrorTraps(t *testing.T, rt *Runtime, m *Module) {
	inst := newInstance(t, rt, m, InstanceOptions{})
	sinkErr := errors.New("output rejected: record too large")
	res := mustCall(t, inst, "echo", abi.EncodeInput(3, 0, nil), &recHost{failOutput: sinkErr}, 0)
	if res.Trap != sinkErr.Error() || res.HostError != sinkErr {
		t.Fatalf("Trap = %q, HostError = %v; want the host's error", res.Trap, res.HostError)
	}
	expectDead(t, inst)

	// A nil host fails outputs the same way.
	inst = newInstance(t, rt, m, InstanceOptions{})
	res = mustCall(t, inst, "echo", abi.EncodeInput(3, 0, nil), nil, 0)
	if res.Trap != errNoHost.Error() {
		t.Fatalf("nil host: Trap = %q", res.Trap)
	}
}

func instanceFuelExhaustion(t *testing.T, rt *Runtime, m *Module) {
	const budget = 2_000_003
	for range 2 {
		inst := newInstance(t, rt, m, InstanceOptions{})
		res := mustCall(t, inst, "loop", abi.EncodeInput(1, 0, nil), &recHost{}, budget)
		if !res.OutOfFuel || res.Trap != TrapOutOfFuel || res.FuelUsed != budget {
			t.Fatalf("%+v, want out of fuel after %d", res, budget)
		}
		expectDead(t, inst)
	}
	// The budget is per call: many small calls may use more in total.
	inst := newInstance(t, rt, m, InstanceOptions{})
	in := abi.EncodeInput(1, 0, nil)
	one := mustCall(t, inst, "echo", in, &recHost{}, 0).FuelUsed
	for range 5 {
		if res := mustCall(t, inst, "echo", in, &recHost{}, one*2); res.Trap != "" {
			t.Fatalf("echo with budget %d: %+v", one*2, res)
		}
	}
}

func instanceCMemoryLimit(t *testing.T, rt *Runtime, m *Module) {
	const pages = 40
	h := &recHost{}
	res := mustCall(t, newInstance(t, rt, m, InstanceOptions{MemoryPages: pages}), "grow", nil, h, 0)
	if res.Trap != "" || fmt.Sprint(h.outputStrings()) != fmt.Sprintf("[pages=%d]", pages) || res.MemoryPages != pages {
		t.Fatalf("%+v, outputs %q; want memory.grow to stop at %d pages", res, h.outputStrings(), pages)
	}
	_, err := rt.Instantiate(context.Background(), m, InstanceOptions{MemoryPages: 1})
	var te *TrapError
	if !errors.As(err, &te) || !strings.Contains(te.Result.Trap, "below the module's initial memory") {
		t.Fatalf("limit below initial memory: %v", err)
	}
}

func instanceGoMemoryLimit(t *testing.T, rt *Runtime, m *Module) {
	const pages = 512 // 32 MiB
	var first string
	for range 2 {
		res := mustCall(t, newInstance(t, rt, m, InstanceOptions{MemoryPages: pages}), "grow", abi.EncodeInput(1, 0, nil), &recHost{}, 0)
		if !strings.Contains(res.Trap, "out of memory") || res.MemoryPages > pages {
			t.Fatalf("%+v\nstderr: %s", res, res.Stderr)
		}
		if first == "" {
			first = res.Trap
		} else if res.Trap != first {
			t.Fatalf("trap differs: %q vs %q", res.Trap, first)
		}
	}
}

func instanceIsDeterministic(t *testing.T, rt *Runtime, m *Module) {
	run := func(seed string) ([]string, []byte) {
		inst := newInstance(t, rt, m, InstanceOptions{Seed: []byte(seed)})
		h := &recHost{}
		var stdout []byte
		for b := range uint64(3) {
			res := mustCall(t, inst, "det", abi.EncodeInput(b, 0, nil), h, 0)
			if res.Trap != "" {
				t.Fatalf("%+v\n%s", res, res.Stderr)
			}
			stdout = append(stdout, res.Stdout...)
		}
		return h.outputStrings(), stdout
	}
	a, aout := run("seed-1")
	b, bout := run("seed-1")
	if fmt.Sprint(a) != fmt.Sprint(b) || !bytes.Equal(aout, bout) {
		t.Fatalf("same seed, different outputs:\n%q\n%q", a, b)
	}
	if string(aout) != strings.Repeat("stdout line\n", 3) {
		t.Errorf("stdout = %q", aout)
	}
	if !strings.HasPrefix(a[0], fmt.Sprintf("now=%d", DefaultEpoch.Unix())) || a[0] == a[1] {
		t.Errorf("clock: %q, want the virtual clock starting at DefaultEpoch and advancing", a)
	}
	c, _ := run("seed-2")
	randOf := func(s string) string { _, r, _ := strings.Cut(s, "rand="); r, _, _ = strings.Cut(r, " "); return r }
	if randOf(c[0]) == randOf(a[0]) {
		t.Errorf("different seeds, same random bytes: %q", c[0])
	}
}

func instanceManyCalls(t *testing.T, rt *Runtime, m *Module) {
	inst := newInstance(t, rt, m, InstanceOptions{})
	h := &recHost{}
	const calls = 500
	for i := 1; i <= calls; i++ {
		h.outputs = h.outputs[:0]
		res := mustCall(t, inst, "echo", abi.EncodeInput(uint64(i), 0, [][]byte{bytes.Repeat([]byte{'x'}, i)}), h, 0)
		if res.Trap != "" {
			t.Fatalf("call %d: %+v\n%s", i, res, res.Stderr)
		}
		if len(h.outputs) != 2 || string(h.outputs[0]) != fmt.Sprintf("block=%d time=0 inputs=1 calls=%d", i, i) || len(h.outputs[1]) != i {
			t.Fatalf("call %d: outputs %q", i, h.outputStrings())
		}
	}
}

func instanceCancel(t *testing.T, rt *Runtime, m *Module) {
	inst := newInstance(t, rt, m, InstanceOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	start := time.Now()
	_, err := inst.Call(ctx, "loop", abi.EncodeInput(1, 0, nil), &recHost{}, 1<<62)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("cancel took %v", d)
	}
	expectDead(t, inst)
	// A call with a context already done does not kill the instance.
	inst = newInstance(t, rt, m, InstanceOptions{})
	if _, err := inst.Call(ctx, "echo", abi.EncodeInput(1, 0, nil), &recHost{}, 0); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	if res := mustCall(t, inst, "echo", abi.EncodeInput(1, 0, nil), &recHost{}, 0); res.Trap != "" {
		t.Fatalf("%+v", res)
	}
}

func TestRuntimeCloseStopsCalls(t *testing.T) {
	rt, err := New(context.Background(), Config{})
	if err != nil {
		t.Fatal(err)
	}
	m := mustCompile(t, rt, pipeGuest(t, "c"))
	inst, err := rt.Instantiate(context.Background(), m, InstanceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		_, err := inst.Call(context.Background(), "loop", nil, nil, 1<<62)
		errc <- err
	}()
	time.Sleep(50 * time.Millisecond)
	if err := rt.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; !errors.Is(err, ErrClosed) {
		t.Fatalf("call during Close: %v, want ErrClosed", err)
	}
	if err := inst.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := inst.Call(context.Background(), "nop", nil, nil, 0); !errors.Is(err, ErrInstanceClosed) {
		t.Fatalf("call after Close: %v", err)
	}
	if _, err := rt.Instantiate(context.Background(), m, InstanceOptions{}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Instantiate after Close: %v", err)
	}
}

func TestInstanceCallsAreSerialised(t *testing.T) {
	rt := newRuntime(t, Config{})
	inst := newInstance(t, rt, mustCompile(t, rt, pipeGuest(t, "c")), InstanceOptions{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				if res, err := inst.Call(context.Background(), "echo", abi.EncodeInput(1, 0, nil), &recHost{}, 0); err != nil || res.Trap != "" {
					t.Errorf("%+v %v", res, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	h := &recHost{}
	mustCall(t, inst, "echo", abi.EncodeInput(1, 0, nil), h, 0)
	if want := "block=1 time=0 inputs=0 calls=201"; string(h.outputs[0]) != want {
		t.Fatalf("output %q, want %q", h.outputs[0], want)
	}
}

// Hand-assembled reactors.

var (
	tEntry   = funcType{params: []byte{valI32}}
	tOutput  = funcType{params: []byte{valI32, valI32}}
	tStoreGt = funcType{params: []byte{valI32, valI32, valI32, valI32, valI32}, results: []byte{valI32}}
)

// reactor returns a module importing ipdm.name (of type typ) and exporting
// entry "f" of type (i32) -> () with body.
func reactor(name string, typ funcType, body []byte) []byte {
	return (&tmod{
		types:   []funcType{tEntry, typ},
		imports: []timport{{"ipdm", name, 1}},
		funcs:   []tfunc{{typ: 0, body: body}},
		mem:     &[2]uint32{1, 0},
		exports: []texport{{"f", 0, 1}},
		noStart: true,
	}).bytes()
}

func TestReactorValidation(t *testing.T) {
	rt := newRuntime(t, Config{})
	ctx := context.Background()

	// A reactor compiles, but only Instantiate runs it.
	m := mustCompile(t, rt, reactor("output", tOutput, cat(i32c(0), i32c(4), op1(opCall, 0))))
	if m.Info().Kind != KindReactor {
		t.Fatalf("Kind = %v", m.Info().Kind)
	}
	if _, err := rt.Run(ctx, m, RunSpec{}); !errors.Is(err, ErrInvalidModule) || !strings.Contains(err.Error(), "reactor") {
		t.Fatalf("Run(reactor) = %v, want ErrInvalidModule", err)
	}
	cmd := mustCompile(t, rt, exitSeven)
	if cmd.Info().Kind != KindCommand {
		t.Fatalf("Kind = %v", cmd.Info().Kind)
	}
	if _, err := rt.Instantiate(ctx, cmd, InstanceOptions{}); !errors.Is(err, ErrInvalidModule) {
		t.Fatalf("Instantiate(command) = %v, want ErrInvalidModule", err)
	}

	for _, tc := range []struct {
		name, want string
		wasm       []byte
	}{
		{"command importing ipdm.output", "only reactor modules", (&tmod{types: []funcType{tVoid, tOutput}, imports: []timport{{"ipdm", "output", 1}}, funcs: []tfunc{{}}, mem: &[2]uint32{1, 0}}).bytes()},
		{"wrong store_get type", "imported with type", reactor("store_get", tOutput, nil)},
		{"_initialize with params", "want () -> ()", (&tmod{types: []funcType{tEntry}, funcs: []tfunc{{}}, exports: []texport{{"_initialize", 0, 0}}, noStart: true}).bytes()},
		{"_start and _initialize", "both _start and _initialize", (&tmod{funcs: []tfunc{{}}, exports: []texport{{"_initialize", 0, 0}}}).bytes()},
		{"only _initialize", "no other exported function", (&tmod{funcs: []tfunc{{}}, exports: []texport{{"_initialize", 0, 0}}, noStart: true}).bytes()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := rt.Validate(ctx, tc.wasm)
			if !errors.Is(err, ErrInvalidModule) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want ErrInvalidModule mentioning %q", err, tc.want)
			}
		})
	}
	checkServing(t, rt)
}

func TestReactorCalls(t *testing.T) {
	rt := newRuntime(t, Config{})
	ctx := context.Background()

	// Entry points must exist and have type (i32) -> (); a bad name or type
	// does not kill the instance.
	two := (&tmod{
		types:   []funcType{tEntry, tVoid},
		funcs:   []tfunc{{typ: 0}, {typ: 1}},
		exports: []texport{{"f", 0, 0}, {"g", 0, 1}},
		noStart: true,
	}).bytes()
	inst := newInstance(t, rt, mustCompile(t, rt, two), InstanceOptions{})
	for _, entry := range []string{"missing", "g", "_initialize"} {
		if _, err := inst.Call(ctx, entry, nil, nil, 0); !errors.Is(err, ErrInvalidCall) {
			t.Errorf("Call(%s) = %v, want ErrInvalidCall", entry, err)
		}
	}
	if res := mustCall(t, inst, "f", nil, nil, 0); res.Trap != "" || res.FuelUsed == 0 {
		t.Fatalf("%+v", res)
	}

	// A reactor without a () -> () type still gets its refuel import.
	noVoid := (&tmod{types: []funcType{tEntry}, funcs: []tfunc{{}}, exports: []texport{{"f", 0, 0}}, noStart: true}).bytes()
	if res := mustCall(t, newInstance(t, rt, mustCompile(t, rt, noVoid), InstanceOptions{}), "f", nil, nil, 0); res.Trap != "" {
		t.Fatalf("%+v", res)
	}

	// Call depth is bounded per call.
	recurse := (&tmod{types: []funcType{tEntry}, funcs: []tfunc{{body: cat(op1(opLocalGet, 0), op1(opCall, 0))}}, exports: []texport{{"f", 0, 0}}, noStart: true}).bytes()
	res := mustCall(t, newInstance(t, rt, mustCompile(t, rt, recurse), InstanceOptions{MaxCallDepth: 1000}), "f", nil, nil, 0)
	if res.Trap != TrapCallDepth {
		t.Fatalf("recursion: %+v", res)
	}

	// _initialize runs once, metered; a trap there is a TrapError.
	initTrap := (&tmod{
		types:   []funcType{tEntry, tVoid},
		funcs:   []tfunc{{typ: 0}, {typ: 1, body: []byte{opUnreachable}}},
		exports: []texport{{"f", 0, 0}, {"_initialize", 0, 1}},
		noStart: true,
	}).bytes()
	_, err := rt.Instantiate(ctx, mustCompile(t, rt, initTrap), InstanceOptions{})
	var te *TrapError
	if !errors.As(err, &te) || te.Func != "_initialize" || te.Result.Trap != "unreachable" {
		t.Fatalf("Instantiate = %v, want a TrapError in _initialize", err)
	}
	_, err = rt.Instantiate(ctx, mustCompile(t, rt, (&tmod{
		types:   []funcType{tEntry, tVoid},
		funcs:   []tfunc{{typ: 0}, {typ: 1, body: cat([]byte{opLoop, blockEmpty}, op1(opBr, 0), []byte{opEnd})}},
		exports: []texport{{"f", 0, 0}, {"_initialize", 0, 1}},
		noStart: true,
	}).bytes()), InstanceOptions{InitFuel: 10_000})
	if !errors.As(err, &te) || !te.Result.OutOfFuel || te.Result.FuelUsed != 10_000 {
		t.Fatalf("Instantiate = %v, want out of fuel in _initialize", err)
	}

	// Ranges outside memory trap with the function's name.
	for _, tc := range []struct {
		name, imp string
		typ       funcType
		body      []byte
		want      string
	}{
		{"output", "output", tOutput, cat(i32c(65530), i32c(10), op1(opCall, 0)), "ipdm.output: record [65530, 65540) is outside memory"},
		{"input", "input", tEntry, cat(i32c(65535), op1(opCall, 0)), "ipdm.input: destination [65535, 65555) is outside memory"},
		{"log", "log", tOutput, cat(i32c(-1), i32c(2), op1(opCall, 0)), "ipdm.log: line [4294967295, 4294967297) is outside memory"},
		{"panic", "panic", tOutput, cat(i32c(0), i32c(70000), op1(opCall, 0)), "ipdm.panic: message [0, 70000) is outside memory"},
		{"empty panic", "panic", tOutput, cat(i32c(0), i32c(0), op1(opCall, 0)), "ipdm.panic: empty message"},
		{"store_get buffer", "store_get", tStoreGt, cat(i32c(1), i32c(0), i32c(5), i32c(65535), i32c(10), op1(opCall, 0), []byte{0x1a}), "ipdm.store_get: buffer [65535, 65545) is outside memory"},
		{"store_get bad input", "store_get", tStoreGt, cat(i32c(0), i32c(0), i32c(5), i32c(0), i32c(10), op1(opCall, 0), []byte{0x1a}), "input 0 is not a store"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inst := newInstance(t, rt, mustCompile(t, rt, reactor(tc.imp, tc.typ, tc.body)), InstanceOptions{})
			h := &recHost{store: map[string][]byte{"\x00\x00\x00\x00\x00": bytes.Repeat([]byte("v"), 20)}}
			res := mustCall(t, inst, "f", abi.EncodeInput(0, 0, nil), h, 0)
			if res.Trap != tc.want {
				t.Fatalf("Trap = %q, want %q", res.Trap, tc.want)
			}
		})
	}
	checkServing(t, rt)
}

func TestExitTrap(t *testing.T) {
	for _, tc := range []struct {
		name   string
		code   uint32
		stderr string
		want   string
	}{
		{"plain exit", 3, "", "exit code 3"},
		{"exit 0", 0, "bye\n", "exit code 0"},
		{"go panic", 2, "panic: boom\n\ngoroutine 1 [running]:\nmain.f()\n", "panic: boom"},
		{"after output", 2, "some log\npanic: runtime error: integer divide by zero\n[signal]\n\ngoroutine 1 [running]:\n", "panic: runtime error: integer divide by zero\n[signal]"},
		{"multi-line message", 2, "panic: line one\nline two\ngoroutine 1 [running]:\n", "panic: line one\nline two"},
		{"fatal error", 2, "runtime: out of memory: cannot allocate 1048576-byte block (33554432 in use)\nfatal error: out of memory\n\ngoroutine 1 [running]:\n",
			"runtime: out of memory: cannot allocate 1048576-byte block (33554432 in use)\nfatal error: out of memory"},
		{"not at line start", 1, "no panic: here\n", "exit code 1"},
		{"long", 2, "panic: " + strings.Repeat("x", 10000), "panic: " + strings.Repeat("x", maxTrapBytes-7)},
		{"invalid utf-8", 2, "panic: \xff\n", "panic: \uFFFD"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := exitTrap(tc.code, []byte(tc.stderr)); got != tc.want {
				t.Errorf("exitTrap = %q, want %q", got, tc.want)
			}
		})
	}
}

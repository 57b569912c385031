package pipelinetest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/ipdm/ipdm/pipeline/abi"
	"github.com/ipdm/ipdm/wasm"
)

// Recorder is the StreamHost of the tests: it keeps what the guest sends.
// The examples read no store: StoreGet fails.
type Recorder struct {
	Outputs [][]byte
	Writes  []abi.Delta
	Logs    []string
}

// Output keeps rec.
func (r *Recorder) Output(rec []byte) error { r.Outputs = append(r.Outputs, rec); return nil }

// StoreWrite keeps the write.
func (r *Recorder) StoreWrite(k, v []byte) error {
	r.Writes = append(r.Writes, abi.Delta{Key: k, Value: v})
	return nil
}

// StoreGet fails: the examples read no store.
func (r *Recorder) StoreGet(int, []byte) ([]byte, bool, error) {
	return nil, false, errors.New("pipelinetest: the example reads no store")
}

// Log keeps line.
func (r *Recorder) Log(line []byte) { r.Logs = append(r.Logs, string(line)) }

// Guest is a module binary compiled once (compiling takes seconds) and
// instantiated afresh for each test. The owner (TestMain) calls Close.
type Guest struct {
	bin  []byte
	once sync.Once
	rt   *wasm.Runtime
	mod  *wasm.Module
	err  error
}

// NewGuest returns a Guest for the module binary bin; nothing is compiled
// until the first Instance.
func NewGuest(bin []byte) *Guest { return &Guest{bin: bin} }

// Instance instantiates the module afresh; the instance is closed when
// the test ends. A compile or instantiate error fails the test.
func (g *Guest) Instance(t testing.TB) *wasm.Instance {
	t.Helper()
	ctx := context.Background()
	g.once.Do(func() {
		if g.rt, g.err = wasm.New(ctx, wasm.Config{}); g.err == nil {
			g.mod, g.err = g.rt.Compile(ctx, g.bin)
		}
	})
	if g.err != nil {
		t.Fatal(g.err)
	}
	inst, err := g.rt.Instantiate(ctx, g.mod, wasm.InstanceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { inst.Close(ctx) })
	return inst
}

// Close closes the runtime, if Instance made one. Call it once, when the
// tests are done.
func (g *Guest) Close() {
	if g.rt != nil {
		g.rt.Close(context.Background())
	}
}

// Call runs one entrypoint and fails the test on an error or a trap.
func Call(t testing.TB, inst *wasm.Instance, entry string, input []byte) *Recorder {
	t.Helper()
	var rec Recorder
	res, err := inst.Call(context.Background(), entry, input, &rec, 0)
	if err != nil {
		t.Fatal(err)
	}
	if res.Trap != "" {
		t.Fatalf("%s trapped: %s\n%s", entry, res.Trap, res.Stderr)
	}
	return &rec
}

// BenchNativeVsWasm runs frames through native (the module's logic
// compiled natively, doing the guest's whole job on one framed input) and
// through entry of inst in the same iterations, and reports units/s of
// each (units is the work in all frames, such as a count of logs, named
// unit) and wasm/native, the Wasm build's throughput as a fraction of
// native.
func BenchNativeVsWasm(b *testing.B, inst *wasm.Instance, entry string, frames [][]byte, native func(frame []byte) error, units float64, unit string) {
	var rec Recorder
	ctx := context.Background()
	var nativeTime, inWasm time.Duration
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		for _, f := range frames {
			if err := native(f); err != nil {
				b.Fatal(err)
			}
		}
		mid := time.Now()
		for _, f := range frames {
			rec.Outputs = rec.Outputs[:0]
			res, err := inst.Call(ctx, entry, f, &rec, 0)
			if err != nil || res.Trap != "" {
				b.Fatalf("%v %s", err, res.Trap)
			}
		}
		nativeTime, inWasm = nativeTime+mid.Sub(start), inWasm+time.Since(mid)
	}
	b.StopTimer()
	n := units * float64(b.N)
	b.ReportMetric(n/nativeTime.Seconds(), "native-"+unit+"/s")
	b.ReportMetric(n/inWasm.Seconds(), "wasm-"+unit+"/s")
	b.ReportMetric(nativeTime.Seconds()/inWasm.Seconds(), "wasm/native")
}

package wasm

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/ipdm/ipdm/pipeline/abi"
)

// BenchmarkInstanceCall measures the per-call cost of Instance.Call on the
// Go and C test guests: "nop" (the entrypoint returns at once: the fixed
// overhead of a call) and "echo" (reads a 1 KiB framed input and emits
// three records), metered and unmetered, in one loop so that the ratios
// compare runs under the same machine load. The baseline is a native Go
// call of the same echo logic through a StreamHost.
//
//	go test ./wasm -run '^$' -bench InstanceCall -benchtime 20000x
func BenchmarkInstanceCall(b *testing.B) {
	ctx := context.Background()
	rt := newRuntime(b, Config{})
	raw := newRuntime(b, Config{})
	raw.noInstr = true
	input := abi.EncodeInput(18_000_000, 1_700_000_000, [][]byte{
		abi.EncodeRecords([][]byte{bytes.Repeat([]byte("r"), 1000)}), []byte("params"),
	})
	h := &recHost{}
	type variant struct {
		name, entry string
		inst        *Instance
	}
	var variants []variant
	for _, lang := range []string{"c", "go"} {
		wasm := pipeGuest(b, lang)
		metered := newInstance(b, rt, mustCompile(b, rt, wasm), InstanceOptions{})
		unmetered := newInstance(b, raw, mustCompile(b, raw, wasm), InstanceOptions{})
		variants = append(variants,
			variant{lang + "-nop", "nop", metered},
			variant{lang + "-nop-unmetered", "nop", unmetered},
			variant{lang + "-echo", "echo", metered},
			variant{lang + "-echo-unmetered", "echo", unmetered},
		)
	}
	native := func() {
		in, err := abi.DecodeInput(input)
		if err != nil {
			b.Fatal(err)
		}
		_ = h.Output([]byte("header"))
		for _, x := range in.Inputs {
			_ = h.Output(bytes.Clone(x))
		}
	}
	took := make([]time.Duration, len(variants))
	var nativeTook time.Duration
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		native()
		nativeTook += time.Since(start)
		h.outputs = h.outputs[:0]
		for i, v := range variants {
			start := time.Now()
			res, err := v.inst.Call(ctx, v.entry, input, h, 0)
			took[i] += time.Since(start)
			if err != nil || res.Trap != "" {
				b.Fatalf("%s: %+v %v", v.name, res, err)
			}
			h.outputs = h.outputs[:0]
		}
	}
	b.StopTimer()
	perCall := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / float64(b.N) }
	b.ReportMetric(perCall(nativeTook), "native-echo-ns/call")
	for i, v := range variants {
		b.ReportMetric(perCall(took[i]), v.name+"-ns/call")
	}
	for i := 0; i < len(variants); i += 2 {
		b.ReportMetric(float64(took[i])/float64(took[i+1]), variants[i].name+"-x-unmetered")
	}
	b.ReportMetric(float64(took[2])/float64(nativeTook), "c-echo-x-native")
	b.ReportMetric(float64(took[6])/float64(nativeTook), "go-echo-x-native")
}

// BenchmarkInstantiate measures Instantiate (including _initialize) plus
// Close of an already compiled module, and reports it as a multiple of one
// "nop" call: what reusing an instance across a segment's blocks saves per
// block.
//
//	go test ./wasm -run '^$' -bench Instantiate -benchtime 20x
func BenchmarkInstantiate(b *testing.B) {
	ctx := context.Background()
	rt := newRuntime(b, Config{})
	for _, lang := range []string{"c", "go"} {
		b.Run(lang, func(b *testing.B) {
			m := mustCompile(b, rt, pipeGuest(b, lang))
			inst := newInstance(b, rt, m, InstanceOptions{})
			const calls = 1000
			start := time.Now()
			for range calls {
				if _, err := inst.Call(ctx, "nop", nil, nil, 0); err != nil {
					b.Fatal(err)
				}
			}
			call := time.Since(start) / calls
			b.ResetTimer()
			for b.Loop() {
				inst, err := rt.Instantiate(ctx, m, InstanceOptions{})
				if err != nil {
					b.Fatal(err)
				}
				if err := inst.Close(ctx); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			perOp := b.Elapsed() / time.Duration(b.N)
			b.ReportMetric(float64(perOp.Microseconds()), "µs/instantiate")
			b.ReportMetric(float64(perOp)/float64(call), "x-nop-call")
		})
	}
}

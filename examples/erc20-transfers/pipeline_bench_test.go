package erc20transfers_test

import (
	"context"
	"sync"
	"testing"

	erc20transfers "github.com/ipdm/ipdm/examples/erc20-transfers"
	"github.com/ipdm/ipdm/examples/erc20-transfers/erc20"
	"github.com/ipdm/ipdm/pipeline/abi"
	"github.com/ipdm/ipdm/pipeline/engine"
	"github.com/ipdm/ipdm/pipeline/manifest"
	"github.com/ipdm/ipdm/pipeline/source"
	"github.com/ipdm/ipdm/wasm"
)

// natives are the two modules as native Go: the same package erc20 code
// the Wasm guest runs, behind the same framed input and host calls.
func natives() map[string]engine.NativeModule {
	// A Mapper keeps buffers between blocks, like the guest's; segments run
	// in parallel, so each call takes one of its own.
	mappers := sync.Pool{New: func() any { return new(erc20.Mapper) }}
	return map[string]engine.NativeModule{
		"erc20_transfers": func(b []byte, h wasm.StreamHost) error {
			in, err := abi.DecodeInput(b)
			if err != nil {
				return err
			}
			m := mappers.Get().(*erc20.Mapper)
			defer mappers.Put(m)
			var werr error
			err = m.Map(in.Inputs[0], func(row []byte) {
				if e := h.Output(row); e != nil && werr == nil {
					werr = e
				}
			})
			if err != nil {
				return err
			}
			return werr
		},
		"token_volume": func(b []byte, h wasm.StreamHost) error {
			in, err := abi.DecodeInput(b)
			if err != nil {
				return err
			}
			rows, err := abi.DecodeRecords(in.Inputs[0])
			if err != nil {
				return err
			}
			var werr error
			err = erc20.Volume(rows, func(k, v []byte) {
				if e := h.StoreWrite(k, v); e != nil && werr == nil {
					werr = e
				}
			})
			if err != nil {
				return err
			}
			return werr
		},
	}
}

// fixtureBlocks returns the embedded fixture's two blocks repeated n times
// under consecutive block numbers, as the engine receives them.
func fixtureBlocks(tb testing.TB, n int) ([]engine.BlockData, int) {
	bs, err := source.DecodeETL(erc20transfers.FixtureETL())
	if err != nil {
		tb.Fatal(err)
	}
	var out []engine.BlockData
	logs := 0
	for i := range n {
		b := bs[i%len(bs)]
		enc, err := b.EncodeLogs()
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, engine.BlockData{Number: uint64(1000 + i), Time: b.Timestamp, Ref: b.Hash,
			Sources: map[manifest.SourceKind][]byte{manifest.SourceEthereumLogs: enc}})
		logs += len(b.Logs)
	}
	return out, logs
}

func plan(tb testing.TB) *engine.Plan {
	m, err := manifest.Decode(erc20transfers.Manifest)
	if err != nil {
		tb.Fatal(err)
	}
	w := map[string][]byte{}
	for _, mod := range m.Modules {
		w[mod.Name] = erc20transfers.Wasm
	}
	p, err := engine.NewPlan(context.Background(), erc20transfers.Manifest, m, w, "")
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

// TestNativeMatchesWasm: the engine gives the same output and store CIDs
// with the modules as Wasm and as native Go — what the benchmark compares
// is the same work.
func TestNativeMatchesWasm(t *testing.T) {
	ctx := context.Background()
	rt, err := wasm.New(ctx, wasm.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close(ctx)
	blocks, _ := fixtureBlocks(t, 4)
	var cids []string
	for _, opts := range []engine.RunOptions{{}, {Native: natives()}} {
		res, err := engine.Run(ctx, engine.Config{Plan: plan(t), Blocks: blocks, SegmentSize: 2, Executor: &engine.Local{Runtime: rt, Options: opts}})
		if err != nil {
			t.Fatal(err)
		}
		cids = append(cids, res.OutputCID.String()+" "+res.StoreCIDs["token_volume"].String())
	}
	if cids[0] != cids[1] {
		t.Fatalf("Wasm %s, native %s", cids[0], cids[1])
	}
}

// BenchmarkPipelineWasmVsNative runs the erc20-transfers pipeline (map and
// store, 40 mainnet blocks of logs in one segment, no cache) through
// the engine with its modules as Wasm and, in the same process, as native
// Go, and reports logs/s for both and their ratio. The engine's own work
// (framing, output checks, proof-of-processing digests, store merges) is
// in both.
//
//	go test ./examples/erc20-transfers -run '^$' -bench PipelineWasmVsNative -benchtime 5x
func BenchmarkPipelineWasmVsNative(b *testing.B) {
	ctx := context.Background()
	rt, err := wasm.New(ctx, wasm.Config{CacheDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer rt.Close(ctx)
	blocks, logs := fixtureBlocks(b, 40)
	p := plan(b)
	run := func(opts engine.RunOptions) float64 {
		res, err := engine.Run(ctx, engine.Config{Plan: p, Blocks: blocks, Parallel: 1, Executor: &engine.Local{Runtime: rt, Options: opts}})
		if err != nil {
			b.Fatal(err)
		}
		return float64(logs) / res.Elapsed.Seconds()
	}
	run(engine.RunOptions{}) // compile once
	var w, n float64
	for i := 0; i < b.N; i++ {
		w += run(engine.RunOptions{})
		n += run(engine.RunOptions{Native: natives()})
	}
	b.ReportMetric(w/float64(b.N), "wasm-logs/s")
	b.ReportMetric(n/float64(b.N), "native-logs/s")
	b.ReportMetric(w/n, "wasm/native")
}

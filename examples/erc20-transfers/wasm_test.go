package erc20transfers

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math/big"
	"os"
	"strings"
	"testing"

	"github.com/ipdm/ipdm/examples/erc20-transfers/erc20"
	"github.com/ipdm/ipdm/examples/internal/pipelinetest"
	"github.com/ipdm/ipdm/pipeline/abi"
	"github.com/ipdm/ipdm/pipeline/reference"
	"github.com/ipdm/ipdm/pipeline/source"
	"github.com/ipdm/ipdm/wasm"
)

// The Wasm test harness (compile once, instantiate per test, a recording
// StreamHost, the native-vs-Wasm benchmark loop) is shared with the
// spl-transfers example: it lives in examples/internal/pipelinetest.

// guest is the embedded module, compiled on first use; TestMain closes it.
var guest = pipelinetest.NewGuest(Wasm)

func TestMain(m *testing.M) {
	code := m.Run()
	guest.Close()
	os.Exit(code)
}

// call runs one entrypoint and fails the test on a trap.
var call = pipelinetest.Call

// fixtureBlocks decodes the embedded fixture.
func fixtureBlocks(t testing.TB) []source.Block {
	t.Helper()
	blocks, txs, logs := FixtureETL()
	bs, err := source.DecodeETL(blocks, txs, logs)
	if err != nil {
		t.Fatal(err)
	}
	return bs
}

func frame(t testing.TB, b source.Block) []byte {
	t.Helper()
	enc, err := b.EncodeLogs()
	if err != nil {
		t.Fatal(err)
	}
	return abi.EncodeInput(b.Number, b.Timestamp, [][]byte{enc})
}

// Every block of the fixture through the Wasm module: the same rows as the
// native build and as pipeline/reference, byte for byte; then the rows
// through store_volume: the writes of the native Volume, summing per token
// to the reference's totals.
func TestWasmMatchesNativeAndReference(t *testing.T) {
	inst := guest.Instance(t)
	want, got := map[string]*big.Int{}, map[string]*big.Int{}
	add := func(m map[string]*big.Int, k, v string) {
		n, ok := new(big.Int).SetString(v, 10)
		if !ok {
			t.Fatalf("value %q of %s is not decimal", v, k)
		}
		if m[k] == nil {
			m[k] = new(big.Int)
		}
		m[k].Add(m[k], n)
	}
	total := 0
	for _, b := range fixtureBlocks(t) {
		in := frame(t, b)
		rows := call(t, inst, "map_transfers", in).Outputs
		native, err := erc20.Rows(must(abi.DecodeInput(in)).Inputs[0])
		if err != nil {
			t.Fatal(err)
		}
		refRows := reference.TokenTransfers(b)
		if len(rows) != len(native) || len(rows) != len(refRows) {
			t.Fatalf("block %d: %d rows, native %d, reference %d", b.Number, len(rows), len(native), len(refRows))
		}
		for i := range rows {
			ref, _ := json.Marshal(refRows[i])
			if !bytes.Equal(rows[i], native[i]) || !bytes.Equal(rows[i], ref) {
				t.Fatalf("block %d row %d\nwasm      %s\nnative    %s\nreference %s", b.Number, i, rows[i], native[i], ref)
			}
			add(want, refRows[i].TokenAddress, refRows[i].Value)
		}
		total += len(rows)

		writes := call(t, inst, "store_volume", abi.EncodeInput(b.Number, b.Timestamp, [][]byte{abi.EncodeRecords(rows)})).Writes
		var nativeWrites []abi.Delta
		if err := erc20.Volume(rows, func(k, v []byte) { nativeWrites = append(nativeWrites, abi.Delta{Key: k, Value: v}) }); err != nil {
			t.Fatal(err)
		}
		if len(writes) != len(nativeWrites) {
			t.Fatalf("block %d: %d writes, native %d", b.Number, len(writes), len(nativeWrites))
		}
		for i, w := range writes {
			if !bytes.Equal(w.Key, nativeWrites[i].Key) || !bytes.Equal(w.Value, nativeWrites[i].Value) {
				t.Fatalf("block %d write %d: %s=%s, native %s=%s", b.Number, i, w.Key, w.Value, nativeWrites[i].Key, nativeWrites[i].Value)
			}
			add(got, string(w.Key), string(w.Value))
		}
	}
	if total != 291 {
		t.Errorf("%d rows, want 291", total)
	}
	if len(got) != len(want) {
		t.Fatalf("%d tokens written, reference has %d", len(got), len(want))
	}
	for k, w := range want {
		if got[k] == nil || got[k].Cmp(w) != 0 {
			t.Errorf("token %s: total %v, reference %v", k, got[k], w)
		}
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// Bad input ends the call with a trap that says what and where; the
// instance is dead afterwards.
func TestWasmTraps(t *testing.T) {
	b := fixtureBlocks(t)[0]
	full, err := b.Encode()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, entry string
		input       []byte
		trap        []string
	}{
		{"block encoding", "map_transfers", abi.EncodeInput(b.Number, 0, [][]byte{full}),
			[]string{"erc20_transfers: block 17173049: erc20: input byte 12 (version):", "declare the source ethereum-logs"}},
		{"two inputs", "map_transfers", abi.EncodeInput(1, 0, [][]byte{nil, nil}), []string{"erc20_transfers: 2 inputs"}},
		{"bad framing", "map_transfers", []byte{1, 2, 3}, []string{"guest: read input", "malformed"}},
		{"bad row", "store_volume", abi.EncodeInput(9, 0, [][]byte{abi.EncodeRecords([][]byte{[]byte(`{"token_address":1}`)})}),
			[]string{"token_volume: block 9: erc20: input byte 17 (rows[0].token_address)"}},
		{"not records", "store_volume", abi.EncodeInput(9, 0, [][]byte{{1}}), []string{"token_volume: block 9: abi"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inst := guest.Instance(t)
			var rec pipelinetest.Recorder
			res, err := inst.Call(context.Background(), tt.entry, tt.input, &rec, 0)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range tt.trap {
				if !strings.Contains(res.Trap, s) {
					t.Errorf("trap %q does not contain %q", res.Trap, s)
				}
			}
			if len(rec.Outputs) != 0 || len(rec.Writes) != 0 {
				t.Errorf("%d outputs, %d writes before the trap", len(rec.Outputs), len(rec.Writes))
			}
			if _, err := inst.Call(context.Background(), tt.entry, tt.input, &rec, 0); !errors.Is(err, wasm.ErrInstanceDead) {
				t.Errorf("call after the trap: %v", err)
			}
		})
	}
}

// BenchmarkERC20Transfers runs the fixture's 2 blocks (681 logs, 291
// transfers) through the module compiled natively and to Wasm in the same
// iterations. Both do the guest's whole job: decode the framed input, scan
// the block, hand each row to the host (the Wasm host copies it out of
// guest memory; the native "host" copies it too). Reported: logs/s of each
// and wasm/native, the Wasm build's throughput as a fraction of native.
func BenchmarkERC20Transfers(b *testing.B) {
	inst := guest.Instance(b)
	var frames [][]byte
	logs := 0
	for _, blk := range fixtureBlocks(b) {
		frames = append(frames, frame(b, blk))
		logs += len(blk.Logs)
	}
	var m erc20.Mapper
	nativeRows := make([][]byte, 0, 512)
	emit := func(row []byte) { nativeRows = append(nativeRows, bytes.Clone(row)) }
	pipelinetest.BenchNativeVsWasm(b, inst, "map_transfers", frames, func(f []byte) error {
		in, err := abi.DecodeInput(f)
		if err != nil {
			return err
		}
		nativeRows = nativeRows[:0]
		return m.Map(in.Inputs[0], emit)
	}, float64(logs), "logs")
}

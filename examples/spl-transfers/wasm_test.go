package spltransfers

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ipdm/ipdm/examples/spl-transfers/spl"
	"github.com/ipdm/ipdm/pipeline/abi"
	"github.com/ipdm/ipdm/pipeline/reference"
	"github.com/ipdm/ipdm/pipeline/source"
	"github.com/ipdm/ipdm/wasm"
)

// recorder is the StreamHost of the tests: it keeps what the guest sends.
type recorder struct {
	outputs [][]byte
}

func (r *recorder) Output(rec []byte) error { r.outputs = append(r.outputs, rec); return nil }
func (r *recorder) StoreWrite(k, v []byte) error {
	return errors.New("spl-transfers writes no store")
}
func (r *recorder) StoreGet(int, []byte) ([]byte, bool, error) {
	return nil, false, errors.New("spl-transfers reads no store")
}
func (r *recorder) Log([]byte) {}

// The runtime and the compiled module are shared by the tests (compiling
// takes seconds); TestMain closes the runtime.
var (
	compileOnce sync.Once
	sharedRT    *wasm.Runtime
	sharedMod   *wasm.Module
	compileErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if sharedRT != nil {
		sharedRT.Close(context.Background())
	}
	os.Exit(code)
}

// instance instantiates the embedded module afresh.
func instance(t testing.TB) *wasm.Instance {
	t.Helper()
	ctx := context.Background()
	compileOnce.Do(func() {
		if sharedRT, compileErr = wasm.New(ctx, wasm.Config{}); compileErr == nil {
			sharedMod, compileErr = sharedRT.Compile(ctx, Wasm)
		}
	})
	if compileErr != nil {
		t.Fatal(compileErr)
	}
	inst, err := sharedRT.Instantiate(ctx, sharedMod, wasm.InstanceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { inst.Close(ctx) })
	return inst
}

// sharedFixture reads shared/fixtures/rel from a parent directory, or
// skips.
func sharedFixture(t testing.TB, rel string) []byte {
	t.Helper()
	dir, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "shared", "fixtures", rel)); err == nil {
			return b
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Skipf("shared/fixtures/%s not found in any parent directory (the shared fixtures must be beside the checkout, as /work/shared/fixtures is for /work/main)", rel)
		}
		dir = parent
	}
}

// fixtureSlots returns the Solana fixtures as slots: the getTransaction
// response (8 transfers) and slot 138802069 (570 transfers).
func fixtureSlots(t testing.TB) []source.Slot {
	t.Helper()
	txs, err := source.DecodeSolanaTransactions(sharedFixture(t, "solana/transaction-jsonparsed/getTransaction.json"))
	if err != nil {
		t.Fatal(err)
	}
	ins, err := source.DecodeInstructionsCSV(bytes.NewReader(sharedFixture(t, "solana/slot-138802069/instructions.csv")))
	if err != nil {
		t.Fatal(err)
	}
	return []source.Slot{{Slot: txs[0].Slot, Instructions: txs[0].Instructions}, {Slot: 138802069, Instructions: ins}}
}

func frame(t testing.TB, s source.Slot) []byte {
	t.Helper()
	enc, err := s.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return abi.EncodeInput(s.Slot, 0, [][]byte{enc})
}

// Both fixture slots through the Wasm module, one instance for both: the
// same rows as the native build and as pipeline/reference, byte for byte.
func TestWasmMatchesNativeAndReference(t *testing.T) {
	inst := instance(t)
	total := 0
	for _, s := range fixtureSlots(t) {
		in := frame(t, s)
		var rec recorder
		res, err := inst.Call(context.Background(), "map_spl_transfers", in, &rec, 0)
		if err != nil || res.Trap != "" {
			t.Fatalf("slot %d: %v %s", s.Slot, err, res.Trap)
		}
		decoded, err := abi.DecodeInput(in)
		if err != nil {
			t.Fatal(err)
		}
		native, err := spl.Rows(decoded.Inputs[0])
		if err != nil {
			t.Fatal(err)
		}
		refRows, err := reference.SPLTransfers(s.Instructions)
		if err != nil {
			t.Fatal(err)
		}
		if len(rec.outputs) != len(native) || len(native) != len(refRows) {
			t.Fatalf("slot %d: %d rows, native %d, reference %d", s.Slot, len(rec.outputs), len(native), len(refRows))
		}
		for i, row := range rec.outputs {
			ref, _ := json.Marshal(refRows[i])
			if !bytes.Equal(row, native[i]) || !bytes.Equal(row, ref) {
				t.Fatalf("slot %d row %d\nwasm      %s\nnative    %s\nreference %s", s.Slot, i, row, native[i], ref)
			}
		}
		total += len(rec.outputs)
	}
	if total != 8+570 {
		t.Errorf("%d rows, want 578", total)
	}
}

// Bad input ends the call with a trap that says what and where.
func TestWasmTraps(t *testing.T) {
	bad := []byte(`{"version":"ipdm.solana.instructions.v1","slot":7,"instructions":[{"tx_signature":"` + strings.Repeat("2", 88) +
		`","index":3,"parent_index":1,"program_id":"` + strings.Repeat("3", 44) + `","program":"spl-token","instruction_type":"transfer","accounts":null,"data":"","parsed":"","params":{"amount":"1.5"}}]}`)
	tests := []struct {
		name  string
		input []byte
		trap  []string
	}{
		{"not an exact amount", abi.EncodeInput(7, 0, [][]byte{bad}),
			[]string{"spl_transfers: slot 7: spl: input byte", "(instructions[0].params)", "inner instruction 3 of 1", "amount 1.5 is not an exact unsigned integer"}},
		{"ethereum block", abi.EncodeInput(7, 0, [][]byte{[]byte(`{"version":"ipdm.ethereum.logs.v1"}`)}), []string{"(version)", "is not ipdm.solana.instructions.v1"}},
		{"no input", abi.EncodeInput(7, 0, nil), []string{"spl_transfers: 0 inputs"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inst := instance(t)
			var rec recorder
			res, err := inst.Call(context.Background(), "map_spl_transfers", tt.input, &rec, 0)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range tt.trap {
				if !strings.Contains(res.Trap, s) {
					t.Errorf("trap %q does not contain %q", res.Trap, s)
				}
			}
			if len(rec.outputs) != 0 {
				t.Errorf("%d outputs before the trap", len(rec.outputs))
			}
		})
	}
}

// BenchmarkSPLTransfers runs slot 138802069 (5,376 instructions, 570
// transfers) through the module compiled natively and to Wasm in the same
// iterations, each doing the guest's whole job (decode the framed input,
// scan the slot, hand over each row, copied). Reported: instructions/s of
// each and wasm/native, the Wasm build's throughput as a fraction of native.
func BenchmarkSPLTransfers(b *testing.B) {
	inst := instance(b)
	s := fixtureSlots(b)[1]
	f := frame(b, s)
	var m spl.Mapper
	var rec recorder
	nativeRows := make([][]byte, 0, 1024)
	emit := func(row []byte) { nativeRows = append(nativeRows, bytes.Clone(row)) }
	ctx := context.Background()
	var native, inWasm time.Duration
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		in, err := abi.DecodeInput(f)
		if err != nil {
			b.Fatal(err)
		}
		nativeRows = nativeRows[:0]
		if err := m.Map(in.Inputs[0], emit); err != nil {
			b.Fatal(err)
		}
		mid := time.Now()
		rec.outputs = rec.outputs[:0]
		res, err := inst.Call(ctx, "map_spl_transfers", f, &rec, 0)
		if err != nil || res.Trap != "" {
			b.Fatalf("%v %s", err, res.Trap)
		}
		native, inWasm = native+mid.Sub(start), inWasm+time.Since(mid)
	}
	b.StopTimer()
	n := float64(len(s.Instructions)) * float64(b.N)
	b.ReportMetric(n/native.Seconds(), "native-instructions/s")
	b.ReportMetric(n/inWasm.Seconds(), "wasm-instructions/s")
	b.ReportMetric(native.Seconds()/inWasm.Seconds(), "wasm/native")
}

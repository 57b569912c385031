package spltransfers

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/ipdm/ipdm/examples/internal/pipelinetest"
	"github.com/ipdm/ipdm/examples/spl-transfers/spl"
	"github.com/ipdm/ipdm/pipeline/abi"
	"github.com/ipdm/ipdm/pipeline/reference"
	"github.com/ipdm/ipdm/pipeline/source"
)

// The Wasm test harness (compile once, instantiate per test, a recording
// StreamHost, the native-vs-Wasm benchmark loop, the shared fixtures) is
// shared with the erc20-transfers example: it lives in
// examples/internal/pipelinetest.

// guest is the embedded module, compiled on first use; TestMain closes it.
var guest = pipelinetest.NewGuest(Wasm)

func TestMain(m *testing.M) {
	code := m.Run()
	guest.Close()
	os.Exit(code)
}

// fixtureSlots returns the Solana fixtures as slots: the getTransaction
// response (8 transfers) and slot 138802069 (570 transfers).
func fixtureSlots(t testing.TB) []source.Slot {
	t.Helper()
	txs, err := source.DecodeSolanaTransactions(pipelinetest.ReadFixture(t, "solana/transaction-jsonparsed/getTransaction.json"))
	if err != nil {
		t.Fatal(err)
	}
	ins, err := source.DecodeInstructionsCSV(bytes.NewReader(pipelinetest.ReadFixture(t, "solana/slot-138802069/instructions.csv")))
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
	inst := guest.Instance(t)
	total := 0
	for _, s := range fixtureSlots(t) {
		in := frame(t, s)
		var rec pipelinetest.Recorder
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
		if len(rec.Outputs) != len(native) || len(native) != len(refRows) {
			t.Fatalf("slot %d: %d rows, native %d, reference %d", s.Slot, len(rec.Outputs), len(native), len(refRows))
		}
		for i, row := range rec.Outputs {
			ref, _ := json.Marshal(refRows[i])
			if !bytes.Equal(row, native[i]) || !bytes.Equal(row, ref) {
				t.Fatalf("slot %d row %d\nwasm      %s\nnative    %s\nreference %s", s.Slot, i, row, native[i], ref)
			}
		}
		total += len(rec.Outputs)
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
			inst := guest.Instance(t)
			var rec pipelinetest.Recorder
			res, err := inst.Call(context.Background(), "map_spl_transfers", tt.input, &rec, 0)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range tt.trap {
				if !strings.Contains(res.Trap, s) {
					t.Errorf("trap %q does not contain %q", res.Trap, s)
				}
			}
			if len(rec.Outputs) != 0 {
				t.Errorf("%d outputs before the trap", len(rec.Outputs))
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
	inst := guest.Instance(b)
	s := fixtureSlots(b)[1]
	f := frame(b, s)
	var m spl.Mapper
	nativeRows := make([][]byte, 0, 1024)
	emit := func(row []byte) { nativeRows = append(nativeRows, bytes.Clone(row)) }
	pipelinetest.BenchNativeVsWasm(b, inst, "map_spl_transfers", [][]byte{f}, func(fr []byte) error {
		in, err := abi.DecodeInput(fr)
		if err != nil {
			return err
		}
		nativeRows = nativeRows[:0]
		return m.Map(in.Inputs[0], emit)
	}, float64(len(s.Instructions)), "instructions")
}

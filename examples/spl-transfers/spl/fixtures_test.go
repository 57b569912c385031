package spl

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/ipdm/ipdm/pipeline/reference"
	"github.com/ipdm/ipdm/pipeline/source"
)

// The shared fixtures live in shared/fixtures beside the checkout
// (/work/shared/fixtures for /work/main); the helpers that find and read
// them are in examples/internal/pipelinetest.
const (
	solTxDir   = "solana/transaction-jsonparsed/"
	solSlotDir = "solana/slot-138802069/"
)

// referenceRows is what Map must emit for ins: json.Marshal of each
// reference.SPLTransfer.
func referenceRows(t testing.TB, ins []source.Instruction) [][]byte {
	t.Helper()
	rows, err := reference.SPLTransfers(ins)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, r := range rows {
		enc, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, enc)
	}
	return out
}

// referenceLines splits reference.MapSPLTransfers's JSON lines.
func referenceLines(out []byte) [][]byte {
	if len(out) == 0 {
		return nil
	}
	return bytes.Split(bytes.TrimSuffix(out, []byte("\n")), []byte("\n"))
}

func encodeSlot(t testing.TB, s source.Slot) []byte {
	t.Helper()
	enc, err := s.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return enc
}

// Hand-written slots, for inputs Slot.Encode would canonicalise.
const (
	testSig = "5VERv8NMvzbJMEkV8xnrLkEaWRtSz9CosKDYjCJjBRnbJLgp8uirBgmQpjKhoR4tjF3ZpRzrFmBV6UjKdiSZkQUW"
	tokenID = "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA"
)

func slotJSON(ins ...string) string {
	return `{"version":"ipdm.solana.instructions.v1","slot":7,"instructions":[` + strings.Join(ins, ",") + `]}`
}

func insJSON(program, typ, params string) string {
	return `{"tx_signature":"` + testSig + `","index":0,"parent_index":null,"program_id":"` + tokenID + `","program":"` + program +
		`","instruction_type":"` + typ + `","accounts":null,"data":"","parsed":"","params":` + params + `}`
}

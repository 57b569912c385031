package reference

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/ipdm/ipdm/pipeline/source"
)

// csvRows reads a solana-etl instruction export generically.
func csvRows(t testing.TB, data []byte) []map[string]string {
	t.Helper()
	recs, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]string
	for _, rec := range recs[1:] {
		m := map[string]string{}
		for i, name := range recs[0] {
			m[name] = rec[i]
		}
		out = append(out, m)
	}
	return out
}

// oracleSPL derives spl-transfers rows from raw CSV rows following the
// table in the package documentation, with generic JSON only.
func oracleSPL(t testing.TB, rows []map[string]string) []SPLTransfer {
	t.Helper()
	var out []SPLTransfer
	for _, r := range rows {
		dec := json.NewDecoder(strings.NewReader(r["params"]))
		dec.UseNumber()
		var p map[string]any
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		s := func(k string) string { v, _ := p[k].(string); return v }
		authority := s("authority")
		if authority == "" {
			authority = s("multisigAuthority") // multisig owners, which the slot has
		}
		num := func(v any) string { return fmt.Sprint(v) }
		row := SPLTransfer{TxSignature: r["tx_signature"]}
		switch r["program"] + "/" + r["instruction_type"] {
		case "spl-token/transfer":
			row.TransferType, row.Source, row.Destination, row.Authority, row.Value = "spl-transfer", s("source"), s("destination"), authority, num(p["amount"])
		case "spl-token/transferChecked":
			ta := p["tokenAmount"].(map[string]any)
			row.TransferType, row.Source, row.Destination, row.Authority, row.Mint = "spl-transfer", s("source"), s("destination"), authority, s("mint")
			row.Value, row.Decimals = num(ta["amount"]), num(ta["decimals"])
		case "spl-token/mintTo":
			row.TransferType, row.Destination, row.Mint, row.MintAuthority, row.Value = "mintTo", s("account"), s("mint"), s("mintAuthority"), num(p["amount"])
		case "spl-token/burn":
			row.TransferType, row.Source, row.Authority, row.Mint, row.Value = "burn", s("account"), authority, s("mint"), num(p["amount"])
		case "system/transfer":
			row.TransferType, row.Source, row.Destination, row.Value = "transfer", s("source"), s("destination"), num(p["lamports"])
		default:
			continue
		}
		out = append(out, row)
	}
	return out
}

// The getTransaction response gives exactly the rows its expected CSV
// gives: 8 spl-token transfers among 21 instructions.
func TestSPLReproducesExpectedCSV(t *testing.T) {
	txs, err := source.DecodeSolanaTransactions(readFixture(t, solTxDir+"getTransaction.json"))
	if err != nil {
		t.Fatal(err)
	}
	rows, err := SPLTransfers(txs[0].Instructions)
	if err != nil {
		t.Fatal(err)
	}
	csvData := readFixture(t, solTxDir+"expected_instructions.csv")
	want := oracleSPL(t, csvRows(t, csvData))
	if len(want) != 8 || !reflect.DeepEqual(rows, want) {
		t.Fatalf("rows\n%+v\nwant\n%+v", rows, want)
	}
	for _, r := range rows {
		if r.TransferType != TypeSPLTransfer || r.Mint != "" || r.Decimals != "" || r.MintAuthority != "" || !decimalRe.MatchString(r.Value) {
			t.Errorf("row %+v", r)
		}
	}
	// Through the package's CSV decoder, and through the module's bytes.
	ins, err := source.DecodeInstructionsCSV(bytes.NewReader(csvData))
	if err != nil {
		t.Fatal(err)
	}
	fromCSV, err := SPLTransfers(ins)
	if err != nil || !reflect.DeepEqual(fromCSV, rows) {
		t.Errorf("rows from the CSV differ: %v", err)
	}
	enc, err := source.Slot{Slot: txs[0].Slot, Instructions: txs[0].Instructions}.Encode()
	if err != nil {
		t.Fatal(err)
	}
	out, err := MapSPLTransfers(enc)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if len(lines) != 8 {
		t.Fatalf("%d output lines", len(lines))
	}
	const first = `{"source":"36c6YqAwyGKQG66XEp2dJc5JqjaBNv7sVghEtJv4c7u6","destination":"AVn3JRGhifPCxjxZsU3tQuo4U4dTHizHzBDGW983tx47","authority":"F8Vyqk3unwxkXukZFQeYyGmFfTG3CAX4v24iyrjEYBJV","value":"220000000000","decimals":"","mint":"","mint_authority":"","transfer_type":"spl-transfer","tx_signature":"21w7wVXW6ZdEkxv1zmZXJPnKXM57vwyDU8VLHwRrD5WTH9ZwgGGWhbQgmF563UAjY6MpG3fktmbs3uiREjXN7iw8"}`
	if lines[0] != first {
		t.Errorf("first line\n%s\nwant\n%s", lines[0], first)
	}
}

// The slot set has no expected output: check against the oracle and the
// invariants.
func TestSPLSlotSet(t *testing.T) {
	data := readFixture(t, solSlotDir+"instructions.csv")
	raw := csvRows(t, data)
	ins, err := source.DecodeInstructionsCSV(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	rows, err := SPLTransfers(ins)
	if err != nil {
		t.Fatal(err)
	}
	want := oracleSPL(t, raw)
	if !reflect.DeepEqual(rows, want) {
		for i := range min(len(rows), len(want)) {
			if rows[i] != want[i] {
				t.Errorf("row %d: %+v\noracle: %+v", i, rows[i], want[i])
				break
			}
		}
		t.Fatalf("%d rows differ from the oracle's %d", len(rows), len(want))
	}
	types := map[string]int{}
	perTx, wantPerTx := map[string]int{}, map[string]int{}
	for _, r := range raw {
		switch r["program"] + "/" + r["instruction_type"] {
		case "spl-token/transfer", "spl-token/transferChecked", "spl-token/mintTo", "spl-token/burn", "system/transfer":
			wantPerTx[r["tx_signature"]]++
		}
	}
	for _, r := range rows {
		types[r.TransferType]++
		perTx[r.TxSignature]++
		if !decimalRe.MatchString(r.Value) || (r.Decimals != "" && !decimalRe.MatchString(r.Decimals)) {
			t.Errorf("row %+v: value or decimals not an exact decimal", r)
		}
		for _, a := range []string{r.Source, r.Destination, r.Authority, r.Mint, r.MintAuthority} {
			if a != "" && !base58Re.MatchString(a) {
				t.Errorf("row %+v: %q is not a base58 key", r, a)
			}
		}
		switch r.TransferType {
		case TypeSPLTransfer:
			if r.Source == "" || r.Destination == "" || r.Authority == "" || r.MintAuthority != "" {
				t.Errorf("spl-transfer row %+v", r)
			}
		case TypeMintTo:
			if r.Destination == "" || r.Mint == "" || r.MintAuthority == "" || r.Source != "" || r.Authority != "" {
				t.Errorf("mintTo row %+v", r)
			}
		case TypeTransfer:
			if r.Source == "" || r.Destination == "" || r.Authority != "" || r.Mint != "" || r.Decimals != "" {
				t.Errorf("SOL transfer row %+v", r)
			}
		}
	}
	if !reflect.DeepEqual(perTx, wantPerTx) {
		t.Error("rows per transaction differ")
	}
	// 480 transfers + 1 transferChecked, 57 mintTo, 32 SOL transfers.
	if types[TypeSPLTransfer] != 481 || types[TypeMintTo] != 57 || types[TypeTransfer] != 32 || types[TypeBurn] != 0 {
		t.Errorf("transfer types %v", types)
	}
}

func TestSPLMapping(t *testing.T) {
	const (
		a, b, c, m, sig = "Aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "Bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", "Ccccccccccccccccccccccccccccccccccccccccccc", "Mmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmm", "sig"
	)
	in := func(program, typ, params string) source.Instruction {
		return source.Instruction{TxSignature: sig, ParentIndex: source.NoParent, Program: program, Type: typ, Params: json.RawMessage(params)}
	}
	tests := []struct {
		name string
		in   source.Instruction
		want *SPLTransfer // nil: no row
	}{
		{"transfer", in("spl-token", "transfer", `{"amount":"5","authority":"`+c+`","destination":"`+b+`","source":"`+a+`"}`),
			&SPLTransfer{Source: a, Destination: b, Authority: c, Value: "5", TransferType: "spl-transfer", TxSignature: sig}},
		{"multisig transfer", in("spl-token", "transfer", `{"amount":"5","multisigAuthority":"`+c+`","signers":["`+m+`"],"destination":"`+b+`","source":"`+a+`"}`),
			&SPLTransfer{Source: a, Destination: b, Authority: c, Value: "5", TransferType: "spl-transfer", TxSignature: sig}},
		{"transfer checked", in("spl-token", "transferChecked", `{"authority":"`+c+`","destination":"`+b+`","mint":"`+m+`","source":"`+a+`","tokenAmount":{"amount":"18446744073709551615","decimals":9,"uiAmount":1.8e10,"uiAmountString":"18446744073.709551615"}}`),
			&SPLTransfer{Source: a, Destination: b, Authority: c, Value: "18446744073709551615", Decimals: "9", Mint: m, TransferType: "spl-transfer", TxSignature: sig}},
		{"token-2022 transfer", in("spl-token-2022", "transfer", `{"amount":"1","authority":"`+c+`","destination":"`+b+`","source":"`+a+`"}`),
			&SPLTransfer{Source: a, Destination: b, Authority: c, Value: "1", TransferType: "spl-transfer", TxSignature: sig}},
		{"mint to", in("spl-token", "mintTo", `{"account":"`+b+`","amount":"7","mint":"`+m+`","mintAuthority":"`+c+`"}`),
			&SPLTransfer{Destination: b, Value: "7", Mint: m, MintAuthority: c, TransferType: "mintTo", TxSignature: sig}},
		{"mint to checked", in("spl-token", "mintToChecked", `{"account":"`+b+`","mint":"`+m+`","multisigMintAuthority":"`+c+`","tokenAmount":{"amount":"7","decimals":0}}`),
			&SPLTransfer{Destination: b, Value: "7", Decimals: "0", Mint: m, MintAuthority: c, TransferType: "mintTo", TxSignature: sig}},
		{"burn", in("spl-token", "burn", `{"account":"`+a+`","amount":"3","authority":"`+c+`","mint":"`+m+`"}`),
			&SPLTransfer{Source: a, Authority: c, Value: "3", Mint: m, TransferType: "burn", TxSignature: sig}},
		{"burn checked", in("spl-token", "burnChecked", `{"account":"`+a+`","authority":"`+c+`","mint":"`+m+`","tokenAmount":{"amount":"3","decimals":6}}`),
			&SPLTransfer{Source: a, Authority: c, Value: "3", Decimals: "6", Mint: m, TransferType: "burn", TxSignature: sig}},
		{"sol transfer", in("system", "transfer", `{"destination":"`+b+`","lamports":4194,"source":"`+a+`"}`),
			&SPLTransfer{Source: a, Destination: b, Value: "4194", TransferType: "transfer", TxSignature: sig}},
		{"approve", in("spl-token", "approve", `{"amount":"9","delegate":"`+b+`","owner":"`+c+`","source":"`+a+`"}`), nil},
		{"create account", in("system", "createAccount", `{"lamports":1,"newAccount":"`+b+`","owner":"`+c+`","source":"`+a+`"}`), nil},
		{"serum", in("serum-dex-v3", "settleFunds", `{"market":"`+a+`"}`), nil},
		{"unknown program", in("", "", `{}`), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows, err := SPLTransfers([]source.Instruction{tt.in})
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case tt.want == nil && len(rows) != 0:
				t.Errorf("rows %+v, want none", rows)
			case tt.want != nil && (len(rows) != 1 || rows[0] != *tt.want):
				t.Errorf("rows %+v, want %+v", rows, *tt.want)
			}
		})
	}
}

func TestSPLTransfersErrors(t *testing.T) {
	tests := map[string]source.Instruction{
		"no amount":         {Program: "spl-token", Type: "transfer", Params: json.RawMessage(`{"source":"a"}`)},
		"float amount":      {Program: "spl-token", Type: "transfer", Params: json.RawMessage(`{"amount":"1.5"}`)},
		"negative lamports": {Program: "system", Type: "transfer", Params: json.RawMessage(`{"lamports":-1}`)},
		"leading zero":      {Program: "spl-token", Type: "mintTo", Params: json.RawMessage(`{"amount":"007"}`)},
		"not a number":      {Program: "spl-token", Type: "burn", Params: json.RawMessage(`{"amount":"lots"}`)},
		"bad decimals":      {Program: "spl-token", Type: "transferChecked", Params: json.RawMessage(`{"tokenAmount":{"amount":"1","decimals":1.5}}`)},
		"params not json":   {Program: "spl-token", Type: "transfer", Params: json.RawMessage(`{`)},
		"params a list":     {Program: "system", Type: "transfer", Params: json.RawMessage(`[1]`)},
	}
	for name, in := range tests {
		in.TxSignature, in.Index, in.ParentIndex = "sigX", 4, 2
		_, err := SPLTransfers([]source.Instruction{in})
		if !errors.Is(err, source.ErrMalformed) || !strings.Contains(err.Error(), "sigX") || !strings.Contains(err.Error(), "inner instruction 4 of 2") {
			t.Errorf("%s: err = %v", name, err)
		}
	}
	if _, err := MapSPLTransfers([]byte("{}")); !errors.Is(err, source.ErrMalformed) {
		t.Errorf("MapSPLTransfers of a bad slot: %v", err)
	}
}

func FuzzMapSPLTransfers(f *testing.F) {
	if b := seedFixture(solTxDir + "getTransaction.json"); b != nil {
		if txs, err := source.DecodeSolanaTransactions(b); err == nil {
			enc, _ := source.Slot{Slot: 1, Instructions: txs[0].Instructions}.Encode()
			f.Add(enc)
		}
	}
	f.Add([]byte(`{"version":"ipdm.solana.instructions.v1","slot":3,"instructions":[{"tx_signature":"` + strings.Repeat("2", 88) + `","index":0,"parent_index":null,"program_id":"` + strings.Repeat("3", 44) + `","program":"system","instruction_type":"transfer","accounts":null,"data":"","parsed":"","params":{"lamports":5,"source":"x"}}]}`))
	f.Fuzz(func(t *testing.T, input []byte) {
		out, err := MapSPLTransfers(input)
		if err != nil {
			if !errors.Is(err, source.ErrMalformed) {
				t.Fatalf("error %v does not match ErrMalformed", err)
			}
			return
		}
		dec := json.NewDecoder(bytes.NewReader(out))
		dec.DisallowUnknownFields()
		for dec.More() {
			var r SPLTransfer
			if err := dec.Decode(&r); err != nil {
				t.Fatalf("output line does not decode: %v", err)
			}
			if !decimalRe.MatchString(r.Value) || r.TransferType == "" {
				t.Fatalf("malformed row %+v", r)
			}
		}
	})
}

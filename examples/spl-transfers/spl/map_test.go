package spl

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/ipdm/ipdm/examples/internal/pipelinetest"
	"github.com/ipdm/ipdm/pipeline/reference"
	"github.com/ipdm/ipdm/pipeline/source"
)

func equalRows(t *testing.T, what string, got, want [][]byte) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d rows, want %d\n%s\nwant\n%s", what, len(got), len(want), bytes.Join(got, []byte("\n")), bytes.Join(want, []byte("\n")))
	}
	for i := range got {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("%s: row %d\n%s\nwant\n%s", what, i, got[i], want[i])
		}
	}
}

// csvOracle derives spl-transfers rows from a solana-etl instruction
// export with encoding/csv and generic JSON only, following the mapping
// table of pipeline/reference for the instruction kinds the fixtures have.
func csvOracle(t *testing.T, data []byte) [][]byte {
	t.Helper()
	recs, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	col := map[string]int{}
	for i, name := range recs[0] {
		col[name] = i
	}
	var out [][]byte
	for _, rec := range recs[1:] {
		dec := json.NewDecoder(strings.NewReader(rec[col["params"]]))
		dec.UseNumber()
		var p map[string]any
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		s := func(k string) string { v, _ := p[k].(string); return v }
		authority := s("authority")
		if authority == "" {
			authority = s("multisigAuthority")
		}
		row := reference.SPLTransfer{TxSignature: rec[col["tx_signature"]]}
		switch rec[col["program"]] + "/" + rec[col["instruction_type"]] {
		case "spl-token/transfer":
			row.TransferType, row.Source, row.Destination, row.Authority, row.Value = "spl-transfer", s("source"), s("destination"), authority, fmt.Sprint(p["amount"])
		case "spl-token/transferChecked":
			ta := p["tokenAmount"].(map[string]any)
			row.TransferType, row.Source, row.Destination, row.Authority, row.Mint = "spl-transfer", s("source"), s("destination"), authority, s("mint")
			row.Value, row.Decimals = fmt.Sprint(ta["amount"]), fmt.Sprint(ta["decimals"])
		case "spl-token/mintTo":
			row.TransferType, row.Destination, row.Mint, row.MintAuthority, row.Value = "mintTo", s("account"), s("mint"), s("mintAuthority"), fmt.Sprint(p["amount"])
		case "spl-token/burn":
			row.TransferType, row.Source, row.Authority, row.Mint, row.Value = "burn", s("account"), authority, s("mint"), fmt.Sprint(p["amount"])
		case "system/transfer":
			row.TransferType, row.Source, row.Destination, row.Value = "transfer", s("source"), s("destination"), fmt.Sprint(p["lamports"])
		default:
			continue
		}
		enc, _ := json.Marshal(row)
		out = append(out, enc)
	}
	return out
}

// The getTransaction response, as one slot, gives exactly the rows of its
// expected_instructions.csv: 8 spl-token transfers among 21 instructions.
func TestTransactionReproducesExpectedCSV(t *testing.T) {
	txs, err := source.DecodeSolanaTransactions(pipelinetest.ReadFixture(t, solTxDir+"getTransaction.json"))
	if err != nil {
		t.Fatal(err)
	}
	rows, err := Rows(encodeSlot(t, source.Slot{Slot: txs[0].Slot, Instructions: txs[0].Instructions}))
	if err != nil {
		t.Fatal(err)
	}
	want := csvOracle(t, pipelinetest.ReadFixture(t, solTxDir+"expected_instructions.csv"))
	if len(want) != 8 {
		t.Fatalf("the expected CSV gives %d rows, want 8", len(want))
	}
	equalRows(t, "transaction", rows, want)
	equalRows(t, "transaction vs reference", rows, referenceRows(t, txs[0].Instructions))
	const first = `{"source":"36c6YqAwyGKQG66XEp2dJc5JqjaBNv7sVghEtJv4c7u6","destination":"AVn3JRGhifPCxjxZsU3tQuo4U4dTHizHzBDGW983tx47","authority":"F8Vyqk3unwxkXukZFQeYyGmFfTG3CAX4v24iyrjEYBJV","value":"220000000000","decimals":"","mint":"","mint_authority":"","transfer_type":"spl-transfer","tx_signature":"21w7wVXW6ZdEkxv1zmZXJPnKXM57vwyDU8VLHwRrD5WTH9ZwgGGWhbQgmF563UAjY6MpG3fktmbs3uiREjXN7iw8"}`
	if string(rows[0]) != first {
		t.Errorf("first row\n%s\nwant\n%s", rows[0], first)
	}
}

// Slot 138802069 (5,376 instructions, 570 transfers of three types):
// byte-identical to the reference and to the CSV oracle.
func TestSlotMatchesReference(t *testing.T) {
	data := pipelinetest.ReadFixture(t, solSlotDir+"instructions.csv")
	ins, err := source.DecodeInstructionsCSV(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	enc := encodeSlot(t, source.Slot{Slot: 138802069, Instructions: ins})
	rows, err := Rows(enc)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 570 {
		t.Errorf("%d rows, want 570", len(rows))
	}
	equalRows(t, "slot vs reference", rows, referenceRows(t, ins))
	lines, err := reference.MapSPLTransfers(enc)
	if err != nil {
		t.Fatal(err)
	}
	equalRows(t, "slot vs reference module", rows, referenceLines(lines))
	equalRows(t, "slot vs CSV oracle", rows, csvOracle(t, data))
	var m Mapper
	if n := testing.AllocsPerRun(5, func() { _ = m.Map(enc, func([]byte) {}) }); n != 0 {
		t.Errorf("Map allocates %v times per slot", n)
	}
}

// Every mapping of the reference and the encoding/json semantics of
// params, on hand-written slots (escapes and spellings Slot.Encode would
// canonicalise are allowed in params), compared with the reference.
func TestMapping(t *testing.T) {
	const (
		a, b, c, mint = "Aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "Bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", "Ccccccccccccccccccccccccccccccccccccccccccc", "Mmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmm"
	)
	tests := []struct {
		name, program, typ, params string
		want                       string // a fragment of the row; "" for no row
	}{
		{"transfer", "spl-token", "transfer", `{"amount":"5","authority":"` + c + `","destination":"` + b + `","source":"` + a + `"}`, `"value":"5","decimals":"","mint":""`},
		{"multisig transfer", "spl-token", "transfer", `{"amount":"5","multisigAuthority":"` + c + `","signers":["` + mint + `"],"destination":"` + b + `","source":"` + a + `"}`, `"authority":"` + c + `"`},
		{"empty authority falls back", "spl-token", "transfer", `{"amount":"5","authority":"","multisigAuthority":"` + c + `"}`, `"authority":"` + c + `"`},
		{"transfer checked", "spl-token", "transferChecked", `{"authority":"` + c + `","destination":"` + b + `","mint":"` + mint + `","source":"` + a + `","tokenAmount":{"amount":"18446744073709551616","decimals":9,"uiAmount":1.8e10,"uiAmountString":"18446744073.709551616"}}`, `"value":"18446744073709551616","decimals":"9","mint":"` + mint + `"`},
		{"transfer checked without tokenAmount", "spl-token", "transferChecked", `{"amount":"3","mint":"` + mint + `"}`, `"value":"3","decimals":""`},
		{"token-2022", "spl-token-2022", "transfer", `{"amount":"1","source":"` + a + `"}`, `"transfer_type":"spl-transfer"`},
		{"mint to", "spl-token", "mintTo", `{"account":"` + b + `","amount":"7","mint":"` + mint + `","mintAuthority":"` + c + `"}`, `"destination":"` + b + `","authority":"","value":"7"`},
		{"mint to checked multisig", "spl-token", "mintToChecked", `{"account":"` + b + `","mint":"` + mint + `","multisigMintAuthority":"` + c + `","tokenAmount":{"amount":"7","decimals":0}}`, `"decimals":"0","mint":"` + mint + `","mint_authority":"` + c + `"`},
		{"burn", "spl-token", "burn", `{"account":"` + a + `","amount":"3","authority":"` + c + `","mint":"` + mint + `"}`, `{"source":"` + a + `","destination":""`},
		{"burn checked", "spl-token", "burnChecked", `{"account":"` + a + `","authority":"` + c + `","mint":"` + mint + `","tokenAmount":{"amount":"3","decimals":6}}`, `"transfer_type":"burn"`},
		{"sol transfer", "system", "transfer", `{"destination":"` + b + `","lamports":4194,"source":"` + a + `"}`, `"value":"4194"`},
		{"sol transfer ignores amount", "system", "transfer", `{"amount":"1.5","lamports":"0"}`, `"value":"0"`},
		{"approve", "spl-token", "approve", `{"amount":"9"}`, ""},
		{"create account", "system", "createAccount", `{"lamports":1}`, ""},
		{"other program", "serum-dex-v3", "settleFunds", `{"market":"` + a + `"}`, ""},
		{"unknown program", "", "", `{}`, ""},
		{"non-object params of another instruction", "spl-memo", "", `"hello"`, ""},
		// encoding/json semantics
		{"keys fold case", "spl-token", "transfer", `{"AMOUNT":"8","Source":"` + a + `"}`, `{"source":"` + a + `","destination":"","authority":"","value":"8"`},
		{"exact key wins over its fold", "spl-token", "transfer", `{"amount":"8","Amount":"9"}`, `"value":"9"`},
		{"kelvin sign folds to k", "spl-token", "transferChecked", `{"to\u212aenAmount":{"amount":"4"}}`, `"value":"4"`},
		{"long s folds to s", "spl-token", "transfer", `{"amount":"4","\u017fource":"` + a + `"}`, `"source":"` + a + `"`},
		{"escaped key", "spl-token", "transfer", `{"\u0061mount":"6"}`, `"value":"6"`},
		{"last duplicate wins", "spl-token", "transfer", `{"amount":"1","source":"x","amount":"2"}`, `"value":"2"`},
		{"null keeps", "spl-token", "transfer", `{"amount":"1","amount":null,"source":null}`, `{"source":"","destination":"","authority":"","value":"1"`},
		{"tokenAmount merges", "spl-token", "transferChecked", `{"tokenAmount":{"amount":"1"},"tokenAmount":{"decimals":2}}`, `"value":"1","decimals":"2"`},
		{"tokenAmount null resets", "spl-token", "transferChecked", `{"amount":"5","tokenAmount":{"amount":"1","decimals":2},"tokenAmount":null}`, `"value":"5","decimals":""`},
		{"tokenAmount reallocated after null", "spl-token", "transferChecked", `{"tokenAmount":{"amount":"1","decimals":2},"tokenAmount":null,"tokenAmount":{"amount":"3"}}`, `"value":"3","decimals":""`},
		{"escaped amount string", "spl-token", "transfer", `{"amount":"\u0031\u0032"}`, `"value":"12"`},
		{"number amount", "spl-token", "transfer", `{"amount":12}`, `"value":"12"`},
		{"string escapes re-encoded", "spl-token", "transfer", `{"amount":"1","source":"a\"b\\c\/d\b\f\n\r\t\u0001\u001f\u007f<>&"}`, `"source":"a\"b\\c/d\b\f\n\r\t\u0001\u001f` + "\x7f" + `<>&"`},
		{"unicode re-encoded", "spl-token", "transfer", `{"amount":"1","source":"é\u00e9\u2028\u2029` + "\u2028" + `\ud83d\ude00\ud800x\udc00"}`, `"source":"éé\u2028\u2029\u2028` + "😀\ufffdx\ufffd" + `"`},
		{"invalid utf-8 replaced", "spl-token", "transfer", `{"amount":"1","source":"a` + "\xff\xfe" + `b"}`, `"source":"a` + "\ufffd\ufffd" + `b"`},
		{"nested unknown values", "spl-token", "transfer", `{"x":[1,{"y":[true,false,null,-1.5e+3]}],"amount":"1"}`, `"value":"1"`},
		{"params null is an error", "spl-token", "transfer", `null`, "error"},
		{"empty params", "spl-token", "burn", `{}`, "error"},
		{"params a list", "system", "transfer", `[1]`, "error"},
		{"no amount", "spl-token", "transfer", `{"source":"` + a + `"}`, "error"},
		{"fractional amount", "spl-token", "transfer", `{"amount":"1.5"}`, "error"},
		{"leading zero", "spl-token", "mintTo", `{"amount":"007"}`, "error"},
		{"negative lamports", "system", "transfer", `{"lamports":-1}`, "error"},
		{"empty amount string", "spl-token", "transfer", `{"amount":""}`, "error"},
		{"amount not a number", "spl-token", "burn", `{"amount":"lots"}`, "error"},
		{"bad number in an unused field", "spl-token", "transfer", `{"amount":"1","lamports":"x"}`, "error"},
		{"amount true", "spl-token", "transfer", `{"amount":true}`, "error"},
		{"source a number", "spl-token", "transfer", `{"amount":"1","source":5}`, "error"},
		{"source an object", "spl-token", "transfer", `{"amount":"1","source":{}}`, "error"},
		{"unused mint a list", "system", "transfer", `{"lamports":1,"mint":[]}`, "error"},
		{"tokenAmount a string", "spl-token", "transfer", `{"amount":"1","tokenAmount":"1"}`, "error"},
		{"bad decimals", "spl-token", "transferChecked", `{"tokenAmount":{"amount":"1","decimals":1.5}}`, "error"},
		{"decimals ignored when unchecked", "spl-token", "transfer", `{"amount":"1","tokenAmount":{"decimals":1.5}}`, `"decimals":""`},
		{"checked tokenAmount without amount", "spl-token", "transferChecked", `{"amount":"1","tokenAmount":{}}`, "error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			input := []byte(slotJSON(insJSON("system", "advanceNonce", `{}`), insJSON(tt.program, tt.typ, tt.params)))
			rows, err := Rows(input)
			ref, refErr := reference.MapSPLTransfers(input)
			if tt.want == "error" {
				if !errors.Is(err, ErrMalformed) || refErr == nil {
					t.Fatalf("err = %v (reference: %v), want errors", err, refErr)
				}
				if !strings.Contains(err.Error(), testSig) || !strings.Contains(err.Error(), "instructions[1].params") {
					t.Errorf("error %q does not name the transaction and field", err)
				}
				return
			}
			if err != nil || refErr != nil {
				t.Fatalf("err = %v, reference: %v", err, refErr)
			}
			equalRows(t, tt.name, rows, referenceLines(ref))
			switch {
			case tt.want == "" && len(rows) != 0:
				t.Errorf("rows %s, want none", rows)
			case tt.want != "" && (len(rows) != 1 || !bytes.Contains(rows[0], []byte(tt.want))):
				t.Errorf("rows %s, want one containing %s", rows, tt.want)
			}
		})
	}
}

func TestMapRejects(t *testing.T) {
	valid := slotJSON(insJSON("spl-token", "transfer", `{"amount":"5"}`))
	if _, err := Rows([]byte(valid)); err != nil {
		t.Fatal(err)
	}
	nest := func(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }
	tests := []struct{ name, input, field string }{
		{"empty", "", ""},
		{"other version", strings.Replace(valid, ".v1", ".v2", 1), "version"},
		{"ethereum", `{"version":"ipdm.ethereum.logs.v1"}`, "version"},
		{"slot negative", strings.Replace(valid, `"slot":7`, `"slot":-7`, 1), "slot"},
		{"instructions null", strings.Replace(valid, `"instructions":[`, `"instructions":null,"x":[`, 1), "instructions"},
		{"short signature", strings.Replace(valid, testSig, testSig[:63], 1), "instructions[0].tx_signature"},
		{"signature not base58", strings.Replace(valid, testSig, "0"+testSig[1:], 1), "instructions[0].tx_signature"},
		{"negative index", strings.Replace(valid, `"index":0`, `"index":-1`, 1), "instructions[0].index"},
		{"index above int64", strings.Replace(valid, `"index":0`, `"index":9223372036854775808`, 1), "instructions[0].index"},
		{"parent index fraction", strings.Replace(valid, `"parent_index":null`, `"parent_index":1.0`, 1), "instructions[0].parent_index"},
		{"program id too short", strings.Replace(valid, tokenID, tokenID[:31], 1), "instructions[0].program_id"},
		{"control character in program", strings.Replace(valid, `"program":"spl-token"`, "\"program\":\"spl\ttoken\"", 1), "instructions[0].program"},
		{"bad escape in type", strings.Replace(valid, `"instruction_type":"transfer"`, `"instruction_type":"tr\ansfer"`, 1), "instructions[0].instruction_type"},
		{"account too long", strings.Replace(valid, `"accounts":null`, `"accounts":["`+testSig+`"]`, 1), "instructions[0].accounts"},
		{"accounts not a list", strings.Replace(valid, `"accounts":null`, `"accounts":{}`, 1), "instructions[0].accounts"},
		{"data not base58", strings.Replace(valid, `"data":""`, `"data":"0OIl"`, 1), "instructions[0].data"},
		{"parsed not a string", strings.Replace(valid, `"parsed":""`, `"parsed":null`, 1), "instructions[0].parsed"},
		{"params missing", strings.Replace(valid, `,"params":{"amount":"5"}`, ``, 1), "instructions[0].params"},
		{"params too deep", slotJSON(insJSON("system", "advanceNonce", nest(66))), "instructions[0].params"},
		{"params too deep in a transfer", slotJSON(insJSON("spl-token", "transfer", `{"amount":"1","x":`+nest(65)+`}`)), "instructions[0].params"},
		{"params invalid", slotJSON(insJSON("system", "advanceNonce", `{"a":01}`)), "instructions[0].params"},
		{"params with whitespace", slotJSON(insJSON("system", "advanceNonce", `{"a": 1}`)), "instructions[0].params"},
		{"unknown field", strings.Replace(valid, `}]}`, `,"x":1}]}`, 1), "instructions[0]"},
		{"trailing newline", valid + "\n", ""},
		{"truncated", valid[:len(valid)-2], "instructions"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m Mapper
			emitted := 0
			err := m.Map([]byte(tt.input), func([]byte) { emitted++ })
			// An *InputError naming tt.field, nothing emitted (the check is
			// shared with the other examples, in examples/internal/pipelinetest).
			pipelinetest.CheckRejected(t, err, len(tt.input), emitted, tt.field)
			if s, err := source.DecodeSlot([]byte(tt.input)); err == nil {
				if enc, _ := s.Encode(); bytes.Equal(enc, []byte(tt.input)) {
					t.Errorf("the input is a valid canonical slot: the case is wrong")
				}
			}
		})
	}
	// Values at depth 64 (65 nested containers) are allowed, as in
	// source.DecodeSlot.
	for _, ok := range []string{
		slotJSON(insJSON("system", "advanceNonce", nest(65))),
		slotJSON(insJSON("spl-token", "transfer", `{"amount":"1","x":`+nest(64)+`}`)),
	} {
		if _, err := Rows([]byte(ok)); err != nil {
			t.Errorf("params nested 65 deep: %v", err)
		}
		if _, err := source.DecodeSlot([]byte(ok)); err != nil {
			t.Errorf("source.DecodeSlot: params nested 65 deep: %v", err)
		}
	}
}

func TestFoldEqual(t *testing.T) {
	tests := []struct {
		key, name string
		want      bool
	}{
		{"amount", "amount", true},
		{"AMOUNT", "amount", true},
		{"tokenamount", "tokenAmount", true},
		{"to\u212aenAmount", "tokenAmount", true},
		{"\u017fource", "source", true},
		{"\u017fource", "SOURCE", true},
		{"amoun", "amount", false},
		{"amountx", "amount", false},
		{"am\u00f6unt", "amount", false},
		{"a\xffmount", "amount", false},
		{"K", "k", true},
		{"K", "K", true},
		{"İ", "i", false},
	}
	for _, tt := range tests {
		if got := foldEqual([]byte(tt.key), tt.name); got != tt.want {
			t.Errorf("foldEqual(%q, %q) = %v", tt.key, tt.name, got)
		}
		// encoding/json matches the key to a field named name likewise.
		typ := reflect.StructOf([]reflect.StructField{{Name: "F", Type: reflect.TypeFor[string](), Tag: reflect.StructTag(`json:"` + tt.name + `"`)}})
		v := reflect.New(typ)
		if err := json.Unmarshal([]byte(`{"`+tt.key+`":"x"}`), v.Interface()); err != nil {
			t.Fatal(err)
		}
		if got := v.Elem().Field(0).String() == "x"; got != tt.want {
			t.Errorf("encoding/json matches %q to %q: %v", tt.key, tt.name, got)
		}
	}
}

// FuzzMap checks Map against the reference on any input: it never panics;
// what it accepts the reference accepts, with the same rows; and it accepts
// every canonical slot the reference accepts.
func FuzzMap(f *testing.F) {
	if b := pipelinetest.FixtureFile(solTxDir + "getTransaction.json"); b != nil {
		if txs, err := source.DecodeSolanaTransactions(b); err == nil {
			if enc, err := (source.Slot{Slot: txs[0].Slot, Instructions: txs[0].Instructions}).Encode(); err == nil {
				f.Add(enc)
			}
		}
	}
	f.Add([]byte(slotJSON(insJSON("spl-token", "transferChecked", `{"authority":"x","tokenAmount":{"amount":"18446744073709551616","decimals":9},"source":"a\n\u2028é"}`))))
	f.Add([]byte(slotJSON(insJSON("system", "transfer", `{"lamports":5,"Source":"\u017f","destination":null}`))))
	f.Add([]byte(slotJSON(insJSON("spl-token", "mintTo", `{"amount":"\u0031","mintAuthority":"m","tokenAmount":null}`), insJSON("spl-memo", "", `"memo"`))))
	f.Fuzz(func(t *testing.T, input []byte) {
		rows, err := Rows(input)
		if err != nil && !errors.Is(err, ErrMalformed) {
			t.Fatalf("error %v does not match ErrMalformed", err)
		}
		ref, refErr := reference.MapSPLTransfers(input)
		if err == nil {
			if refErr != nil {
				t.Fatalf("Map accepts what the reference refuses (%v)", refErr)
			}
			equalRowsFuzz(t, rows, referenceLines(ref))
			return
		}
		if refErr == nil {
			if s, derr := source.DecodeSlot(input); derr == nil {
				if enc, _ := s.Encode(); bytes.Equal(enc, input) {
					t.Fatalf("Map refuses a canonical slot the reference accepts: %v", err)
				}
			}
		}
	})
}

func equalRowsFuzz(t *testing.T, got, want [][]byte) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d rows, reference %d", len(got), len(want))
	}
	for i := range got {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("row %d\n%s\nreference\n%s", i, got[i], want[i])
		}
	}
}

// FuzzParams drives the differential check of FuzzMap through the params
// semantics: the fuzzer writes one transfer instruction's params.
func FuzzParams(f *testing.F) {
	kinds := [][2]string{{"spl-token", "transfer"}, {"spl-token", "transferChecked"}, {"spl-token-2022", "mintToChecked"}, {"spl-token", "burn"}, {"system", "transfer"}, {"system", "advanceNonce"}}
	f.Add(uint8(1), `{"authority":"x","tokenAmount":{"amount":"18446744073709551616","decimals":9},"source":"a\n\u2028é"}`)
	f.Add(uint8(4), `{"lamports":5,"Source":"\u017f","destination":null}`)
	f.Add(uint8(2), `{"amount":"\u0031","mintAuthority":"m","tokenAmount":null,"TOKENAMOUNT":{"Amount":7}}`)
	f.Add(uint8(0), `{"amount":1e3,"multisigAuthority":"\ud800\udc00","authority":""}`)
	f.Fuzz(func(t *testing.T, k uint8, params string) {
		kind := kinds[int(k)%len(kinds)]
		input := []byte(slotJSON(insJSON(kind[0], kind[1], params)))
		rows, err := Rows(input)
		ref, refErr := reference.MapSPLTransfers(input)
		switch {
		case err != nil && !errors.Is(err, ErrMalformed):
			t.Fatalf("error %v does not match ErrMalformed", err)
		case err == nil && refErr != nil:
			t.Fatalf("Map accepts what the reference refuses (%v)", refErr)
		case err == nil:
			equalRowsFuzz(t, rows, referenceLines(ref))
		case refErr == nil:
			// The reference accepts params Map refuses: only whitespace,
			// which the canonical encoding never has, may explain it.
			if s, derr := source.DecodeSlot(input); derr == nil {
				if enc, _ := s.Encode(); bytes.Equal(enc, input) {
					t.Fatalf("Map refuses a canonical slot the reference accepts: %v", err)
				}
			}
		}
	})
}

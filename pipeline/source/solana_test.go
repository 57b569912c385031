package source

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/mr-tron/base58"
)

// The getTransaction response must decode to exactly the 21 rows solana-etl
// exported from it, column by column — including the Serum and Mango rows
// that solana-etl decodes itself.
func TestSolanaTransactionReproducesExpectedCSV(t *testing.T) {
	txs, err := DecodeSolanaTransactions(readFixture(t, solTxDir+"getTransaction.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(txs) != 1 {
		t.Fatalf("%d transactions, want 1", len(txs))
	}
	tx := txs[0]
	if tx.Slot != 139493615 || tx.BlockTime != 1656491831 || tx.Failed ||
		tx.Signature != "21w7wVXW6ZdEkxv1zmZXJPnKXM57vwyDU8VLHwRrD5WTH9ZwgGGWhbQgmF563UAjY6MpG3fktmbs3uiREjXN7iw8" {
		t.Errorf("transaction header %+v", tx)
	}
	// The oracle: the CSV read with encoding/csv and encoding/json only.
	r := csv.NewReader(bytes.NewReader(readFixture(t, solTxDir+"expected_instructions.csv")))
	rows, err := r.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	header, rows := rows[0], rows[1:]
	if len(rows) != 21 || len(tx.Instructions) != len(rows) {
		t.Fatalf("%d instructions, %d expected rows", len(tx.Instructions), len(rows))
	}
	for i, row := range rows {
		in := tx.Instructions[i]
		got := map[string]string{
			"tx_signature":     in.TxSignature,
			"index":            itoa(in.Index),
			"parent_index":     "",
			"data":             in.Data,
			"parsed":           in.Parsed,
			"program":          in.Program,
			"program_id":       in.ProgramID,
			"instruction_type": in.Type,
		}
		if in.ParentIndex != NoParent {
			got["parent_index"] = itoa(in.ParentIndex)
		}
		for c, name := range header {
			switch name {
			case "accounts":
				var want []string
				if err := json.Unmarshal([]byte(row[c]), &want); err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(in.Accounts, want) {
					t.Errorf("row %d accounts = %v, want %v", i, in.Accounts, want)
				}
			case "params":
				if !jsonEqualOrdered(t, in.Params, []byte(row[c])) {
					t.Errorf("row %d params = %s, want %s", i, in.Params, row[c])
				}
			default:
				if got[name] != row[c] {
					t.Errorf("row %d %s = %q, want %q", i, name, got[name], row[c])
				}
			}
		}
	}
	// And through the package's CSV decoder: the same values.
	ins, err := DecodeInstructionsCSV(bytes.NewReader(readFixture(t, solTxDir+"expected_instructions.csv")))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(ins, tx.Instructions) {
		t.Error("CSV and RPC decodes differ")
	}
	a, _ := Slot{Slot: tx.Slot, Instructions: ins}.Encode()
	b, _ := Slot{Slot: tx.Slot, Instructions: tx.Instructions}.Encode()
	if !bytes.Equal(a, b) {
		t.Error("CSV and RPC slot encodings differ")
	}
}

// jsonEqualOrdered compares two JSON texts token by token: same keys in the
// same order, same number literals, same strings.
func jsonEqualOrdered(t *testing.T, a, b []byte) bool {
	t.Helper()
	tokens := func(data []byte) []any {
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		var out []any
		for {
			tok, err := dec.Token()
			if err != nil {
				return out
			}
			out = append(out, tok)
		}
	}
	return reflect.DeepEqual(tokens(a), tokens(b))
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

// The Serum decoder against every Serum and Mango row of the 5,376-row slot
// export: the CSV has solana-etl's decode of each row's data and accounts.
func TestDecodeProgramMatchesSlotCSV(t *testing.T) {
	ins, err := DecodeInstructionsCSV(bytes.NewReader(readFixture(t, solSlotDir+"instructions.csv")))
	if err != nil {
		t.Fatal(err)
	}
	checked := map[string]int{}
	for _, want := range ins {
		if want.ProgramID != SerumDexV3ProgramID && want.ProgramID != MangoMarketsV3ProgramID {
			continue
		}
		got := want
		got.Program, got.Type, got.Params = "", "", json.RawMessage("{}")
		if err := DecodeProgram(&got); err != nil {
			t.Fatal(err)
		}
		if got.Program != want.Program || got.Type != want.Type || !bytes.Equal(got.Params, want.Params) {
			t.Errorf("%s #%d/%d: got %s %s %s\nwant %s %s %s", want.TxSignature, want.ParentIndex, want.Index,
				got.Program, got.Type, got.Params, want.Program, want.Type, want.Params)
		}
		checked[want.Type]++
	}
	// The fixture covers these types; a decoder that skipped them would pass vacuously.
	for _, typ := range []string{"consumeEvents", "settleFunds", "cancelOrdersByClientIds", "cancelOrderV2", "newOrderV3", "cancelOrderByClientIdV2", "matchOrders", Unspecified} {
		if checked[typ] == 0 {
			t.Errorf("no %s rows checked", typ)
		}
	}
}

func TestSlotCSVFixture(t *testing.T) {
	ins, err := DecodeInstructionsCSV(bytes.NewReader(readFixture(t, solSlotDir+"instructions.csv")))
	if err != nil {
		t.Fatal(err)
	}
	if len(ins) != 5376 {
		t.Fatalf("%d instructions, want 5376", len(ins))
	}
	s := Slot{Slot: 138802069, Instructions: ins}
	enc, err := s.Encode()
	if err != nil {
		t.Fatal(err)
	}
	back, err := DecodeSlot(enc)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, s) {
		t.Error("slot encode/decode round trip differs")
	}
	id, err := s.ContentID()
	if err != nil || !id.Equals(ContentID(enc)) || id.Prefix().Codec != 0x0200 {
		t.Errorf("content ID %s: %v", id, err)
	}
}

func TestSerumQuirks(t *testing.T) {
	accounts := []string{"9wFFyRfZBsuAha4YcuxcXLKwMxJR43S7fPfQLusDBzvT", "5KKsLVU6TcbVDK4BS6K1DGDxnh4Q9xjYJ8XaDCG5t8ht"}
	data := func(b ...byte) string { return base58.Encode(b) }
	tests := []struct {
		name, data string
		accounts   []string
		typ        string
		params     string
	}{
		// Tag 2 (matchOrders) with limit 25; accounts past the list are null.
		{"match orders", data(0, 2, 0, 0, 0, 25, 0), accounts, "matchOrders",
			`{"limit":25,"market":"9wFFyRfZBsuAha4YcuxcXLKwMxJR43S7fPfQLusDBzvT","request_queue":"5KKsLVU6TcbVDK4BS6K1DGDxnh4Q9xjYJ8XaDCG5t8ht","event_queue":null,"bids":null,"asks":null}`},
		// A field cut short reads the bytes present.
		{"truncated limit", data(0, 2, 0, 0, 0, 7), accounts[:1], "matchOrders",
			`{"limit":7,"market":"9wFFyRfZBsuAha4YcuxcXLKwMxJR43S7fPfQLusDBzvT","request_queue":null,"event_queue":null,"bids":null,"asks":null}`},
		// Empty data reads as tag 0 with zero fields, as in solana-etl.
		{"empty data", "", []string{}, "initializeMarket",
			`{"coin_lot_size":0,"pc_lot_size":0,"fee_rate_bps":0,"vault_signer_nonce":0,"pc_dust_threshold":0,"market":null,"request_queue":null,"event_queue":null,"bids":null,"asks":null,"coin_currency":null,"price_currency":null,"coin_currency_mint":null,"price_currency_mint":null,"rent_sysvar":null,"open_orders_market_authority":null,"prune_authority":null,"crank_authority":null}`},
		{"unknown tag", data(0, 99, 0, 0, 0), accounts, Unspecified, `{}`},
		// consumeEvents: market and event_queue count from the end; with two
		// accounts len-4 = -2 wraps to the first, len-3 = -1 to the last.
		{"consume events wraps", data(0, 3, 0, 0, 0, 5, 0), []string{accounts[1], accounts[0], accounts[1]}, "consumeEvents",
			`{"limit":5,"open_orders":["5KKsLVU6TcbVDK4BS6K1DGDxnh4Q9xjYJ8XaDCG5t8ht","9wFFyRfZBsuAha4YcuxcXLKwMxJR43S7fPfQLusDBzvT"],"market":"5KKsLVU6TcbVDK4BS6K1DGDxnh4Q9xjYJ8XaDCG5t8ht","event_queue":"5KKsLVU6TcbVDK4BS6K1DGDxnh4Q9xjYJ8XaDCG5t8ht"}`},
		// u128 order ids beyond 64 bits stay exact.
		{"u128", data(append([]byte{0, 11, 0, 0, 0, 1, 0, 0, 0}, bytes.Repeat([]byte{0xff}, 16)...)...), []string{}, "cancelOrderV2",
			`{"side":1,"order_id":340282366920938463463374607431768211455,"market":null,"bids":null,"asks":null,"open_orders":null,"owner":null,"event_queue":null}`},
		// newOrderV3 without the trailing max_ts: 2^63-1.
		{"max_ts absent", data(append([]byte{0, 10, 0, 0, 0}, make([]byte, 46)...)...), []string{}, "newOrderV3",
			`{"side":0,"limit_price":0,"max_coin_qty":0,"max_native_pc_qty_including_fees":0,"self_trade_behavior":0,"order_type":0,"client_id":0,"limit":0,"max_ts":9223372036854775807,"market":null,"open_orders":null,"request_queue":null,"paying":null,"open_opders_owner":null,"coin_vault":null,"pc_vault":null,"token_program":null,"rent_sysvar":null,"srm":null}`},
		{"max_ts present and negative", data(append(append([]byte{0, 10, 0, 0, 0}, make([]byte, 46)...), 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)...), []string{}, "newOrderV3",
			`{"side":0,"limit_price":0,"max_coin_qty":0,"max_native_pc_qty_including_fees":0,"self_trade_behavior":0,"order_type":0,"client_id":0,"limit":0,"max_ts":-2,"market":null,"open_orders":null,"request_queue":null,"paying":null,"open_opders_owner":null,"coin_vault":null,"pc_vault":null,"token_program":null,"rent_sysvar":null,"srm":null}`},
		// Signed fields cut short are read at the width present: one 0xff byte is -1.
		{"short signed", data(append([]byte{0, 19, 0, 0, 0}, append(make([]byte, 46), 0xff)...)...), []string{}, "replaceOrderByClientId",
			`{"side":0,"limit_price":0,"max_coin_qty":0,"max_native_pc_qty_including_fees":0,"self_trade_behavior":0,"order_type":0,"client_id":0,"limit":0,"max_ts":-1,"market":null,"open_orders":null,"request_queue":null,"event_queue":null,"bids":null,"asks":null,"paying":null,"open_opders_owner":null,"coin_vault":null,"pc_vault":null,"token_program":null,"rent_sysvar":null,"srm":null}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := Instruction{ProgramID: SerumDexV3ProgramID, Data: tt.data, Accounts: tt.accounts}
			if err := DecodeProgram(&in); err != nil {
				t.Fatal(err)
			}
			if in.Program != "serum-dex-v3" || in.Type != tt.typ || string(in.Params) != tt.params {
				t.Errorf("got %s %s\n%s\nwant %s\n%s", in.Program, in.Type, in.Params, tt.typ, tt.params)
			}
		})
	}
	in := Instruction{ProgramID: SerumDexV3ProgramID, Data: "0OIl", Accounts: accounts}
	if err := DecodeProgram(&in); err == nil {
		t.Error("non-base58 data decoded")
	}
	parsed := Instruction{ProgramID: SerumDexV3ProgramID}
	if err := DecodeProgram(&parsed); err != nil || parsed.Type != Unspecified || string(parsed.Params) != "{}" {
		t.Errorf("parsed serum instruction: %+v %v", parsed, err)
	}
	other := Instruction{ProgramID: "11111111111111111111111111111111", Type: "transfer", Params: json.RawMessage(`{"a":1}`)}
	if err := DecodeProgram(&other); err != nil || other.Type != "transfer" {
		t.Errorf("other program changed: %+v", other)
	}
}

func TestDecodeInstructionsCSVErrors(t *testing.T) {
	header := "tx_signature,index,parent_index,accounts,data,parsed,program,program_id,instruction_type,params\n"
	sig := strings.Repeat("2", 88)
	key := strings.Repeat("3", 44)
	good := sig + `,0,,"[""` + key + `""]",abc,,,` + key + `,,{}` + "\n"
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", "no header"},
		{"bad header", "a,b,c,d,e,f,g,h,i,j\n", "header"},
		{"wrong field count", header + "x,y\n", "line 2"},
		{"bad index", header + strings.Replace(good, ",0,", ",-1,", 1), "line 2: index"},
		{"bad parent", header + good + strings.Replace(good, ",0,,", ",0,x,", 1), "line 3: parent_index"},
		{"accounts not json", header + strings.Replace(good, `"[""`+key+`""]"`, "[", 1), "line 2: accounts"},
		{"accounts numbers", header + strings.Replace(good, `"[""`+key+`""]"`, `[1]`, 1), "line 2: accounts"},
		{"bad account", header + strings.Replace(good, `"[""`+key+`""]"`, `"[""0OIl""]"`, 1), "accounts[0]"},
		{"bad signature", header + strings.Replace(good, sig, "short", 1), "tx_signature"},
		{"bad data", header + strings.Replace(good, ",abc,", ",0OIl,", 1), "data"},
		{"bad params", header + strings.Replace(good, ",{}\n", ",{\n", 1), "params"},
		{"missing params", header + strings.Replace(good, ",{}\n", ",\n", 1), "params: missing"},
		{"unterminated quote", header + `"abc` + "\n", "line 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeInstructionsCSV(strings.NewReader(tt.in))
			if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want ErrMalformed containing %q", err, tt.want)
			}
		})
	}
	ins, err := DecodeInstructionsCSV(strings.NewReader(header + good))
	if err != nil || len(ins) != 1 || ins[0].ParentIndex != NoParent || ins[0].Accounts[0] != key {
		t.Errorf("good row: %+v %v", ins, err)
	}
}

func TestDecodeSolanaTransactionsErrors(t *testing.T) {
	good := string(readFixture(t, solTxDir+"getTransaction.json"))
	sub := func(old, new string) string {
		if !strings.Contains(good, old) {
			t.Fatalf("fixture lacks %q", old)
		}
		return strings.Replace(good, old, new, 1)
	}
	tests := []struct {
		name, in, want string
	}{
		{"not json", "{", "getTransaction"},
		{"error response", `{"jsonrpc":"2.0","id":1,"error":{"code":-32009,"message":"slot skipped"}}`, "slot skipped"},
		{"null result", `{"jsonrpc":"2.0","id":1,"result":null}`, "null"},
		{"base64 encoding", `{"jsonrpc":"2.0","id":1,"result":{"slot":5,"transaction":["AAAA","base64"]}}`, "jsonParsed"},
		{"json encoding", sub(`"programId": "GDDMwNyyx8uB6zrqwBFHjLLG3TBYk2F8Az4yrQC5RzMp"`, `"programIdIndex": 3, "programId": "GDDMwNyyx8uB6zrqwBFHjLLG3TBYk2F8Az4yrQC5RzMp"`), "programIdIndex"},
		{"bad slot", sub(`"slot": 139493615`, `"slot": -5`), "result.slot"},
		{"bad parent", sub(`"index": 1,`, `"index": 9,`), "innerInstructions[0].index"},
		{"bad program id", sub(`"programId": "GDDMwNyyx8uB6zrqwBFHjLLG3TBYk2F8Az4yrQC5RzMp"`, `"programId": "0x1234"`), "block 139493615: result.transaction.message.instructions[0].program_id"},
		{"missing signatures", sub(`"signatures": [`, `"sigs": [`), "signatures: missing"},
		{"bad serum data", sub(`"data": "1zmMA1xb"`, `"data": "0OIl"`), "instructions[4].data: not base58"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeSolanaTransactions([]byte(tt.in))
			if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want ErrMalformed containing %q", err, tt.want)
			}
		})
	}
}

package reference

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"
	"reflect"
	"strings"
	"testing"

	"github.com/ipdm/ipdm/pipeline/source"
)

// The expected file carries ethereum-etl's full token_transfer item; these
// fields are outside the erc20-transfers row by design. Any other field
// appearing there fails the test, so a format change is noticed.
var etlOnlyFields = map[string]bool{"type": true, "block_timestamp": true, "block_hash": true, "item_id": true, "item_timestamp": true}

// compareToETL checks rows field by field against ethereum-etl's
// token_transfers lines. value is a bare JSON number there (5e18 exceeds
// 2^53, so it must be read as json.Number, never float64) and a decimal
// string in the rows.
func compareToETL(t *testing.T, rows []TokenTransfer, expected []map[string]any) {
	t.Helper()
	if len(rows) != len(expected) {
		t.Fatalf("%d rows, want %d", len(rows), len(expected))
	}
	for i, want := range expected {
		got := rows[i]
		enc, _ := json.Marshal(got)
		var gotFields map[string]any
		dec := json.NewDecoder(bytes.NewReader(enc))
		dec.UseNumber()
		if err := dec.Decode(&gotFields); err != nil {
			t.Fatal(err)
		}
		if len(gotFields) != 7 {
			t.Errorf("row has %d fields, want exactly 7", len(gotFields))
		}
		for k, w := range want {
			g, ours := gotFields[k]
			switch {
			case ours:
				if fmt.Sprint(g) != fmt.Sprint(w) {
					t.Errorf("row %d %s = %v, want %v", i, k, g, w)
				}
			case !etlOnlyFields[k]:
				t.Errorf("row %d: expected field %q is neither in the row nor a known ethereum-etl-only field", i, k)
			}
		}
		for k := range gotFields {
			if _, ok := want[k]; !ok {
				t.Errorf("row %d: field %q is not in the expected row", i, k)
			}
		}
		if _, isNum := want["value"].(json.Number); !isNum {
			t.Errorf("expected value is %T, not a JSON number: the file's format changed", want["value"])
		}
	}
}

func TestERC20ReproducesExpectedTransfers(t *testing.T) {
	expected := jsonLines(t, readFixture(t, smallEth+"expected_token_transfers.json"))
	var rows []TokenTransfer
	var moduleOut []byte
	for _, b := range rpcBlocks(t) {
		rows = append(rows, TokenTransfers(b)...)
		enc, err := b.Encode()
		if err != nil {
			t.Fatal(err)
		}
		out, err := MapERC20Transfers(enc)
		if err != nil {
			t.Fatal(err)
		}
		moduleOut = append(moduleOut, out...)
	}
	compareToETL(t, rows, expected)
	if rows[0].Value != "5000000000000000000" {
		t.Errorf("value %s", rows[0].Value)
	}
	// The module's bytes: JSON lines with the fields in the documented order.
	want := `{"token_address":"0xbb9bc244d798123fde783fcc1c72d3bb8c189413","from_address":"0x6498077292a0921c8804924fdf47b5e91e2a215f","to_address":"0x8b3b3b624c3c0397d3da8fd861512393d51dcbac","value":"5000000000000000000","transaction_hash":"0x2e3dcd051a91d3a694f6b8de2ac4b5fe7acdba55f58bcf8471ff00d4a430074d","log_index":0,"block_number":1755635}` + "\n"
	if string(moduleOut) != want {
		t.Errorf("module output\n%s\nwant\n%s", moduleOut, want)
	}
	// The same rows from ethereum-etl's own logs of these blocks.
	etl, err := source.DecodeETL(bytes.NewReader(readFixture(t, smallEth+"expected_blocks.json")), nil,
		bytes.NewReader(readFixture(t, smallEth+"expected_logs.json")))
	if err != nil {
		t.Fatal(err)
	}
	var fromETL []TokenTransfer
	for _, b := range etl {
		fromETL = append(fromETL, TokenTransfers(b)...)
	}
	if !reflect.DeepEqual(fromETL, rows) {
		t.Errorf("rows from ETL logs %+v differ from rows from RPC receipts %+v", fromETL, rows)
	}
}

// oracleTransfers derives the rows from raw ethereum-etl log lines with
// string operations only — independently of package source and of
// TokenTransfers.
func oracleTransfers(t *testing.T, raw []map[string]any) []TokenTransfer {
	var out []TokenTransfer
	for _, l := range raw {
		var words []string
		for _, tp := range l["topics"].([]any) {
			words = append(words, strings.TrimPrefix(tp.(string), "0x"))
		}
		if len(words) == 0 || "0x"+words[0] != TransferTopic {
			continue
		}
		for d := strings.TrimPrefix(l["data"].(string), "0x"); d != ""; {
			n := min(64, len(d))
			words, d = append(words, d[:n]), d[n:]
		}
		if len(words) != 4 {
			continue
		}
		v, ok := new(big.Int).SetString(words[3], 16)
		if !ok {
			t.Fatalf("bad hex %q", words[3])
		}
		li, _ := l["log_index"].(json.Number).Int64()
		bn, _ := l["block_number"].(json.Number).Int64()
		out = append(out, TokenTransfer{
			TokenAddress: strings.ToLower(l["address"].(string)), FromAddress: "0x" + words[1][24:], ToAddress: "0x" + words[2][24:],
			Value: v.String(), TransactionHash: l["transaction_hash"].(string), LogIndex: uint64(li), BlockNumber: uint64(bn),
		})
	}
	return out
}

// The large set has no expected output: check against the independent
// oracle and the invariants an independent implementation must meet.
func TestERC20LargeSet(t *testing.T) {
	raw := jsonLines(t, readFixture(t, largeEth+"logs.json"))
	var rows []TokenTransfer
	for _, b := range largeBlocks(t) {
		rows = append(rows, TokenTransfers(b)...)
		full, _ := b.Encode()
		logsOnly, _ := b.EncodeLogs()
		a, err := MapERC20Transfers(full)
		if err != nil {
			t.Fatal(err)
		}
		c, err := MapERC20Transfers(logsOnly)
		if err != nil || !bytes.Equal(a, c) {
			t.Errorf("block %d: module output depends on the input view: %v", b.Number, err)
		}
	}
	if want := oracleTransfers(t, raw); !reflect.DeepEqual(rows, want) {
		t.Fatalf("rows differ from the oracle: %d rows vs %d", len(rows), len(want))
	}
	if len(rows) != 291 {
		t.Errorf("%d rows, want 291 (282 ERC-20 + 9 ERC-721 Transfer logs)", len(rows))
	}
	// Rows per transaction equal Transfer logs of four words per transaction.
	want := map[string]int{}
	for _, l := range raw {
		topics := l["topics"].([]any)
		if len(topics) > 0 && topics[0] == TransferTopic && len(topics)+(len(l["data"].(string))-2+63)/64 == 4 {
			want[l["transaction_hash"].(string)]++
		}
	}
	got := map[string]int{}
	two64 := new(big.Int).Lsh(big.NewInt(1), 64)
	above := 0
	for _, r := range rows {
		got[r.TransactionHash]++
		if !decimalRe.MatchString(r.Value) {
			t.Errorf("value %q is not an exact decimal", r.Value)
		}
		if v, _ := new(big.Int).SetString(r.Value, 10); v.Cmp(two64) >= 0 {
			above++
		}
		for _, a := range []string{r.TokenAddress, r.FromAddress, r.ToAddress} {
			if !addressRe.MatchString(a) {
				t.Errorf("address %q is not lowercase 0x-hex", a)
			}
		}
		if !hashRe.MatchString(r.TransactionHash) || (r.BlockNumber != 17173049 && r.BlockNumber != 17173050) {
			t.Errorf("row %+v", r)
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("rows per transaction differ: %d transactions vs %d", len(got), len(want))
	}
	if above < 75 {
		t.Errorf("only %d values at or above 2^64; the fixture has 75", above)
	}
}

func TestTokenTransferShapes(t *testing.T) {
	const (
		from  = "0x000000000000000000000000aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		to    = "0x000000000000000000000000bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
		other = "0x8c5be1e5ebec7d5bd14f71427d1e84f3dd0314c0f7b2291e5b200ac8c7c3b925" // Approval
	)
	word := func(v string) string { return fmt.Sprintf("%064s", v) }
	max := strings.Repeat("f", 64)
	tests := []struct {
		name   string
		topics []string
		data   string
		value  string // "" when the log is not a transfer
	}{
		{"erc20", []string{TransferTopic, from, to}, "0x" + word("2a"), "42"},
		{"erc721 token id in topic", []string{TransferTopic, from, to, "0x" + word("37e")}, "0x", "894"},
		{"nothing indexed", []string{TransferTopic}, "0x" + from[2:] + to[2:] + word("5"), "5"},
		{"max uint256", []string{TransferTopic, from, to}, "0x" + max, new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 256), big.NewInt(1)).String()},
		{"short last word", []string{TransferTopic, from, to}, "0x0102", "258"},
		{"no amount", []string{TransferTopic, from, to}, "0x", ""},
		{"extra data word", []string{TransferTopic, from, to}, "0x" + word("1") + word("2"), ""},
		{"erc721 with data", []string{TransferTopic, from, to, "0x" + word("1")}, "0x" + word("1"), ""},
		{"other event", []string{other, from, to}, "0x" + word("1"), ""},
		{"anonymous", nil, "0x" + word("1"), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := source.Block{Number: 7, Logs: []source.Log{{Index: 3, TxHash: "0x" + word("9"), Address: "0x" + strings.Repeat("c", 40), Topics: tt.topics, Data: tt.data}}}
			rows := TokenTransfers(b)
			if tt.value == "" {
				if len(rows) != 0 {
					t.Errorf("rows %+v, want none", rows)
				}
				return
			}
			if len(rows) != 1 {
				t.Fatalf("%d rows", len(rows))
			}
			r := rows[0]
			if r.Value != tt.value || r.FromAddress != "0x"+strings.Repeat("a", 40) || r.ToAddress != "0x"+strings.Repeat("b", 40) ||
				r.LogIndex != 3 || r.BlockNumber != 7 || r.TokenAddress != "0x"+strings.Repeat("c", 40) {
				t.Errorf("row %+v, want value %s", r, tt.value)
			}
		})
	}
}

func TestMapERC20TransfersRejectsBadInput(t *testing.T) {
	for _, in := range []string{"", "{}", `{"version":"x"}`, "[1]"} {
		if _, err := MapERC20Transfers([]byte(in)); err == nil || !strings.Contains(err.Error(), ERC20TransfersModule) {
			t.Errorf("MapERC20Transfers(%q) = %v", in, err)
		}
	}
}

func FuzzMapERC20Transfers(f *testing.F) {
	for _, rel := range []string{smallEth + "expected_blocks.json"} {
		blocks := seedFixture(rel)
		logs := seedFixture(smallEth + "expected_logs.json")
		if blocks == nil {
			continue
		}
		bs, err := source.DecodeETL(bytes.NewReader(blocks), nil, bytes.NewReader(logs))
		if err == nil {
			for _, b := range bs {
				enc, _ := b.EncodeLogs()
				f.Add(enc)
			}
		}
	}
	f.Add([]byte(`{"version":"ipdm.ethereum.logs.v1","number":1,"hash":"0x` + strings.Repeat("a", 64) + `","parent_hash":"0x` + strings.Repeat("b", 64) + `","timestamp":2,"miner":"0x` + strings.Repeat("c", 40) + `","gas_limit":3,"gas_used":0,"base_fee_per_gas":null,"logs":[{"index":0,"transaction_hash":"0x` + strings.Repeat("d", 64) + `","transaction_index":0,"address":"0x` + strings.Repeat("e", 40) + `","topics":["` + TransferTopic + `"],"data":"0x01"}]}`))
	f.Fuzz(func(t *testing.T, input []byte) {
		out, err := MapERC20Transfers(input)
		if err != nil {
			return
		}
		dec := json.NewDecoder(bytes.NewReader(out))
		dec.DisallowUnknownFields()
		for dec.More() {
			var r TokenTransfer
			if err := dec.Decode(&r); err != nil {
				t.Fatalf("output line does not decode: %v", err)
			}
			if !decimalRe.MatchString(r.Value) || !addressRe.MatchString(r.FromAddress) || !addressRe.MatchString(r.ToAddress) {
				t.Fatalf("malformed row %+v", r)
			}
		}
	})
}

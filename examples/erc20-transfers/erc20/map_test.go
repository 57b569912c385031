package erc20

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"testing"

	"github.com/ipdm/ipdm/examples/internal/pipelinetest"
	"github.com/ipdm/ipdm/pipeline/reference"
	"github.com/ipdm/ipdm/pipeline/source"
)

func equalRows(t *testing.T, what string, got, want [][]byte) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d rows, want %d", what, len(got), len(want))
	}
	for i := range got {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("%s: row %d\n%s\nwant\n%s", what, i, got[i], want[i])
		}
	}
}

// The small set's expected_token_transfers.json (ethereum-etl's output)
// field by field: the rows' seven fields equal the expected item's, and the
// expected value, a bare JSON number above 2^53, is read exactly.
func TestSmallSetReproducesExpectedTransfers(t *testing.T) {
	var rows [][]byte
	for _, b := range smallBlocks(t) {
		got, err := Rows(encodeLogs(t, b))
		if err != nil {
			t.Fatal(err)
		}
		equalRows(t, fmt.Sprintf("block %d", b.Number), got, referenceRows(t, b))
		rows = append(rows, got...)
	}
	data := pipelinetest.ReadFixture(t, smallEth+"expected_token_transfers.json")
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var expected []map[string]any
	for dec.More() {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			t.Fatal(err)
		}
		expected = append(expected, m)
	}
	if len(rows) != len(expected) || len(rows) != 1 {
		t.Fatalf("%d rows, expected file has %d (want 1)", len(rows), len(expected))
	}
	fields := []string{"token_address", "from_address", "to_address", "value", "transaction_hash", "log_index", "block_number"}
	for i, want := range expected {
		dec := json.NewDecoder(bytes.NewReader(rows[i]))
		dec.UseNumber()
		var got map[string]any
		if err := dec.Decode(&got); err != nil {
			t.Fatal(err)
		}
		if len(got) != len(fields) {
			t.Errorf("row has %d fields, want %d", len(got), len(fields))
		}
		for _, f := range fields {
			if fmt.Sprint(got[f]) != fmt.Sprint(want[f]) {
				t.Errorf("row %d %s = %v, want %v", i, f, got[f], want[f])
			}
		}
		if _, ok := got["value"].(string); !ok {
			t.Errorf("value is %T, want a JSON string", got["value"])
		}
	}
	const first = `{"token_address":"0xbb9bc244d798123fde783fcc1c72d3bb8c189413","from_address":"0x6498077292a0921c8804924fdf47b5e91e2a215f","to_address":"0x8b3b3b624c3c0397d3da8fd861512393d51dcbac","value":"5000000000000000000","transaction_hash":"0x2e3dcd051a91d3a694f6b8de2ac4b5fe7acdba55f58bcf8471ff00d4a430074d","log_index":0,"block_number":1755635}`
	if string(rows[0]) != first {
		t.Errorf("row\n%s\nwant\n%s", rows[0], first)
	}
}

// Blocks 17173049–17173050 (681 logs, 291 transfers, 75 values of 2^64 or
// more): byte-identical to the reference, also in its module form.
func TestLargeSetMatchesReference(t *testing.T) {
	total := 0
	for _, b := range largeBlocks(t) {
		enc := encodeLogs(t, b)
		got, err := Rows(enc)
		if err != nil {
			t.Fatal(err)
		}
		equalRows(t, fmt.Sprintf("block %d", b.Number), got, referenceRows(t, b))
		lines, err := reference.MapERC20Transfers(enc)
		if err != nil {
			t.Fatal(err)
		}
		if joined := joinLines(got); !bytes.Equal(joined, lines) {
			t.Errorf("block %d: rows as JSON lines differ from reference.MapERC20Transfers", b.Number)
		}
		total += len(got)
	}
	if total != 291 {
		t.Errorf("%d rows, want 291", total)
	}
}

func joinLines(rows [][]byte) []byte {
	var out []byte
	for _, r := range rows {
		out = append(append(out, r...), '\n')
	}
	return out
}

// testBlock is a valid block with the given logs (indexes assigned).
func testBlock(number uint64, logs ...source.Log) source.Block {
	for i := range logs {
		logs[i].Index = uint64(2 * i)
		if logs[i].TxHash == "" {
			logs[i].TxHash = "0x" + strings.Repeat("9", 64)
		}
		if logs[i].Address == "" {
			logs[i].Address = "0x" + strings.Repeat("c", 40)
		}
		if logs[i].Data == "" {
			logs[i].Data = "0x"
		}
	}
	return source.Block{
		Number: number, Hash: "0x" + strings.Repeat("1", 64), ParentHash: "0x" + strings.Repeat("2", 64),
		Timestamp: 1700000000, Miner: "0x" + strings.Repeat("3", 40), GasLimit: 30000000, GasUsed: 21000,
		Logs: logs,
	}
}

func word(hexValue string) string { return fmt.Sprintf("%064s", hexValue) }

// Every log shape the reference distinguishes, compared with it.
func TestMapShapes(t *testing.T) {
	const (
		from     = "0x000000000000000000000000aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		to       = "0x000000000000000000000000bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
		approval = "0x8c5be1e5ebec7d5bd14f71427d1e84f3dd0314c0f7b2291e5b200ac8c7c3b925"
		dirty    = "0xffffffffffffffffffffffffaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" // high bytes set
	)
	tests := []struct {
		name   string
		topics []string
		data   string
		value  string // "" when the log is not a transfer
	}{
		{"erc20", []string{TransferTopic, from, to}, "0x" + word("2a"), "42"},
		{"erc721 token id in topic", []string{TransferTopic, from, to, "0x" + word("37e")}, "0x", "894"},
		{"nothing indexed", []string{TransferTopic}, "0x" + from[2:] + to[2:] + word("5"), "5"},
		{"from indexed only", []string{TransferTopic, from}, "0x" + to[2:] + word("6"), "6"},
		{"high address bytes ignored", []string{TransferTopic, dirty, to}, "0x" + word("1"), "1"},
		{"zero", []string{TransferTopic, from, to}, "0x" + word("0"), "0"},
		{"max uint64", []string{TransferTopic, from, to}, "0x" + word(strings.Repeat("f", 16)), "18446744073709551615"},
		{"2^64", []string{TransferTopic, from, to}, "0x" + word("1"+strings.Repeat("0", 16)), "18446744073709551616"},
		{"10^18 multiples", []string{TransferTopic, from, to}, "0x" + word("d3c21bcecceda1000000"), "1000000000000000000000000"},
		{"max uint256", []string{TransferTopic, from, to}, "0x" + strings.Repeat("f", 64), new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 256), big.NewInt(1)).String()},
		{"short last word", []string{TransferTopic, from, to}, "0x0102", "258"},
		{"short last word of zeros", []string{TransferTopic, from, to}, "0x0000", "0"},
		{"no amount", []string{TransferTopic, from, to}, "0x", ""},
		{"extra data word", []string{TransferTopic, from, to}, "0x" + word("1") + word("2"), ""},
		{"erc721 with data", []string{TransferTopic, from, to, "0x" + word("1")}, "0x" + word("1"), ""},
		{"other event", []string{approval, from, to}, "0x" + word("1"), ""},
		{"transfer topic not first", []string{approval, TransferTopic, to}, "0x" + word("1"), ""},
		{"anonymous", nil, "0x" + word("1"), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			other := source.Log{Topics: []string{approval}, Data: "0x" + word("7")}
			b := testBlock(7, other, source.Log{Topics: tt.topics, Data: tt.data}, other)
			got, err := Rows(encodeLogs(t, b))
			if err != nil {
				t.Fatal(err)
			}
			equalRows(t, tt.name, got, referenceRows(t, b))
			switch {
			case tt.value == "" && len(got) != 0:
				t.Errorf("rows %s, want none", got)
			case tt.value != "" && (len(got) != 1 || !bytes.Contains(got[0], []byte(`"value":"`+tt.value+`"`))):
				t.Errorf("rows %s, want value %s", got, tt.value)
			}
		})
	}
}

func TestMapEmptyAndBaseFee(t *testing.T) {
	for _, fee := range []*big.Int{nil, big.NewInt(0), big.NewInt(7), new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 256), big.NewInt(1))} {
		b := testBlock(0)
		b.BaseFeePerGas = fee
		rows, err := Rows(encodeLogs(t, b))
		if err != nil || len(rows) != 0 {
			t.Errorf("base fee %v: rows %q, err %v", fee, rows, err)
		}
	}
	b := testBlock(1<<64-1, source.Log{Topics: []string{TransferTopic}, Data: "0x" + word("a") + word("b") + word("c")})
	rows, err := Rows(encodeLogs(t, b))
	if err != nil || len(rows) != 1 || !bytes.HasSuffix(rows[0], []byte(`"block_number":18446744073709551615}`)) {
		t.Errorf("max block number: rows %q, err %v", rows, err)
	}
}

// A Mapper reused across blocks gives each block's rows only.
func TestMapperReuse(t *testing.T) {
	var m Mapper
	blocks := []source.Block{
		testBlock(1, source.Log{Topics: []string{TransferTopic}, Data: "0x" + word("a") + word("b") + word("1")}),
		testBlock(2),
		testBlock(3, source.Log{Topics: []string{TransferTopic}, Data: "0x" + word("a") + word("b") + word("3")}),
	}
	for _, b := range blocks {
		var got [][]byte
		if err := m.Map(encodeLogs(t, b), func(r []byte) { got = append(got, bytes.Clone(r)) }); err != nil {
			t.Fatal(err)
		}
		equalRows(t, fmt.Sprint(b.Number), got, referenceRows(t, b))
	}
	enc := encodeLogs(t, blocks[2])
	if n := testing.AllocsPerRun(100, func() { _ = m.Map(enc, func([]byte) {}) }); n != 0 {
		t.Errorf("Map allocates %v times per block", n)
	}
}

func TestMapRejects(t *testing.T) {
	valid := string(encodeLogs(t, testBlock(5,
		source.Log{Topics: []string{TransferTopic, "0x" + word("a"), "0x" + word("b")}, Data: "0x" + word("1")},
		source.Log{Topics: []string{TransferTopic}, Data: "0x" + word("a") + word("b") + word("2")})))
	if _, err := Rows([]byte(valid)); err != nil {
		t.Fatal(err)
	}
	full := testBlock(5)
	full.Transactions = []source.Transaction{}
	fullEnc, err := full.Encode()
	if err != nil {
		t.Fatal(err)
	}
	hash := strings.Repeat("1", 64)
	tests := []struct {
		name, input, field string
	}{
		{"empty", "", ""},
		{"not json", "hello", ""},
		{"block encoding", string(fullEnc), "version"},
		{"other version", strings.Replace(valid, "logs.v1", "logs.v2", 1), "version"},
		{"uppercase hash", strings.Replace(valid, hash, strings.ToUpper(strings.Repeat("a", 64)), 1), "hash"},
		{"short hash", strings.Replace(valid, hash, hash[2:], 1), "hash"},
		{"missing field", strings.Replace(valid, `"timestamp":1700000000,`, "", 1), "timestamp"},
		{"whitespace", strings.Replace(valid, `"number":5`, `"number": 5`, 1), "number"},
		{"leading zero", strings.Replace(valid, `"number":5`, `"number":05`, 1), "number"},
		{"negative", strings.Replace(valid, `"number":5`, `"number":-5`, 1), "number"},
		{"uint64 overflow", strings.Replace(valid, `"number":5`, `"number":18446744073709551616`, 1), "number"},
		{"fraction", strings.Replace(valid, `"gas_used":21000`, `"gas_used":21000.0`, 1), "gas_used"},
		{"base fee number", strings.Replace(valid, `"base_fee_per_gas":null`, `"base_fee_per_gas":7`, 1), "base_fee_per_gas"},
		{"base fee above 256 bits", strings.Replace(valid, `"base_fee_per_gas":null`, `"base_fee_per_gas":"115792089237316195423570985008687907853269984665640564039457584007913129639936"`, 1), "base_fee_per_gas"},
		{"logs null", strings.Replace(valid, `"logs":[`, `"logs":null,"x":[`, 1), "logs"},
		{"index not ascending", strings.Replace(valid, `"index":2`, `"index":0`, 1), "logs[1].index"},
		{"five topics", strings.Replace(valid, `"topics":["`+TransferTopic+`"]`, `"topics":["`+TransferTopic+`","`+TransferTopic+`","`+TransferTopic+`","`+TransferTopic+`","`+TransferTopic+`"]`, 1), "logs[1].topics"},
		{"odd data", strings.Replace(valid, `2"}]}`, `2f"}]}`, 1), "logs[1].data"},
		{"uppercase data", strings.Replace(valid, `2"}]}`, `A2"}]}`, 1), "logs[1].data"},
		{"unterminated data", strings.TrimSuffix(valid, `"}]}`), "logs[1].data"},
		{"short address", strings.Replace(valid, `"address":"0x`+strings.Repeat("c", 40), `"address":"0x`+strings.Repeat("c", 38), 1), "logs[0].address"},
		{"topic not a string", strings.Replace(valid, `"topics":["`, `"topics":[1,"`, 1), "logs[0].topics"},
		{"unknown log field", strings.Replace(valid, `}]}`, `,"removed":false}]}`, 1), "logs[1]"},
		{"trailing data", valid + " ", ""},
		{"trailing newline", valid + "\n", ""},
		{"truncated", valid[:len(valid)-1], ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m Mapper
			emitted := 0
			err := m.Map([]byte(tt.input), func([]byte) { emitted++ })
			// An *InputError naming tt.field, nothing emitted (the check is
			// shared with the other examples, in examples/internal/pipelinetest).
			pipelinetest.CheckRejected(t, err, len(tt.input), emitted, tt.field)
			if b, err := source.DecodeBlock([]byte(tt.input)); err == nil && b.Transactions == nil {
				if enc, _ := b.EncodeLogs(); bytes.Equal(enc, []byte(tt.input)) {
					t.Errorf("the input is a valid canonical block: the case is wrong")
				}
			}
		})
	}
	if _, err := Rows(fullEnc); err == nil || !strings.Contains(err.Error(), "ethereum-logs") {
		t.Errorf("block encoding: %v, want a hint to use the ethereum-logs source", err)
	}
}

// seedBlocks are the fuzz seeds: the fixtures' blocks and synthetic ones.
func seedBlocks(f *testing.F) {
	for _, dir := range []string{smallEth} {
		blocks, logs := pipelinetest.FixtureFile(dir+"expected_blocks.json"), pipelinetest.FixtureFile(dir+"expected_logs.json")
		if bs, err := source.DecodeETL(bytes.NewReader(blocks), nil, bytes.NewReader(logs)); err == nil && blocks != nil {
			for _, b := range bs {
				if enc, err := b.EncodeLogs(); err == nil {
					f.Add(enc)
				}
			}
		}
	}
	for _, b := range []source.Block{
		testBlock(1, source.Log{Topics: []string{TransferTopic}, Data: "0x" + word("a") + word("b") + "01"}),
		testBlock(2, source.Log{Topics: []string{TransferTopic, "0x" + word("a"), "0x" + word("b"), "0x" + word("ff")}}),
		testBlock(3),
	} {
		enc, _ := b.EncodeLogs()
		f.Add(enc)
	}
}

// FuzzMap checks Map against the reference on any input: it never panics;
// what it accepts the reference accepts, with the same rows; and it accepts
// every canonical logs encoding the reference accepts.
func FuzzMap(f *testing.F) {
	seedBlocks(f)
	f.Fuzz(func(t *testing.T, input []byte) {
		rows, err := Rows(input)
		if err != nil && !errors.Is(err, ErrMalformed) {
			t.Fatalf("error %v does not match ErrMalformed", err)
		}
		ref, refErr := reference.MapERC20Transfers(input)
		if err == nil {
			if refErr != nil {
				t.Fatalf("Map accepts what the reference refuses (%v)", refErr)
			}
			if got := joinLines(rows); !bytes.Equal(got, ref) {
				t.Fatalf("rows\n%s\nreference\n%s", got, ref)
			}
			return
		}
		if refErr == nil {
			if b, derr := source.DecodeBlock(input); derr == nil && b.Transactions == nil {
				if enc, _ := b.EncodeLogs(); bytes.Equal(enc, input) {
					t.Fatalf("Map refuses a canonical block the reference accepts: %v", err)
				}
			}
		}
	})
}

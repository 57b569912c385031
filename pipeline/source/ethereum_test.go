package source

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"testing"
)

// The two formats of the small set describe the same blocks: the RPC
// responses and ethereum-etl's expected_*.json. Decoded, they must encode to
// the same bytes, so the proof-of-processing hash does not depend on the
// source format.
func TestRPCAndETLAgree(t *testing.T) {
	rpc := rpcBlockFixture(t)
	empty, err := DecodeRPCBlock(readFixture(t, smallEth+"web3_response.eth_getBlockByNumber_0x1ac9f2_true.json"))
	if err != nil {
		t.Fatal(err)
	}
	etl := etlFixture(t, smallEth, "expected_blocks.json", "expected_transactions.json", "expected_logs.json")
	if len(etl) != 2 {
		t.Fatalf("ETL decoded %d blocks, want 2", len(etl))
	}
	for i, rb := range []Block{empty, rpc} {
		a, err := rb.Encode()
		if err != nil {
			t.Fatal(err)
		}
		b, err := etl[i].Encode()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a, b) {
			t.Errorf("block %d: RPC and ETL encodings differ:\nrpc %s\netl %s", rb.Number, a, b)
		}
		ca, _ := rb.ContentID()
		cb, _ := etl[i].ContentID()
		if !ca.Equals(cb) || ca.String() != ContentID(a).String() {
			t.Errorf("block %d: content IDs %s and %s", rb.Number, ca, cb)
		}
	}
}

// Field by field against the expected ETL files, read generically.
func TestRPCBlockMatchesExpected(t *testing.T) {
	b := rpcBlockFixture(t)
	blocks := jsonLines(t, readFixture(t, smallEth+"expected_blocks.json"))
	txs := jsonLines(t, readFixture(t, smallEth+"expected_transactions.json"))
	logs := jsonLines(t, readFixture(t, smallEth+"expected_logs.json"))
	eb := blocks[1]
	check := func(what string, got, want any) {
		t.Helper()
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s = %v, want %v", what, got, want)
		}
	}
	check("number", b.Number, eb["number"])
	check("hash", b.Hash, eb["hash"])
	check("parent_hash", b.ParentHash, eb["parent_hash"])
	check("timestamp", b.Timestamp, eb["timestamp"])
	check("miner", b.Miner, eb["miner"])
	check("gas_used", b.GasUsed, eb["gas_used"])
	check("transaction_count", len(b.Transactions), eb["transaction_count"])
	if b.BaseFeePerGas != nil {
		t.Errorf("base fee %v before London", b.BaseFeePerGas)
	}
	for i, et := range txs {
		tx := b.Transactions[i]
		check("tx hash", tx.Hash, et["hash"])
		check("tx value", tx.Value, et["value"]) // 405738107000000000: exact
		check("tx gas_price", tx.GasPrice, et["gas_price"])
		check("tx nonce", tx.Nonce, et["nonce"])
		check("tx from", tx.From, et["from_address"])
		check("tx to", tx.To, et["to_address"])
		check("tx input", tx.Input, et["input"])
		check("receipt gas used", tx.Receipt.GasUsed, et["receipt_gas_used"])
		check("receipt cumulative", tx.Receipt.CumulativeGasUsed, et["receipt_cumulative_gas_used"])
		if tx.Receipt.Status != StatusUnknown || et["receipt_status"] != nil {
			t.Errorf("pre-Byzantium status %d / %v", tx.Receipt.Status, et["receipt_status"])
		}
	}
	if len(b.Logs) != len(logs) {
		t.Fatalf("%d logs, want %d", len(b.Logs), len(logs))
	}
	for i, el := range logs {
		l := b.Logs[i]
		check("log index", l.Index, el["log_index"])
		check("log address", l.Address, el["address"])
		check("log data", l.Data, el["data"])
		check("log topics", l.Topics, el["topics"])
		check("log tx", l.TxHash, el["transaction_hash"])
	}
}

func TestLatestBlockWithoutTransactions(t *testing.T) {
	b, err := DecodeRPCBlock(readFixture(t, smallEth+"web3_response.eth_getBlockByNumber_latest_false.json"))
	if err != nil {
		t.Fatal(err)
	}
	if b.Number != 0x71993a || len(b.Transactions) != 0 || len(b.Logs) != 0 {
		t.Errorf("got block %d with %d txs, %d logs", b.Number, len(b.Transactions), len(b.Logs))
	}
}

func TestETLLargeSet(t *testing.T) {
	blocks := etlFixture(t, largeEth, "blocks.json", "transactions.json", "logs.json")
	if len(blocks) != 2 || blocks[0].Number != 17173049 || blocks[1].Number != 17173050 {
		t.Fatalf("blocks %+v", blocks)
	}
	// Independent oracle: the raw lines, grouped by block_number.
	rawTxs := jsonLines(t, readFixture(t, largeEth+"transactions.json"))
	rawLogs := jsonLines(t, readFixture(t, largeEth+"logs.json"))
	wantTxs, wantLogs := map[string]int{}, map[string]int{}
	for _, tx := range rawTxs {
		wantTxs[fmt.Sprint(tx["block_number"])]++
	}
	for _, l := range rawLogs {
		wantLogs[fmt.Sprint(l["block_number"])]++
	}
	totalLogs := 0
	for _, b := range blocks {
		n := fmt.Sprint(b.Number)
		if len(b.Transactions) != wantTxs[n] || len(b.Logs) != wantLogs[n] {
			t.Errorf("block %s: %d txs, %d logs; want %d, %d", n, len(b.Transactions), len(b.Logs), wantTxs[n], wantLogs[n])
		}
		totalLogs += len(b.Logs)
		if b.BaseFeePerGas == nil {
			t.Errorf("block %s: no base fee after London", n)
		}
		for i, l := range b.Logs {
			if i > 0 && l.Index <= b.Logs[i-1].Index {
				t.Fatalf("block %s: logs out of order", n)
			}
		}
		enc, err := b.Encode()
		if err != nil {
			t.Fatal(err)
		}
		back, err := DecodeBlock(enc)
		if err != nil {
			t.Fatal(err)
		}
		again, err := back.Encode()
		if err != nil || !bytes.Equal(enc, again) {
			t.Fatalf("block %s: encode/decode/encode differs: %v", n, err)
		}
		logsOnly, err := b.EncodeLogs()
		if err != nil {
			t.Fatal(err)
		}
		lb, err := DecodeBlock(logsOnly)
		if err != nil || lb.Transactions != nil || len(lb.Logs) != len(b.Logs) {
			t.Fatalf("logs view: %v", err)
		}
	}
	if totalLogs != 681 || len(rawTxs) != 298 {
		t.Errorf("%d logs, %d txs; want 681, 298", totalLogs, len(rawTxs))
	}
	// Values above 2^64 survive exactly.
	byHash := map[string]Transaction{}
	for _, b := range blocks {
		for _, tx := range b.Transactions {
			byHash[tx.Hash] = tx
		}
	}
	for _, raw := range rawTxs {
		tx := byHash[raw["hash"].(string)]
		if tx.Value.String() != raw["value"].(json.Number).String() {
			t.Errorf("tx %s value %s, want %s", tx.Hash, tx.Value, raw["value"])
		}
	}
	big64 := new(big.Int).Lsh(big.NewInt(1), 64)
	above := 0
	for _, tx := range byHash {
		if tx.Value.Cmp(big64) >= 0 {
			above++
		}
	}
	if above == 0 {
		t.Error("no transaction value at or above 2^64: the exactness check above proves nothing")
	}
	// The ETL decode without transactions keeps the logs and refuses Encode.
	lb, err := DecodeETL(bytes.NewReader(readFixture(t, largeEth+"blocks.json")), nil, bytes.NewReader(readFixture(t, largeEth+"logs.json")))
	if err != nil {
		t.Fatal(err)
	}
	if lb[0].Transactions != nil {
		t.Error("transactions loaded without transactions.json")
	}
	if _, err := lb[0].Encode(); !errors.Is(err, ErrMalformed) {
		t.Errorf("Encode without transactions: %v", err)
	}
	a, _ := lb[1].EncodeLogs()
	b, _ := blocks[1].EncodeLogs()
	if !bytes.Equal(a, b) {
		t.Error("logs view depends on whether transactions were loaded")
	}
}

// Every malformed input gives an ErrMalformed naming where it is.
func TestDecodeRPCErrors(t *testing.T) {
	good := readFixture(t, smallEth+"web3_response.eth_getBlockByNumber_0x1ac9f3_true.json")
	r1 := readFixture(t, smallEth+"web3_response.eth_getTransactionReceipt_0x2e3dcd051a91d3a694f6b8de2ac4b5fe7acdba55f58bcf8471ff00d4a430074d.json")
	r2 := readFixture(t, smallEth+"web3_response.eth_getTransactionReceipt_0x9a5437ec71b74ecf5930b406908ac6999966d38a86d1534b7190ece7599095eb.json")
	edit := func(data []byte, old, new string) []byte {
		if !bytes.Contains(data, []byte(old)) {
			t.Fatalf("fixture lacks %q", old)
		}
		return bytes.Replace(data, []byte(old), []byte(new), 1)
	}
	tests := []struct {
		name     string
		block    []byte
		receipts [][]byte
		want     []string
	}{
		{"not json", []byte("{"), nil, []string{"eth_getBlockByNumber"}},
		{"error response", []byte(`{"jsonrpc":"2.0","id":1,"error":{"code":-32000,"message":"header not found"}}`), nil, []string{"-32000", "header not found"}},
		{"null result", []byte(`{"jsonrpc":"2.0","id":1,"result":null}`), nil, []string{"result", "null"}},
		{"bad number", edit(good, `"number": "0x1ac9f3"`, `"number": "1755635"`), nil, []string{"result.number", "hex quantity"}},
		{"bad value", edit(good, `"value": "0x5a178a89b930e00"`, `"value": "0xZZ"`), [][]byte{r1, r2}, []string{"block 1755635", "result.transactions[1].value"}},
		{"short address", edit(good, `"from": "0x3763e6e1228bfeab94191c856412d1bb0a8e6996"`, `"from": "0x3763"`), [][]byte{r1, r2}, []string{"block 1755635", "transactions[1].from", "20 bytes"}},
		{"hashes only", edit(good, `"transactions": [`, `"transactions": ["0x2e3dcd051a91d3a694f6b8de2ac4b5fe7acdba55f58bcf8471ff00d4a430074d"],"x": [`), nil, []string{"request full transactions"}},
		{"missing receipt", good, [][]byte{r1}, []string{"block 1755635", "no receipt", "0x9a5437ec"}},
		{"duplicate receipt", good, [][]byte{r1, r1, r2}, []string{"second receipt"}},
		{"foreign receipt", edit(good, `"hash": "0x9a5437ec71b74ecf5930b406908ac6999966d38a86d1534b7190ece7599095eb"`, `"hash": "0x9a5437ec71b74ecf5930b406908ac6999966d38a86d1534b7190ece7599095ec"`), [][]byte{r1, r2}, []string{"eth_getTransactionReceipt[1]", "not in block 1755635"}},
		{"wrong block hash in receipt", good, [][]byte{r1, edit(r2, `"blockHash": "0x1dec`, `"blockHash": "0x2dec`)}, []string{"eth_getTransactionReceipt[1]", "blockHash"}},
		{"bad topic", good, [][]byte{edit(r1, `"0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"`, `"0xddf2"`), r2}, []string{"result.logs[0].topics[0]", "32 bytes"}},
		{"removed log", good, [][]byte{edit(r1, `"removed": false`, `"removed": true`), r2}, []string{"removed"}},
		{"odd data", good, [][]byte{edit(r1, `"data": "0x"`, `"data": "0x1"`), r2}, []string{"logs[1].data", "odd"}},
		{"index gap", edit(good, `"transactionIndex": "0x1"`, `"transactionIndex": "0x2"`), [][]byte{r1, r2}, []string{"transactionIndex", "2 at position 1"}},
		{"huge quantity", edit(good, `"value": "0x0"`, `"value": "0x1`+strings.Repeat("0", 64)+`"`), [][]byte{r1, r2}, []string{"256 bits"}},
		{"wrong status", good, [][]byte{r1, edit(r2, `"root": `, `"status": "0x2", "root": `)}, []string{"status", "not 0 or 1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeRPCBlock(tt.block, tt.receipts...)
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("err = %v, want ErrMalformed", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestDecodeETLErrors(t *testing.T) {
	blocks := string(readFixture(t, smallEth+"expected_blocks.json"))
	txs := string(readFixture(t, smallEth+"expected_transactions.json"))
	logs := string(readFixture(t, smallEth+"expected_logs.json"))
	sub := func(s, old, new string) string {
		if !strings.Contains(s, old) {
			t.Fatalf("fixture lacks %q", old)
		}
		return strings.Replace(s, old, new, 1)
	}
	tests := []struct {
		name              string
		blocks, txs, logs string
		want              []string
	}{
		{"garbage line", blocks + "{oops\n", txs, logs, []string{"ethereum-etl blocks line 3"}},
		{"float number", sub(blocks, `"number": 1755634`, `"number": 1755634.5`), txs, logs, []string{"blocks line 1", "number", "non-negative integer"}},
		{"negative gas", sub(blocks, `"gas_used": 57418`, `"gas_used": -1`), txs, logs, []string{"line 2", "block 1755635", "gas_used"}},
		{"duplicate block", blocks + strings.SplitAfter(blocks, "\n")[0], txs, logs, []string{"line 3", "block 1755634", "twice"}},
		{"unknown block", blocks, txs, sub(logs, `"block_number": 1755635`, `"block_number": 1755636`), []string{"logs line 1", "block 1755636", "not in blocks.json"}},
		{"hash mismatch", blocks, sub(txs, `"block_hash": "0x1dec`, `"block_hash": "0x2dec`), logs, []string{"transactions line 1", "block_hash"}},
		{"string value", blocks, sub(txs, `"value": 405738107000000000`, `"value": "lots"`), logs, []string{"transactions line 2"}},
		{"count mismatch", blocks, strings.SplitAfter(txs, "\n")[0], logs, []string{"block 1755635", "transaction_count 2", "has 1"}},
		{"duplicate tx", blocks, txs + strings.SplitAfter(txs, "\n")[0], logs, []string{"transactions line 3", "twice"}},
		{"bad address", blocks, txs, sub(logs, `"address": "0xbb9bc244d798123fde783fcc1c72d3bb8c189413"`, `"address": "0xbb9b"`), []string{"logs line 1", "block 1755635", "address"}},
		{"five topics", blocks, txs, sub(logs, `"topics": [`, `"topics": ["0x0000000000000000000000000000000000000000000000000000000000000000", "0x0000000000000000000000000000000000000000000000000000000000000000", `), []string{"logs line 1", "5 topics"}},
		{"wrong type", blocks, txs, sub(logs, `"type": "log"`, `"type": "block"`), []string{"logs line 1", "type"}},
		{"duplicate log", blocks, txs, logs + strings.SplitAfter(logs, "\n")[0], []string{"logs line 3", "log_index", "twice"}},
		{"broken chain", sub(blocks, `"parent_hash": "0xa06fc36a`, `"parent_hash": "0xb06fc36a`), txs, logs, []string{"block 1755635", "parent_hash"}},
		{"log of unknown tx", blocks, txs, sub(logs, `"transaction_index": 0`, `"transaction_index": 1`), []string{"logs line 1", "not in the block"}},
		{"missing receipt fields", blocks, sub(txs, `"receipt_gas_used": 36418, `, ``), logs, []string{"transactions line 1", "receipt_gas_used", "missing"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeETL(strings.NewReader(tt.blocks), strings.NewReader(tt.txs), strings.NewReader(tt.logs))
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("err = %v, want ErrMalformed", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
	if _, err := DecodeETL(strings.NewReader(blocks), nil, nil); !errors.Is(err, ErrMalformed) {
		t.Errorf("nil logs: %v", err)
	}
	long := strings.NewReader(`{"number": 1, "x": "` + strings.Repeat("a", MaxLineSize) + `"}`)
	if _, err := DecodeETL(long, nil, strings.NewReader("")); err == nil || !strings.Contains(err.Error(), "longer than") {
		t.Errorf("over-long line: %v", err)
	}
}

func TestDecodeBlockStrict(t *testing.T) {
	enc, err := rpcBlockFixture(t).Encode()
	if err != nil {
		t.Fatal(err)
	}
	s := string(enc)
	tests := []struct {
		name, in, want string
	}{
		{"unknown field", strings.Replace(s, `"number":`, `"extra":1,"number":`, 1), "unknown field"},
		{"wrong version", strings.Replace(s, BlockVersion, "ipdm.ethereum.block.v9", 1), "version"},
		{"logs version with transactions", strings.Replace(s, BlockVersion, LogsVersion, 1), "not allowed"},
		{"uppercase hex", strings.Replace(s, `"hash":"0x1dec87ec`, `"hash":"0x1DEC87EC`, 1), "lowercase"},
		{"value as number", strings.Replace(s, `"value":"405738107000000000"`, `"value":405738107000000000`, 1), "value"},
		{"value with sign", strings.Replace(s, `"value":"405738107000000000"`, `"value":"-1"`, 1), "non-negative"},
		{"float gas", strings.Replace(s, `"gas":90000`, `"gas":90000.5`, 1), "gas"},
		{"bad status", strings.Replace(s, `"status":null,"gas_used":21000`, `"status":7,"gas_used":21000`, 1), "status"},
		{"trailing data", s + "{}", "trailing"},
		{"log order", strings.Replace(s, `{"index":1,`, `{"index":0,`, 1), "ascending"},
		{"empty to", strings.Replace(s, `"to":"0xec1ebac9da3430213281c80fa6d46378341a96ae"`, `"to":""`, 1), "null"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeBlock([]byte(tt.in))
			if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want ErrMalformed containing %q", err, tt.want)
			}
		})
	}
}

func TestEncodeRejectsInvalidBlock(t *testing.T) {
	b := rpcBlockFixture(t)
	b.Transactions[1].Value = nil
	if _, err := b.Encode(); !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "transactions[1].value") {
		t.Errorf("nil value: %v", err)
	}
	b = rpcBlockFixture(t)
	b.Logs[0].Address = "0xBB9BC244D798123FDE783FCC1C72D3BB8C189413"
	if _, err := b.Encode(); err == nil {
		t.Error("uppercase address encoded")
	}
	b = rpcBlockFixture(t)
	b.Transactions[0].Index = 5
	if _, err := b.EncodeLogs(); err == nil {
		t.Error("transaction out of place encoded")
	}
}

func TestQuantities(t *testing.T) {
	tests := []struct {
		in   string
		want string // "" for an error
	}{
		{"0x0", "0"}, {"0x00ff", "255"}, {"0XfF", "255"}, {"0x", ""}, {"0", ""}, {"ff", ""}, {"0x-1", ""},
		{"0x" + strings.Repeat("f", 64), new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 256), big.NewInt(1)).String()},
		{"0x1" + strings.Repeat("0", 64), ""}, {"0x1g", ""},
	}
	for _, tt := range tests {
		v, err := quantityBig(tt.in)
		switch {
		case tt.want == "" && err == nil:
			t.Errorf("quantityBig(%q) = %v, want error", tt.in, v)
		case tt.want != "" && (err != nil || v.String() != tt.want):
			t.Errorf("quantityBig(%q) = %v, %v; want %s", tt.in, v, err, tt.want)
		}
	}
	for in, ok := range map[string]bool{"0": true, "10": true, "01": false, "-1": false, "1.0": false, "1e3": false, "": false, "+1": false} {
		if isDecimal(in) != ok {
			t.Errorf("isDecimal(%q) = %v", in, !ok)
		}
	}
	if _, err := quantityUint64("0x10000000000000000"); err == nil {
		t.Error("2^64 fits in uint64")
	}
}

package source

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/ipdm/ipdm/pipeline/manifest"
	"github.com/mr-tron/base58"
)

func TestCursor(t *testing.T) {
	hash := "0x1dec87ec1ba8e65b7773bb6f62249468948a28a427efd3d896a2ff7d7c591a67"
	for _, c := range []Cursor{{0, ""}, {17, hash}, {^uint64(0), "bafkreigh2akiscaildc"}, {139493615, "5yZ5Lt9n8vDd3oDyFvkQdKLp6nQ9Ht4Q2rDQbA2hX6Tb"}} {
		back, err := ParseCursor(c.String())
		if err != nil || back != c {
			t.Errorf("ParseCursor(%q) = %v, %v", c.String(), back, err)
		}
	}
	if s := (Cursor{17, hash}).String(); s != "17:"+hash {
		t.Errorf("String = %q", s)
	}
	for _, s := range []string{"", "17", ":abc", "-1:ab", "01:ab", "1.5:ab", "18446744073709551616:ab", "1:a b", "1:a:b", "1:" + strings.Repeat("a", 129), "1:é"} {
		if c, err := ParseCursor(s); !errors.Is(err, ErrMalformed) {
			t.Errorf("ParseCursor(%q) = %v, %v; want ErrMalformed", s, c, err)
		}
	}
}

func TestUnitEncode(t *testing.T) {
	b := rpcBlockFixture(t)
	eth := Unit{Number: b.Number, Hash: b.Hash, Eth: &b}
	logsOnly := b
	logsOnly.Transactions = nil
	noTxs := Unit{Number: b.Number, Eth: &logsOnly}
	sol := Unit{Number: 5, Sol: &Slot{Slot: 5}}
	wantBlock, _ := b.Encode()
	wantLogs, _ := b.EncodeLogs()
	wantSlot, _ := Slot{Slot: 5}.Encode()
	for _, tc := range []struct {
		name   string
		u      Unit
		kind   manifest.SourceKind
		want   []byte
		errHas string
	}{
		{"block", eth, manifest.SourceEthereumBlock, wantBlock, ""},
		{"logs", eth, manifest.SourceEthereumLogs, wantLogs, ""},
		{"logs without transactions", noTxs, manifest.SourceEthereumLogs, wantLogs, ""},
		{"block without transactions", noTxs, manifest.SourceEthereumBlock, nil, "needs transactions"},
		{"slot", sol, manifest.SourceSolanaInstructions, wantSlot, ""},
		{"slot as block", sol, manifest.SourceEthereumBlock, nil, "Solana slot"},
		{"block as slot", eth, manifest.SourceSolanaInstructions, nil, "Ethereum block"},
		{"unknown kind", eth, "bitcoin-block", nil, "unknown source kind"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.u.Encode(tc.kind)
			if tc.errHas != "" {
				if err == nil || !strings.Contains(err.Error(), tc.errHas) {
					t.Fatalf("err = %v, want one mentioning %q", err, tc.errHas)
				}
				return
			}
			if err != nil || !bytes.Equal(got, tc.want) {
				t.Fatalf("Encode = %s, %v", got, err)
			}
		})
	}
	if _, err := noTxs.Encode(manifest.SourceEthereumBlock); !errors.Is(err, ErrIncomplete) {
		t.Errorf("block without transactions: %v, want ErrIncomplete", err)
	}
}

// receiptsResponse joins the fixture's receipt results into one
// eth_getBlockReceipts response.
func receiptsResponse(t testing.TB, receipts ...[]byte) []byte {
	t.Helper()
	var list []json.RawMessage
	for _, r := range receipts {
		list = append(list, resultOf(t, r))
	}
	out, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": 1, "result": list})
	return out
}

// logsResponse gathers the logs of receipts into one eth_getLogs response.
func logsResponse(t testing.TB, receipts ...[]byte) []byte {
	t.Helper()
	logs := []json.RawMessage{}
	for _, r := range receipts {
		var rr struct{ Logs []json.RawMessage }
		json.Unmarshal(resultOf(t, r), &rr)
		logs = append(logs, rr.Logs...)
	}
	out, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": 1, "result": logs})
	return out
}

const (
	receipt1 = smallEth + "web3_response.eth_getTransactionReceipt_0x2e3dcd051a91d3a694f6b8de2ac4b5fe7acdba55f58bcf8471ff00d4a430074d.json"
	receipt2 = smallEth + "web3_response.eth_getTransactionReceipt_0x9a5437ec71b74ecf5930b406908ac6999966d38a86d1534b7190ece7599095eb.json"
	block3   = smallEth + "web3_response.eth_getBlockByNumber_0x1ac9f3_true.json"
)

// Block receipts and logs by block hash decode to the same block as
// per-transaction receipts.
func TestDecodeRPCBlockReceiptsAndLogs(t *testing.T) {
	want := rpcBlockFixture(t)
	blk, r1, r2 := readFixture(t, block3), readFixture(t, receipt1), readFixture(t, receipt2)
	got, err := DecodeRPCBlockReceipts(blk, receiptsResponse(t, r2, r1))
	if err != nil {
		t.Fatal(err)
	}
	a, _ := got.Encode()
	b, _ := want.Encode()
	if !bytes.Equal(a, b) {
		t.Errorf("block receipts: %s\nwant %s", a, b)
	}
	logs, err := DecodeRPCBlockLogs(blk, logsResponse(t, r2, r1))
	if err != nil {
		t.Fatal(err)
	}
	a, _ = logs.EncodeLogs()
	b, _ = want.EncodeLogs()
	if !bytes.Equal(a, b) || logs.Transactions != nil {
		t.Errorf("logs: %s\nwant %s", a, b)
	}

	edit := func(data []byte, old, new string) []byte {
		if !bytes.Contains(data, []byte(old)) {
			t.Fatalf("lacks %q", old)
		}
		return bytes.Replace(data, []byte(old), []byte(new), 1)
	}
	for _, tc := range []struct {
		name string
		err  error
		want []string
	}{
		{"missing receipt", func() error { _, err := DecodeRPCBlockReceipts(blk, receiptsResponse(t, r1)); return err }(), []string{"block 1755635", "no receipt"}},
		{"receipts not a list", func() error {
			_, err := DecodeRPCBlockReceipts(blk, []byte(`{"jsonrpc":"2.0","id":1,"result":{}}`))
			return err
		}(), []string{"eth_getBlockReceipts", "block 1755635"}},
		{"log of another block", func() error {
			_, err := DecodeRPCBlockLogs(blk, edit(logsResponse(t, r1), `"blockHash":"0x1dec`, `"blockHash":"0x2dec`))
			return err
		}(), []string{"eth_getLogs", "result[0].blockHash"}},
		{"log of a foreign transaction", func() error {
			_, err := DecodeRPCBlockLogs(blk, edit(logsResponse(t, r1), `"transactionIndex":"0x0"`, `"transactionIndex":"0x1"`))
			return err
		}(), []string{"is not in block 1755635"}},
		{"log without block number", func() error {
			_, err := DecodeRPCBlockLogs(blk, edit(logsResponse(t, r1), `"blockNumber":"0x1ac9f3"`, `"blockNumber":"0x1ac9f4"`))
			return err
		}(), []string{"blockNumber", "1755636 is not 1755635"}},
		{"duplicate log", func() error { _, err := DecodeRPCBlockLogs(blk, logsResponse(t, r1, r1)); return err }(), []string{"appears twice"}},
	} {
		if !errors.Is(tc.err, ErrMalformed) {
			t.Errorf("%s: %v, want ErrMalformed", tc.name, tc.err)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(tc.err.Error(), w) {
				t.Errorf("%s: error %q lacks %q", tc.name, tc.err, w)
			}
		}
	}
}

// solHash is a base58 Solana block hash, distinct for each fork and slot.
func solHash(fork int, slot uint64) string {
	sum := sha256.Sum256([]byte(fmt.Sprint("sol", fork, slot)))
	return base58.Encode(sum[:])
}

// solanaBlockResponse wraps fixture transactions into a getBlock response.
func solanaBlockResponse(t testing.TB, txs int) []byte {
	t.Helper()
	var batch []struct {
		Result struct {
			Transaction json.RawMessage `json:"transaction"`
			Meta        json.RawMessage `json:"meta"`
		} `json:"result"`
	}
	if err := json.Unmarshal(readFixture(t, solTxDir+"getTransaction.json"), &batch); err != nil {
		t.Fatal(err)
	}
	entries := []any{}
	for range txs {
		entries = append(entries, map[string]any{"transaction": batch[0].Result.Transaction, "meta": batch[0].Result.Meta, "version": "legacy"})
	}
	out, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": 1, "result": map[string]any{
		"blockhash": solHash(0, 139493615), "previousBlockhash": solHash(0, 139493614), "parentSlot": 139493614,
		"blockTime": 1656491831, "blockHeight": 126000000, "transactions": entries,
	}})
	return out
}

func TestDecodeSolanaBlock(t *testing.T) {
	txs, err := DecodeSolanaTransactions(readFixture(t, solTxDir+"getTransaction.json"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := DecodeSolanaBlock(139493615, solanaBlockResponse(t, 2))
	if err != nil {
		t.Fatal(err)
	}
	if b.Slot != 139493615 || b.ParentSlot != 139493614 || b.BlockTime != 1656491831 || b.Blockhash != solHash(0, 139493615) || len(b.Transactions) != 2 {
		t.Fatalf("header %+v", b)
	}
	for _, tx := range b.Transactions {
		if tx.Slot != txs[0].Slot || tx.BlockTime != txs[0].BlockTime || tx.Signature != txs[0].Signature {
			t.Errorf("transaction %+v", tx)
		}
	}
	got, _ := Slot{Slot: b.Slot, Instructions: b.Instructions()}.Encode()
	want, _ := Slot{Slot: b.Slot, Instructions: append(append([]Instruction(nil), txs[0].Instructions...), txs[0].Instructions...)}.Encode()
	if !bytes.Equal(got, want) {
		t.Errorf("instructions differ from getTransaction's")
	}
	for _, tc := range []struct {
		name string
		data string
		want string
	}{
		{"skipped", `{"jsonrpc":"2.0","id":1,"error":{"code":-32007,"message":"Slot 5 was skipped"}}`, "-32007"},
		{"no transactions", `{"jsonrpc":"2.0","id":1,"result":{"blockhash":"` + solHash(0, 1) + `","previousBlockhash":"` + solHash(0, 0) + `","parentSlot":4}}`, "transactionDetails full"},
		{"parent above", `{"jsonrpc":"2.0","id":1,"result":{"blockhash":"` + solHash(0, 1) + `","previousBlockhash":"` + solHash(0, 0) + `","parentSlot":9,"transactions":[]}}`, "parentSlot"},
		{"bad hash", `{"jsonrpc":"2.0","id":1,"result":{"blockhash":"0OIl","previousBlockhash":"` + solHash(0, 0) + `","parentSlot":4,"transactions":[]}}`, "blockhash"},
	} {
		_, err := DecodeSolanaBlock(5, []byte(tc.data))
		if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "block 5") {
			t.Errorf("%s: %v, want ErrMalformed mentioning %q and block 5", tc.name, err, tc.want)
		}
	}
}

func TestDecodeRPCResponse(t *testing.T) {
	for _, tc := range []struct {
		data   string
		result string
		code   int64
		bad    bool
	}{
		{`{"jsonrpc":"2.0","id":7,"result":"0x10"}`, `"0x10"`, 0, false},
		{`{"jsonrpc":"2.0","id":7,"result":null}`, `null`, 0, false},
		{`{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"parse error"}}`, "", -32700, false},
		{`{"jsonrpc":"2.0","id":8,"result":"0x10"}`, "", 0, true},
		{`{"jsonrpc":"2.0","id":7}`, "", 0, true},
		{`{"jsonrpc":"2.0","id":7,"error":{"message":"no code"}}`, "", 0, true},
		{`{"jsonrpc":"2.0","id":7,"error":{"code":1.5,"message":"x"}}`, "", 0, true},
		{`<html>`, "", 0, true},
	} {
		res, rerr, err := decodeRPCResponse([]byte(tc.data), 7)
		switch {
		case tc.bad:
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("%s: err %v, want ErrMalformed", tc.data, err)
			}
		case tc.code != 0:
			if err != nil || rerr == nil || rerr.Code != tc.code {
				t.Errorf("%s: %v %v", tc.data, rerr, err)
			}
		default:
			if err != nil || rerr != nil || string(res) != tc.result {
				t.Errorf("%s: %s %v %v", tc.data, res, rerr, err)
			}
		}
	}
}

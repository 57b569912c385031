package sourcetest_test

import (
	"bytes"
	"encoding/json"
	"io"
	"math/big"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/ipdm/ipdm/pipeline/manifest"
	"github.com/ipdm/ipdm/pipeline/reference"
	"github.com/ipdm/ipdm/pipeline/source"
	"github.com/ipdm/ipdm/pipeline/source/sourcetest"
)

// A live stream follows the fake through extensions and reorganisations,
// including ones that land while it is fetching, and ends up holding
// exactly Canonical(); the erc20-transfers reference module finds
// TransfersPerBlock transfers in every block, and a fork's transfers are
// not the ones it replaced.
func TestLiveReorgTransfers(t *testing.T) {
	const first, perBlock = 1000, 3
	f := sourcetest.NewEthereum(t, sourcetest.EthereumOptions{First: first, Blocks: 12, TransfersPerBlock: perBlock})
	s := sourcetest.Open(t, f.URI(), sourcetest.FastOptions(source.OpenOptions{From: first, Concurrency: 3}))
	r := sourcetest.NewReplay(t)
	caughtUp := func() bool { return r.Last() == f.HeadCursor() }
	r.Until(s, caughtUp)
	f.Extend(3)
	r.Until(s, caughtUp)
	if len(r.Undos) != 0 {
		t.Fatalf("undos %v without a reorganisation", r.Undos)
	}

	before := f.Canonical()
	ancestor := f.Cursor(f.Head() - 4)
	f.Reorg(4, 2)
	r.Until(s, caughtUp)
	if len(r.Undos) != 1 || r.Undos[0] != ancestor {
		t.Fatalf("undos %v, want [%v]", r.Undos, ancestor)
	}
	after := f.Canonical()
	if len(after) != len(before)+2 {
		t.Fatalf("%d blocks after Reorg(4, 2) of %d", len(after), len(before))
	}
	for i := range before {
		old, cur := before[i], after[i]
		oldRows, curRows := transferRows(old), transferRows(cur)
		if i < len(before)-4 {
			if old.Hash != cur.Hash || !slices.Equal(oldRows, curRows) {
				t.Errorf("block %d changed below the reorganisation", cur.Number)
			}
			continue
		}
		if old.Hash == cur.Hash || cur.ParentHash != after[i-1].Hash {
			t.Errorf("block %d of the fork: hash %s, parent %s; replaced %s", cur.Number, cur.Hash, cur.ParentHash, old.Hash)
		}
		for j := range curRows {
			if slices.Contains(oldRows, curRows[j]) {
				t.Errorf("block %d: fork transfer %s also in the replaced block", cur.Number, curRows[j])
			}
		}
	}

	// Changes while the stream is busy fetching.
	for _, depth := range []int{2, 5, 1} {
		f.Extend(2)
		f.Reorg(depth, 1)
	}
	r.Until(s, caughtUp)

	canon := f.Canonical()
	if len(r.Delivered) != len(canon) {
		t.Fatalf("delivered %d blocks, the chain has %d", len(r.Delivered), len(canon))
	}
	var small, large bool
	limit := new(big.Int).Lsh(big.NewInt(1), 64)
	for i, u := range r.Delivered {
		want, err := canon[i].Encode()
		if err != nil {
			t.Fatal(err)
		}
		if got, err := u.Encode(manifest.SourceEthereumBlock); err != nil || !bytes.Equal(got, want) {
			t.Fatalf("block %d: delivered %s, %v\nwant %s", u.Number, got, err, want)
		}
		rows := reference.TokenTransfers(*u.Eth)
		if len(rows) != perBlock {
			t.Fatalf("block %d: %d transfers, want %d", u.Number, len(rows), perBlock)
		}
		for j, row := range rows {
			tx := u.Eth.Transactions[j]
			if row.TokenAddress != tx.To || row.FromAddress != tx.From || row.TransactionHash != tx.Hash || row.BlockNumber != u.Number ||
				len(row.ToAddress) != 42 || row.ToAddress == row.FromAddress {
				t.Errorf("block %d: row %+v for transaction %+v", u.Number, row, tx)
			}
			v, ok := new(big.Int).SetString(row.Value, 10)
			if !ok || v.Sign() <= 0 {
				t.Fatalf("block %d: value %q", u.Number, row.Value)
			}
			if v.Cmp(limit) >= 0 {
				large = true
			} else {
				small = true
			}
		}
	}
	if !small || !large {
		t.Errorf("transfer values below 2^64: %v, at or above: %v; want both", small, large)
	}
}

// transferRows returns the transfers of b without the names that change
// with the block hash.
func transferRows(b source.Block) []string {
	var out []string
	for _, r := range reference.TokenTransfers(b) {
		out = append(out, r.TokenAddress+" "+r.FromAddress+" "+r.ToAddress+" "+r.Value)
	}
	return out
}

// rpc sends one JSON-RPC request and returns the whole response.
func rpc(t *testing.T, url, method string, params ...any) []byte {
	t.Helper()
	if params == nil {
		params = []any{}
	}
	body, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": 7, "method": method, "params": params})
	resp, err := http.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: %d %s %v", method, resp.StatusCode, data, err)
	}
	return data
}

func result(t *testing.T, data []byte) json.RawMessage {
	t.Helper()
	var env struct {
		Result json.RawMessage
		Error  *sourcetest.ErrorObject
	}
	if err := json.Unmarshal(data, &env); err != nil || env.Error != nil {
		t.Fatalf("response %s: %v", data, err)
	}
	return env.Result
}

func q(n uint64) string { return "0x" + strconv.FormatUint(n, 16) }

// Every way the fake serves a block decodes, with the strict decoders of
// package source, to the block Canonical reports.
func TestServedBlocksDecode(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts sourcetest.EthereumOptions
	}{
		{"zero options", sourcetest.EthereumOptions{}},
		{"transfers per block", sourcetest.EthereumOptions{First: 17_000_000, Blocks: 4, TransfersPerBlock: 5}},
		{"transfers varying", sourcetest.EthereumOptions{First: 1, Blocks: 6, Transfers: func(n uint64) int { return int(n % 4) }}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := sourcetest.NewEthereum(t, tc.opts)
			canon := f.Canonical()
			if want := max(tc.opts.Blocks, 1); len(canon) != want || canon[0].Number != tc.opts.First {
				t.Fatalf("%d blocks from %d, want %d from %d", len(canon), canon[0].Number, want, tc.opts.First)
			}
			if head := rpc(t, f.URL(), "eth_blockNumber"); string(result(t, head)) != `"`+q(f.Head())+`"` {
				t.Errorf("eth_blockNumber: %s, head %d", head, f.Head())
			}
			for i, want := range canon {
				if i > 0 && want.ParentHash != canon[i-1].Hash {
					t.Errorf("block %d does not extend block %d", want.Number, canon[i-1].Number)
				}
				if want.Timestamp != sourcetest.BlockTime+sourcetest.BlockInterval*want.Number {
					t.Errorf("block %d: timestamp %d", want.Number, want.Timestamp)
				}
				wantEnc, err := want.Encode()
				if err != nil {
					t.Fatal(err)
				}
				wantLogs, _ := want.EncodeLogs()
				full := rpc(t, f.URL(), "eth_getBlockByNumber", q(want.Number), true)
				var receipts [][]byte
				for _, tx := range want.Transactions {
					receipts = append(receipts, rpc(t, f.URL(), "eth_getTransactionReceipt", tx.Hash))
				}
				check := func(path string, got source.Block, err error, logsOnly bool) {
					t.Helper()
					if err != nil {
						t.Fatalf("block %d, %s: %v", want.Number, path, err)
					}
					enc, wantBytes := got.EncodeLogs, wantLogs
					if !logsOnly {
						enc, wantBytes = got.Encode, wantEnc
					}
					if b, err := enc(); err != nil || !bytes.Equal(b, wantBytes) {
						t.Errorf("block %d, %s: %s, %v\nwant %s", want.Number, path, b, err, wantBytes)
					}
				}
				got, err := source.DecodeRPCBlock(full, receipts...)
				check("receipts per transaction", got, err, false)
				got, err = source.DecodeRPCBlockReceipts(full, rpc(t, f.URL(), "eth_getBlockReceipts", want.Hash))
				check("block receipts", got, err, false)
				got, err = source.DecodeRPCBlockLogs(rpc(t, f.URL(), "eth_getBlockByNumber", q(want.Number), false), rpc(t, f.URL(), "eth_getLogs", map[string]string{"blockHash": want.Hash}))
				check("logs", got, err, true)
				byHash := result(t, rpc(t, f.URL(), "eth_getBlockByHash", want.Hash, false))
				light := result(t, rpc(t, f.URL(), "eth_getBlockByNumber", q(want.Number), false))
				if !bytes.Equal(byHash, light) {
					t.Errorf("block %d: by hash %s\nby number %s", want.Number, byHash, light)
				}
			}
			latest := result(t, rpc(t, f.URL(), "eth_getBlockByNumber", "latest", false))
			if !strings.Contains(string(latest), canon[len(canon)-1].Hash) {
				t.Errorf("latest: %s", latest)
			}
			for _, unknown := range [][]any{{"eth_getBlockByNumber", q(f.Head() + 1), true}, {"eth_getBlockByHash", strings.Repeat("0", 64), false}, {"eth_getTransactionReceipt", "0x12"}} {
				if got := result(t, rpc(t, f.URL(), unknown[0].(string), unknown[1:]...)); string(got) != "null" {
					t.Errorf("%v: %s, want null", unknown, got)
				}
			}
			if resp := rpc(t, f.URL(), "eth_chainId"); !strings.Contains(string(resp), "-32601") {
				t.Errorf("unknown method: %s", resp)
			}
		})
	}
}

// Same options, same chain, byte for byte; Reorg and Extend too.
func TestDeterministic(t *testing.T) {
	opts := sourcetest.EthereumOptions{First: 50, Blocks: 6, TransfersPerBlock: 2}
	a, b := sourcetest.NewEthereum(t, opts), sourcetest.NewEthereum(t, opts)
	for _, f := range []*sourcetest.Ethereum{a, b} {
		f.Reorg(3, 1)
		f.Extend(2)
	}
	ca, cb := a.Canonical(), b.Canonical()
	if len(ca) != 9 || len(cb) != 9 {
		t.Fatalf("%d and %d blocks, want 9", len(ca), len(cb))
	}
	for i := range ca {
		ea, _ := ca[i].Encode()
		eb, _ := cb[i].Encode()
		if !bytes.Equal(ea, eb) {
			t.Fatalf("block %d differs:\n%s\n%s", ca[i].Number, ea, eb)
		}
		ra := rpc(t, a.URL(), "eth_getBlockByNumber", q(ca[i].Number), true)
		rb := rpc(t, b.URL(), "eth_getBlockByNumber", q(ca[i].Number), true)
		if !bytes.Equal(ra, rb) {
			t.Fatalf("block %d served differently", ca[i].Number)
		}
	}
	// Canonical hands out copies.
	ca[0].Logs[0].Topics[0] = "0x00"
	ca[0].Transactions[0].Value.SetInt64(-1)
	if again := a.Canonical(); again[0].Logs[0].Topics[0] != sourcetest.TransferTopic || again[0].Transactions[0].Value.Sign() != 0 {
		t.Error("Canonical shares memory with the fake")
	}
}

// Orphaned blocks stay known by hash unless ForgetOrphans; NoBlockReceipts
// turns eth_getBlockReceipts down as unknown.
func TestEthereumOptions(t *testing.T) {
	for _, forget := range []bool{false, true} {
		f := sourcetest.NewEthereum(t, sourcetest.EthereumOptions{Blocks: 4, ForgetOrphans: forget, NoBlockReceipts: true})
		orphan := f.Cursor(3)
		f.Reorg(2, 0)
		if f.Cursor(3) == orphan || f.Head() != 3 {
			t.Fatalf("Reorg(2, 0) kept block 3 (%v) or moved the head to %d", orphan, f.Head())
		}
		got := string(result(t, rpc(t, f.URL(), "eth_getBlockByHash", orphan.Hash, false)))
		if known := strings.Contains(got, orphan.Hash); known == forget {
			t.Errorf("ForgetOrphans %v: orphan by hash %s", forget, got)
		}
		if resp := rpc(t, f.URL(), "eth_getBlockReceipts", f.HeadCursor().Hash); !strings.Contains(string(resp), "-32601") {
			t.Errorf("NoBlockReceipts: %s", resp)
		}
	}
}

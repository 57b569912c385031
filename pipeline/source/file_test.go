package source_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ipdm/ipdm/pipeline/manifest"
	"github.com/ipdm/ipdm/pipeline/source"
	"github.com/ipdm/ipdm/pipeline/source/sourcetest"
)

func readUnits(t testing.TB, uri string, o source.OpenOptions) []source.Unit {
	t.Helper()
	return sourcetest.ReadAll(t, sourcetest.Open(t, uri, o)).Delivered
}

func copyFile(t testing.TB, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func encodeAll(t testing.TB, units []source.Unit, kind manifest.SourceKind) []string {
	t.Helper()
	var out []string
	for _, u := range units {
		enc, err := u.Encode(kind)
		if err != nil {
			t.Fatalf("unit %d: %v", u.Number, err)
		}
		out = append(out, string(enc))
	}
	return out
}

// ethereum-etl exports: the directory, or any of its files, gives the
// blocks with transactions and logs; logs.json alone gives the blocks'
// logs, hashes and times but no header.
func TestFileETL(t *testing.T) {
	dir := source.Fixture(t, source.LargeEth)
	full := source.ETLFixture(t, source.LargeEth, "blocks.json", "transactions.json", "logs.json")
	var want []string
	for _, b := range full {
		enc, _ := b.Encode()
		want = append(want, string(enc))
	}
	for _, p := range []string{dir, filepath.Join(dir, "logs.json"), filepath.Join(dir, "blocks.json"), filepath.Join(dir, "transactions.json")} {
		units := readUnits(t, "file:"+p, source.OpenOptions{})
		if got := encodeAll(t, units, manifest.SourceEthereumBlock); strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("file:%s: %d units differ from DecodeETL's", p, len(units))
		}
		for i, u := range units {
			if u.Number != full[i].Number || u.Hash != full[i].Hash || u.ParentHash != full[i].ParentHash || u.Time != full[i].Timestamp {
				t.Errorf("file:%s: unit %d header %+v", p, i, u)
			}
		}
	}

	alone := t.TempDir()
	copyFile(t, filepath.Join(dir, "logs.json"), filepath.Join(alone, "logs.json"))
	units := readUnits(t, "file:"+filepath.Join(alone, "logs.json"), source.OpenOptions{})
	if len(units) != 2 {
		t.Fatalf("logs.json alone: %d units", len(units))
	}
	for i, u := range units {
		b := full[i]
		if u.Number != b.Number || u.Hash != b.Hash || u.Time != b.Timestamp || u.ParentHash != "" || len(u.Eth.Logs) != len(b.Logs) || u.Eth.Transactions != nil {
			t.Errorf("logs alone: unit %d = {%d %s %d %q %d logs}, want block %d %s at %d with %d logs",
				i, u.Number, u.Hash, u.Time, u.ParentHash, len(u.Eth.Logs), b.Number, b.Hash, b.Timestamp, len(b.Logs))
		}
		for j := range b.Logs {
			if u.Eth.Logs[j].Index != b.Logs[j].Index || u.Eth.Logs[j].Data != b.Logs[j].Data || u.Eth.Logs[j].TxHash != b.Logs[j].TxHash {
				t.Fatalf("logs alone: block %d log %d differs", b.Number, j)
			}
		}
		for _, kind := range []manifest.SourceKind{manifest.SourceEthereumLogs, manifest.SourceEthereumBlock} {
			if _, err := u.Encode(kind); !errors.Is(err, source.ErrIncomplete) || !strings.Contains(err.Error(), "blocks.json") {
				t.Errorf("logs alone: Encode(%s) = %v, want source.ErrIncomplete naming blocks.json", kind, err)
			}
		}
	}

	// blocks.json and logs.json without transactions: ethereum-logs only.
	noTxs := t.TempDir()
	for _, name := range []string{"blocks.json", "logs.json"} {
		copyFile(t, filepath.Join(dir, name), filepath.Join(noTxs, name))
	}
	units = readUnits(t, "file:"+noTxs, source.OpenOptions{})
	for i, u := range units {
		want, _ := full[i].EncodeLogs()
		if got, err := u.Encode(manifest.SourceEthereumLogs); err != nil || !bytes.Equal(got, want) {
			t.Errorf("without transactions: block %d logs encoding differs: %v", u.Number, err)
		}
		if _, err := u.Encode(manifest.SourceEthereumBlock); !errors.Is(err, source.ErrIncomplete) || !strings.Contains(err.Error(), "transactions") {
			t.Errorf("without transactions: Encode(ethereum-block) = %v", err)
		}
	}
}

// JSON-RPC response files and the ethereum-etl export of the same blocks
// give the same units.
func TestFileRPCResponses(t *testing.T) {
	dir := source.Fixture(t, source.SmallEth)
	etl := readUnits(t, "file:"+filepath.Join(dir, "expected_logs.json"), source.OpenOptions{})
	rpc := readUnits(t, "file:"+dir, source.OpenOptions{})
	if len(rpc) != 2 || len(etl) != 2 {
		t.Fatalf("%d RPC units, %d ETL units", len(rpc), len(etl))
	}
	if a, b := encodeAll(t, rpc, manifest.SourceEthereumBlock), encodeAll(t, etl, manifest.SourceEthereumBlock); strings.Join(a, "\n") != strings.Join(b, "\n") {
		t.Errorf("RPC and ETL units differ")
	}
	one := readUnits(t, "file:"+filepath.Join(dir, "web3_response.eth_getBlockByNumber_0x1ac9f3_true.json"), source.OpenOptions{})
	if len(one) != 1 || one[0].Number != 1755635 || len(one[0].Eth.Transactions) != 2 || len(one[0].Eth.Logs) != 2 {
		t.Fatalf("one block file: %+v", one)
	}

	// A missing receipt file is a malformed block, named.
	partial := t.TempDir()
	for _, name := range []string{"web3_response.eth_getBlockByNumber_0x1ac9f3_true.json", "web3_response.eth_getTransactionReceipt_0x2e3dcd051a91d3a694f6b8de2ac4b5fe7acdba55f58bcf8471ff00d4a430074d.json"} {
		copyFile(t, filepath.Join(dir, name), filepath.Join(partial, name))
	}
	_, err := source.Open(context.Background(), "file:"+partial, source.OpenOptions{})
	if !errors.Is(err, source.ErrMalformed) || !strings.Contains(err.Error(), "block 1755635") || !strings.Contains(err.Error(), "no receipt") {
		t.Fatalf("missing receipt: %v", err)
	}
}

func TestFileSolana(t *testing.T) {
	csvDir := source.Fixture(t, source.SolSlotDir)
	for _, p := range []string{csvDir, filepath.Join(csvDir, "instructions.csv")} {
		units := readUnits(t, "file:"+p, source.OpenOptions{})
		if len(units) != 1 || units[0].Number != 138802069 || units[0].Hash != "" || units[0].Time != 0 || units[0].Sol == nil || len(units[0].Sol.Instructions) < 1000 {
			t.Fatalf("file:%s: %d units", p, len(units))
		}
		if _, err := units[0].Encode(manifest.SourceSolanaInstructions); err != nil {
			t.Fatal(err)
		}
	}
	unnamed := filepath.Join(t.TempDir(), "instructions.csv")
	copyFile(t, filepath.Join(csvDir, "instructions.csv"), unnamed)
	if _, err := source.Open(context.Background(), "file:"+unnamed, source.OpenOptions{}); err == nil || !strings.Contains(err.Error(), "slot-N") {
		t.Errorf("CSV without a slot in its name: %v", err)
	}

	txDir := source.Fixture(t, source.SolTxDir)
	for _, p := range []string{txDir, filepath.Join(txDir, "getTransaction.json")} {
		units := readUnits(t, "file:"+p, source.OpenOptions{})
		if len(units) != 1 || units[0].Number != 139493615 || units[0].Time != 1656491831 || units[0].Hash != "" || len(units[0].Sol.Instructions) != 21 {
			t.Fatalf("file:%s: %+v", p, units)
		}
	}
}

// From, To and After select blocks; a cursor that disagrees with the file
// is refused.
func TestFileRange(t *testing.T) {
	dir := source.Fixture(t, source.LargeEth)
	all := readUnits(t, "file:"+dir, source.OpenOptions{})
	first, second := source.CursorOf(all[0]), source.CursorOf(all[1])
	for _, tc := range []struct {
		name string
		o    source.OpenOptions
		want []source.Cursor
	}{
		{"from", source.OpenOptions{From: second.Number}, []source.Cursor{second}},
		{"to", source.OpenOptions{To: first.Number}, []source.Cursor{first}},
		{"both", source.OpenOptions{From: first.Number, To: second.Number}, []source.Cursor{first, second}},
		{"after", source.OpenOptions{After: &first}, []source.Cursor{second}},
		{"after the end", source.OpenOptions{After: &second}, nil},
		{"beyond", source.OpenOptions{From: second.Number + 1}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := sourcetest.ReadAll(t, sourcetest.Open(t, "file:"+dir, tc.o))
			if got := r.Cursors(); len(got) != len(tc.want) || (len(got) > 0 && got[0] != tc.want[0]) {
				t.Errorf("delivered %v, want %v", got, tc.want)
			}
		})
	}
	wrong := source.Cursor{first.Number, second.Hash}
	if _, err := source.Open(context.Background(), "file:"+dir, source.OpenOptions{After: &wrong}); !errors.Is(err, source.ErrCursorMismatch) {
		t.Errorf("mismatched cursor: %v", err)
	}
}

func TestFileErrors(t *testing.T) {
	dir := source.Fixture(t, source.LargeEth)
	bad := t.TempDir()
	blocks, err := os.ReadFile(filepath.Join(dir, "blocks.json"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(blocks), "\n")
	lines[1] = strings.Replace(lines[1], `"miner": "0x`, `"miner": "0xq`, 1)
	os.WriteFile(filepath.Join(bad, "blocks.json"), []byte(strings.Join(lines, "")), 0o644)
	copyFile(t, filepath.Join(dir, "logs.json"), filepath.Join(bad, "logs.json"))

	onlyBlocks := t.TempDir()
	copyFile(t, filepath.Join(dir, "blocks.json"), filepath.Join(onlyBlocks, "blocks.json"))
	other := filepath.Join(t.TempDir(), "data.json")
	os.WriteFile(other, []byte(`{"jsonrpc":"2.0","id":1,"result":{"foo":1}}`), 0o644)
	empty := t.TempDir()

	for _, tc := range []struct {
		uri    string
		target error
		want   string
	}{
		{"file:" + bad, source.ErrMalformed, "block 17173050"},
		{"file:" + onlyBlocks, source.ErrMalformed, "logs.json is missing"},
		{"file:" + other, source.ErrUnsupported, "not a format"},
		{"file:" + empty, source.ErrUnsupported, "holds no"},
		{"file:" + filepath.Join(empty, "nothing.json"), os.ErrNotExist, "nothing.json"},
		{"ftp:x", source.ErrUnsupported, "ftp"},
		{"no-scheme", source.ErrUnsupported, "SCHEME"},
		{"ethereum-rpc:localhost:8545", source.ErrUnsupported, "http"},
	} {
		_, err := source.Open(context.Background(), tc.uri, source.OpenOptions{})
		if !errors.Is(err, tc.target) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("source.Open(%s) = %v, want %v mentioning %q", tc.uri, err, tc.target, tc.want)
		}
	}
	if _, err := source.Open(context.Background(), "file:"+dir, source.OpenOptions{From: 5, To: 4}); err == nil {
		t.Error("To below From accepted")
	}
}

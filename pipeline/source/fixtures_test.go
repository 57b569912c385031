package source

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/ipdm/ipdm/pipeline/internal/jsontext"
)

// fixtureDir is where ../shared/fixtures is from this package's directory.
var fixtureDir = filepath.Join("..", "..", "..", "shared", "fixtures")

// fixture returns the path of a fixture file, skipping the test when the
// shared fixtures are not beside the checkout.
func fixture(t testing.TB, rel string) string {
	t.Helper()
	p := filepath.Join(fixtureDir, rel)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("fixture %s not found (the shared fixtures must be at ../shared/fixtures beside the checkout): %v", p, err)
	}
	return p
}

func readFixture(t testing.TB, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(fixture(t, rel))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// seedFixture adds a fixture file's bytes to a fuzz corpus when present.
func seedFixture(f *testing.F, rel string) []byte {
	b, err := os.ReadFile(filepath.Join(fixtureDir, rel))
	if err != nil {
		return nil
	}
	return b
}

const (
	smallEth   = "ethereum/mainnet-1755634-1755635/"
	largeEth   = "ethereum/mainnet-17173049-17173050/"
	solTxDir   = "solana/transaction-jsonparsed/"
	solSlotDir = "solana/slot-138802069/"
)

// resultOf returns the result of a JSON-RPC response.
func resultOf(t testing.TB, data []byte) json.RawMessage {
	t.Helper()
	var env struct{ Result json.RawMessage }
	if err := json.Unmarshal(data, &env); err != nil {
		t.Fatal(err)
	}
	return env.Result
}

func rpcBlockFixture(t testing.TB) Block {
	t.Helper()
	blk := readFixture(t, smallEth+"web3_response.eth_getBlockByNumber_0x1ac9f3_true.json")
	r1 := readFixture(t, smallEth+"web3_response.eth_getTransactionReceipt_0x2e3dcd051a91d3a694f6b8de2ac4b5fe7acdba55f58bcf8471ff00d4a430074d.json")
	r2 := readFixture(t, smallEth+"web3_response.eth_getTransactionReceipt_0x9a5437ec71b74ecf5930b406908ac6999966d38a86d1534b7190ece7599095eb.json")
	b, err := DecodeRPCBlock(blk, r2, r1) // receipts in any order
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func etlFixture(t testing.TB, dir, blocks, txs, logs string) []Block {
	t.Helper()
	open := func(name string) *bytes.Reader { return bytes.NewReader(readFixture(t, dir+name)) }
	out, err := DecodeETL(open(blocks), open(txs), open(logs))
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// jsonLines parses JSON lines generically (jsontext.Lines), failing t.
func jsonLines(t testing.TB, data []byte) []map[string]any {
	t.Helper()
	out, err := jsontext.Lines(data)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

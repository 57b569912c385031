package reference

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/ipdm/ipdm/pipeline/internal/jsontext"
	"github.com/ipdm/ipdm/pipeline/source"
)

// fixtureDir is where ../shared/fixtures is from this package's directory.
var fixtureDir = filepath.Join("..", "..", "..", "shared", "fixtures")

const (
	smallEth   = "ethereum/mainnet-1755634-1755635/"
	largeEth   = "ethereum/mainnet-17173049-17173050/"
	solTxDir   = "solana/transaction-jsonparsed/"
	solSlotDir = "solana/slot-138802069/"
)

func readFixture(t testing.TB, rel string) []byte {
	t.Helper()
	p := filepath.Join(fixtureDir, rel)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Skipf("fixture %s not found (the shared fixtures must be at ../shared/fixtures beside the checkout): %v", p, err)
	}
	return b
}

func seedFixture(rel string) []byte {
	b, _ := os.ReadFile(filepath.Join(fixtureDir, rel))
	return b
}

// rpcBlocks decodes the two blocks of the small set from their RPC responses.
func rpcBlocks(t testing.TB) []source.Block {
	t.Helper()
	empty, err := source.DecodeRPCBlock(readFixture(t, smallEth+"web3_response.eth_getBlockByNumber_0x1ac9f2_true.json"))
	if err != nil {
		t.Fatal(err)
	}
	full, err := source.DecodeRPCBlock(
		readFixture(t, smallEth+"web3_response.eth_getBlockByNumber_0x1ac9f3_true.json"),
		readFixture(t, smallEth+"web3_response.eth_getTransactionReceipt_0x2e3dcd051a91d3a694f6b8de2ac4b5fe7acdba55f58bcf8471ff00d4a430074d.json"),
		readFixture(t, smallEth+"web3_response.eth_getTransactionReceipt_0x9a5437ec71b74ecf5930b406908ac6999966d38a86d1534b7190ece7599095eb.json"),
	)
	if err != nil {
		t.Fatal(err)
	}
	return []source.Block{empty, full}
}

func largeBlocks(t testing.TB) []source.Block {
	t.Helper()
	blocks, err := source.DecodeETL(
		bytes.NewReader(readFixture(t, largeEth+"blocks.json")),
		bytes.NewReader(readFixture(t, largeEth+"transactions.json")),
		bytes.NewReader(readFixture(t, largeEth+"logs.json")))
	if err != nil {
		t.Fatal(err)
	}
	return blocks
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

var (
	decimalRe = regexp.MustCompile(`^(0|[1-9][0-9]*)$`)
	addressRe = regexp.MustCompile(`^0x[0-9a-f]{40}$`)
	hashRe    = regexp.MustCompile(`^0x[0-9a-f]{64}$`)
	base58Re  = regexp.MustCompile(`^[1-9A-HJ-NP-Za-km-z]{32,44}$`)
)

package erc20

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/ipdm/ipdm/examples/internal/pipelinetest"
	"github.com/ipdm/ipdm/pipeline/reference"
	"github.com/ipdm/ipdm/pipeline/source"
)

// The shared fixtures live in shared/fixtures beside the checkout
// (/work/shared/fixtures for /work/main); the helpers that find and read
// them are in examples/internal/pipelinetest.
const (
	smallEth = "ethereum/mainnet-1755634-1755635/"
	largeEth = "ethereum/mainnet-17173049-17173050/"
)

// smallBlocks decodes the two blocks of the small set from their RPC
// responses.
func smallBlocks(t testing.TB) []source.Block {
	t.Helper()
	empty, err := source.DecodeRPCBlock(pipelinetest.ReadFixture(t, smallEth+"web3_response.eth_getBlockByNumber_0x1ac9f2_true.json"))
	if err != nil {
		t.Fatal(err)
	}
	full, err := source.DecodeRPCBlock(
		pipelinetest.ReadFixture(t, smallEth+"web3_response.eth_getBlockByNumber_0x1ac9f3_true.json"),
		pipelinetest.ReadFixture(t, smallEth+"web3_response.eth_getTransactionReceipt_0x2e3dcd051a91d3a694f6b8de2ac4b5fe7acdba55f58bcf8471ff00d4a430074d.json"),
		pipelinetest.ReadFixture(t, smallEth+"web3_response.eth_getTransactionReceipt_0x9a5437ec71b74ecf5930b406908ac6999966d38a86d1534b7190ece7599095eb.json"),
	)
	if err != nil {
		t.Fatal(err)
	}
	return []source.Block{empty, full}
}

// largeBlocks decodes blocks 17173049–17173050 from the ethereum-etl export.
func largeBlocks(t testing.TB) []source.Block {
	t.Helper()
	blocks, err := source.DecodeETL(
		bytes.NewReader(pipelinetest.ReadFixture(t, largeEth+"blocks.json")),
		nil,
		bytes.NewReader(pipelinetest.ReadFixture(t, largeEth+"logs.json")))
	if err != nil {
		t.Fatal(err)
	}
	return blocks
}

func encodeLogs(t testing.TB, b source.Block) []byte {
	t.Helper()
	enc, err := b.EncodeLogs()
	if err != nil {
		t.Fatal(err)
	}
	return enc
}

// referenceRows is what Map must emit for b: json.Marshal of each
// reference.TokenTransfer.
func referenceRows(t testing.TB, b source.Block) [][]byte {
	t.Helper()
	var out [][]byte
	for _, r := range reference.TokenTransfers(b) {
		enc, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, enc)
	}
	return out
}

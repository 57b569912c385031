package reference

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"

	"github.com/ipdm/ipdm/pipeline/source"
)

// Module names of the examples.
const (
	ERC20TransfersModule = "erc20-transfers"
	SPLTransfersModule   = "spl-transfers"
)

// TransferTopic is keccak256("Transfer(address,address,uint256)"), the
// first topic of ERC-20 and ERC-721 Transfer events.
const TransferTopic = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"

// TokenTransfer is one row of erc20-transfers.
type TokenTransfer struct {
	TokenAddress string `json:"token_address"` // the emitting contract
	FromAddress  string `json:"from_address"`
	ToAddress    string `json:"to_address"`
	// Value is the amount (ERC-20) or token ID (ERC-721) as an exact
	// unsigned decimal.
	Value           string `json:"value"`
	TransactionHash string `json:"transaction_hash"`
	LogIndex        uint64 `json:"log_index"`
	BlockNumber     uint64 `json:"block_number"`
}

// wordHex is the number of hex digits in a 32-byte word.
const wordHex = 64

// TokenTransfers returns the transfer rows of b's logs in log order.
// The logs must be valid (as every decoder of package source leaves them).
func TokenTransfers(b source.Block) []TokenTransfer {
	var out []TokenTransfer
	var words [4]string
	for i := range b.Logs {
		l := &b.Logs[i]
		if len(l.Topics) == 0 || l.Topics[0] != TransferTopic || len(l.Data) < 2 {
			continue
		}
		data := l.Data[2:]
		if len(l.Topics)+(len(data)+wordHex-1)/wordHex != len(words) {
			continue
		}
		n := copy(words[:], l.Topics)
		for ; n < len(words); n++ {
			words[n], data = data[:min(wordHex, len(data))], data[min(wordHex, len(data)):]
		}
		out = append(out, TokenTransfer{
			TokenAddress:    l.Address,
			FromAddress:     wordAddress(words[1]),
			ToAddress:       wordAddress(words[2]),
			Value:           hexDecimal(words[3]),
			TransactionHash: l.TxHash,
			LogIndex:        l.Index,
			BlockNumber:     b.Number,
		})
	}
	return out
}

// wordAddress returns the address in the low 20 bytes of a full word
// (topics always are; data words 1 and 2 of a qualifying log always are).
func wordAddress(w string) string {
	if len(w) > 2 && w[:2] == "0x" {
		w = w[2:]
	}
	return "0x" + w[max(0, len(w)-40):]
}

// hexDecimal converts a word, with or without 0x, to an unsigned decimal.
func hexDecimal(w string) string {
	if len(w) > 2 && w[:2] == "0x" {
		w = w[2:]
	}
	v, ok := new(big.Int).SetString(w, 16)
	if !ok { // unreachable for validated logs; an empty short word reads as 0
		return "0"
	}
	return v.String()
}

// MapERC20Transfers is erc20-transfers as a module: a block in the canonical
// encoding of source.Block.Encode or EncodeLogs in, the rows as JSON lines
// out (empty for a block without transfers).
func MapERC20Transfers(input []byte) ([]byte, error) {
	b, err := source.DecodeBlock(input)
	if err != nil {
		return nil, fmt.Errorf("reference: %s: %w", ERC20TransfersModule, err)
	}
	return encodeLines(TokenTransfers(b))
}

// encodeLines encodes rows as JSON lines without HTML escaping.
func encodeLines[T any](rows []T) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	for i := range rows {
		if err := enc.Encode(&rows[i]); err != nil {
			return nil, err
		}
	}
	return buf.Bytes(), nil
}

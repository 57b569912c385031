package source

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"sort"
	"strconv"
)

// Ethereum JSON-RPC responses. Unknown fields are ignored (nodes add fields
// over time); missing, malformed or inconsistent values are errors.

type rpcEnvelope struct {
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Code    json.Number `json:"code"`
		Message string      `json:"message"`
	} `json:"error"`
}

type rpcBlock struct {
	Number        *string           `json:"number"`
	Hash          *string           `json:"hash"`
	ParentHash    *string           `json:"parentHash"`
	Timestamp     *string           `json:"timestamp"`
	Miner         *string           `json:"miner"`
	GasLimit      *string           `json:"gasLimit"`
	GasUsed       *string           `json:"gasUsed"`
	BaseFeePerGas *string           `json:"baseFeePerGas"`
	Transactions  []json.RawMessage `json:"transactions"`
}

type rpcTx struct {
	Hash                 *string `json:"hash"`
	BlockHash            *string `json:"blockHash"`
	BlockNumber          *string `json:"blockNumber"`
	TransactionIndex     *string `json:"transactionIndex"`
	From                 *string `json:"from"`
	To                   *string `json:"to"`
	Value                *string `json:"value"`
	Nonce                *string `json:"nonce"`
	Gas                  *string `json:"gas"`
	GasPrice             *string `json:"gasPrice"`
	MaxFeePerGas         *string `json:"maxFeePerGas"`
	MaxPriorityFeePerGas *string `json:"maxPriorityFeePerGas"`
	Input                *string `json:"input"`
	Type                 *string `json:"type"`
}

type rpcReceipt struct {
	TransactionHash   *string   `json:"transactionHash"`
	TransactionIndex  *string   `json:"transactionIndex"`
	BlockHash         *string   `json:"blockHash"`
	BlockNumber       *string   `json:"blockNumber"`
	Status            *string   `json:"status"`
	GasUsed           *string   `json:"gasUsed"`
	CumulativeGasUsed *string   `json:"cumulativeGasUsed"`
	EffectiveGasPrice *string   `json:"effectiveGasPrice"`
	ContractAddress   *string   `json:"contractAddress"`
	Logs              *[]rpcLog `json:"logs"`
}

type rpcLog struct {
	Address          *string  `json:"address"`
	Topics           []string `json:"topics"`
	Data             *string  `json:"data"`
	LogIndex         *string  `json:"logIndex"`
	TransactionHash  *string  `json:"transactionHash"`
	TransactionIndex *string  `json:"transactionIndex"`
	BlockHash        *string  `json:"blockHash"`
	BlockNumber      *string  `json:"blockNumber"`
	Removed          bool     `json:"removed"`
}

// DecodeRPCBlock decodes the JSON-RPC response to eth_getBlockByNumber with
// full transaction objects (second parameter true) and the responses to
// eth_getTransactionReceipt for its transactions, in any order. Every
// transaction needs exactly one receipt: logs come only from receipts, and a
// block with unknown logs would silently index as a block without them.
// Receipts must agree with the block (hash, number, transaction index).
func DecodeRPCBlock(block []byte, receipts ...[]byte) (Block, error) {
	raw, err := rpcResult(block)
	if err != nil {
		return Block{}, at("eth_getBlockByNumber", 0, 0, false, err)
	}
	b, byHash, err := decodeRPCBlockTxs(raw)
	if err != nil {
		return Block{}, err
	}
	results := make([]json.RawMessage, len(receipts))
	for r, data := range receipts {
		if results[r], err = rpcResult(data); err != nil {
			return Block{}, at(receiptInput(r), 0, b.Number, true, err)
		}
	}
	return b.withReceipts(byHash, results)
}

func receiptInput(r int) string { return "eth_getTransactionReceipt[" + strconv.Itoa(r) + "]" }

// withReceipts adds the eth_getTransactionReceipt results of its
// transactions to a block from decodeRPCBlockTxs.
func (b Block) withReceipts(byHash map[string]int, results []json.RawMessage) (Block, error) {
	seen := make([]bool, len(b.Transactions))
	b.Logs = []Log{}
	for r, raw := range results {
		if err := b.addReceipt(receiptInput(r), "result", raw, byHash, seen); err != nil {
			return Block{}, err
		}
	}
	if err := b.finishReceipts(seen, "eth_getTransactionReceipt"); err != nil {
		return Block{}, err
	}
	return b, nil
}

// DecodeRPCBlockReceipts is DecodeRPCBlock for a block whose receipts come
// from one eth_getBlockReceipts response (a list, in any order) instead of
// one eth_getTransactionReceipt response per transaction.
func DecodeRPCBlockReceipts(block, receipts []byte) (Block, error) {
	raw, err := rpcResult(block)
	if err != nil {
		return Block{}, at("eth_getBlockByNumber", 0, 0, false, err)
	}
	b, byHash, err := decodeRPCBlockTxs(raw)
	if err != nil {
		return Block{}, err
	}
	if raw, err = rpcResult(receipts); err != nil {
		return Block{}, at("eth_getBlockReceipts", 0, b.Number, true, err)
	}
	return b.withReceiptList(byHash, raw)
}

// withReceiptList adds the receipts of an eth_getBlockReceipts result to a
// block from decodeRPCBlockTxs.
func (b Block) withReceiptList(byHash map[string]int, raw json.RawMessage) (Block, error) {
	const input = "eth_getBlockReceipts"
	var list []json.RawMessage
	if err := json.Unmarshal(raw, &list); err != nil {
		return Block{}, at(input, 0, b.Number, true, ferr("result", err))
	}
	seen := make([]bool, len(b.Transactions))
	b.Logs = []Log{}
	for r, rr := range list {
		if err := b.addReceipt(input, idx("result", r), rr, byHash, seen); err != nil {
			return Block{}, err
		}
	}
	if err := b.finishReceipts(seen, input); err != nil {
		return Block{}, err
	}
	return b, nil
}

// decodeRPCBlockTxs decodes an eth_getBlockByNumber result with full
// transactions, returning the block without logs and the index of each
// transaction hash.
func decodeRPCBlockTxs(raw json.RawMessage) (Block, map[string]int, error) {
	const input = "eth_getBlockByNumber"
	var rb rpcBlock
	if err := json.Unmarshal(raw, &rb); err != nil {
		return Block{}, nil, at(input, 0, 0, false, ferr("result", err))
	}
	var b Block
	var err error
	if b.Number, err = reqQuantity("result.number", rb.Number); err != nil {
		return Block{}, nil, at(input, 0, 0, false, err)
	}
	fail := func(err error) (Block, map[string]int, error) { return Block{}, nil, at(input, 0, b.Number, true, err) }
	if err := b.header(&rb); err != nil {
		return fail(prefix("result", err))
	}
	if rb.Transactions == nil {
		return fail(ferr("result.transactions", errors.New("missing")))
	}
	b.Transactions = make([]Transaction, len(rb.Transactions))
	byHash := make(map[string]int, len(rb.Transactions))
	for i, rawTx := range rb.Transactions {
		field := idx("result.transactions", i)
		if len(rawTx) > 0 && rawTx[0] == '"' {
			return fail(ferr(field, errors.New("a transaction hash, not an object: request full transactions (eth_getBlockByNumber with true)")))
		}
		var rt rpcTx
		if err := json.Unmarshal(rawTx, &rt); err != nil {
			return fail(ferr(field, err))
		}
		if err := b.rpcTransaction(&b.Transactions[i], &rt, uint64(i)); err != nil {
			return fail(prefix(field, err))
		}
		if _, dup := byHash[b.Transactions[i].Hash]; dup {
			return fail(ferr(field, fmt.Errorf("transaction %s listed twice", b.Transactions[i].Hash)))
		}
		byHash[b.Transactions[i].Hash] = i
	}
	return b, byHash, nil
}

// addReceipt decodes one receipt (the result value raw, at field of input)
// into b, marking its transaction in seen.
func (b *Block) addReceipt(input, field string, raw json.RawMessage, byHash map[string]int, seen []bool) error {
	var rr rpcReceipt
	if err := json.Unmarshal(raw, &rr); err != nil {
		return at(input, 0, b.Number, true, ferr(field, err))
	}
	i, err := b.rpcReceipt(&rr, byHash, seen)
	if err != nil {
		return at(input, 0, b.Number, true, prefix(field, err))
	}
	seen[i] = true
	return nil
}

// finishReceipts checks that every transaction had a receipt and orders the
// logs.
func (b *Block) finishReceipts(seen []bool, input string) error {
	for i, ok := range seen {
		if !ok {
			return at("eth_getBlockByNumber", 0, b.Number, true, ferr(idx("result.transactions", i), fmt.Errorf("no receipt for transaction %s", b.Transactions[i].Hash)))
		}
	}
	return b.sortLogs(input)
}

// sortLogs puts b.Logs in index order, rejecting an index used twice.
func (b *Block) sortLogs(input string) error {
	sort.Slice(b.Logs, func(i, j int) bool { return b.Logs[i].Index < b.Logs[j].Index })
	for i := 1; i < len(b.Logs); i++ {
		if b.Logs[i].Index == b.Logs[i-1].Index {
			return at(input, 0, b.Number, true, ferr("logIndex", fmt.Errorf("%d appears twice in the block", b.Logs[i].Index)))
		}
	}
	return nil
}

// DecodeRPCBlockLogs decodes a block from the responses to
// eth_getBlockByNumber (transaction hashes or full objects) and eth_getLogs
// filtered by that block's hash. The block has no Transactions (only
// Block.EncodeLogs applies); every log must name the block (hash and number)
// and, when the block lists its transactions, a transaction at the log's
// transaction index.
func DecodeRPCBlockLogs(block, logs []byte) (Block, error) {
	raw, err := rpcResult(block)
	if err != nil {
		return Block{}, at("eth_getBlockByNumber", 0, 0, false, err)
	}
	logsRaw, err := rpcResult(logs)
	return decodeRPCBlockLogs(raw, logsRaw, err)
}

// decodeRPCBlockLogs decodes the results of eth_getBlockByNumber and
// eth_getLogs; logsErr is the problem unwrapping the latter, if any.
func decodeRPCBlockLogs(raw, logsRaw json.RawMessage, logsErr error) (Block, error) {
	const input = "eth_getBlockByNumber"
	var rb rpcBlock
	if err := json.Unmarshal(raw, &rb); err != nil {
		return Block{}, at(input, 0, 0, false, ferr("result", err))
	}
	var b Block
	var err error
	if b.Number, err = reqQuantity("result.number", rb.Number); err != nil {
		return Block{}, at(input, 0, 0, false, err)
	}
	if err := b.header(&rb); err != nil {
		return Block{}, at(input, 0, b.Number, true, prefix("result", err))
	}
	var txHashes []string // nil when the block does not list its transactions
	if rb.Transactions != nil {
		txHashes = make([]string, len(rb.Transactions))
	}
	for i, rawTx := range rb.Transactions {
		var h *string
		if len(rawTx) > 0 && rawTx[0] == '"' {
			err = json.Unmarshal(rawTx, &h)
		} else {
			var rt struct {
				Hash *string `json:"hash"`
			}
			err = json.Unmarshal(rawTx, &rt)
			h = rt.Hash
		}
		if err == nil {
			txHashes[i], err = reqHex("hash", h, hashLen)
		}
		if err != nil {
			return Block{}, at(input, 0, b.Number, true, prefix(idx("result.transactions", i), err))
		}
	}

	const logInput = "eth_getLogs"
	if logsErr != nil {
		return Block{}, at(logInput, 0, b.Number, true, logsErr)
	}
	var list []rpcLog
	if err := json.Unmarshal(logsRaw, &list); err != nil {
		return Block{}, at(logInput, 0, b.Number, true, ferr("result", err))
	}
	b.Logs = make([]Log, 0, len(list))
	for j := range list {
		rl := &list[j]
		l, err := b.rpcFilterLog(rl, txHashes)
		if err != nil {
			return Block{}, at(logInput, 0, b.Number, true, prefix(idx("result", j), err))
		}
		b.Logs = append(b.Logs, l)
	}
	if err := b.sortLogs(logInput); err != nil {
		return Block{}, err
	}
	return b, nil
}

// rpcFilterLog decodes one eth_getLogs entry of block b.
func (b *Block) rpcFilterLog(rl *rpcLog, txHashes []string) (Log, error) {
	if rl.BlockHash == nil {
		return Log{}, ferr("blockHash", errors.New("missing"))
	}
	n, err := reqQuantity("blockNumber", rl.BlockNumber)
	if err != nil {
		return Log{}, err
	}
	if n != b.Number {
		return Log{}, ferr("blockNumber", fmt.Errorf("%d is not %d", n, b.Number))
	}
	txHash, err := reqHex("transactionHash", rl.TransactionHash, hashLen)
	if err != nil {
		return Log{}, err
	}
	txIndex, err := reqQuantity("transactionIndex", rl.TransactionIndex)
	if err != nil {
		return Log{}, err
	}
	if txHashes != nil && (txIndex >= uint64(len(txHashes)) || txHashes[txIndex] != txHash) {
		return Log{}, ferr("transactionHash", fmt.Errorf("transaction %s at index %d is not in block %d", txHash, txIndex, b.Number))
	}
	return b.rpcLog(rl, txHash, txIndex)
}

// rpcResult unwraps a JSON-RPC response envelope.
func rpcResult(data []byte) (json.RawMessage, error) {
	var env rpcEnvelope
	if err := json.Unmarshal(data, &env); err != nil {
		return nil, err
	}
	if env.Error != nil {
		return nil, fmt.Errorf("error response %s: %s", env.Error.Code, clip(env.Error.Message))
	}
	if len(env.Result) == 0 || string(env.Result) == "null" {
		return nil, ferr("result", errors.New("missing or null (not found, or not a JSON-RPC response)"))
	}
	return env.Result, nil
}

func (b *Block) header(rb *rpcBlock) error {
	var err error
	if b.Hash, err = reqHex("hash", rb.Hash, hashLen); err != nil {
		return err
	}
	if b.ParentHash, err = reqHex("parentHash", rb.ParentHash, hashLen); err != nil {
		return err
	}
	if b.Timestamp, err = reqQuantity("timestamp", rb.Timestamp); err != nil {
		return err
	}
	if b.Miner, err = reqHex("miner", rb.Miner, addressLen); err != nil {
		return err
	}
	if b.GasLimit, err = reqQuantity("gasLimit", rb.GasLimit); err != nil {
		return err
	}
	if b.GasUsed, err = reqQuantity("gasUsed", rb.GasUsed); err != nil {
		return err
	}
	b.BaseFeePerGas, err = optQuantityBig("baseFeePerGas", rb.BaseFeePerGas)
	return err
}

func (b *Block) rpcTransaction(t *Transaction, rt *rpcTx, i uint64) error {
	var err error
	if t.Hash, err = reqHex("hash", rt.Hash, hashLen); err != nil {
		return err
	}
	if err := b.sameBlock(rt.BlockHash, rt.BlockNumber); err != nil {
		return err
	}
	if t.Index, err = reqQuantity("transactionIndex", rt.TransactionIndex); err != nil {
		return err
	}
	if t.Index != i {
		return ferr("transactionIndex", fmt.Errorf("%d at position %d", t.Index, i))
	}
	if t.From, err = reqHex("from", rt.From, addressLen); err != nil {
		return err
	}
	if rt.To != nil {
		if t.To, err = reqHex("to", rt.To, addressLen); err != nil {
			return err
		}
	}
	if t.Value, err = reqQuantityBig("value", rt.Value); err != nil {
		return err
	}
	if t.Nonce, err = reqQuantity("nonce", rt.Nonce); err != nil {
		return err
	}
	if t.Gas, err = reqQuantity("gas", rt.Gas); err != nil {
		return err
	}
	if t.GasPrice, err = optQuantityBig("gasPrice", rt.GasPrice); err != nil {
		return err
	}
	if t.MaxFeePerGas, err = optQuantityBig("maxFeePerGas", rt.MaxFeePerGas); err != nil {
		return err
	}
	if t.MaxPriorityFeePerGas, err = optQuantityBig("maxPriorityFeePerGas", rt.MaxPriorityFeePerGas); err != nil {
		return err
	}
	if t.Input, err = reqHex("input", rt.Input, -1); err != nil {
		return err
	}
	if rt.Type != nil {
		if t.Type, err = reqQuantity("type", rt.Type); err != nil {
			return err
		}
	}
	t.Receipt.Status = StatusUnknown
	return nil
}

// rpcReceipt fills the receipt fields of the transaction rr belongs to and
// appends its logs to b.Logs; it returns the transaction's index.
func (b *Block) rpcReceipt(rr *rpcReceipt, byHash map[string]int, seen []bool) (int, error) {
	hash, err := reqHex("transactionHash", rr.TransactionHash, hashLen)
	if err != nil {
		return 0, err
	}
	i, ok := byHash[hash]
	if !ok {
		return 0, ferr("transactionHash", fmt.Errorf("transaction %s is not in block %d", hash, b.Number))
	}
	if seen[i] {
		return 0, ferr("transactionHash", fmt.Errorf("a second receipt for transaction %s", hash))
	}
	if err := b.sameBlock(rr.BlockHash, rr.BlockNumber); err != nil {
		return 0, err
	}
	ti, err := reqQuantity("transactionIndex", rr.TransactionIndex)
	if err != nil {
		return 0, err
	}
	if ti != uint64(i) {
		return 0, ferr("transactionIndex", fmt.Errorf("%d, but transaction %s is at index %d", ti, hash, i))
	}
	rc := &b.Transactions[i].Receipt
	rc.Status = StatusUnknown
	if rr.Status != nil {
		s, err := reqQuantity("status", rr.Status)
		if err != nil {
			return 0, err
		}
		if s > 1 {
			return 0, ferr("status", fmt.Errorf("%d is not 0 or 1", s))
		}
		rc.Status = int(s)
	}
	if rc.GasUsed, err = reqQuantity("gasUsed", rr.GasUsed); err != nil {
		return 0, err
	}
	if rc.CumulativeGasUsed, err = reqQuantity("cumulativeGasUsed", rr.CumulativeGasUsed); err != nil {
		return 0, err
	}
	if rc.EffectiveGasPrice, err = optQuantityBig("effectiveGasPrice", rr.EffectiveGasPrice); err != nil {
		return 0, err
	}
	if rr.ContractAddress != nil {
		if rc.ContractAddress, err = reqHex("contractAddress", rr.ContractAddress, addressLen); err != nil {
			return 0, err
		}
	}
	if rr.Logs == nil {
		return 0, ferr("logs", errors.New("missing"))
	}
	for j := range *rr.Logs {
		rl := &(*rr.Logs)[j]
		l, err := b.rpcLog(rl, hash, uint64(i))
		if err != nil {
			return 0, prefix(idx("logs", j), err)
		}
		b.Logs = append(b.Logs, l)
	}
	return i, nil
}

func (b *Block) rpcLog(rl *rpcLog, txHash string, txIndex uint64) (Log, error) {
	l := Log{TxHash: txHash, TxIndex: txIndex}
	var err error
	if rl.Removed {
		return l, ferr("removed", errors.New("true: the log was removed by a reorganisation"))
	}
	if l.Index, err = reqQuantity("logIndex", rl.LogIndex); err != nil {
		return l, err
	}
	if l.Address, err = reqHex("address", rl.Address, addressLen); err != nil {
		return l, err
	}
	if len(rl.Topics) > maxTopics {
		return l, ferr("topics", fmt.Errorf("%d topics; a log has at most %d", len(rl.Topics), maxTopics))
	}
	l.Topics = make([]string, len(rl.Topics))
	for k, t := range rl.Topics {
		if l.Topics[k], err = hexBytes(t, hashLen); err != nil {
			return l, ferr(idx("topics", k), err)
		}
	}
	if l.Data, err = reqHex("data", rl.Data, -1); err != nil {
		return l, err
	}
	if rl.TransactionHash != nil {
		h, err := reqHex("transactionHash", rl.TransactionHash, hashLen)
		if err != nil {
			return l, err
		}
		if h != txHash {
			return l, ferr("transactionHash", fmt.Errorf("%s in the receipt of %s", h, txHash))
		}
	}
	if rl.TransactionIndex != nil {
		ti, err := reqQuantity("transactionIndex", rl.TransactionIndex)
		if err != nil {
			return l, err
		}
		if ti != txIndex {
			return l, ferr("transactionIndex", fmt.Errorf("%d in the receipt of transaction %d", ti, txIndex))
		}
	}
	if rl.BlockHash != nil {
		h, err := reqHex("blockHash", rl.BlockHash, hashLen)
		if err != nil {
			return l, err
		}
		if h != b.Hash {
			return l, ferr("blockHash", fmt.Errorf("%s is not block %d (%s)", h, b.Number, b.Hash))
		}
	}
	return l, nil
}

// sameBlock checks the blockHash and blockNumber a transaction or receipt
// carries against b.
func (b *Block) sameBlock(hash, number *string) error {
	h, err := reqHex("blockHash", hash, hashLen)
	if err != nil {
		return err
	}
	if h != b.Hash {
		return ferr("blockHash", fmt.Errorf("%s is not block %d (%s)", h, b.Number, b.Hash))
	}
	n, err := reqQuantity("blockNumber", number)
	if err != nil {
		return err
	}
	if n != b.Number {
		return ferr("blockNumber", fmt.Errorf("%d is not %d", n, b.Number))
	}
	return nil
}

func reqQuantity(field string, s *string) (uint64, error) {
	if s == nil {
		return 0, ferr(field, errors.New("missing"))
	}
	v, err := quantityUint64(*s)
	if err != nil {
		return 0, ferr(field, err)
	}
	return v, nil
}

func reqQuantityBig(field string, s *string) (*big.Int, error) {
	if s == nil {
		return nil, ferr(field, errors.New("missing"))
	}
	v, err := quantityBig(*s)
	if err != nil {
		return nil, ferr(field, err)
	}
	return v, nil
}

func optQuantityBig(field string, s *string) (*big.Int, error) {
	if s == nil {
		return nil, nil
	}
	return reqQuantityBig(field, s)
}

func reqHex(field string, s *string, n int) (string, error) {
	if s == nil {
		return "", ferr(field, errors.New("missing"))
	}
	v, err := hexBytes(*s, n)
	if err != nil {
		return "", ferr(field, err)
	}
	return v, nil
}

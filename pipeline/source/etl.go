package source

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"sort"
)

// ethereum-etl JSON lines: one object per line, numbers as JSON numbers
// (exceeding 2^64 for wei values), hex in lowercase. Unknown fields
// (item_id, item_timestamp, receipt_l1_*, ...) are ignored.

// MaxLineSize bounds one line of a line-oriented input; a longer line is an
// error rather than an unbounded allocation.
const MaxLineSize = 32 << 20

type etlBlock struct {
	Type             string      `json:"type"`
	Number           json.Number `json:"number"`
	Hash             string      `json:"hash"`
	ParentHash       string      `json:"parent_hash"`
	Timestamp        json.Number `json:"timestamp"`
	Miner            string      `json:"miner"`
	GasLimit         json.Number `json:"gas_limit"`
	GasUsed          json.Number `json:"gas_used"`
	BaseFeePerGas    json.Number `json:"base_fee_per_gas"`
	TransactionCount json.Number `json:"transaction_count"`
}

type etlTx struct {
	Type                     string      `json:"type"`
	Hash                     string      `json:"hash"`
	Nonce                    json.Number `json:"nonce"`
	TransactionIndex         json.Number `json:"transaction_index"`
	FromAddress              string      `json:"from_address"`
	ToAddress                *string     `json:"to_address"`
	Value                    json.Number `json:"value"`
	Gas                      json.Number `json:"gas"`
	GasPrice                 json.Number `json:"gas_price"`
	Input                    string      `json:"input"`
	BlockNumber              json.Number `json:"block_number"`
	BlockHash                string      `json:"block_hash"`
	MaxFeePerGas             json.Number `json:"max_fee_per_gas"`
	MaxPriorityFeePerGas     json.Number `json:"max_priority_fee_per_gas"`
	TransactionType          json.Number `json:"transaction_type"`
	ReceiptCumulativeGasUsed json.Number `json:"receipt_cumulative_gas_used"`
	ReceiptGasUsed           json.Number `json:"receipt_gas_used"`
	ReceiptContractAddress   *string     `json:"receipt_contract_address"`
	ReceiptStatus            json.Number `json:"receipt_status"`
	ReceiptEffectiveGasPrice json.Number `json:"receipt_effective_gas_price"`
}

type etlLog struct {
	Type             string      `json:"type"`
	LogIndex         json.Number `json:"log_index"`
	TransactionHash  string      `json:"transaction_hash"`
	TransactionIndex json.Number `json:"transaction_index"`
	Address          string      `json:"address"`
	Data             string      `json:"data"`
	Topics           []string    `json:"topics"`
	BlockNumber      json.Number `json:"block_number"`
	BlockHash        string      `json:"block_hash"`
	BlockTimestamp   json.Number `json:"block_timestamp"`
}

// etlRecord is one decoded line of an ethereum-etl export.
type etlRecord interface {
	// recordType returns the line's "type" field, which is optional, and
	// the type the export holds.
	recordType() (got, want string)
}

func (w *etlBlock) recordType() (string, string) { return w.Type, "block" }
func (w *etlTx) recordType() (string, string)    { return w.Type, "transaction" }
func (w *etlLog) recordType() (string, string)   { return w.Type, "log" }

// decodeRecord decodes one line of an export into w and checks its type.
func decodeRecord(line []byte, w etlRecord) error {
	if err := json.Unmarshal(line, w); err != nil {
		return err
	}
	return checkType(w)
}

// checkType rejects a record whose "type" names another kind of record.
func checkType(w etlRecord) error {
	if got, want := w.recordType(); got != "" && got != want {
		return ferr("type", fmt.Errorf("%q is not %q", clip(got), want))
	}
	return nil
}

// etlDecodedLog is one line of logs.json decoded on its own (decodeLines
// runs this on every core): the record, and the log made of it.
type etlDecodedLog struct {
	w         etlLog
	l         Log
	err, lerr error // decoding the line; converting the record
}

func decodeETLLog(line []byte) (d etlDecodedLog) {
	if d.err = decodeRecord(line, &d.w); d.err == nil {
		d.l, d.lerr = d.w.log()
	}
	return d
}

// etlGroup collects one block's rows while reading.
type etlGroup struct {
	block   Block
	txCount uint64
	hasTxs  bool
	txLines []int // line of each transaction, parallel to block.Transactions
	logLine []int
}

// DecodeETL reads ethereum-etl exports — blocks.json, transactions.json and
// logs.json as JSON lines — and returns the blocks in ascending number order
// with their transactions and logs. blocks and logs are required;
// transactions may be nil, and then every block's Transactions is nil (only
// Block.EncodeLogs applies). Transactions need their receipt_* fields.
//
// Every transaction and log must belong to a block in blocks.json (same
// number and hash); a block's transactions must match its
// transaction_count; consecutive blocks must chain by parent hash.
func DecodeETL(blocks, transactions, logs io.Reader) ([]Block, error) {
	if blocks == nil || logs == nil {
		return nil, &DecodeError{Input: "ethereum-etl", Err: errors.New("blocks and logs are required")}
	}
	groups := map[uint64]*etlGroup{}
	if err := readLines(blocks, "ethereum-etl blocks", func(line []byte, n int) error {
		var w etlBlock
		if err := json.Unmarshal(line, &w); err != nil {
			return at("ethereum-etl blocks", n, 0, false, err)
		}
		num, err := decimalUint64(w.Number)
		if err != nil {
			return at("ethereum-etl blocks", n, 0, false, ferr("number", err))
		}
		g, err := w.group(num)
		if err != nil {
			return at("ethereum-etl blocks", n, num, true, err)
		}
		if _, dup := groups[g.block.Number]; dup {
			return at("ethereum-etl blocks", n, g.block.Number, true, errors.New("block listed twice"))
		}
		groups[g.block.Number] = g
		return nil
	}); err != nil {
		return nil, err
	}
	lookup := func(input string, n int, number json.Number, hash string) (*etlGroup, error) {
		num, err := decimalUint64(number)
		if err != nil {
			return nil, at(input, n, 0, false, ferr("block_number", err))
		}
		g, ok := groups[num]
		if !ok {
			return nil, at(input, n, num, true, errors.New("block is not in blocks.json"))
		}
		if hash != g.block.Hash {
			return nil, at(input, n, num, true, ferr("block_hash", fmt.Errorf("%q is not the block's hash %s", clip(hash), g.block.Hash)))
		}
		return g, nil
	}
	if transactions != nil {
		for _, g := range groups {
			g.hasTxs = true
			g.block.Transactions = []Transaction{}
		}
		const input = "ethereum-etl transactions"
		type decoded struct {
			w         etlTx
			t         Transaction
			err, terr error // decoding the line; converting the record
		}
		if err := decodeLines(transactions, input, func(line []byte) (d decoded) {
			if d.err = decodeRecord(line, &d.w); d.err == nil {
				d.t, d.terr = d.w.transaction()
			}
			return d
		}, func(d decoded, n int) error {
			if d.err != nil {
				return at(input, n, 0, false, d.err)
			}
			g, err := lookup(input, n, d.w.BlockNumber, d.w.BlockHash)
			if err != nil {
				return err
			}
			if d.terr != nil {
				return at(input, n, g.block.Number, true, d.terr)
			}
			g.block.Transactions = append(g.block.Transactions, d.t)
			g.txLines = append(g.txLines, n)
			return nil
		}); err != nil {
			return nil, err
		}
	}
	const logInput = "ethereum-etl logs"
	for _, g := range groups {
		g.block.Logs = []Log{}
	}
	if err := decodeLines(logs, logInput, decodeETLLog, func(d etlDecodedLog, n int) error {
		if d.err != nil {
			return at(logInput, n, 0, false, d.err)
		}
		g, err := lookup(logInput, n, d.w.BlockNumber, d.w.BlockHash)
		if err != nil {
			return err
		}
		if d.lerr != nil {
			return at(logInput, n, g.block.Number, true, d.lerr)
		}
		g.block.Logs = append(g.block.Logs, d.l)
		g.logLine = append(g.logLine, n)
		return nil
	}); err != nil {
		return nil, err
	}
	out, err := finishGroups(groups)
	if err != nil {
		return nil, err
	}
	for i := 1; i < len(out); i++ {
		if out[i].Number == out[i-1].Number+1 && out[i].ParentHash != out[i-1].Hash {
			return nil, at("ethereum-etl blocks", 0, out[i].Number, true,
				ferr("parent_hash", fmt.Errorf("%s is not the hash of block %d (%s)", out[i].ParentHash, out[i-1].Number, out[i-1].Hash)))
		}
	}
	return out, nil
}

// DecodeETLLogs reads an ethereum-etl logs.json alone, without blocks.json,
// and returns one Block per block that has logs, in ascending number order:
// Number, Hash and Timestamp (from block_number, block_hash and
// block_timestamp, 0 when absent) and Logs. The other header fields are
// unknown and left zero (ParentHash and Miner empty) and Transactions is
// nil, so such a block cannot be canonically encoded: use DecodeETL when
// blocks.json is available. Blocks without logs do not appear.
func DecodeETLLogs(logs io.Reader) ([]Block, error) {
	const input = "ethereum-etl logs"
	if logs == nil {
		return nil, &DecodeError{Input: input, Err: errors.New("logs are required")}
	}
	groups := map[uint64]*etlGroup{}
	if err := decodeLines(logs, input, decodeETLLog, func(d etlDecodedLog, n int) error {
		if d.err != nil {
			return at(input, n, 0, false, d.err)
		}
		w := &d.w
		num, err := decimalUint64(w.BlockNumber)
		if err != nil {
			return at(input, n, 0, false, ferr("block_number", err))
		}
		hash, err := etlHex("block_hash", w.BlockHash, hashLen)
		if err != nil {
			return at(input, n, num, true, err)
		}
		var ts uint64
		if w.BlockTimestamp != "" {
			if ts, err = decimalUint64(w.BlockTimestamp); err != nil {
				return at(input, n, num, true, ferr("block_timestamp", err))
			}
		}
		g, ok := groups[num]
		if !ok {
			g = &etlGroup{block: Block{Number: num, Hash: hash, Timestamp: ts, Logs: []Log{}}}
			groups[num] = g
		}
		if hash != g.block.Hash {
			return at(input, n, num, true, ferr("block_hash", fmt.Errorf("%s, but an earlier log of the block says %s", hash, g.block.Hash)))
		}
		if ts != g.block.Timestamp {
			return at(input, n, num, true, ferr("block_timestamp", fmt.Errorf("%d, but an earlier log of the block says %d", ts, g.block.Timestamp)))
		}
		if d.lerr != nil {
			return at(input, n, num, true, d.lerr)
		}
		g.block.Logs = append(g.block.Logs, d.l)
		g.logLine = append(g.logLine, n)
		return nil
	}); err != nil {
		return nil, err
	}
	return finishGroups(groups)
}

// finishGroups finishes every group and returns the blocks in ascending
// number order.
func finishGroups(groups map[uint64]*etlGroup) ([]Block, error) {
	out := make([]Block, 0, len(groups))
	for _, g := range groups {
		if err := g.finish(); err != nil {
			return nil, err
		}
		out = append(out, g.block)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Number < out[j].Number })
	return out, nil
}

// finish orders a block's transactions and logs and checks them against
// each other and the block.
func (g *etlGroup) finish() error {
	b := &g.block
	if g.hasTxs {
		order := make([]int, len(b.Transactions))
		for i := range order {
			order[i] = i
		}
		sort.SliceStable(order, func(i, j int) bool { return b.Transactions[order[i]].Index < b.Transactions[order[j]].Index })
		txs := make([]Transaction, len(order))
		for pos, i := range order {
			txs[pos] = b.Transactions[i]
			if txs[pos].Index != uint64(pos) {
				why := "missing"
				if pos > 0 && txs[pos].Index == txs[pos-1].Index {
					why = "listed twice"
				}
				return at("ethereum-etl transactions", g.txLines[i], b.Number, true,
					ferr("transaction_index", fmt.Errorf("%d: transaction %d is %s", txs[pos].Index, min(txs[pos].Index, uint64(pos)), why)))
			}
		}
		b.Transactions = txs
		if g.txCount != uint64(len(txs)) {
			return at("ethereum-etl transactions", 0, b.Number, true,
				fmt.Errorf("blocks.json says transaction_count %d, transactions.json has %d", g.txCount, len(txs)))
		}
	}
	order := make([]int, len(b.Logs))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(i, j int) bool { return b.Logs[order[i]].Index < b.Logs[order[j]].Index })
	logs := make([]Log, len(order))
	for pos, i := range order {
		logs[pos] = b.Logs[i]
		l := &logs[pos]
		if pos > 0 && l.Index == logs[pos-1].Index {
			return at("ethereum-etl logs", g.logLine[i], b.Number, true, ferr("log_index", fmt.Errorf("%d listed twice", l.Index)))
		}
		if g.hasTxs && (l.TxIndex >= uint64(len(b.Transactions)) || b.Transactions[l.TxIndex].Hash != l.TxHash) {
			return at("ethereum-etl logs", g.logLine[i], b.Number, true,
				ferr("transaction_hash", fmt.Errorf("transaction %s at index %d is not in the block", l.TxHash, l.TxIndex)))
		}
	}
	b.Logs = logs
	return nil
}

func (w *etlBlock) group(number uint64) (*etlGroup, error) {
	g := &etlGroup{}
	b := &g.block
	b.Number = number
	var err error
	if err := checkType(w); err != nil {
		return g, err
	}
	if b.Hash, err = etlHex("hash", w.Hash, hashLen); err != nil {
		return g, err
	}
	if b.ParentHash, err = etlHex("parent_hash", w.ParentHash, hashLen); err != nil {
		return g, err
	}
	if b.Timestamp, err = decimalUint64(w.Timestamp); err != nil {
		return g, ferr("timestamp", err)
	}
	if b.Miner, err = etlHex("miner", w.Miner, addressLen); err != nil {
		return g, err
	}
	if b.GasLimit, err = decimalUint64(w.GasLimit); err != nil {
		return g, ferr("gas_limit", err)
	}
	if b.GasUsed, err = decimalUint64(w.GasUsed); err != nil {
		return g, ferr("gas_used", err)
	}
	if b.BaseFeePerGas, err = optDecimalNumber("base_fee_per_gas", w.BaseFeePerGas); err != nil {
		return g, err
	}
	if g.txCount, err = decimalUint64(w.TransactionCount); err != nil {
		return g, ferr("transaction_count", err)
	}
	return g, nil
}

func (w *etlTx) transaction() (Transaction, error) {
	var t Transaction
	var err error
	if t.Hash, err = etlHex("hash", w.Hash, hashLen); err != nil {
		return t, err
	}
	if t.Index, err = decimalUint64(w.TransactionIndex); err != nil {
		return t, ferr("transaction_index", err)
	}
	if t.From, err = etlHex("from_address", w.FromAddress, addressLen); err != nil {
		return t, err
	}
	if w.ToAddress != nil {
		if t.To, err = etlHex("to_address", *w.ToAddress, addressLen); err != nil {
			return t, err
		}
	}
	if t.Value, err = decimalBig(w.Value); err != nil {
		return t, ferr("value", err)
	}
	if t.Nonce, err = decimalUint64(w.Nonce); err != nil {
		return t, ferr("nonce", err)
	}
	if t.Gas, err = decimalUint64(w.Gas); err != nil {
		return t, ferr("gas", err)
	}
	if t.GasPrice, err = optDecimalNumber("gas_price", w.GasPrice); err != nil {
		return t, err
	}
	if t.MaxFeePerGas, err = optDecimalNumber("max_fee_per_gas", w.MaxFeePerGas); err != nil {
		return t, err
	}
	if t.MaxPriorityFeePerGas, err = optDecimalNumber("max_priority_fee_per_gas", w.MaxPriorityFeePerGas); err != nil {
		return t, err
	}
	if t.Input, err = etlHex("input", w.Input, -1); err != nil {
		return t, err
	}
	if w.TransactionType != "" {
		if t.Type, err = decimalUint64(w.TransactionType); err != nil {
			return t, ferr("transaction_type", err)
		}
	}
	rc := &t.Receipt
	rc.Status = StatusUnknown
	if w.ReceiptStatus != "" {
		s, err := decimalUint64(w.ReceiptStatus)
		if err != nil || s > 1 {
			return t, ferr("receipt_status", fmt.Errorf("%q is not 0, 1 or null", clip(string(w.ReceiptStatus))))
		}
		rc.Status = int(s)
	}
	if rc.GasUsed, err = decimalUint64(w.ReceiptGasUsed); err != nil {
		return t, ferr("receipt_gas_used", err)
	}
	if rc.CumulativeGasUsed, err = decimalUint64(w.ReceiptCumulativeGasUsed); err != nil {
		return t, ferr("receipt_cumulative_gas_used", err)
	}
	if rc.EffectiveGasPrice, err = optDecimalNumber("receipt_effective_gas_price", w.ReceiptEffectiveGasPrice); err != nil {
		return t, err
	}
	if w.ReceiptContractAddress != nil {
		if rc.ContractAddress, err = etlHex("receipt_contract_address", *w.ReceiptContractAddress, addressLen); err != nil {
			return t, err
		}
	}
	return t, nil
}

func (w *etlLog) log() (Log, error) {
	var l Log
	var err error
	if l.Index, err = decimalUint64(w.LogIndex); err != nil {
		return l, ferr("log_index", err)
	}
	if l.TxHash, err = etlHex("transaction_hash", w.TransactionHash, hashLen); err != nil {
		return l, err
	}
	if l.TxIndex, err = decimalUint64(w.TransactionIndex); err != nil {
		return l, ferr("transaction_index", err)
	}
	if l.Address, err = etlHex("address", w.Address, addressLen); err != nil {
		return l, err
	}
	if w.Topics == nil {
		return l, ferr("topics", errors.New("missing"))
	}
	if len(w.Topics) > maxTopics {
		return l, ferr("topics", fmt.Errorf("%d topics; a log has at most %d", len(w.Topics), maxTopics))
	}
	l.Topics = make([]string, len(w.Topics))
	for i, t := range w.Topics {
		if l.Topics[i], err = hexBytes(t, hashLen); err != nil {
			return l, ferr(idx("topics", i), err)
		}
	}
	l.Data, err = etlHex("data", w.Data, -1)
	return l, err
}

func etlHex(field, s string, n int) (string, error) {
	if s == "" {
		return "", ferr(field, errors.New("missing"))
	}
	v, err := hexBytes(s, n)
	if err != nil {
		return "", ferr(field, err)
	}
	return v, nil
}

func optDecimalNumber(field string, n json.Number) (*big.Int, error) {
	if n == "" {
		return nil, nil
	}
	v, err := decimalBig(n)
	if err != nil {
		return nil, ferr(field, err)
	}
	return v, nil
}

// readLines calls fn for every non-blank line of r with its 1-based number.
// An error from fn stops reading and is returned as is.
func readLines(r io.Reader, input string, fn func(line []byte, n int) error) error {
	br := bufio.NewReaderSize(r, 64<<10)
	var long []byte
	for n := 1; ; n++ {
		line, err := br.ReadSlice('\n')
		for errors.Is(err, bufio.ErrBufferFull) {
			if len(long) > MaxLineSize {
				return &DecodeError{Input: input, Line: n, Err: fmt.Errorf("line longer than %d bytes", MaxLineSize)}
			}
			long = append(long, line...)
			line, err = br.ReadSlice('\n')
		}
		if long != nil {
			long = append(long, line...)
			line, long = long, nil
		}
		if len(line) > MaxLineSize {
			return &DecodeError{Input: input, Line: n, Err: fmt.Errorf("line longer than %d bytes", MaxLineSize)}
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("source: %s line %d: %w", input, n, err) // a read error, not malformed data
		}
		if len(bytes.TrimSpace(line)) > 0 {
			if ferr := fn(line, n); ferr != nil {
				return ferr
			}
		}
		if err != nil {
			return nil
		}
	}
}

package sourcetest

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/ipdm/ipdm/pipeline/source"
)

// TransferTopic is keccak256("Transfer(address,address,uint256)"), the
// first topic of the logs of synthetic blocks.
const TransferTopic = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"

// transferSelector is the ERC-20 transfer(address,uint256) call: the input
// of every synthetic transaction.
const transferSelector = "0xa9059cbb"

// Shape of synthetic blocks.
const (
	// BlockTime is the timestamp of block 0; block n is BlockInterval*n
	// seconds later.
	BlockTime     = 1_500_000_000
	BlockInterval = 12
	gasLimit      = 30_000_000
	transferGas   = 65_000
	gwei          = 1_000_000_000
	// tokens is the number of token contracts the transfers rotate over.
	tokens = 3
)

// EthereumOptions configures NewEthereum. The zero value is a chain of one
// empty block, block 0.
type EthereumOptions struct {
	// First is the number of the first block. With a Prefix it must be 0
	// or the number of the first recorded block.
	First uint64
	// Prefix holds recorded blocks (consecutive, each extending the one
	// before) served first; the synthetic blocks follow them.
	Prefix []RecordedBlock
	// Blocks is the number of synthetic blocks the chain starts with. The
	// chain has at least one block: without a Prefix, 0 means 1.
	Blocks int
	// TransfersPerBlock is the number of ERC-20 Transfer logs in each
	// synthetic block, one per transaction.
	TransfersPerBlock int
	// Transfers, when set, overrides TransfersPerBlock: block n carries
	// Transfers(n) transfers. It must be deterministic; it is called with
	// the chain locked.
	Transfers func(n uint64) int
	// NoBlockReceipts makes the node answer eth_getBlockReceipts as an
	// unknown method (code -32601), as nodes without it do.
	NoBlockReceipts bool
	// ForgetOrphans makes eth_getBlockByHash answer null for blocks a
	// reorganisation abandoned, as nodes that prune them do.
	ForgetOrphans bool
}

// RecordedBlock is a block as a real node served it.
type RecordedBlock struct {
	// Block is the result of eth_getBlockByNumber with full transactions.
	Block json.RawMessage
	// Receipts are the results of eth_getTransactionReceipt for the
	// block's transactions, in any order.
	Receipts []json.RawMessage
}

// ethBlock is one block as the fake serves it.
type ethBlock struct {
	model    source.Block      // what the stream must deliver
	full     json.RawMessage   // eth_getBlockByNumber(n, true)
	light    json.RawMessage   // eth_getBlockByNumber(n, false), eth_getBlockByHash
	receipts []json.RawMessage // in transaction order
	logs     []json.RawMessage // eth_getLogs
	txHashes []string
}

// Ethereum is a fake Ethereum JSON-RPC node serving eth_blockNumber,
// eth_getBlockByNumber (a quantity or "latest"; full or light),
// eth_getBlockByHash, eth_getBlockReceipts (by hash or number),
// eth_getTransactionReceipt and eth_getLogs (by blockHash). Unknown blocks
// are null; unknown methods are error -32601. Blocks abandoned by a
// reorganisation stay known by hash unless ForgetOrphans is set.
type Ethereum struct {
	*Server
	t    testing.TB
	opts EthereumOptions

	mu     sync.Mutex
	base   uint64      // number of canon[0]
	canon  []*ethBlock // canon[i] is block base+i
	byHash map[string]*ethBlock
	byTx   map[string]*ethBlock
	fork   int
}

// NewEthereum starts a fake Ethereum node; t.Cleanup stops it. A Prefix
// that does not decode, or does not chain, fails the test.
func NewEthereum(t testing.TB, opts EthereumOptions) *Ethereum {
	t.Helper()
	f := &Ethereum{t: t, opts: opts, base: opts.First, byHash: map[string]*ethBlock{}, byTx: map[string]*ethBlock{}}
	for i, rec := range opts.Prefix {
		b, err := recorded(rec)
		if err != nil {
			t.Fatalf("sourcetest: prefix block %d: %v", i, err)
		}
		if i == 0 {
			if opts.First != 0 && opts.First != b.model.Number {
				t.Fatalf("sourcetest: First is %d, but the prefix starts at block %d", opts.First, b.model.Number)
			}
			f.base = b.model.Number
		} else if top := f.top(); b.model.Number != top.model.Number+1 || b.model.ParentHash != top.model.Hash {
			t.Fatalf("sourcetest: prefix block %d (number %d, parent %s) does not extend block %d (%s)",
				i, b.model.Number, b.model.ParentHash, top.model.Number, top.model.Hash)
		}
		f.add(b)
	}
	n := opts.Blocks
	if len(f.canon) == 0 {
		f.add(f.synth(f.base, parentOfFirst(f.base)))
		n--
	}
	f.extend(n)
	f.Server = newServer(t, f.handle)
	return f
}

// URI returns the source URI of the node, "ethereum-rpc:http://127.0.0.1:PORT".
func (f *Ethereum) URI() string { return "ethereum-rpc:" + f.URL() }

// Extend adds k blocks on top of the head.
func (f *Ethereum) Extend(k int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.extend(k)
}

// Reorg replaces the newest k blocks with a fork of k+extra blocks: every
// block of the fork has another hash and other transfers than the block of
// that number it replaces. Blocks added later by Extend continue the fork.
// k must be less than the length of the chain (an error is reported to the
// test otherwise); k = 0 forks on top of the head.
func (f *Ethereum) Reorg(k, extra int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if k < 0 || extra < 0 || k >= len(f.canon) {
		f.t.Errorf("sourcetest: Reorg(%d, %d) of a chain of %d blocks", k, extra, len(f.canon))
		return
	}
	f.fork++
	f.canon = f.canon[:len(f.canon)-k]
	f.extend(k + extra)
}

// Head returns the number of the newest block.
func (f *Ethereum) Head() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.top().model.Number
}

// HeadCursor returns the cursor of the newest block.
func (f *Ethereum) HeadCursor() source.Cursor {
	f.mu.Lock()
	defer f.mu.Unlock()
	return cursorOf(f.top())
}

// Cursor returns the cursor of canonical block n, or the zero Cursor when
// the chain has no block n.
func (f *Ethereum) Cursor(n uint64) source.Cursor {
	f.mu.Lock()
	defer f.mu.Unlock()
	if b := f.at(n); b != nil {
		return cursorOf(b)
	}
	return source.Cursor{}
}

// Cursors returns the cursors of the canonical blocks from block from to
// the head.
func (f *Ethereum) Cursors(from uint64) []source.Cursor {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []source.Cursor
	for _, b := range f.canon[min(uint64(len(f.canon)), max(from, f.base)-f.base):] {
		out = append(out, cursorOf(b))
	}
	return out
}

// Canonical returns the current canonical chain from the first block to
// the head, as a stream with transactions delivers it (a LogsOnly stream
// delivers the same blocks without Transactions). Compare blocks by their
// encodings (Block.Encode): that is what modules see, and equal blocks can
// hold big.Int values that differ in representation. The blocks are
// copies.
func (f *Ethereum) Canonical() []source.Block {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]source.Block, len(f.canon))
	for i, b := range f.canon {
		out[i] = cloneBlock(b.model)
	}
	return out
}

func cursorOf(b *ethBlock) source.Cursor {
	return source.Cursor{Number: b.model.Number, Hash: b.model.Hash}
}

func (f *Ethereum) top() *ethBlock { return f.canon[len(f.canon)-1] }

// at returns canonical block n, or nil.
func (f *Ethereum) at(n uint64) *ethBlock {
	if n < f.base || n-f.base >= uint64(len(f.canon)) {
		return nil
	}
	return f.canon[n-f.base]
}

func (f *Ethereum) canonical(b *ethBlock) bool { return f.at(b.model.Number) == b }

func (f *Ethereum) add(b *ethBlock) {
	f.canon = append(f.canon, b)
	f.byHash[b.model.Hash] = b
	for _, h := range b.txHashes {
		f.byTx[h] = b
	}
}

func (f *Ethereum) extend(k int) {
	for range k {
		top := f.top()
		f.add(f.synth(top.model.Number+1, top.model.Hash))
	}
}

func (f *Ethereum) transfers(n uint64) int {
	if f.opts.Transfers != nil {
		return max(0, f.opts.Transfers(n))
	}
	return max(0, f.opts.TransfersPerBlock)
}

// synth makes block n of the current fork on top of parent.
func (f *Ethereum) synth(n uint64, parent string) *ethBlock {
	return render(synthBlock(n, f.fork, parent, f.transfers(n)))
}

// parentOfFirst is the parent hash of a synthetic first block: zero for
// genesis, else a hash the node does not serve.
func parentOfFirst(n uint64) string {
	if n == 0 {
		return "0x" + strings.Repeat("0", 64)
	}
	return hash32("parent", n-1)
}

// synthBlock is the model of block n of fork on top of parent: count
// ERC-20 transfer calls from senders to recipients derived from (n, fork,
// index), each emitting one Transfer log. Transactions alternate between
// legacy and EIP-1559 (type 2); amounts alternate between 64-bit values
// and values of 89 to 96 bits.
func synthBlock(n uint64, fork int, parent string, count int) source.Block {
	b := source.Block{
		Number:        n,
		Hash:          hash32("block", fork, n),
		ParentHash:    parent,
		Timestamp:     BlockTime + BlockInterval*n,
		Miner:         address("miner", fork, n),
		GasLimit:      gasLimit,
		BaseFeePerGas: big.NewInt(int64(gwei + n%1000*1_000_000)),
		Transactions:  []source.Transaction{},
		Logs:          []source.Log{},
	}
	var cumulative uint64
	for i := range uint64(count) {
		from, to := address("from", fork, n, i), address("to", fork, n, i)
		token := address("token", (n+i)%tokens)
		amount := transferAmount(n, fork, i)
		amountWord := fmt.Sprintf("%064x", amount)
		used := 34_000 + (n+i)%17_000
		cumulative += used
		tx := source.Transaction{
			Hash:  hash32("tx", fork, n, i),
			Index: i,
			From:  from,
			To:    token,
			Value: new(big.Int),
			Nonce: n%1000 + i,
			Gas:   transferGas,
			Input: transferSelector + word(to)[2:] + amountWord,
		}
		price := new(big.Int).Add(b.BaseFeePerGas, big.NewInt(int64(gwei+i)))
		if i%2 == 1 {
			tx.Type = 2
			tx.MaxFeePerGas = new(big.Int).Mul(b.BaseFeePerGas, big.NewInt(2))
			tx.MaxPriorityFeePerGas = big.NewInt(int64(gwei + i))
		}
		tx.GasPrice = price
		tx.Receipt = source.Receipt{Status: 1, GasUsed: used, CumulativeGasUsed: cumulative, EffectiveGasPrice: new(big.Int).Set(price)}
		b.Transactions = append(b.Transactions, tx)
		b.Logs = append(b.Logs, source.Log{
			Index:   i,
			TxHash:  tx.Hash,
			TxIndex: i,
			Address: token,
			Topics:  []string{TransferTopic, word(from), word(to)},
			Data:    "0x" + amountWord,
		})
	}
	b.GasUsed = cumulative
	return b
}

// transferAmount is transfer i of block n of fork: at most 64 bits when
// n+i is even, above 2^88 when it is odd.
func transferAmount(n uint64, fork int, i uint64) *big.Int {
	sum := sha256.Sum256([]byte(fmt.Sprint("amount", fork, n, i)))
	if (n+i)%2 == 0 {
		return new(big.Int).SetBytes(sum[:8])
	}
	sum[0] |= 1
	return new(big.Int).SetBytes(sum[:12])
}

func hash32(parts ...any) string {
	sum := sha256.Sum256([]byte(fmt.Sprint(parts...)))
	return "0x" + hex.EncodeToString(sum[:])
}

func address(parts ...any) string { return hash32(parts...)[:42] }

// word is an address as a 32-byte topic.
func word(addr string) string { return "0x" + strings.Repeat("0", 24) + addr[2:] }

func quantity(n uint64) string { return "0x" + strconv.FormatUint(n, 16) }

func bigQuantity(v *big.Int) string { return "0x" + v.Text(16) }

// render makes the JSON-RPC results of a model block.
func render(m source.Block) *ethBlock {
	b := &ethBlock{model: m}
	header := map[string]any{
		"number": quantity(m.Number), "hash": m.Hash, "parentHash": m.ParentHash,
		"timestamp": quantity(m.Timestamp), "miner": m.Miner,
		"gasLimit": quantity(m.GasLimit), "gasUsed": quantity(m.GasUsed),
		"baseFeePerGas": bigQuantity(m.BaseFeePerGas),
		"extraData":     "0x", "difficulty": "0x0", "uncles": []string{},
	}
	logsOf := make([][]json.RawMessage, len(m.Transactions))
	for _, l := range m.Logs {
		lj, _ := json.Marshal(map[string]any{
			"address": l.Address, "topics": l.Topics, "data": l.Data, "logIndex": quantity(l.Index),
			"transactionHash": l.TxHash, "transactionIndex": quantity(l.TxIndex),
			"blockHash": m.Hash, "blockNumber": quantity(m.Number), "removed": false,
		})
		b.logs = append(b.logs, lj)
		logsOf[l.TxIndex] = append(logsOf[l.TxIndex], lj)
	}
	txs := []any{}
	b.txHashes = []string{}
	for i, t := range m.Transactions {
		tx := map[string]any{
			"hash": t.Hash, "blockHash": m.Hash, "blockNumber": quantity(m.Number),
			"transactionIndex": quantity(t.Index), "from": t.From, "to": t.To,
			"value": bigQuantity(t.Value), "nonce": quantity(t.Nonce), "gas": quantity(t.Gas),
			"gasPrice": bigQuantity(t.GasPrice), "input": t.Input, "type": quantity(t.Type),
			"chainId": "0x1", "v": "0x1",
			"r": hash32("r", t.Hash), "s": hash32("s", t.Hash),
		}
		if t.MaxFeePerGas != nil {
			tx["maxFeePerGas"] = bigQuantity(t.MaxFeePerGas)
			tx["maxPriorityFeePerGas"] = bigQuantity(t.MaxPriorityFeePerGas)
			tx["accessList"] = []any{}
		}
		txs = append(txs, tx)
		b.txHashes = append(b.txHashes, t.Hash)
		logs := logsOf[i]
		if logs == nil {
			logs = []json.RawMessage{}
		}
		r, _ := json.Marshal(map[string]any{
			"transactionHash": t.Hash, "transactionIndex": quantity(t.Index),
			"blockHash": m.Hash, "blockNumber": quantity(m.Number), "from": t.From, "to": t.To,
			"status": quantity(uint64(t.Receipt.Status)), "gasUsed": quantity(t.Receipt.GasUsed),
			"cumulativeGasUsed": quantity(t.Receipt.CumulativeGasUsed),
			"effectiveGasPrice": bigQuantity(t.Receipt.EffectiveGasPrice),
			"contractAddress":   nil, "logs": logs, "type": quantity(t.Type),
		})
		b.receipts = append(b.receipts, r)
	}
	header["transactions"] = txs
	b.full, _ = json.Marshal(header)
	header["transactions"] = b.txHashes
	b.light, _ = json.Marshal(header)
	return b
}

// recorded makes a served block of a recorded one; its model is what
// DecodeRPCBlock makes of it.
func recorded(rec RecordedBlock) (*ethBlock, error) {
	env := func(result json.RawMessage) []byte {
		return []byte(`{"jsonrpc":"2.0","id":1,"result":` + string(result) + `}`)
	}
	receipts := make([][]byte, len(rec.Receipts))
	for i, r := range rec.Receipts {
		receipts[i] = env(r)
	}
	model, err := source.DecodeRPCBlock(env(rec.Block), receipts...)
	if err != nil {
		return nil, err
	}
	var header map[string]json.RawMessage
	if err := json.Unmarshal(rec.Block, &header); err != nil {
		return nil, err
	}
	b := &ethBlock{model: model, full: rec.Block, txHashes: []string{}}
	byHash := map[string]json.RawMessage{}
	for _, r := range rec.Receipts {
		var rr struct {
			TransactionHash string `json:"transactionHash"`
		}
		if err := json.Unmarshal(r, &rr); err != nil {
			return nil, err
		}
		byHash[strings.ToLower(rr.TransactionHash)] = r
	}
	for _, t := range model.Transactions {
		r := byHash[t.Hash]
		var rr struct{ Logs []json.RawMessage }
		json.Unmarshal(r, &rr)
		b.txHashes = append(b.txHashes, t.Hash)
		b.receipts = append(b.receipts, r)
		b.logs = append(b.logs, rr.Logs...)
	}
	header["transactions"], _ = json.Marshal(b.txHashes)
	b.light, _ = json.Marshal(header)
	return b, nil
}

func cloneBlock(b source.Block) source.Block {
	c := b
	c.BaseFeePerGas = cloneInt(b.BaseFeePerGas)
	if b.Transactions != nil {
		c.Transactions = make([]source.Transaction, len(b.Transactions))
		for i, t := range b.Transactions {
			t.Value = cloneInt(t.Value)
			t.GasPrice = cloneInt(t.GasPrice)
			t.MaxFeePerGas = cloneInt(t.MaxFeePerGas)
			t.MaxPriorityFeePerGas = cloneInt(t.MaxPriorityFeePerGas)
			t.Receipt.EffectiveGasPrice = cloneInt(t.Receipt.EffectiveGasPrice)
			c.Transactions[i] = t
		}
	}
	if b.Logs != nil {
		c.Logs = make([]source.Log, len(b.Logs))
		for i, l := range b.Logs {
			l.Topics = slices.Clone(l.Topics)
			c.Logs[i] = l
		}
	}
	return c
}

func cloneInt(v *big.Int) *big.Int {
	if v == nil {
		return nil
	}
	return new(big.Int).Set(v)
}

func (f *Ethereum) handle(method string, params []json.RawMessage) (any, *ErrorObject) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var arg string
	param(params, 0, &arg)
	switch method {
	case "eth_blockNumber":
		return quantity(f.top().model.Number), nil
	case "eth_getBlockByNumber":
		var full bool
		param(params, 1, &full)
		b := f.byNumber(arg)
		if b == nil {
			return nil, nil
		}
		if full {
			return b.full, nil
		}
		return b.light, nil
	case "eth_getBlockByHash":
		b := f.byHash[strings.ToLower(arg)]
		if b == nil || (f.opts.ForgetOrphans && !f.canonical(b)) {
			return nil, nil
		}
		var full bool
		param(params, 1, &full)
		if full {
			return b.full, nil
		}
		return b.light, nil
	case "eth_getBlockReceipts":
		if f.opts.NoBlockReceipts {
			return nil, &ErrorObject{-32601, "the method eth_getBlockReceipts does not exist/is not available"}
		}
		b := f.byHash[strings.ToLower(arg)]
		if b == nil {
			b = f.byNumber(arg)
		}
		if b == nil {
			return nil, nil
		}
		return nonNil(b.receipts), nil
	case "eth_getTransactionReceipt":
		b := f.byTx[strings.ToLower(arg)]
		if b == nil {
			return nil, nil
		}
		return b.receipts[slices.Index(b.txHashes, strings.ToLower(arg))], nil
	case "eth_getLogs":
		var filter struct {
			BlockHash string `json:"blockHash"`
		}
		param(params, 0, &filter)
		b := f.byHash[strings.ToLower(filter.BlockHash)]
		if b == nil {
			return nil, &ErrorObject{-32000, "unknown block"}
		}
		return nonNil(b.logs), nil
	}
	return nil, &ErrorObject{-32601, "the method " + method + " does not exist/is not available"}
}

// byNumber returns the canonical block a quantity or "latest" names, or
// nil.
func (f *Ethereum) byNumber(s string) *ethBlock {
	if s == "latest" {
		return f.top()
	}
	hexDigits, ok := strings.CutPrefix(s, "0x")
	if !ok {
		return nil
	}
	n, err := strconv.ParseUint(hexDigits, 16, 64)
	if err != nil {
		return nil
	}
	return f.at(n)
}

// nonNil keeps empty lists [] rather than null on the wire.
func nonNil(list []json.RawMessage) []json.RawMessage {
	if list == nil {
		return []json.RawMessage{}
	}
	return list
}

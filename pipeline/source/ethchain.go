package source

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
)

// ethChain reads an Ethereum JSON-RPC node for the poller.
type ethChain struct {
	rpc      *rpcClient
	logsOnly bool
	retries  int
	backoff  backoff
	// noBlockReceipts is set once the node turned eth_getBlockReceipts
	// down as unknown: receipts then come one transaction at a time.
	noBlockReceipts atomic.Bool
}

// errStale marks data that changed between two requests about one block
// (a reorganisation, or nodes behind a load balancer that disagree): the
// whole block is fetched again.
var errStale = errors.New("inconsistent answers (the chain moved between requests)")

func quantity(n uint64) string { return "0x" + strconv.FormatUint(n, 16) }

func (e *ethChain) head(ctx context.Context) (uint64, error) {
	op := e.rpc.op("eth_blockNumber", 0, false)
	raw, err := e.rpc.call(ctx, op)
	if err != nil {
		return 0, err
	}
	var s *string
	if err := json.Unmarshal(raw, &s); err != nil {
		return 0, at(op.method, 0, 0, false, ferr("result", err))
	}
	n, err := reqQuantity("result", s)
	if err != nil {
		return 0, at(op.method, 0, 0, false, err)
	}
	return n, nil
}

func (e *ethChain) block(ctx context.Context, n uint64) (fetched, bool, error) {
	var f fetched
	err := retry(ctx, e.retries, e.backoff, func() error {
		var err error
		f, err = e.fetch(ctx, n)
		return err
	})
	return f, err == nil, err
}

// fetch makes one attempt at block n; errStale failures are transient.
func (e *ethChain) fetch(ctx context.Context, n uint64) (fetched, error) {
	op := e.rpc.op("eth_getBlockByNumber", n, true)
	raw, err := e.rpc.call(ctx, op, quantity(n), !e.logsOnly)
	if err != nil {
		return fetched{}, err
	}
	if isNull(raw) {
		return fetched{}, transient(fmt.Errorf("source: %s: no such block yet: %w", op, errStale))
	}
	var peek struct {
		Number *string `json:"number"`
		Hash   *string `json:"hash"`
	}
	if err := json.Unmarshal(raw, &peek); err != nil {
		return fetched{}, at(op.method, 0, n, true, ferr("result", err))
	}
	got, err := reqQuantity("result.number", peek.Number)
	if err == nil && got != n {
		err = ferr("result.number", fmt.Errorf("%d, but block %d was requested", got, n))
	}
	if err != nil {
		return fetched{}, at(op.method, 0, n, true, err)
	}
	hash, err := reqHex("result.hash", peek.Hash, hashLen)
	if err != nil {
		return fetched{}, at(op.method, 0, n, true, err)
	}

	var b Block
	if e.logsOnly {
		lop := e.rpc.op("eth_getLogs", n, true)
		logs, err := e.rpc.call(ctx, lop, map[string]string{"blockHash": hash})
		if err != nil {
			return fetched{}, staleIfRPC(err)
		}
		if b, err = decodeRPCBlockLogs(raw, logs, nil); err != nil {
			return fetched{}, err
		}
	} else {
		var byHash map[string]int
		if b, byHash, err = decodeRPCBlockTxs(raw); err != nil {
			return fetched{}, err
		}
		if b, err = e.receipts(ctx, b, byHash); err != nil {
			return fetched{}, err
		}
	}
	u := Unit{Number: b.Number, Hash: b.Hash, ParentHash: b.ParentHash, Time: b.Timestamp, Eth: &b}
	return fetched{u, ethLink(b.Number, b.Hash, b.ParentHash)}, nil
}

// receipts adds the receipts of b's transactions: one eth_getBlockReceipts
// by block hash when the node has it, else eth_getTransactionReceipt per
// transaction.
func (e *ethChain) receipts(ctx context.Context, b Block, byHash map[string]int) (Block, error) {
	if len(b.Transactions) == 0 {
		return b.withReceipts(byHash, nil)
	}
	if !e.noBlockReceipts.Load() {
		op := e.rpc.op("eth_getBlockReceipts", b.Number, true)
		raw, err := e.rpc.call(ctx, op, b.Hash)
		switch {
		case err == nil && isNull(raw):
			return Block{}, transient(fmt.Errorf("source: %s: null for block %s: %w", op, b.Hash, errStale))
		case err == nil:
			if err := receiptsOf(raw, b.Hash, true); err != nil {
				return Block{}, err
			}
			return b.withReceiptList(byHash, raw)
		case methodMissing(err):
			e.noBlockReceipts.Store(true)
		default:
			return Block{}, staleIfRPC(err)
		}
	}
	results := make([]json.RawMessage, len(b.Transactions))
	for i, t := range b.Transactions {
		op := e.rpc.op("eth_getTransactionReceipt", b.Number, true)
		raw, err := e.rpc.call(ctx, op, t.Hash)
		if err != nil {
			return Block{}, err
		}
		if isNull(raw) {
			return Block{}, transient(fmt.Errorf("source: %s: no receipt for transaction %s: %w", op, t.Hash, errStale))
		}
		if err := receiptsOf(raw, b.Hash, false); err != nil {
			return Block{}, err
		}
		results[i] = raw
	}
	return b.withReceipts(byHash, results)
}

// receiptsOf checks that receipts (a list, or one receipt) name block hash,
// reporting a transient errStale otherwise: the transaction was included
// elsewhere after a reorganisation.
func receiptsOf(raw json.RawMessage, hash string, list bool) error {
	type rc struct {
		BlockHash string `json:"blockHash"`
	}
	var rs []rc
	if list {
		if json.Unmarshal(raw, &rs) != nil {
			return nil // the decoder reports it
		}
	} else {
		var r rc
		if json.Unmarshal(raw, &r) != nil {
			return nil
		}
		rs = []rc{r}
	}
	for _, r := range rs {
		if r.BlockHash != "" && !strings.EqualFold(r.BlockHash, hash) {
			return transient(fmt.Errorf("source: receipt of block %s names block %s: %w", hash, clip(r.BlockHash), errStale))
		}
	}
	return nil
}

// staleIfRPC turns a JSON-RPC error about a block hash into a retry of the
// block: nodes answer "unknown block" for a hash reorganised away.
func staleIfRPC(err error) error {
	var re *RPCError
	if errors.As(err, &re) && !errors.Is(err, ErrUnavailable) {
		return transient(err)
	}
	return err
}

// methodMissing reports whether err says the node lacks the method.
func methodMissing(err error) bool {
	var re *RPCError
	if errors.As(err, &re) {
		// -32602: the node wants another parameter form (a number, not a
		// hash); per-transaction receipts work everywhere.
		if re.Code == -32601 || re.Code == -32602 || re.Code == -32604 {
			return true
		}
		m := strings.ToLower(re.Message)
		if strings.Contains(m, "method") {
			for _, s := range []string{"not found", "not supported", "unsupported", "does not exist", "not available"} {
				if strings.Contains(m, s) {
					return true
				}
			}
		}
	}
	var he *HTTPError
	return errors.As(err, &he) && (he.Status == 404 || he.Status == 405 || he.Status == 501)
}

func (e *ethChain) header(ctx context.Context, n uint64) (link, bool, error) {
	op := e.rpc.op("eth_getBlockByNumber", n, true)
	raw, err := e.rpc.call(ctx, op, quantity(n), false)
	if err != nil {
		return link{}, false, err
	}
	return ethHeader(op, raw)
}

func (e *ethChain) headerByHash(ctx context.Context, hash string) (link, bool, error) {
	op := e.rpc.op("eth_getBlockByHash", 0, false)
	raw, err := e.rpc.call(ctx, op, hash, false)
	if err != nil {
		var re *RPCError
		if errors.As(err, &re) {
			return link{}, false, nil // unknown, or not served: trace no further
		}
		return link{}, false, err
	}
	l, ok, err := ethHeader(op, raw)
	if ok && l.Hash != hash {
		return link{}, false, at(op.method, 0, l.Number, true, ferr("result.hash", fmt.Errorf("%s, but %s was requested", l.Hash, hash)))
	}
	return l, ok, err
}

// ethHeader decodes the link of an eth_getBlockBy* result; null is no
// block.
func ethHeader(op rpcOp, raw json.RawMessage) (link, bool, error) {
	if isNull(raw) {
		return link{}, false, nil
	}
	var rb rpcBlock
	if err := json.Unmarshal(raw, &rb); err != nil {
		return link{}, false, at(op.method, 0, op.block, op.hasBlock, ferr("result", err))
	}
	n, err := reqQuantity("result.number", rb.Number)
	if err == nil && op.hasBlock && n != op.block {
		err = ferr("result.number", fmt.Errorf("%d, but block %d was requested", n, op.block))
	}
	if err != nil {
		return link{}, false, at(op.method, 0, op.block, op.hasBlock, err)
	}
	hash, err := reqHex("result.hash", rb.Hash, hashLen)
	if err != nil {
		return link{}, false, at(op.method, 0, n, true, err)
	}
	parent, err := reqHex("result.parentHash", rb.ParentHash, hashLen)
	if err != nil {
		return link{}, false, at(op.method, 0, n, true, err)
	}
	return ethLink(n, hash, parent), true, nil
}

func ethLink(n uint64, hash, parent string) link {
	l := link{Number: n, Hash: hash}
	if n > 0 {
		l.ParentNumber, l.ParentHash, l.HasParent = n-1, parent, true
	}
	return l
}

func isNull(raw json.RawMessage) bool { return len(raw) == 0 || string(raw) == "null" }

package source

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mr-tron/base58"
)

// Fake JSON-RPC nodes over real HTTP (httptest), for the stream tests.

// fault is what the fake does with one request instead of answering it.
type fault int

const (
	faultNone      fault = iota
	fault429             // HTTP 429 with Retry-After: 0
	fault500             // HTTP 500
	faultHang            // answer only after the client's timeout
	faultGarbage         // HTTP 200 with a body that is not JSON-RPC
	faultForbidden       // HTTP 403
)

// rpcServer is the HTTP side shared by the fakes: request parsing, fault
// injection, counting.
type rpcServer struct {
	t   testing.TB
	srv *httptest.Server

	mu          sync.Mutex
	requests    int
	perMethod   map[string]int
	times       []time.Time
	inFlight    int
	maxInFlight int
	// faults picks a fault for the n-th request (1-based); nil = none.
	faults func(n int, method string) fault
	// latency delays answers; nil = none.
	latency func(method string, params []json.RawMessage) time.Duration
	// errorFor answers a method with a JSON-RPC error; nil = never.
	errorFor func(method string, params []json.RawMessage) *rpcErrorObject
	// handle answers a request: its result, or a JSON-RPC error.
	handle func(method string, params []json.RawMessage) (any, *rpcErrorObject)
}

func newRPCServer(t testing.TB, handle func(string, []json.RawMessage) (any, *rpcErrorObject)) *rpcServer {
	s := &rpcServer{t: t, perMethod: map[string]int{}, handle: handle}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *rpcServer) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	var req struct {
		ID     json.RawMessage   `json:"id"`
		Method string            `json:"method"`
		Params []json.RawMessage `json:"params"`
	}
	if r.Method != http.MethodPost || json.Unmarshal(body, &req) != nil {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	s.requests++
	n := s.requests
	s.perMethod[req.Method]++
	s.times = append(s.times, time.Now())
	s.inFlight++
	s.maxInFlight = max(s.maxInFlight, s.inFlight)
	faults, latency, errorFor := s.faults, s.latency, s.errorFor
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.inFlight--
		s.mu.Unlock()
	}()

	f := faultNone
	if faults != nil {
		f = faults(n, req.Method)
	}
	switch f {
	case fault429:
		w.Header().Set("Retry-After", "0")
		http.Error(w, "slow down", http.StatusTooManyRequests)
		return
	case fault500:
		http.Error(w, "internal trouble", http.StatusInternalServerError)
		return
	case faultHang:
		select {
		case <-r.Context().Done():
		case <-time.After(2 * time.Second):
		}
		return
	case faultGarbage:
		io.WriteString(w, "<html>bad gateway</html>")
		return
	case faultForbidden:
		http.Error(w, "invalid api key", http.StatusForbidden)
		return
	}
	if latency != nil {
		select {
		case <-r.Context().Done():
			return
		case <-time.After(latency(req.Method, req.Params)):
		}
	}
	var result any
	var rerr *rpcErrorObject
	if errorFor != nil {
		rerr = errorFor(req.Method, req.Params)
	}
	if rerr == nil {
		result, rerr = s.handle(req.Method, req.Params)
	}
	resp := map[string]any{"jsonrpc": "2.0", "id": req.ID}
	if rerr != nil {
		resp["error"] = rerr
	} else {
		resp["result"] = result
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(resp)
}

func (s *rpcServer) count(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if method == "" {
		return s.requests
	}
	return s.perMethod[method]
}

func (s *rpcServer) set(fn func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fn()
}

func fakeHash(parts ...any) string {
	sum := sha256.Sum256([]byte(fmt.Sprint(parts...)))
	return "0x" + hex.EncodeToString(sum[:])
}

func q(n uint64) string { return "0x" + strconv.FormatUint(n, 16) }

// --- Ethereum ---

type ethFakeBlock struct {
	number   uint64
	hash     string
	parent   string
	full     json.RawMessage // eth_getBlockByNumber(n, true) result
	light    json.RawMessage // with transaction hashes
	receipts []json.RawMessage
	logs     []json.RawMessage
	txHashes []string
}

// fakeEth is an Ethereum node: the two fixture blocks 1755634 and 1755635
// (served from the recorded responses), then synthetic blocks. It can
// reorganise its head.
type fakeEth struct {
	*rpcServer
	base  uint64
	canon []*ethFakeBlock // canon[i] is block base+i
	// byHash and byTx hold every block ever made, orphans included.
	byHash map[string]*ethFakeBlock
	byTx   map[string]*ethFakeBlock
	fork   int
	// noBlockReceipts makes eth_getBlockReceipts unknown.
	noBlockReceipts bool
	// forgetOrphans makes eth_getBlockByHash answer null for blocks no
	// longer canonical.
	forgetOrphans bool
}

const ethBase = 1755634

func newFakeEth(t testing.TB, synthetic int) *fakeEth {
	f := &fakeEth{base: ethBase, byHash: map[string]*ethFakeBlock{}, byTx: map[string]*ethFakeBlock{}}
	f.rpcServer = newRPCServer(t, f.handle)
	for _, name := range []string{"0x1ac9f2", "0x1ac9f3"} {
		f.addFixture(t, name)
	}
	f.extend(synthetic)
	return f
}

func (f *fakeEth) url() string { return "ethereum-rpc:" + f.srv.URL }

func resultOf(t testing.TB, data []byte) json.RawMessage {
	t.Helper()
	var env struct{ Result json.RawMessage }
	if err := json.Unmarshal(data, &env); err != nil {
		t.Fatal(err)
	}
	return env.Result
}

func (f *fakeEth) addFixture(t testing.TB, name string) {
	full := resultOf(t, readFixture(t, smallEth+"web3_response.eth_getBlockByNumber_"+name+"_true.json"))
	var m map[string]json.RawMessage
	if err := json.Unmarshal(full, &m); err != nil {
		t.Fatal(err)
	}
	var txs []struct {
		Hash string `json:"hash"`
	}
	json.Unmarshal(m["transactions"], &txs)
	b := &ethFakeBlock{full: full}
	json.Unmarshal(m["hash"], &b.hash)
	json.Unmarshal(m["parentHash"], &b.parent)
	var num string
	json.Unmarshal(m["number"], &num)
	b.number, _ = strconv.ParseUint(num[2:], 16, 64)
	for _, tx := range txs {
		b.txHashes = append(b.txHashes, tx.Hash)
		r := resultOf(t, readFixture(t, smallEth+"web3_response.eth_getTransactionReceipt_"+tx.Hash+".json"))
		b.receipts = append(b.receipts, r)
		var rr struct{ Logs []json.RawMessage }
		json.Unmarshal(r, &rr)
		b.logs = append(b.logs, rr.Logs...)
	}
	hashes, _ := json.Marshal(b.txHashes)
	if b.txHashes == nil {
		hashes = []byte("[]")
	}
	m["transactions"] = hashes
	b.light, _ = json.Marshal(m)
	f.add(b)
}

func (f *fakeEth) add(b *ethFakeBlock) {
	f.canon = append(f.canon, b)
	f.byHash[b.hash] = b
	for _, h := range b.txHashes {
		f.byTx[h] = b
	}
}

// synth makes block n of the current fork on top of parent: n%3
// transactions, each with a receipt holding one Transfer log.
func (f *fakeEth) synth(n uint64, parent string) *ethFakeBlock {
	b := &ethFakeBlock{number: n, parent: parent, hash: fakeHash("block", f.fork, n)}
	addr := func(s string) string { return "0x" + strings.Repeat(s, 40) }
	header := map[string]any{
		"number": q(n), "hash": b.hash, "parentHash": parent, "timestamp": q(1466669562 + 15*(n-ethBase)),
		"miner": addr("a"), "gasLimit": q(4712388), "gasUsed": q(21000 * (n % 3)),
	}
	var txs []any
	for i := uint64(0); i < n%3; i++ {
		h := fakeHash("tx", b.hash, i)
		b.txHashes = append(b.txHashes, h)
		txs = append(txs, map[string]any{
			"hash": h, "blockHash": b.hash, "blockNumber": q(n), "transactionIndex": q(i),
			"from": addr("b"), "to": addr("c"), "value": q(1000 + i), "nonce": q(n*10 + i),
			"gas": q(90000), "gasPrice": q(20e9), "input": "0x", "type": "0x0",
		})
		log := map[string]any{
			"address": addr("d"), "topics": []string{"0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef", fakeHash("from", i), fakeHash("to", i)},
			"data": "0x" + strings.Repeat("0", 62) + "2a", "logIndex": q(i), "transactionHash": h, "transactionIndex": q(i),
			"blockHash": b.hash, "blockNumber": q(n), "removed": false,
		}
		lj, _ := json.Marshal(log)
		b.logs = append(b.logs, lj)
		r, _ := json.Marshal(map[string]any{
			"transactionHash": h, "transactionIndex": q(i), "blockHash": b.hash, "blockNumber": q(n),
			"status": "0x1", "gasUsed": q(21000), "cumulativeGasUsed": q(21000 * (i + 1)), "effectiveGasPrice": q(20e9),
			"contractAddress": nil, "logs": []json.RawMessage{lj},
		})
		b.receipts = append(b.receipts, r)
	}
	header["transactions"] = txs
	if txs == nil {
		header["transactions"] = []any{}
	}
	b.full, _ = json.Marshal(header)
	header["transactions"] = b.txHashes
	if b.txHashes == nil {
		header["transactions"] = []string{}
	}
	b.light, _ = json.Marshal(header)
	return b
}

// extend adds k blocks to the head.
func (f *fakeEth) extend(k int) {
	f.set(func() {
		for range k {
			top := f.canon[len(f.canon)-1]
			f.add(f.synth(top.number+1, top.hash))
		}
	})
}

// reorg replaces the last k blocks with a fork of k+extra blocks.
func (f *fakeEth) reorg(k, extra int) {
	f.set(func() {
		f.fork++
		f.canon = f.canon[:len(f.canon)-k]
		for range k + extra {
			top := f.canon[len(f.canon)-1]
			f.add(f.synth(top.number+1, top.hash))
		}
	})
}

func (f *fakeEth) headNumber() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.canon[len(f.canon)-1].number
}

// cursor returns the canonical block n's cursor.
func (f *fakeEth) cursor(n uint64) Cursor {
	f.mu.Lock()
	defer f.mu.Unlock()
	return Cursor{n, f.canon[n-f.base].hash}
}

// chain returns the canonical cursors from..head.
func (f *fakeEth) chain(from uint64) []Cursor {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []Cursor
	for _, b := range f.canon[from-f.base:] {
		out = append(out, Cursor{b.number, b.hash})
	}
	return out
}

func (f *fakeEth) handle(method string, params []json.RawMessage) (any, *rpcErrorObject) {
	f.mu.Lock()
	defer f.mu.Unlock()
	str := func(i int) string {
		var s string
		if i < len(params) {
			json.Unmarshal(params[i], &s)
		}
		return s
	}
	canonical := func(b *ethFakeBlock) bool {
		return b.number >= f.base && b.number-f.base < uint64(len(f.canon)) && f.canon[b.number-f.base] == b
	}
	switch method {
	case "eth_blockNumber":
		return q(f.canon[len(f.canon)-1].number), nil
	case "eth_getBlockByNumber":
		n, err := strconv.ParseUint(strings.TrimPrefix(str(0), "0x"), 16, 64)
		var full bool
		if len(params) > 1 {
			json.Unmarshal(params[1], &full)
		}
		if err != nil || n < f.base || n-f.base >= uint64(len(f.canon)) {
			return nil, nil
		}
		if full {
			return f.canon[n-f.base].full, nil
		}
		return f.canon[n-f.base].light, nil
	case "eth_getBlockByHash":
		b := f.byHash[str(0)]
		if b == nil || (f.forgetOrphans && !canonical(b)) {
			return nil, nil
		}
		return b.light, nil
	case "eth_getBlockReceipts":
		if f.noBlockReceipts {
			return nil, &rpcErrorObject{-32601, "the method eth_getBlockReceipts does not exist/is not available"}
		}
		b := f.byHash[str(0)]
		if b == nil {
			return nil, nil
		}
		if b.receipts == nil {
			return []any{}, nil
		}
		return b.receipts, nil
	case "eth_getTransactionReceipt":
		b := f.byTx[str(0)]
		if b == nil {
			return nil, nil
		}
		for i, h := range b.txHashes {
			if h == str(0) {
				return b.receipts[i], nil
			}
		}
	case "eth_getLogs":
		var filter struct {
			BlockHash string `json:"blockHash"`
		}
		if len(params) > 0 {
			json.Unmarshal(params[0], &filter)
		}
		b := f.byHash[filter.BlockHash]
		if b == nil {
			return nil, &rpcErrorObject{-32000, "unknown block"}
		}
		if b.logs == nil {
			return []any{}, nil
		}
		return b.logs, nil
	}
	return nil, &rpcErrorObject{-32601, "the method " + method + " does not exist/is not available"}
}

// --- Solana ---

type solFakeBlock struct {
	slot       uint64
	hash       string // base58
	parentSlot uint64
	parentHash string
	txs        []json.RawMessage // getBlock transaction entries
}

// fakeSol is a Solana node whose blocks carry copies of the fixture
// transaction; skipped slots answer -32007.
type fakeSol struct {
	*rpcServer
	base    uint64
	slots   map[uint64]*solFakeBlock // canonical; absent = skipped
	head    uint64
	fork    int
	fixture json.RawMessage // a getBlock transaction entry: {transaction, meta, version}
	// notYet answers -32004 for a slot this many times first.
	notYet map[uint64]int
}

func newFakeSol(t testing.TB, base uint64) *fakeSol {
	f := &fakeSol{base: base, slots: map[uint64]*solFakeBlock{}, notYet: map[uint64]int{}}
	f.rpcServer = newRPCServer(t, f.handle)
	var batch []struct {
		Result struct {
			Transaction json.RawMessage `json:"transaction"`
			Meta        json.RawMessage `json:"meta"`
		} `json:"result"`
	}
	if err := json.Unmarshal(readFixture(t, solTxDir+"getTransaction.json"), &batch); err != nil {
		t.Fatal(err)
	}
	f.fixture, _ = json.Marshal(map[string]any{"transaction": batch[0].Result.Transaction, "meta": batch[0].Result.Meta, "version": 0})
	f.slots[base-1] = &solFakeBlock{slot: base - 1, hash: solHash(0, base-1)} // never served: below the range
	f.slots[base] = f.blockOn(base)
	f.head = base
	return f
}

func (f *fakeSol) url() string { return "solana-rpc:" + f.srv.URL }

func solHash(fork int, slot uint64) string {
	sum := sha256.Sum256([]byte(fmt.Sprint("sol", fork, slot)))
	return base58.Encode(sum[:])
}

// produce adds blocks for the next k slots, skipping those in skip; slots
// that are multiples of 3 carry the fixture transaction.
func (f *fakeSol) produce(k int, skip ...uint64) {
	f.set(func() {
		for range k {
			f.head++
			if containsSlot(skip, f.head) {
				continue
			}
			f.slots[f.head] = f.blockOn(f.head)
		}
	})
}

func containsSlot(list []uint64, s uint64) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// blockOn makes the block of slot on top of the newest block below it.
func (f *fakeSol) blockOn(slot uint64) *solFakeBlock {
	p := slot - 1
	for f.slots[p] == nil {
		p--
	}
	b := &solFakeBlock{slot: slot, hash: solHash(f.fork, slot), parentSlot: p, parentHash: f.slots[p].hash}
	if slot%3 == 0 {
		b.txs = []json.RawMessage{f.fixture}
	}
	return b
}

// reorg drops the blocks of the last k slots and produces k+extra slots on
// a new fork.
func (f *fakeSol) reorg(k, extra int) {
	f.set(func() {
		f.fork++
		for s := f.head - uint64(k) + 1; s <= f.head; s++ {
			delete(f.slots, s)
		}
		f.head -= uint64(k)
	})
	f.produce(k + extra)
}

func (f *fakeSol) handle(method string, params []json.RawMessage) (any, *rpcErrorObject) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch method {
	case "getSlot":
		return f.head, nil
	case "getBlock":
		var slot uint64
		var cfg struct {
			Encoding           string `json:"encoding"`
			TransactionDetails string `json:"transactionDetails"`
			Commitment         string `json:"commitment"`
		}
		if len(params) != 2 || json.Unmarshal(params[0], &slot) != nil || json.Unmarshal(params[1], &cfg) != nil {
			return nil, &rpcErrorObject{-32602, "invalid params"}
		}
		if cfg.Encoding != "jsonParsed" || cfg.Commitment != "confirmed" {
			return nil, &rpcErrorObject{-32602, "unexpected config"}
		}
		if f.notYet[slot] > 0 {
			f.notYet[slot]--
			return nil, &rpcErrorObject{-32004, fmt.Sprintf("Block not available for slot %d", slot)}
		}
		b := f.slots[slot]
		if slot > f.head {
			return nil, &rpcErrorObject{-32004, fmt.Sprintf("Block not available for slot %d", slot)}
		}
		if b == nil {
			return nil, &rpcErrorObject{-32007, fmt.Sprintf("Slot %d was skipped, or missing due to ledger jump to recent snapshot", slot)}
		}
		res := map[string]any{
			"blockhash": b.hash, "previousBlockhash": b.parentHash, "parentSlot": b.parentSlot,
			"blockTime": 1656491831 + int64(slot-f.base), "blockHeight": slot - 1000,
		}
		if cfg.TransactionDetails == "full" {
			res["transactions"] = b.txs
			if b.txs == nil {
				res["transactions"] = []any{}
			}
		}
		return res, nil
	}
	return nil, &rpcErrorObject{-32601, "Method not found"}
}

// --- reading streams ---

// replay applies events to a delivered chain, checking each undo names a
// delivered block.
type replay struct {
	t         testing.TB
	delivered []Unit
	undos     []Cursor
}

func (r *replay) apply(ev Event) {
	r.t.Helper()
	switch ev.Kind {
	case EventBlock:
		if n := len(r.delivered); n > 0 && ev.Unit.Number <= r.delivered[n-1].Number {
			r.t.Fatalf("block %d delivered after block %d", ev.Unit.Number, r.delivered[n-1].Number)
		}
		r.delivered = append(r.delivered, ev.Unit)
	case EventUndo:
		r.undos = append(r.undos, ev.UndoTo)
		keep := 0
		for keep < len(r.delivered) && r.delivered[keep].Number <= ev.UndoTo.Number {
			keep++
		}
		if keep > 0 && r.delivered[keep-1].Number == ev.UndoTo.Number && r.delivered[keep-1].Hash != ev.UndoTo.Hash {
			r.t.Fatalf("undo to %s, but block %d delivered was %s", ev.UndoTo, ev.UndoTo.Number, r.delivered[keep-1].Hash)
		}
		if keep == len(r.delivered) {
			r.t.Fatalf("undo to %s undoes nothing (last delivered %d)", ev.UndoTo, r.delivered[len(r.delivered)-1].Number)
		}
		r.delivered = r.delivered[:keep]
	default:
		r.t.Fatalf("event of kind %v", ev.Kind)
	}
}

func (r *replay) cursors() []Cursor {
	out := make([]Cursor, len(r.delivered))
	for i, u := range r.delivered {
		out[i] = CursorOf(u)
	}
	return out
}

// until reads events until done reports true, failing after a timeout.
func (r *replay) until(s Stream, done func() bool) {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for !done() {
		ev, err := s.Next(ctx)
		if err != nil {
			r.t.Fatalf("Next: %v (delivered through %v)", err, r.last())
		}
		r.apply(ev)
	}
}

func (r *replay) last() Cursor {
	if len(r.delivered) == 0 {
		return Cursor{}
	}
	return CursorOf(r.delivered[len(r.delivered)-1])
}

func open(t testing.TB, uri string, o OpenOptions) Stream {
	t.Helper()
	s, err := Open(context.Background(), uri, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// fastOptions keeps the retry and poll waits of tests short.
func fastOptions(o OpenOptions) OpenOptions {
	if o.PollInterval == 0 {
		o.PollInterval = 5 * time.Millisecond
	}
	if o.RetryDelay == 0 {
		o.RetryDelay = time.Millisecond
	}
	if o.MaxRetryDelay == 0 {
		o.MaxRetryDelay = 5 * time.Millisecond
	}
	if o.RequestTimeout == 0 {
		o.RequestTimeout = 2 * time.Second
	}
	return o
}

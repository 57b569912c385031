package sourcetest

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/ipdm/ipdm/pipeline/source"
	"github.com/mr-tron/base58"
)

// SolanaBlockTime is the block time of slot First; each slot adds a second.
const SolanaBlockTime = 1656491831

// SolanaOptions configures NewSolana. The zero value is a chain holding
// one empty block, at slot 0.
type SolanaOptions struct {
	// First is the first slot with a block. When it is above 0, slot
	// First-1 holds its parent block.
	First uint64
	// Transactions returns the transactions of the block at slot: getBlock
	// transaction entries in jsonParsed encoding ({"transaction", "meta",
	// "version"}). Nil leaves every block empty. It must be deterministic;
	// it is called with the chain locked.
	Transactions func(slot uint64) []json.RawMessage
}

type solBlock struct {
	slot       uint64
	hash       string // base58
	parentSlot uint64
	parentHash string
	txs        []json.RawMessage
}

// Solana is a fake Solana JSON-RPC node serving getSlot and getBlock
// (jsonParsed encoding at commitment confirmed, which it insists on).
// Skipped slots answer error -32007, slots past the head -32004.
type Solana struct {
	*Server
	t    testing.TB
	opts SolanaOptions

	mu     sync.Mutex
	slots  map[uint64]*solBlock // canonical blocks; absent = skipped
	head   uint64
	fork   int
	notYet map[uint64]int
}

// NewSolana starts a fake Solana node whose head is slot First;
// t.Cleanup stops it.
func NewSolana(t testing.TB, opts SolanaOptions) *Solana {
	f := &Solana{t: t, opts: opts, slots: map[uint64]*solBlock{}, notYet: map[uint64]int{}}
	first := opts.First
	if first > 0 {
		f.slots[first-1] = &solBlock{slot: first - 1, hash: solHash(0, first-1), parentSlot: first - 1, parentHash: solHash(0, "parent")}
	}
	f.head = first
	f.slots[first] = f.blockOn(first)
	f.Server = newServer(t, f.handle)
	return f
}

// URI returns the source URI of the node, "solana-rpc:http://127.0.0.1:PORT".
func (f *Solana) URI() string { return "solana-rpc:" + f.URL() }

func solHash(fork int, slot any) string {
	sum := sha256.Sum256([]byte(fmt.Sprint("sol", fork, slot)))
	return base58.Encode(sum[:])
}

// Produce advances the head by k slots, each holding a block unless it is
// listed in skip.
func (f *Solana) Produce(k int, skip ...uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.produce(k, skip)
}

func (f *Solana) produce(k int, skip []uint64) {
	for range k {
		f.head++
		if !slices.Contains(skip, f.head) {
			f.slots[f.head] = f.blockOn(f.head)
		}
	}
}

// blockOn makes the block of slot on top of the newest block below it.
func (f *Solana) blockOn(slot uint64) *solBlock {
	b := &solBlock{slot: slot, hash: solHash(f.fork, slot)}
	if f.opts.Transactions != nil {
		b.txs = f.opts.Transactions(slot)
	}
	if slot == 0 {
		b.parentHash = solHash(0, "parent")
		return b
	}
	p := slot - 1
	for f.slots[p] == nil && p > f.opts.First {
		p--
	}
	b.parentSlot, b.parentHash = p, f.slots[p].hash
	return b
}

// Reorg drops the blocks of the newest k slots and produces k+extra slots
// on a new fork, none skipped: their blocks have other hashes. Slot First
// keeps its block: k must not exceed Head()-First (an error is reported to
// the test otherwise).
func (f *Solana) Reorg(k, extra int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if k < 0 || extra < 0 || uint64(k) > f.head-f.opts.First {
		f.t.Errorf("sourcetest: Reorg(%d, %d) with the head %d slots past First", k, extra, f.head-f.opts.First)
		return
	}
	f.fork++
	for s := f.head - uint64(k) + 1; s <= f.head; s++ {
		delete(f.slots, s)
	}
	f.head -= uint64(k)
	f.produce(k+extra, nil)
}

// NotYet makes getBlock answer -32004 (block not available) for slot the
// next times requests, as a node does for a slot it has not confirmed yet.
func (f *Solana) NotYet(slot uint64, times int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.notYet[slot] = times
}

// SetParent makes the block at slot name parentSlot as its parent, with
// the hash a block there would have: a node contradicting itself when
// parentSlot is skipped. Nothing changes when slot has no block.
func (f *Solana) SetParent(slot, parentSlot uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if b := f.slots[slot]; b != nil {
		b.parentSlot, b.parentHash = parentSlot, solHash(f.fork, parentSlot)
	}
}

// Head returns the newest slot, which may be skipped.
func (f *Solana) Head() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.head
}

// HeadCursor returns the cursor of the newest block.
func (f *Solana) HeadCursor() source.Cursor {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.head
	for f.slots[s] == nil {
		s--
	}
	return source.Cursor{Number: s, Hash: f.slots[s].hash}
}

// Cursor returns the cursor of the block at slot, or the zero Cursor when
// the slot is skipped or past the head. The slot before First counts.
func (f *Solana) Cursor(slot uint64) source.Cursor {
	f.mu.Lock()
	defer f.mu.Unlock()
	if b := f.slots[slot]; b != nil && slot <= f.head {
		return source.Cursor{Number: slot, Hash: b.hash}
	}
	return source.Cursor{}
}

// Cursors returns the cursors of the blocks from slot from to the head.
func (f *Solana) Cursors(from uint64) []source.Cursor {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []source.Cursor
	for s := from; s <= f.head; s++ {
		if b := f.slots[s]; b != nil {
			out = append(out, source.Cursor{Number: s, Hash: b.hash})
		}
	}
	return out
}

func (f *Solana) handle(method string, params []json.RawMessage) (any, *ErrorObject) {
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
			return nil, &ErrorObject{-32602, "invalid params"}
		}
		if cfg.Encoding != "jsonParsed" || cfg.Commitment != "confirmed" {
			return nil, &ErrorObject{-32602, "unexpected config"}
		}
		if f.notYet[slot] > 0 || slot > f.head {
			if f.notYet[slot] > 0 {
				f.notYet[slot]--
			}
			return nil, &ErrorObject{-32004, fmt.Sprintf("Block not available for slot %d", slot)}
		}
		b := f.slots[slot]
		if b == nil {
			return nil, &ErrorObject{-32007, fmt.Sprintf("Slot %d was skipped, or missing due to ledger jump to recent snapshot", slot)}
		}
		res := map[string]any{
			"blockhash": b.hash, "previousBlockhash": b.parentHash, "parentSlot": b.parentSlot,
			"blockTime": SolanaBlockTime + int64(slot) - int64(f.opts.First), "blockHeight": slot / 2,
		}
		if cfg.TransactionDetails == "full" {
			res["transactions"] = nonNil(b.txs)
		}
		return res, nil
	}
	return nil, &ErrorObject{-32601, "Method not found"}
}

package source

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
)

// solChain reads a Solana JSON-RPC node for the poller, at commitment
// confirmed (finalized lags by about 32 slots; confirmed forks are rare and
// handled as reorganisations).
type solChain struct {
	rpc     *rpcClient
	retries int
	backoff backoff
}

const solCommitment = "confirmed"

// Solana JSON-RPC errors for a slot without a block.
const (
	solSlotSkipped        = -32007 // skipped, or missing after a ledger jump to a snapshot
	solSlotSkippedStorage = -32009 // skipped, or missing in long-term storage
)

func (c *solChain) head(ctx context.Context) (uint64, error) {
	op := c.rpc.op("getSlot", 0, false)
	raw, err := c.rpc.call(ctx, op, map[string]string{"commitment": solCommitment})
	if err != nil {
		return 0, err
	}
	var n json.Number
	if err := json.Unmarshal(raw, &n); err != nil {
		return 0, at(op.method, 0, 0, false, ferr("result", err))
	}
	slot, err := decimalUint64(n)
	if err != nil {
		return 0, at(op.method, 0, 0, false, ferr("result", err))
	}
	return slot, nil
}

// getBlock requests slot with the given transaction details; ok is false
// for a skipped slot.
func (c *solChain) getBlock(ctx context.Context, slot uint64, details string) (json.RawMessage, bool, error) {
	op := c.rpc.op("getBlock", slot, true)
	var raw json.RawMessage
	err := retry(ctx, c.retries, c.backoff, func() error {
		var err error
		raw, err = c.rpc.call(ctx, op, slot, map[string]any{
			"encoding":                       "jsonParsed",
			"maxSupportedTransactionVersion": 0,
			"transactionDetails":             details,
			"rewards":                        false,
			"commitment":                     solCommitment,
		})
		if err == nil && isNull(raw) {
			// Older nodes answer null for a block not yet confirmed.
			return transient(fmt.Errorf("source: %s: null result: %w", op, errStale))
		}
		return err
	})
	var re *RPCError
	if errors.As(err, &re) && (re.Code == solSlotSkipped || re.Code == solSlotSkippedStorage) {
		return nil, false, nil
	}
	return raw, err == nil, err
}

func (c *solChain) block(ctx context.Context, slot uint64) (fetched, bool, error) {
	raw, ok, err := c.getBlock(ctx, slot, "full")
	if !ok {
		return fetched{}, false, err
	}
	b, err := decodeSolanaBlock(slot, raw, true)
	if err != nil {
		return fetched{}, false, err
	}
	u := Unit{Number: slot, Hash: b.Blockhash, ParentHash: b.PreviousBlockhash, Sol: &Slot{Slot: slot, Instructions: b.Instructions()}}
	if b.BlockTime > 0 {
		u.Time = uint64(b.BlockTime)
	}
	return fetched{u, solLink(b)}, true, nil
}

func (c *solChain) header(ctx context.Context, slot uint64) (link, bool, error) {
	raw, ok, err := c.getBlock(ctx, slot, "none")
	if !ok {
		return link{}, false, err
	}
	b, err := decodeSolanaBlock(slot, raw, false)
	if err != nil {
		return link{}, false, err
	}
	return solLink(b), true, nil
}

// headerByHash: Solana has no lookup of a block by hash.
func (c *solChain) headerByHash(context.Context, string) (link, bool, error) {
	return link{}, false, nil
}

func solLink(b SolanaBlock) link {
	l := link{Number: b.Slot, Hash: b.Blockhash}
	if b.Slot > 0 {
		l.ParentNumber, l.ParentHash, l.HasParent = b.ParentSlot, b.PreviousBlockhash, true
	}
	return l
}

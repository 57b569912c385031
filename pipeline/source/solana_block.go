package source

import (
	"encoding/json"
	"errors"
	"fmt"
)

// SolanaBlock is one decoded getBlock result (jsonParsed encoding, full
// transaction details).
type SolanaBlock struct {
	Slot       uint64
	ParentSlot uint64 // the slot of the previous block; lower slots between were skipped
	// Blockhash and PreviousBlockhash are base58; PreviousBlockhash is
	// ParentSlot's Blockhash.
	Blockhash         string
	PreviousBlockhash string
	// BlockTime is the estimated production time in Unix seconds, 0 when
	// the node does not know it.
	BlockTime int64
	// Transactions in block order, each with Slot and BlockTime set and
	// its instructions decoded as DecodeSolanaTransactions does.
	Transactions []SolanaTransaction
}

// Instructions returns the instructions of all transactions in block order:
// the rows of the slot as solana-etl exports them.
func (b SolanaBlock) Instructions() []Instruction {
	var out []Instruction
	for _, t := range b.Transactions {
		out = append(out, t.Instructions...)
	}
	return out
}

type solBlock struct {
	Blockhash         *string     `json:"blockhash"`
	PreviousBlockhash *string     `json:"previousBlockhash"`
	ParentSlot        json.Number `json:"parentSlot"`
	BlockTime         json.Number `json:"blockTime"`
	Transactions      *[]struct {
		Meta        *solMeta        `json:"meta"`
		Transaction json.RawMessage `json:"transaction"`
	} `json:"transactions"`
}

// DecodeSolanaBlock decodes the response to getBlock for slot (the result
// does not repeat the slot number) requested with encoding jsonParsed and
// transactionDetails full. Transactions use the instruction decoding of
// DecodeSolanaTransactions; other encodings are rejected.
func DecodeSolanaBlock(slot uint64, response []byte) (SolanaBlock, error) {
	raw, err := rpcResult(response)
	if err != nil {
		return SolanaBlock{}, at(solBlockInput, 0, slot, true, err)
	}
	return decodeSolanaBlock(slot, raw, true)
}

const solBlockInput = "solana getBlock"

// decodeSolanaBlock decodes a getBlock result; without needTxs it reads
// only the header (a result requested with transactionDetails none).
func decodeSolanaBlock(slot uint64, raw json.RawMessage, needTxs bool) (SolanaBlock, error) {
	b := SolanaBlock{Slot: slot}
	fail := func(err error) (SolanaBlock, error) { return SolanaBlock{}, at(solBlockInput, 0, slot, true, err) }
	var r solBlock
	if err := json.Unmarshal(raw, &r); err != nil {
		return fail(ferr("result", err))
	}
	for _, f := range []struct {
		name string
		in   *string
		out  *string
	}{{"result.blockhash", r.Blockhash, &b.Blockhash}, {"result.previousBlockhash", r.PreviousBlockhash, &b.PreviousBlockhash}} {
		if f.in == nil {
			return fail(ferr(f.name, errors.New("missing")))
		}
		if err := checkBase58(f.name, *f.in, 32, 44); err != nil {
			return fail(err)
		}
		*f.out = *f.in
	}
	var err error
	if b.ParentSlot, err = decimalUint64(r.ParentSlot); err != nil {
		return fail(ferr("result.parentSlot", err))
	}
	if b.ParentSlot >= slot && slot != 0 {
		return fail(ferr("result.parentSlot", fmt.Errorf("%d is not below the block's slot %d", b.ParentSlot, slot)))
	}
	if b.BlockTime, err = solBlockTime(r.BlockTime); err != nil {
		return fail(ferr("result.blockTime", err))
	}
	if !needTxs {
		return b, nil
	}
	if r.Transactions == nil {
		return fail(ferr("result.transactions", errors.New("missing: request transactionDetails full")))
	}
	b.Transactions = make([]SolanaTransaction, len(*r.Transactions))
	for i, tx := range *r.Transactions {
		t := &b.Transactions[i]
		t.Slot, t.BlockTime = slot, b.BlockTime
		if err := t.body(tx.Meta, tx.Transaction, idx("result.transactions", i)); err != nil {
			return fail(err)
		}
	}
	return b, nil
}

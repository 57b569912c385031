package source

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// SolanaTransaction is one decoded getTransaction result.
type SolanaTransaction struct {
	Slot uint64
	// BlockTime is the estimated production time in Unix seconds, 0 when
	// the node does not know it.
	BlockTime int64
	Signature string // the first signature, base58
	// Failed is set when meta.err is not null. Its instructions are still
	// listed, as solana-etl lists them.
	Failed bool
	// Instructions are the top-level instructions in order, then the inner
	// instructions grouped by parent in the order of meta.innerInstructions
	// — solana-etl's export order — with DecodeProgram applied.
	Instructions []Instruction
}

type solResult struct {
	Slot        json.Number     `json:"slot"`
	BlockTime   json.Number     `json:"blockTime"`
	Meta        *solMeta        `json:"meta"`
	Transaction json.RawMessage `json:"transaction"`
}

type solMeta struct {
	Err               json.RawMessage `json:"err"`
	InnerInstructions []struct {
		Index        json.Number       `json:"index"`
		Instructions []json.RawMessage `json:"instructions"`
	} `json:"innerInstructions"`
}

type solTx struct {
	Signatures []string `json:"signatures"`
	Message    *struct {
		Instructions []json.RawMessage `json:"instructions"`
	} `json:"message"`
}

type solInstruction struct {
	ProgramID      *string         `json:"programId"`
	ProgramIDIndex json.RawMessage `json:"programIdIndex"`
	Program        string          `json:"program"`
	Accounts       []string        `json:"accounts"`
	Data           *string         `json:"data"`
	Parsed         json.RawMessage `json:"parsed"`
}

// DecodeSolanaTransactions decodes a getTransaction response with the
// jsonParsed encoding, or a JSON array of them (a batch response). Other
// encodings are rejected: with "json" instructions name accounts by index,
// with "base64" the transaction is opaque.
func DecodeSolanaTransactions(data []byte) ([]SolanaTransaction, error) {
	const input = "solana getTransaction"
	trimmed := bytes.TrimSpace(data)
	batch := len(trimmed) > 0 && trimmed[0] == '['
	responses := []json.RawMessage{trimmed}
	if batch {
		if err := json.Unmarshal(trimmed, &responses); err != nil {
			return nil, at(input, 0, 0, false, err)
		}
	}
	out := make([]SolanaTransaction, 0, len(responses))
	for i, resp := range responses {
		in := input
		if batch {
			in = input + "[" + strconv.Itoa(i) + "]"
		}
		raw, err := rpcResult(resp)
		if err != nil {
			return nil, at(in, 0, 0, false, err)
		}
		t, err := solanaTransaction(raw)
		if err != nil {
			return nil, at(in, 0, t.Slot, t.Slot != 0, err)
		}
		out = append(out, t)
	}
	return out, nil
}

func solanaTransaction(raw json.RawMessage) (SolanaTransaction, error) {
	var t SolanaTransaction
	var r solResult
	if err := json.Unmarshal(raw, &r); err != nil {
		return t, ferr("result", err)
	}
	var err error
	if t.Slot, err = decimalUint64(r.Slot); err != nil {
		return t, ferr("result.slot", err)
	}
	if t.BlockTime, err = solBlockTime(r.BlockTime); err != nil {
		return t, ferr("result.blockTime", err)
	}
	return t, t.body(r.Meta, r.Transaction, "result")
}

func solBlockTime(n json.Number) (int64, error) {
	if n == "" {
		return 0, nil
	}
	v, err := strconv.ParseInt(string(n), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not an integer", clip(string(n)))
	}
	return v, nil
}

// body decodes a transaction's instructions from its jsonParsed
// transaction object and meta, which sit at field (a getTransaction result,
// or one entry of a getBlock result's transactions).
func (t *SolanaTransaction) body(meta *solMeta, transaction json.RawMessage, field string) error {
	tx := bytes.TrimSpace(transaction)
	if len(tx) == 0 || tx[0] != '{' {
		return ferr(field+".transaction", errors.New("not an object: request the jsonParsed encoding"))
	}
	var st solTx
	if err := json.Unmarshal(tx, &st); err != nil {
		return ferr(field+".transaction", err)
	}
	if len(st.Signatures) == 0 {
		return ferr(field+".transaction.signatures", errors.New("missing"))
	}
	t.Signature = st.Signatures[0]
	if err := checkBase58(field+".transaction.signatures[0]", t.Signature, 64, 88); err != nil {
		return err
	}
	if st.Message == nil || st.Message.Instructions == nil {
		return ferr(field+".transaction.message.instructions", errors.New("missing"))
	}
	for i, raw := range st.Message.Instructions {
		in, err := solanaInstruction(raw, t.Signature, i, NoParent)
		if err != nil {
			return prefix(idx(field+".transaction.message.instructions", i), err)
		}
		t.Instructions = append(t.Instructions, in)
	}
	if meta == nil {
		return nil
	}
	t.Failed = len(meta.Err) > 0 && string(meta.Err) != "null"
	outer := len(st.Message.Instructions)
	for g, group := range meta.InnerInstructions {
		gfield := idx(field+".meta.innerInstructions", g)
		parent, err := decimalUint64(group.Index)
		if err != nil {
			return ferr(gfield+".index", err)
		}
		if parent >= uint64(outer) {
			return ferr(gfield+".index", fmt.Errorf("%d, but the transaction has %d instructions", parent, outer))
		}
		for i, raw := range group.Instructions {
			in, err := solanaInstruction(raw, t.Signature, i, int(parent))
			if err != nil {
				return prefix(idx(gfield+".instructions", i), err)
			}
			t.Instructions = append(t.Instructions, in)
		}
	}
	return nil
}

// solanaInstruction maps one jsonParsed instruction the way solana-etl
// does: a parsed object gives the type and params (its info), anything else
// keeps its accounts and base58 data with params {}.
func solanaInstruction(raw json.RawMessage, sig string, index, parent int) (Instruction, error) {
	var si solInstruction
	if err := json.Unmarshal(raw, &si); err != nil {
		return Instruction{}, err
	}
	if len(si.ProgramIDIndex) > 0 {
		return Instruction{}, ferr("programIdIndex", errors.New("present: the json encoding names accounts by index; request jsonParsed"))
	}
	if si.ProgramID == nil {
		return Instruction{}, ferr("programId", errors.New("missing"))
	}
	in := Instruction{
		TxSignature: sig, Index: index, ParentIndex: parent, Accounts: si.Accounts,
		Program: si.Program, ProgramID: *si.ProgramID, Params: json.RawMessage("{}"),
	}
	if si.Data != nil {
		in.Data = *si.Data
	}
	if p := bytes.TrimSpace(si.Parsed); len(p) > 0 && string(p) != "null" {
		if p[0] == '{' {
			var parsed struct {
				Type *string         `json:"type"`
				Info json.RawMessage `json:"info"`
			}
			if err := json.Unmarshal(p, &parsed); err != nil {
				return in, ferr("parsed", err)
			}
			if parsed.Type != nil {
				in.Type = *parsed.Type
			}
			info := parsed.Info
			if len(info) == 0 {
				info = json.RawMessage("null")
			}
			var err error
			if in.Params, err = canonicalJSON(info); err != nil {
				return in, ferr("parsed.info", err)
			}
		} else {
			var s string
			if json.Unmarshal(p, &s) == nil {
				in.Parsed = s
			} else {
				c, err := canonicalJSON(p)
				if err != nil {
					return in, ferr("parsed", err)
				}
				in.Parsed = string(c)
			}
		}
	}
	if err := DecodeProgram(&in); err != nil {
		return in, err
	}
	return in, in.validate()
}

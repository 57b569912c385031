package source

import (
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/ipfs/go-cid"
)

// SlotVersion tags Slot.Encode (source kind solana-instructions).
const SlotVersion = "ipdm.solana.instructions.v1"

// NoParent is Instruction.ParentIndex for a top-level instruction.
const NoParent = -1

// Instruction is one Solana instruction as solana-etl exports it: a
// top-level instruction of a transaction, or an inner instruction invoked by
// one (ParentIndex names it).
type Instruction struct {
	TxSignature string // base58, the transaction's first signature
	// Index is the position among the transaction's top-level instructions,
	// or among its parent's inner instructions.
	Index int
	// ParentIndex is the index of the invoking top-level instruction, or
	// NoParent.
	ParentIndex int
	// Accounts lists the instruction's accounts (base58) when the node did
	// not parse it; nil when it did (Params then names them by role).
	Accounts []string
	// Data is the raw instruction data in base58; empty when parsed.
	Data string
	// Parsed is a parsed value that is not an object (spl-memo text); empty
	// otherwise. solana-etl CSV exports leave it empty.
	Parsed string
	// Program names the parser or decoder ("spl-token", "system",
	// "serum-dex-v3", ...); empty for programs nobody decoded.
	Program   string
	ProgramID string // base58
	// Type is the instruction type ("transfer", "newOrderV3", ...);
	// "unspecified" for a known program whose instructions are not decoded,
	// empty for unknown programs.
	Type string
	// Params holds the decoded arguments as compact JSON (usually an
	// object; "{}" when nothing was decoded). Key order is the decoder's;
	// numbers keep their exact literal text.
	Params json.RawMessage
}

// Slot is the instructions of one Solana slot in block order.
type Slot struct {
	Slot         uint64
	Instructions []Instruction
}

type wireSlot struct {
	Version      string             `json:"version"`
	Slot         uint64             `json:"slot"`
	Instructions *[]wireInstruction `json:"instructions"`
}

type wireInstruction struct {
	TxSignature string          `json:"tx_signature"`
	Index       int             `json:"index"`
	ParentIndex *int            `json:"parent_index"`
	ProgramID   string          `json:"program_id"`
	Program     string          `json:"program"`
	Type        string          `json:"instruction_type"`
	Accounts    *[]string       `json:"accounts"`
	Data        string          `json:"data"`
	Parsed      string          `json:"parsed"`
	Params      json.RawMessage `json:"params"`
}

// Encode validates s and returns its canonical encoding (version
// SlotVersion): compact JSON, fields in a fixed order, parent_index and
// accounts null when absent, params in the compact form of canonicalJSON.
func (s Slot) Encode() ([]byte, error) {
	w := wireSlot{Version: SlotVersion, Slot: s.Slot}
	ins := make([]wireInstruction, len(s.Instructions))
	for i := range s.Instructions {
		in := &s.Instructions[i]
		if err := in.validate(); err != nil {
			return nil, at("encode", 0, s.Slot, true, prefix(idx("instructions", i), err))
		}
		params, err := canonicalJSON(in.Params)
		if err != nil {
			return nil, at("encode", 0, s.Slot, true, ferr(idx("instructions", i)+".params", err))
		}
		wi := wireInstruction{
			TxSignature: in.TxSignature, Index: in.Index, ProgramID: in.ProgramID, Program: in.Program,
			Type: in.Type, Data: in.Data, Parsed: in.Parsed, Params: params,
		}
		if in.ParentIndex != NoParent {
			p := in.ParentIndex
			wi.ParentIndex = &p
		}
		if in.Accounts != nil {
			a := in.Accounts
			wi.Accounts = &a
		}
		ins[i] = wi
	}
	w.Instructions = &ins
	return marshalCanonical(w)
}

// ContentID returns the CIDv1 (JSON codec 0x0200, SHA-256) of s.Encode():
// the block hash used for proof-of-processing of a solana-instructions input.
func (s Slot) ContentID() (cid.Cid, error) {
	enc, err := s.Encode()
	if err != nil {
		return cid.Undef, err
	}
	return ContentID(enc), nil
}

// DecodeSlot reads a canonical encoding written by Slot.Encode. Unknown
// fields, a wrong version and invalid values are errors.
func DecodeSlot(data []byte) (Slot, error) {
	const input = "solana slot"
	var w wireSlot
	if err := strictUnmarshal(data, &w); err != nil {
		return Slot{}, at(input, 0, 0, false, err)
	}
	s := Slot{Slot: w.Slot}
	fail := func(err error) (Slot, error) { return Slot{}, at(input, 0, s.Slot, true, err) }
	if w.Version != SlotVersion {
		return fail(ferr("version", fmt.Errorf("%q is not %s", clip(w.Version), SlotVersion)))
	}
	if w.Instructions == nil {
		return fail(ferr("instructions", errors.New("missing")))
	}
	s.Instructions = make([]Instruction, len(*w.Instructions))
	for i, wi := range *w.Instructions {
		field := idx("instructions", i)
		in := Instruction{
			TxSignature: wi.TxSignature, Index: wi.Index, ParentIndex: NoParent, Data: wi.Data, Parsed: wi.Parsed,
			Program: wi.Program, ProgramID: wi.ProgramID, Type: wi.Type,
		}
		if wi.ParentIndex != nil {
			in.ParentIndex = *wi.ParentIndex
			if in.ParentIndex < 0 {
				return fail(ferr(field+".parent_index", fmt.Errorf("%d is negative", in.ParentIndex)))
			}
		}
		if wi.Accounts != nil {
			in.Accounts = *wi.Accounts
			if in.Accounts == nil {
				in.Accounts = []string{}
			}
		}
		if len(wi.Params) == 0 {
			return fail(ferr(field+".params", errors.New("missing")))
		}
		p, err := canonicalJSON(wi.Params)
		if err != nil {
			return fail(ferr(field+".params", err))
		}
		in.Params = p
		if err := in.validate(); err != nil {
			return fail(prefix(field, err))
		}
		s.Instructions[i] = in
	}
	return s, nil
}

func (in *Instruction) validate() error {
	if err := checkBase58("tx_signature", in.TxSignature, 64, 88); err != nil {
		return err
	}
	if in.Index < 0 {
		return ferr("index", fmt.Errorf("%d is negative", in.Index))
	}
	if in.ParentIndex < NoParent {
		return ferr("parent_index", fmt.Errorf("%d is negative", in.ParentIndex))
	}
	if err := checkBase58("program_id", in.ProgramID, 32, 44); err != nil {
		return err
	}
	for i, a := range in.Accounts {
		if err := checkBase58(idx("accounts", i), a, 32, 44); err != nil {
			return err
		}
	}
	if in.Data != "" {
		if err := checkBase58("data", in.Data, 1, 1<<20); err != nil {
			return err
		}
	}
	if len(in.Params) == 0 {
		return ferr("params", errors.New("missing"))
	}
	for _, f := range []struct{ name, v string }{{"program", in.Program}, {"instruction_type", in.Type}, {"parsed", in.Parsed}} {
		if !utf8.ValidString(f.v) {
			return ferr(f.name, errors.New("not valid UTF-8"))
		}
	}
	return nil
}

const base58Alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"

var base58Digit = func() (t [256]bool) {
	for i := 0; i < len(base58Alphabet); i++ {
		t[base58Alphabet[i]] = true
	}
	return t
}()

// checkBase58 requires s to be base58 of a plausible length: 32-byte keys
// encode to 32–44 characters, 64-byte signatures to 64–88.
func checkBase58(field, s string, minLen, maxLen int) error {
	if s == "" {
		return ferr(field, errors.New("missing"))
	}
	if len(s) < minLen || len(s) > maxLen {
		return ferr(field, fmt.Errorf("%q is not %d–%d base58 characters", clip(s), minLen, maxLen))
	}
	for i := 0; i < len(s); i++ {
		if !base58Digit[s[i]] {
			return ferr(field, fmt.Errorf("%q is not base58", clip(s)))
		}
	}
	return nil
}

package spl

import (
	"strconv"

	"github.com/ipdm/ipdm/examples/internal/scan"
)

// SlotVersion is the encoding Map reads (source kind solana-instructions).
const SlotVersion = "ipdm.solana.instructions.v1"

// Transfer types, the rows' transfer_type.
const (
	TypeSPLTransfer = "spl-transfer"
	TypeMintTo      = "mintTo"
	TypeBurn        = "burn"
	TypeTransfer    = "transfer" // SOL, by the system program
)

// Mapper runs the spl_transfers module. The zero value is ready to use;
// reusing one Mapper across slots reuses its buffers.
type Mapper struct {
	rows scan.Rows // the slot's rows (scan.Rows is shared with the other examples)
	tmp  []byte    // unescaped keys, program and type
	dec  []byte    // unescaped row values
}

// Map reads one slot in the canonical ipdm.solana.instructions.v1 encoding
// and calls emit with each transfer row, in instruction order. The row is
// valid only during the call. Map validates the whole slot before the first
// emit: on error (matching ErrMalformed) it emits nothing.
func (m *Mapper) Map(slot []byte, emit func(row []byte)) error {
	m.rows.Reset()
	err := m.scan(slot)
	if err != nil {
		return err
	}
	m.rows.Emit(emit)
	return nil
}

// Rows returns the rows Map emits for slot, each in its own slice.
func Rows(slot []byte) ([][]byte, error) {
	var m Mapper
	return scan.Collect(slot, m.Map)
}

func (m *Mapper) scan(b []byte) error {
	p := newParser(b)
	p.tmp = m.tmp
	defer func() { m.tmp = p.tmp[:0] }()
	if !p.Lit(`{"version":"`) {
		return p.Fail("", "not a canonical "+SlotVersion+" slot: it starts with {\"version\":\"")
	}
	if !p.Lit(SlotVersion + `"`) {
		v, _, _ := p.str("version")
		return p.Fail("version", strconv.Quote(clip(string(v)))+" is not "+SlotVersion)
	}
	if err := p.Key(`,"slot":`, "slot"); err != nil {
		return err
	}
	if _, err := p.Uint("slot", scan.MaxUint64, tooBigUint64); err != nil {
		return err
	}
	if err := p.Key(`,"instructions":[`, "instructions"); err != nil {
		return err
	}
	if !p.Lit("]") {
		for n := 0; ; n++ {
			p.Elem = n
			if err := m.instruction(&p); err != nil {
				return err
			}
			if more, err := p.NextElem("an instruction"); err != nil {
				return err
			} else if !more {
				break
			}
		}
	}
	if !p.Lit("}") || p.I != len(b) {
		return p.Fail("", "expected the end of the slot after the instructions")
	}
	return nil
}

// The keys of an instruction, matched as words.
var (
	keyTxSignature = scan.NewLiteral(`{"tx_signature":`)
	keyIndex       = scan.NewLiteral(`,"index":`)
	keyParentIndex = scan.NewLiteral(`,"parent_index":`)
	keyProgramID   = scan.NewLiteral(`,"program_id":`)
	keyProgram     = scan.NewLiteral(`,"program":`)
	keyType        = scan.NewLiteral(`,"instruction_type":`)
	keyAccounts    = scan.NewLiteral(`,"accounts":`)
	keyData        = scan.NewLiteral(`,"data":`)
	keyParsed      = scan.NewLiteral(`,"parsed":`)
	keyParams      = scan.NewLiteral(`,"params":`)
)

// kind is what an instruction is to spl-transfers.
type kind uint8

const (
	kindOther kind = iota
	kindSPLTransfer
	kindMintTo
	kindBurn
	kindSOLTransfer
)

// classify maps an instruction's program and type to its kind, and says
// whether it is a checked variant (amount in tokenAmount).
func classify(program, typ []byte) (kind, bool) {
	switch string(program) {
	case "spl-token", "spl-token-2022":
		switch string(typ) {
		case "transfer":
			return kindSPLTransfer, false
		case "transferChecked":
			return kindSPLTransfer, true
		case "mintTo":
			return kindMintTo, false
		case "mintToChecked":
			return kindMintTo, true
		case "burn":
			return kindBurn, false
		case "burnChecked":
			return kindBurn, true
		}
	case "system":
		if string(typ) == "transfer" {
			return kindSOLTransfer, false
		}
	}
	return kindOther, false
}

// instruction reads one instruction and appends its row if it is a
// transfer.
func (m *Mapper) instruction(p *parser) error {
	p.tmp = p.tmp[:0] // program and type may be unescaped into tmp, kept to the end
	if err := p.KeyWords(&keyTxSignature, `{"tx_signature":`, "tx_signature"); err != nil {
		return err
	}
	sig, err := p.base58("tx_signature", 64, 88)
	if err != nil {
		return err
	}
	if err := p.KeyWords(&keyIndex, `,"index":`, "index"); err != nil {
		return err
	}
	index, err := p.Uint("index", scan.MaxInt64, tooBigInt64)
	if err != nil {
		return err
	}
	if err := p.KeyWords(&keyParentIndex, `,"parent_index":`, "parent_index"); err != nil {
		return err
	}
	parent := int64(-1)
	if !p.Lit("null") {
		v, err := p.Uint("parent_index", scan.MaxInt64, tooBigInt64)
		if err != nil {
			return err
		}
		parent = int64(v)
	}
	if err := p.KeyWords(&keyProgramID, `,"program_id":`, "program_id"); err != nil {
		return err
	}
	if _, err := p.base58("program_id", 32, 44); err != nil {
		return err
	}
	if err := p.KeyWords(&keyProgram, `,"program":`, "program"); err != nil {
		return err
	}
	program, err := p.text("program")
	if err != nil {
		return err
	}
	if err := p.KeyWords(&keyType, `,"instruction_type":`, "instruction_type"); err != nil {
		return err
	}
	typ, err := p.text("instruction_type")
	if err != nil {
		return err
	}
	k, checked := classify(program, typ)
	if err := p.KeyWords(&keyAccounts, `,"accounts":`, "accounts"); err != nil {
		return err
	}
	if !p.Lit("null") {
		if !p.Lit("[") {
			return p.Fail("accounts", "not null or a list")
		}
		if !p.Lit("]") {
			for {
				if _, err := p.base58("accounts", 32, 44); err != nil {
					return err
				}
				if p.Lit(",") {
					continue
				}
				if p.Lit("]") {
					break
				}
				return p.Fail("accounts", "expected ',' or ']' after an account")
			}
		}
	}
	if err := p.KeyWords(&keyData, `,"data":`, "data"); err != nil {
		return err
	}
	if !p.Lit(`""`) {
		if _, err := p.base58("data", 1, 1<<20); err != nil {
			return err
		}
	}
	if err := p.KeyWords(&keyParsed, `,"parsed":`, "parsed"); err != nil {
		return err
	}
	if _, _, err := p.str("parsed"); err != nil {
		return err
	}
	if err := p.KeyWords(&keyParams, `,"params":`, "params"); err != nil {
		return err
	}
	if k == kindOther {
		if err := p.skip(0, "params"); err != nil {
			return err
		}
	} else {
		// Errors in a transfer's params name the instruction, as the
		// reference's do.
		where := func() string {
			w := "instruction " + strconv.FormatUint(index, 10)
			if parent >= 0 {
				w = "inner instruction " + strconv.FormatUint(index, 10) + " of " + strconv.FormatInt(parent, 10)
			}
			return "transaction " + string(sig) + ", " + w + " (" + string(program) + " " + string(typ) + "): "
		}
		at := p.I
		var ps params
		if err := p.params(&ps); err != nil {
			if ie, ok := err.(*InputError); ok {
				ie.Reason = where() + ie.Reason
			}
			return err
		}
		if reason := m.row(k, checked, &ps, sig); reason != "" {
			p.I = at
			return p.Fail("params", where()+reason)
		}
	}
	if !p.Lit("}") {
		return p.Fail("", "expected the end of the instruction after params")
	}
	return nil
}

// text reads a string and returns its value: the raw contents when they
// have no escapes, else the unescaped value appended to p.tmp. Users of tmp
// append and truncate back, so a value stays intact until the instruction
// ends (and if tmp grows, the old array the value is in stays valid).
func (p *parser) text(field string) ([]byte, error) {
	raw, esc, err := p.str(field)
	if err != nil || !esc {
		return raw, err
	}
	start := len(p.tmp)
	p.tmp = unescape(p.tmp, raw)
	return p.tmp[start:len(p.tmp):len(p.tmp)], nil
}

// clip shortens s for an error message.
func clip(s string) string {
	const max = 80
	if len(s) <= max {
		return s
	}
	return s[:max] + "…"
}

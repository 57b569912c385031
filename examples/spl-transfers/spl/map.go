package spl

import "strconv"

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
	rows []byte // the slot's rows, concatenated
	ends []int  // end offset of each row in rows
	tmp  []byte // unescaped keys, program and type
	dec  []byte // unescaped row values
}

// Map reads one slot in the canonical ipdm.solana.instructions.v1 encoding
// and calls emit with each transfer row, in instruction order. The row is
// valid only during the call. Map validates the whole slot before the first
// emit: on error (matching ErrMalformed) it emits nothing.
func (m *Mapper) Map(slot []byte, emit func(row []byte)) error {
	m.rows, m.ends = m.rows[:0], m.ends[:0]
	err := m.scan(slot)
	if err != nil {
		return err
	}
	start := 0
	for _, end := range m.ends {
		emit(m.rows[start:end:end])
		start = end
	}
	return nil
}

// Rows returns the rows Map emits for slot, each in its own slice.
func Rows(slot []byte) ([][]byte, error) {
	var m Mapper
	var out [][]byte
	err := m.Map(slot, func(row []byte) { out = append(out, append([]byte(nil), row...)) })
	return out, err
}

func (m *Mapper) scan(b []byte) error {
	p := parser{b: b, elem: -1, tmp: m.tmp}
	defer func() { m.tmp = p.tmp[:0] }()
	if !p.lit(`{"version":"`) {
		return p.fail("", "not a canonical "+SlotVersion+" slot: it starts with {\"version\":\"")
	}
	if !p.lit(SlotVersion + `"`) {
		v, _, _ := p.str("version")
		return p.fail("version", strconv.Quote(clip(string(v)))+" is not "+SlotVersion)
	}
	if err := p.key(`,"slot":`, "slot"); err != nil {
		return err
	}
	if _, err := p.uint("slot", maxUint64); err != nil {
		return err
	}
	if err := p.key(`,"instructions":[`, "instructions"); err != nil {
		return err
	}
	if !p.lit("]") {
		for n := 0; ; n++ {
			p.elem = n
			if err := m.instruction(&p); err != nil {
				return err
			}
			if p.lit(",") {
				continue
			}
			if p.lit("]") {
				break
			}
			p.elem = -1
			return p.fail("instructions", "expected ',' or ']' after an instruction")
		}
		p.elem = -1
	}
	if !p.lit("}") || p.i != len(b) {
		return p.fail("", "expected the end of the slot after the instructions")
	}
	return nil
}

// The keys of an instruction, matched as words.
var (
	keyTxSignature = newLiteral(`{"tx_signature":`)
	keyIndex       = newLiteral(`,"index":`)
	keyParentIndex = newLiteral(`,"parent_index":`)
	keyProgramID   = newLiteral(`,"program_id":`)
	keyProgram     = newLiteral(`,"program":`)
	keyType        = newLiteral(`,"instruction_type":`)
	keyAccounts    = newLiteral(`,"accounts":`)
	keyData        = newLiteral(`,"data":`)
	keyParsed      = newLiteral(`,"parsed":`)
	keyParams      = newLiteral(`,"params":`)
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
	if err := p.keyWords(&keyTxSignature, `{"tx_signature":`, "tx_signature"); err != nil {
		return err
	}
	sig, err := p.base58("tx_signature", 64, 88)
	if err != nil {
		return err
	}
	if err := p.keyWords(&keyIndex, `,"index":`, "index"); err != nil {
		return err
	}
	index, err := p.uint("index", maxInt64)
	if err != nil {
		return err
	}
	if err := p.keyWords(&keyParentIndex, `,"parent_index":`, "parent_index"); err != nil {
		return err
	}
	parent := int64(-1)
	if !p.lit("null") {
		v, err := p.uint("parent_index", maxInt64)
		if err != nil {
			return err
		}
		parent = int64(v)
	}
	if err := p.keyWords(&keyProgramID, `,"program_id":`, "program_id"); err != nil {
		return err
	}
	if _, err := p.base58("program_id", 32, 44); err != nil {
		return err
	}
	if err := p.keyWords(&keyProgram, `,"program":`, "program"); err != nil {
		return err
	}
	program, err := p.text("program")
	if err != nil {
		return err
	}
	if err := p.keyWords(&keyType, `,"instruction_type":`, "instruction_type"); err != nil {
		return err
	}
	typ, err := p.text("instruction_type")
	if err != nil {
		return err
	}
	k, checked := classify(program, typ)
	if err := p.keyWords(&keyAccounts, `,"accounts":`, "accounts"); err != nil {
		return err
	}
	if !p.lit("null") {
		if !p.lit("[") {
			return p.fail("accounts", "not null or a list")
		}
		if !p.lit("]") {
			for {
				if _, err := p.base58("accounts", 32, 44); err != nil {
					return err
				}
				if p.lit(",") {
					continue
				}
				if p.lit("]") {
					break
				}
				return p.fail("accounts", "expected ',' or ']' after an account")
			}
		}
	}
	if err := p.keyWords(&keyData, `,"data":`, "data"); err != nil {
		return err
	}
	if !p.lit(`""`) {
		if _, err := p.base58("data", 1, 1<<20); err != nil {
			return err
		}
	}
	if err := p.keyWords(&keyParsed, `,"parsed":`, "parsed"); err != nil {
		return err
	}
	if _, _, err := p.str("parsed"); err != nil {
		return err
	}
	if err := p.keyWords(&keyParams, `,"params":`, "params"); err != nil {
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
		at := p.i
		var ps params
		if err := p.params(&ps); err != nil {
			if ie, ok := err.(*InputError); ok {
				ie.Reason = where() + ie.Reason
			}
			return err
		}
		if reason := m.row(k, checked, &ps, sig); reason != "" {
			p.i = at
			return p.fail("params", where()+reason)
		}
	}
	if !p.lit("}") {
		return p.fail("", "expected the end of the instruction after params")
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

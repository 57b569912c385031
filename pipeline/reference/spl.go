package reference

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/ipdm/ipdm/pipeline/source"
)

// SPLTransfer is one row of spl-transfers. Every field is a string, empty
// where it does not apply.
type SPLTransfer struct {
	Source        string `json:"source"`
	Destination   string `json:"destination"`
	Authority     string `json:"authority"`
	Value         string `json:"value"`    // exact unsigned decimal
	Decimals      string `json:"decimals"` // decimal, for the checked variants
	Mint          string `json:"mint"`
	MintAuthority string `json:"mint_authority"`
	// TransferType is "spl-transfer", "mintTo", "burn" or "transfer" (SOL).
	TransferType string `json:"transfer_type"`
	TxSignature  string `json:"tx_signature"`
}

// Transfer types.
const (
	TypeSPLTransfer = "spl-transfer"
	TypeMintTo      = "mintTo"
	TypeBurn        = "burn"
	TypeTransfer    = "transfer"
)

// splParams holds the params of every instruction SPLTransfers reads.
// json.Number takes both spellings nodes use: "amount":"5" and "lamports":5.
type splParams struct {
	Source                string      `json:"source"`
	Destination           string      `json:"destination"`
	Account               string      `json:"account"`
	Authority             string      `json:"authority"`
	MultisigAuthority     string      `json:"multisigAuthority"`
	Mint                  string      `json:"mint"`
	MintAuthority         string      `json:"mintAuthority"`
	MultisigMintAuthority string      `json:"multisigMintAuthority"`
	Amount                json.Number `json:"amount"`
	Lamports              json.Number `json:"lamports"`
	TokenAmount           *struct {
		Amount   json.Number `json:"amount"`
		Decimals json.Number `json:"decimals"`
	} `json:"tokenAmount"`
}

// SPLTransfers returns the transfer rows of instructions in their order.
// A transfer instruction whose params lack an exact value, or hold a
// malformed one, is an error matching source.ErrMalformed that names the
// transaction and instruction.
func SPLTransfers(ins []source.Instruction) ([]SPLTransfer, error) {
	var out []SPLTransfer
	for i := range ins {
		in := &ins[i]
		row, ok, err := splTransfer(in)
		if err != nil {
			where := fmt.Sprintf("instruction %d", in.Index)
			if in.ParentIndex != source.NoParent {
				where = fmt.Sprintf("inner instruction %d of %d", in.Index, in.ParentIndex)
			}
			return nil, fmt.Errorf("reference: %s: transaction %s, %s (%s %s): %w: %w",
				SPLTransfersModule, in.TxSignature, where, in.Program, in.Type, err, source.ErrMalformed)
		}
		if ok {
			out = append(out, row)
		}
	}
	return out, nil
}

func splTransfer(in *source.Instruction) (SPLTransfer, bool, error) {
	var typ string
	checked := false
	switch in.Program {
	case "spl-token", "spl-token-2022":
		switch in.Type {
		case "transfer", "transferChecked":
			typ, checked = TypeSPLTransfer, in.Type == "transferChecked"
		case "mintTo", "mintToChecked":
			typ, checked = TypeMintTo, in.Type == "mintToChecked"
		case "burn", "burnChecked":
			typ, checked = TypeBurn, in.Type == "burnChecked"
		default:
			return SPLTransfer{}, false, nil
		}
	case "system":
		if in.Type != "transfer" {
			return SPLTransfer{}, false, nil
		}
		typ = TypeTransfer
	default:
		return SPLTransfer{}, false, nil
	}
	var p splParams
	if err := json.Unmarshal(in.Params, &p); err != nil {
		return SPLTransfer{}, false, fmt.Errorf("params: %v", err)
	}
	row := SPLTransfer{TransferType: typ, TxSignature: in.TxSignature}
	amount := p.Amount
	switch typ {
	case TypeSPLTransfer:
		row.Source, row.Destination, row.Authority = p.Source, p.Destination, or(p.Authority, p.MultisigAuthority)
		if checked {
			row.Mint = p.Mint
		}
	case TypeMintTo:
		row.Destination, row.Mint, row.MintAuthority = p.Account, p.Mint, or(p.MintAuthority, p.MultisigMintAuthority)
	case TypeBurn:
		row.Source, row.Authority, row.Mint = p.Account, or(p.Authority, p.MultisigAuthority), p.Mint
	case TypeTransfer:
		row.Source, row.Destination = p.Source, p.Destination
		amount = p.Lamports
	}
	if checked && p.TokenAmount != nil {
		amount = p.TokenAmount.Amount
		if p.TokenAmount.Decimals != "" {
			if !isDecimal(string(p.TokenAmount.Decimals)) {
				return row, false, fmt.Errorf("tokenAmount.decimals %q is not an unsigned integer", p.TokenAmount.Decimals)
			}
			row.Decimals = string(p.TokenAmount.Decimals)
		}
	}
	if amount == "" {
		return row, false, errors.New("no amount")
	}
	if !isDecimal(string(amount)) {
		return row, false, fmt.Errorf("amount %q is not an exact unsigned integer", amount)
	}
	row.Value = string(amount)
	return row, true, nil
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// isDecimal reports whether s is an unsigned decimal integer in canonical
// form (no sign, fraction, exponent or leading zero).
func isDecimal(s string) bool {
	if s == "" || (len(s) > 1 && s[0] == '0') {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// MapSPLTransfers is spl-transfers as a module: a slot in the canonical
// encoding of source.Slot.Encode in, the rows as JSON lines out.
func MapSPLTransfers(input []byte) ([]byte, error) {
	s, err := source.DecodeSlot(input)
	if err != nil {
		return nil, fmt.Errorf("reference: %s: %w", SPLTransfersModule, err)
	}
	rows, err := SPLTransfers(s.Instructions)
	if err != nil {
		return nil, err
	}
	return encodeLines(rows)
}

package source

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// csvColumns is the header of a solana-etl instruction export.
var csvColumns = []string{"tx_signature", "index", "parent_index", "accounts", "data", "parsed", "program", "program_id", "instruction_type", "params"}

// DecodeInstructionsCSV reads a solana-etl instruction export (the columns
// of csvColumns, in that order, after a header line) in file order. The
// accounts column is a JSON list or "null"; params is JSON and is stored in
// canonical compact form. Errors name the CSV line.
func DecodeInstructionsCSV(r io.Reader) ([]Instruction, error) {
	const input = "solana instructions csv"
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = len(csvColumns)
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err != nil {
		return nil, csvErr(input, err)
	}
	if strings.Join(header, ",") != strings.Join(csvColumns, ",") {
		return nil, &DecodeError{Input: input, Line: 1, Err: fmt.Errorf("header %q is not %q", clip(strings.Join(header, ",")), strings.Join(csvColumns, ","))}
	}
	var out []Instruction
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, csvErr(input, err)
		}
		line, _ := cr.FieldPos(0)
		in, err := csvInstruction(rec)
		if err != nil {
			return nil, at(input, line, 0, false, err)
		}
		out = append(out, in)
	}
}

func csvInstruction(rec []string) (Instruction, error) {
	in := Instruction{
		TxSignature: rec[0],
		ParentIndex: NoParent,
		Data:        rec[4],
		Parsed:      rec[5],
		Program:     rec[6],
		ProgramID:   rec[7],
		Type:        rec[8],
	}
	var err error
	if in.Index, err = csvIndex(rec[1]); err != nil {
		return in, ferr("index", err)
	}
	if rec[2] != "" {
		if in.ParentIndex, err = csvIndex(rec[2]); err != nil {
			return in, ferr("parent_index", err)
		}
	}
	if rec[3] != "null" {
		if err := json.Unmarshal([]byte(rec[3]), &in.Accounts); err != nil {
			return in, ferr("accounts", fmt.Errorf("not a JSON list of strings or null: %v", err))
		}
		if in.Accounts == nil {
			return in, ferr("accounts", errors.New("not a JSON list of strings or null"))
		}
	}
	if rec[9] == "" {
		return in, ferr("params", errors.New("missing"))
	}
	if in.Params, err = canonicalJSON([]byte(rec[9])); err != nil {
		return in, ferr("params", err)
	}
	return in, in.validate()
}

func csvIndex(s string) (int, error) {
	if !isDecimal(s) {
		return 0, fmt.Errorf("%q is not a non-negative integer", clip(s))
	}
	v, err := strconv.Atoi(s)
	if err != nil || v > 1<<20 {
		return 0, fmt.Errorf("%q is out of range", clip(s))
	}
	return v, nil
}

func csvErr(input string, err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return &DecodeError{Input: input, Line: pe.Line, Err: pe.Err}
	}
	if errors.Is(err, io.EOF) {
		return &DecodeError{Input: input, Err: errors.New("empty input: no header line")}
	}
	return fmt.Errorf("source: %s: %w", input, err) // a read error, not malformed data
}

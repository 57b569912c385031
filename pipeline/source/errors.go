package source

import (
	"errors"
	"strconv"
	"strings"
)

// ErrMalformed is matched (via errors.Is) by every error reporting input
// that cannot be decoded or is inconsistent.
var ErrMalformed = errors.New("malformed source data")

// DecodeError reports one problem in decoded input. It matches ErrMalformed.
type DecodeError struct {
	// Input names the format or file, such as "eth_getBlockByNumber",
	// "ethereum-etl logs" or "solana instructions csv".
	Input string
	// Line is the 1-based line of a line-oriented input, 0 otherwise.
	Line int
	// Block is the block number or slot the problem belongs to, when
	// HasBlock is set.
	Block    uint64
	HasBlock bool
	// Field locates the offending value, such as "transactions[3].value"
	// or "topics[1]"; empty when the problem is with the record as a whole.
	Field string
	// Err says what is wrong.
	Err error
}

// Error formats the problem as "source: INPUT line N, block B: FIELD:
// detail", leaving out the parts that are unknown.
func (e *DecodeError) Error() string {
	var b strings.Builder
	b.WriteString("source: ")
	b.WriteString(e.Input)
	if e.Line > 0 {
		b.WriteString(" line ")
		b.WriteString(strconv.Itoa(e.Line))
	}
	if e.HasBlock {
		b.WriteString(", block ")
		b.WriteString(strconv.FormatUint(e.Block, 10))
	}
	if e.Field != "" {
		b.WriteString(": ")
		b.WriteString(e.Field)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the underlying problem.
func (e *DecodeError) Unwrap() error { return e.Err }

// Is reports whether target is ErrMalformed.
func (e *DecodeError) Is(target error) bool { return target == ErrMalformed }

// fieldErr is a problem at a field path, before the input, line and block
// are known; decoders wrap it into a *DecodeError.
type fieldErr struct {
	field string
	err   error
}

func (e *fieldErr) Error() string { return e.field + ": " + e.err.Error() }

func ferr(field string, err error) error { return &fieldErr{field, err} }

// at turns err into a *DecodeError for input, moving a field path (from a
// *fieldErr) into Field.
func at(input string, line int, block uint64, hasBlock bool, err error) *DecodeError {
	de := &DecodeError{Input: input, Line: line, Block: block, HasBlock: hasBlock, Err: err}
	var fe *fieldErr
	if errors.As(err, &fe) {
		de.Field, de.Err = fe.field, fe.err
	}
	return de
}

// join concatenates field paths: join("transactions[2]", "value").
func join(parent, child string) string {
	switch {
	case parent == "":
		return child
	case child == "":
		return parent
	case child[0] == '[':
		return parent + child
	}
	return parent + "." + child
}

// prefix adds parent in front of the field path of a *fieldErr, or turns
// another error into one at parent.
func prefix(parent string, err error) error {
	if err == nil {
		return nil
	}
	var fe *fieldErr
	if errors.As(err, &fe) {
		return &fieldErr{join(parent, fe.field), fe.err}
	}
	return &fieldErr{parent, err}
}

func idx(name string, i int) string { return name + "[" + strconv.Itoa(i) + "]" }

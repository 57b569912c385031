package window

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/ipdm/ipdm/pipeline/internal/jsontext"
)

// Row is one output record of a map module: a JSON object (for windows
// that only count, any bytes) produced at block Block, whose timestamp is
// Time (unix seconds; 0 when unknown).
type Row struct {
	Block uint64
	Time  uint64
	JSON  []byte
}

// Output is one result: a compact JSON object on one line, and the block
// whose processing produced it — the block to file it under in a sink, so
// that undoing that block removes it.
type Output struct {
	Block uint64
	JSON  []byte
}

// Errors to branch on; every error of this package matches one of them.
var (
	// ErrInvalidSpec: the window or rule cannot be run as given.
	ErrInvalidSpec = errors.New("invalid window or rule")
	// ErrUnknownModule: rows of a module the window or rule does not read.
	ErrUnknownModule = errors.New("rows of a module not read")
	// ErrMalformedRow: a row is not valid JSON, a field has a value the
	// window or rule cannot use, or a time window's block has no time. The
	// error is a *RowError.
	ErrMalformedRow = errors.New("malformed row")
	// ErrOutOfOrder: rows or positions not in block order.
	ErrOutOfOrder = errors.New("rows out of block order")
	// ErrFlushed: a call after Flush.
	ErrFlushed = errors.New("window or rule already flushed")
)

// RowError reports a row (or, with Row -1, a position given to Advance)
// that a window or rule cannot use.
type RowError struct {
	Op     string // "window NAME" or "rule NAME"
	Module string // the module whose row it is; "" for Advance
	Block  uint64
	Row    int // index of the row among its module's rows in the block; -1 for Advance
	Detail string
}

func (e *RowError) Error() string {
	var b strings.Builder
	b.WriteString(e.Op)
	b.WriteString(": ")
	if e.Module != "" {
		b.WriteString(e.Module)
		b.WriteByte(' ')
	}
	b.WriteString("block ")
	b.WriteString(strconv.FormatUint(e.Block, 10))
	if e.Row >= 0 {
		b.WriteString(" row ")
		b.WriteString(strconv.Itoa(e.Row))
	}
	b.WriteString(": ")
	b.WriteString(e.Detail)
	return b.String()
}

// Is reports whether target is ErrMalformedRow.
func (e *RowError) Is(target error) bool { return target == ErrMalformedRow }

// MaxIntDigits bounds the digits of a summed or keyed integer, so that a
// hostile row cannot make parsing slow.
const MaxIntDigits = 1024

// pathRe is the manifest's syntax for a field path.
var pathRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$`)

// parsePath splits a dot-separated field path.
func parsePath(p string) ([]string, bool) {
	if !pathRe.MatchString(p) {
		return nil, false
	}
	return strings.Split(p, "."), true
}

// parseObject decodes a row that must be one JSON object in UTF-8. A
// repeated member name keeps its last value, as encoding/json does.
func parseObject(row []byte) (map[string]json.RawMessage, string) {
	if !utf8.Valid(row) {
		return nil, "not valid UTF-8"
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(row, &obj); err != nil {
		var ute *json.UnmarshalTypeError
		if errors.As(err, &ute) && ute.Field == "" {
			return nil, "not a JSON object but " + article(ute.Value)
		}
		return nil, "not valid JSON: " + err.Error()
	}
	if obj == nil {
		return nil, "not a JSON object but null"
	}
	return obj, ""
}

func article(v string) string {
	switch v {
	case "array", "object":
		return "an " + v
	}
	return "a " + v
}

// lookup returns the value at path, or nil when the path is absent: a
// missing member, a null, or a step through something that is not an
// object.
func lookup(obj map[string]json.RawMessage, path []string) json.RawMessage {
	for i, name := range path {
		v, ok := obj[name]
		if !ok || string(v) == "null" {
			return nil
		}
		if i == len(path)-1 {
			return v
		}
		if v[0] != '{' {
			return nil
		}
		obj = nil
		if json.Unmarshal(v, &obj) != nil {
			return nil // cannot happen: v is part of a valid document
		}
	}
	return nil
}

// isInteger reports whether a JSON number literal is an integer (no
// fraction, no exponent).
func isInteger(num []byte) bool { return !bytes.ContainsAny(num, ".eE") }

// keyOf returns the canonical JSON of a grouping or matching value: a
// string (re-encoded, so escapes do not split equal strings), an integer
// ("-0" is 0) or a boolean. Other values are an error.
func keyOf(field string, v json.RawMessage) (string, string) {
	switch v[0] {
	case '"':
		var s string
		_ = json.Unmarshal(v, &s) // valid: part of a valid document
		return string(appendString(nil, s)), ""
	case 't', 'f':
		return string(v), ""
	case '{', '[':
		return "", fmt.Sprintf("field %s: %s is not a string, integer or boolean", field, describe(v))
	}
	switch {
	case !isInteger(v):
		return "", fmt.Sprintf("field %s: %s is not a string, integer or boolean", field, describe(v))
	case digitCount(v) > MaxIntDigits:
		return "", fmt.Sprintf("field %s: integer of %d digits exceeds %d", field, digitCount(v), MaxIntDigits)
	case string(v) == "-0":
		return "0", ""
	}
	return string(v), ""
}

// intOf returns the integer a summed field holds: a JSON integer, or a
// string of decimal digits with an optional leading '-'.
func intOf(field string, v json.RawMessage, z *big.Int) string {
	digits := []byte(v)
	switch v[0] {
	case '"':
		var s string
		_ = json.Unmarshal(v, &s)
		t := strings.TrimPrefix(s, "-")
		if t == "" || strings.Trim(t, "0123456789") != "" {
			return fmt.Sprintf("field %s: %s is not a decimal integer", field, describe(v))
		}
		digits = []byte(s)
	case '{', '[', 't', 'f':
		return fmt.Sprintf("field %s: %s is not an integer", field, describe(v))
	default:
		if !isInteger(v) {
			return fmt.Sprintf("field %s: %s is not an integer", field, describe(v))
		}
	}
	if digitCount(digits) > MaxIntDigits {
		return fmt.Sprintf("field %s: integer of %d digits exceeds %d", field, digitCount(digits), MaxIntDigits)
	}
	z.SetString(string(digits), 10)
	return ""
}

func digitCount(num []byte) int {
	if len(num) > 0 && num[0] == '-' {
		return len(num) - 1
	}
	return len(num)
}

// describe shows a JSON value in an error, shortened.
func describe(v json.RawMessage) string {
	const show = 40
	if len(v) > show {
		return string(v[:show]) + "…"
	}
	return string(v)
}

// appendString appends s (valid UTF-8) as a JSON string, escaping only what
// JSON requires.
func appendString(b []byte, s string) []byte {
	return jsontext.AppendString(b, s, jsontext.Minimal)
}

// compact appends a row's JSON without insignificant space, so it embeds in
// a one-line output.
func compact(b []byte, row []byte) []byte {
	if !bytes.ContainsAny(row, " \t\n\r") { // the usual case: already compact
		return append(b, row...)
	}
	buf := bytes.NewBuffer(b)
	_ = json.Compact(buf, row) // valid: already decoded
	return buf.Bytes()
}

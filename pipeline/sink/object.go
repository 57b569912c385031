package sink

import (
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/ipdm/ipdm/pipeline/internal/jsontext"
)

// kind is the JSON kind of a column's values, as stored in the kind column
// of ipdm_columns.
type kind string

const (
	kindNull   kind = "null" // only nulls seen so far; becomes another kind
	kindString kind = "string"
	kindNumber kind = "number"
	kindBool   kind = "boolean"
	kindJSON   kind = "json" // objects and arrays, stored as their JSON text
)

func (k kind) valid() bool {
	switch k {
	case kindNull, kindString, kindNumber, kindBool, kindJSON:
		return true
	}
	return false
}

// field is one member of a row's JSON object.
type field struct {
	key  string
	kind kind
	// text is the value to store: a string's contents (unescaped), a
	// number's literal, "true"/"false", an object's or array's JSON text
	// verbatim; empty for null.
	text string
}

// isJSONObject reports whether b is one valid JSON object (surrounding
// whitespace allowed).
func isJSONObject(b []byte) bool {
	i := skipSpace(b, 0)
	return i < len(b) && b[i] == '{' && json.Valid(b)
}

// parseObject splits one JSON object into its members in order. It rejects
// invalid JSON and UTF-8, values other than objects, duplicate keys and keys
// that are not valid column names.
func parseObject(b []byte) ([]field, error) {
	if !utf8.Valid(b) {
		return nil, errors.New("row is not valid UTF-8")
	}
	if !isJSONObject(b) {
		return nil, errors.New("row is not a JSON object")
	}
	// b is valid JSON from here on; the scan below still bounds-checks so
	// that a mistake cannot panic.
	i := skipSpace(b, 0) + 1
	var fields []field
	i = skipSpace(b, i)
	if i < len(b) && b[i] == '}' {
		return fields, nil
	}
	for i < len(b) {
		end := stringEnd(b, i)
		key, err := unquote(b[i:end])
		if err != nil {
			return nil, err
		}
		if err := checkIdent(key); err != nil {
			return nil, fmt.Errorf("column: %w", err)
		}
		for j := range fields {
			if fields[j].key == key {
				return nil, fmt.Errorf("column %q appears twice", key)
			}
		}
		i = skipSpace(b, end)
		i = skipSpace(b, i+1) // past ':'
		if i >= len(b) {
			break
		}
		start := i
		f := field{key: key}
		switch c := b[i]; {
		case c == '"':
			i = stringEnd(b, i)
			if f.text, err = unquote(b[start:i]); err != nil {
				return nil, err
			}
			f.kind = kindString
		case c == '{' || c == '[':
			i = containerEnd(b, i)
			f.kind, f.text = kindJSON, string(b[start:i])
		case c == 'n':
			i += len("null")
			f.kind = kindNull
		case c == 't' || c == 'f':
			for i < len(b) && b[i] >= 'a' && b[i] <= 'z' {
				i++
			}
			f.kind, f.text = kindBool, string(b[start:i])
		default:
			for i < len(b) && isNumberByte(b[i]) {
				i++
			}
			f.kind, f.text = kindNumber, string(b[start:i])
		}
		fields = append(fields, f)
		i = skipSpace(b, i)
		if i >= len(b) || b[i] == '}' {
			return fields, nil
		}
		i = skipSpace(b, i+1) // past ','
	}
	return nil, errors.New("row is not a JSON object") // unreachable for valid JSON
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

func isNumberByte(c byte) bool {
	return c >= '0' && c <= '9' || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E'
}

// stringEnd returns the index just past the string starting at b[i] == '"'.
func stringEnd(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return len(b)
}

// containerEnd returns the index just past the object or array starting at
// b[i].
func containerEnd(b []byte, i int) int {
	depth := 0
	for i < len(b) {
		switch b[i] {
		case '"':
			i = stringEnd(b, i)
			continue
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				return i + 1
			}
		}
		i++
	}
	return len(b)
}

// unquote decodes a JSON string token.
func unquote(tok []byte) (string, error) {
	if len(tok) < 2 {
		return "", errors.New("truncated string")
	}
	inner := tok[1 : len(tok)-1]
	simple := true
	for _, c := range inner {
		if c == '\\' {
			simple = false
			break
		}
	}
	if simple {
		return string(inner), nil
	}
	var s string
	if err := json.Unmarshal(tok, &s); err != nil {
		return "", err
	}
	if !utf8.ValidString(s) { // escaped lone surrogates decode to U+FFFD, so this holds
		return "", errors.New("string is not valid UTF-8")
	}
	return s, nil
}

// appendString appends s as a JSON string escaped the way encoding/json
// does with HTML escaping off, as module guest libraries encode rows.
func appendString(out []byte, s string) []byte {
	return jsontext.AppendString(out, s, jsontext.EncodingJSON)
}

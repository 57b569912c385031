package jsontext

import (
	"bytes"
	"encoding/json"
)

// Lines parses JSON lines (or any sequence of JSON objects) generically,
// numbers kept as json.Number so that none is rounded through float64: an
// oracle independent of the typed decoders it checks.
func Lines(data []byte) ([]map[string]any, error) {
	var out []map[string]any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	for dec.More() {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

package source

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
)

// tokenCanonical is the obvious implementation of canonicalJSON on
// encoding/json's tokenizer: the oracle for the scanner.
func tokenCanonical(raw []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var out []byte
	var walk func() error
	walk = func() error {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case json.Delim:
			out = append(out, byte(t))
			for first := true; dec.More(); first = false {
				if !first {
					out = append(out, ',')
				}
				if t == '{' {
					k, err := dec.Token()
					if err != nil {
						return err
					}
					out = appendJSONString(out, k.(string))
					out = append(out, ':')
				}
				if err := walk(); err != nil {
					return err
				}
			}
			end, err := dec.Token()
			if err != nil {
				return err
			}
			out = append(out, byte(end.(json.Delim)))
		case string:
			out = appendJSONString(out, t)
		case json.Number:
			out = append(out, t...)
		case bool:
			out = append(out, []byte(map[bool]string{true: "true", false: "false"}[t])...)
		case nil:
			out = append(out, "null"...)
		}
		return nil
	}
	if err := walk(); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("trailing data")
	}
	return out, nil
}

func TestCanonicalJSON(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{ "b" : 1 , "a" : [1.0, 2e3, -0, 1E+2] }`, `{"b":1,"a":[1.0,2e3,-0,1E+2]}`},
		{`"\u00e9\u2028<>&\n\u0001\/"`, `"é\u2028<>&\n\u0001/"`},
		{`{"k": {"nested": [true, false, null]}, "e": {}, "l": []}`, `{"k":{"nested":[true,false,null]},"e":{},"l":[]}`},
		{`123456789012345678901234567890`, `123456789012345678901234567890`},
		{`"\ud83d\ude00"`, `"😀"`},
		{`"\ud83d x"`, `"� x"`},
		{`"\ud83d\u0041"`, `"�A"`},
		{"\"\xff\"", `"�"`},
		{` {"a":"b"} ` + "\n", `{"a":"b"}`},
	}
	for _, tt := range tests {
		got, err := canonicalJSON([]byte(tt.in))
		if err != nil || string(got) != tt.want {
			t.Errorf("canonicalJSON(%s) = %s, %v; want %s", tt.in, got, err, tt.want)
		}
		again, _ := canonicalJSON(got)
		if !bytes.Equal(again, got) {
			t.Errorf("canonicalJSON not idempotent on %s", got)
		}
		if oracle, err := tokenCanonical([]byte(tt.in)); err != nil || !bytes.Equal(oracle, got) {
			t.Errorf("oracle gives %s, %v", oracle, err)
		}
	}
	for _, bad := range []string{``, ` `, `{`, `{"a":1}{}`, `[1,]`, `{"a" 1}`, `{1:2}`, `01`, `1.`, `-`, `1e`, `.5`, `+1`, `tru`, `nul`, `"a`, "\"\x01\"", `"\x"`, `"\u12"`, `[1 2]`, `{"a":1,}`,
		strings.Repeat("[", 100) + strings.Repeat("]", 100)} {
		if got, err := canonicalJSON([]byte(bad)); err == nil {
			t.Errorf("canonicalJSON(%q) = %s, want an error", bad, got)
		}
	}
}

// FuzzCanonicalJSON: the scanner accepts exactly valid JSON (within the
// depth limit), agrees with the tokenizer oracle, and is idempotent.
func FuzzCanonicalJSON(f *testing.F) {
	for _, s := range []string{`{"a":[1,2.5e-3,"x\u00e9"],"b":null}`, `"\ud83d\ude00"`, `[true,false]`, `{"amount": "30000000", "tokenAmount": {"uiAmount": 1.0}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		got, err := canonicalJSON(in)
		if strings.Count(string(in), "[")+strings.Count(string(in), "{") > maxJSONDepth {
			return // the depth limit makes some valid documents errors
		}
		if (err == nil) != json.Valid(in) {
			t.Fatalf("canonicalJSON error %v, json.Valid %v", err, json.Valid(in))
		}
		if err != nil {
			return
		}
		if !json.Valid(got) {
			t.Fatalf("output is not JSON: %s", got)
		}
		oracle, err := tokenCanonical(in)
		if err != nil || !bytes.Equal(oracle, got) {
			t.Fatalf("scanner %s, oracle %s (%v)", got, oracle, err)
		}
		again, err := canonicalJSON(got)
		if err != nil || !bytes.Equal(again, got) {
			t.Fatalf("not idempotent: %s then %s", got, again)
		}
	})
}

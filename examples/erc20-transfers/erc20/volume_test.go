package erc20

import (
	"bytes"
	"encoding/json"
	"errors"
	"math/big"
	"strings"
	"testing"

	"github.com/ipdm/ipdm/pipeline/reference"
)

// Volume over the large set's rows writes, per token, values summing to
// the reference's per-token totals.
func TestVolumeMatchesReferenceSums(t *testing.T) {
	want := map[string]*big.Int{}
	got := map[string]*big.Int{}
	writes := 0
	for _, b := range largeBlocks(t) {
		for _, r := range reference.TokenTransfers(b) {
			v, _ := new(big.Int).SetString(r.Value, 10)
			if want[r.TokenAddress] == nil {
				want[r.TokenAddress] = new(big.Int)
			}
			want[r.TokenAddress].Add(want[r.TokenAddress], v)
		}
		rows, err := Rows(encodeLogs(t, b))
		if err != nil {
			t.Fatal(err)
		}
		i := 0
		err = Volume(rows, func(key, value []byte) {
			token, v, err := ParseRow(rows[i])
			if err != nil || !bytes.Equal(key, token) || !bytes.Equal(value, v) {
				t.Fatalf("write %d (%s, %s) is not row %d's token and value (%v)", i, key, value, i, err)
			}
			i++
			n, ok := new(big.Int).SetString(string(value), 10)
			if !ok {
				t.Fatalf("value %q is not decimal", value)
			}
			if got[string(key)] == nil {
				got[string(key)] = new(big.Int)
			}
			got[string(key)].Add(got[string(key)], n)
		})
		if err != nil {
			t.Fatal(err)
		}
		writes += i
	}
	if writes != 291 || len(got) != len(want) {
		t.Fatalf("%d writes over %d tokens, want 291 over %d", writes, len(got), len(want))
	}
	for k, w := range want {
		if got[k] == nil || got[k].Cmp(w) != 0 {
			t.Errorf("token %s: total %v, want %v", k, got[k], w)
		}
	}
}

func TestParseRowRejects(t *testing.T) {
	valid := `{"token_address":"0xbb9bc244d798123fde783fcc1c72d3bb8c189413","from_address":"0x6498077292a0921c8804924fdf47b5e91e2a215f","to_address":"0x8b3b3b624c3c0397d3da8fd861512393d51dcbac","value":"5000000000000000000","transaction_hash":"0x2e3dcd051a91d3a694f6b8de2ac4b5fe7acdba55f58bcf8471ff00d4a430074d","log_index":0,"block_number":1755635}`
	token, value, err := ParseRow([]byte(valid))
	if err != nil || string(token) != "0xbb9bc244d798123fde783fcc1c72d3bb8c189413" || string(value) != "5000000000000000000" {
		t.Fatalf("ParseRow = %s, %s, %v", token, value, err)
	}
	tests := map[string]struct{ row, field string }{
		"empty":           {"", "token_address"},
		"value a number":  {strings.Replace(valid, `"5000000000000000000"`, `5000000000000000000`, 1), "value"},
		"value negative":  {strings.Replace(valid, `"5000000000000000000"`, `"-5"`, 1), "value"},
		"value hex":       {strings.Replace(valid, `"5000000000000000000"`, `"0x5"`, 1), "value"},
		"value too large": {strings.Replace(valid, `"5000000000000000000"`, `"`+strings.Repeat("9", 79)+`"`, 1), "value"},
		"fields reordered": {strings.Replace(valid, `"from_address":"0x6498077292a0921c8804924fdf47b5e91e2a215f","to_address":"0x8b3b3b624c3c0397d3da8fd861512393d51dcbac"`,
			`"to_address":"0x8b3b3b624c3c0397d3da8fd861512393d51dcbac","from_address":"0x6498077292a0921c8804924fdf47b5e91e2a215f"`, 1), "from_address"},
		"uppercase token": {strings.Replace(valid, "bb9bc244", "BB9BC244", 1), "token_address"},
		"trailing":        {valid + "\n", ""},
		"extra field":     {strings.TrimSuffix(valid, "}") + `,"x":1}`, ""},
	}
	for name, tt := range tests {
		_, _, err := ParseRow([]byte(tt.row))
		var ie *InputError
		if !errors.As(err, &ie) || !errors.Is(err, ErrMalformed) || ie.Field != tt.field {
			t.Errorf("%s: err %v, want an InputError at field %q", name, err, tt.field)
		}
	}
	// Volume checks every row before writing any, and names the bad one.
	writes := 0
	err = Volume([][]byte{[]byte(valid), []byte(tests["value hex"].row)}, func(k, v []byte) { writes++ })
	var ie *InputError
	if !errors.As(err, &ie) || ie.Field != "rows[1].value" || writes != 0 {
		t.Errorf("Volume with a bad second row: %v after %d writes", err, writes)
	}
}

// FuzzParseRow: ParseRow never panics, and what it accepts is a row that
// decodes as reference.TokenTransfer and re-encodes to the same bytes.
func FuzzParseRow(f *testing.F) {
	f.Add([]byte(`{"token_address":"0xbb9bc244d798123fde783fcc1c72d3bb8c189413","from_address":"0x6498077292a0921c8804924fdf47b5e91e2a215f","to_address":"0x8b3b3b624c3c0397d3da8fd861512393d51dcbac","value":"5000000000000000000","transaction_hash":"0x2e3dcd051a91d3a694f6b8de2ac4b5fe7acdba55f58bcf8471ff00d4a430074d","log_index":0,"block_number":1755635}`))
	f.Add([]byte(`{"token_address":"0x0000000000000000000000000000000000000000","from_address":"0x0000000000000000000000000000000000000000","to_address":"0x0000000000000000000000000000000000000000","value":"0","transaction_hash":"0x0000000000000000000000000000000000000000000000000000000000000000","log_index":18446744073709551615,"block_number":0}`))
	f.Fuzz(func(t *testing.T, row []byte) {
		token, value, err := ParseRow(row)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not match ErrMalformed", err)
			}
			return
		}
		var r reference.TokenTransfer
		dec := json.NewDecoder(bytes.NewReader(row))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&r); err != nil {
			t.Fatalf("accepted row does not decode: %v", err)
		}
		enc, _ := json.Marshal(r)
		if !bytes.Equal(enc, row) || r.TokenAddress != string(token) || r.Value != string(value) {
			t.Fatalf("accepted row %s re-encodes to %s (token %s, value %s)", row, enc, token, value)
		}
	})
}

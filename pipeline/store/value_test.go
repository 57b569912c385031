package store

import (
	"errors"
	"fmt"
	"math/big"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/ipdm/ipdm/pipeline/manifest"
)

func TestCheckValue(t *testing.T) {
	const (
		bi  = manifest.ValueBigInt
		i64 = manifest.ValueInt64
		str = manifest.ValueString
		byt = manifest.ValueBytes
	)
	tests := []struct {
		vt    manifest.ValueType
		value string
		why   string // "" = valid
	}{
		{bi, "0", ""},
		{bi, "7", ""},
		{bi, "-7", ""},
		{bi, "340282366920938463463374607431768211455", ""},
		{bi, "-" + strings.Repeat("9", 500), ""},
		{bi, "", "empty"},
		{bi, "-", "no digits"},
		{bi, "-0", "negative zero"},
		{bi, "00", "leading zero"},
		{bi, "012", "leading zero"},
		{bi, "-012", "leading zero"},
		{bi, "+12", "'+' is not a decimal digit"},
		{bi, "1_000", "'_' is not a decimal digit"},
		{bi, "1e3", "'e' is not a decimal digit"},
		{bi, " 1", "' ' is not a decimal digit"},
		{bi, "1\x00", `'\x00' is not a decimal digit`},
		{bi, "0x10", "'x' is not a decimal digit"},
		{i64, "9223372036854775807", ""},
		{i64, "-9223372036854775808", ""},
		{i64, "9223372036854775808", "out of the int64 range"},
		{i64, "-9223372036854775809", "out of the int64 range"},
		{i64, "007", "leading zero"},
		{i64, "-0", "negative zero"},
		{i64, "", "empty"},
		{str, "", ""},
		{str, "héllo ✓", ""},
		{str, "\xff", "invalid UTF-8"},
		{str, "a\xc3", "invalid UTF-8"},
		{byt, "\xff\x00", ""},
		{byt, "", ""},
	}
	for _, tt := range tests {
		err := CheckValue(tt.vt, []byte("the-key"), []byte(tt.value))
		if tt.why == "" {
			if err != nil {
				t.Errorf("%s %q: %v", tt.vt, tt.value, err)
			}
			continue
		}
		if !errors.Is(err, ErrInvalidValue) {
			t.Errorf("%s %q: err = %v, want ErrInvalidValue", tt.vt, tt.value, err)
			continue
		}
		for _, want := range []string{`key "the-key"`, string(tt.vt), tt.why} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s %q: error %q lacks %q", tt.vt, tt.value, err, want)
			}
		}
	}
	if err := CheckValue("float", nil, []byte("1")); !errors.Is(err, ErrUnsupported) {
		t.Errorf("unknown type: %v", err)
	}
	long := CheckValue(bi, []byte(strings.Repeat("k", 1000)), []byte("x"))
	if len(long.Error()) > 300 || !strings.Contains(long.Error(), "1000 bytes") {
		t.Errorf("a long key is not shortened: %v", long)
	}
}

// Supported agrees with the manifest's validation of store modules.
func TestSupportedMatchesManifest(t *testing.T) {
	policies := []manifest.Policy{manifest.PolicySet, manifest.PolicySetIfAbsent, manifest.PolicyAdd, manifest.PolicyMin, manifest.PolicyMax, manifest.PolicyAppend, "sum"}
	types := []manifest.ValueType{manifest.ValueBigInt, manifest.ValueInt64, manifest.ValueString, manifest.ValueBytes, "float"}
	for _, p := range policies {
		for _, vt := range types {
			m := manifest.Manifest{APIVersion: manifest.APIVersion, Kind: manifest.Kind, Name: "p", Modules: []manifest.Module{
				{Name: "a", Kind: manifest.KindMap, File: "a.wasm", Entrypoint: "run", Output: "json:a",
					Inputs: []manifest.Input{{Kind: manifest.InputSource, Source: manifest.SourceEthereumBlock}}},
				{Name: "s", Kind: manifest.KindStore, File: "s.wasm", Entrypoint: "run", ValueType: vt, UpdatePolicy: p,
					Inputs: []manifest.Input{{Kind: manifest.InputMap, Module: "a"}}},
			}}
			want := m.Validate() == nil
			err := Supported(p, vt)
			if got := err == nil; got != want {
				t.Errorf("Supported(%s, %s) = %v, manifest says valid = %v", p, vt, err, want)
			}
			if err != nil && !errors.Is(err, ErrUnsupported) {
				t.Errorf("Supported(%s, %s) = %v, want ErrUnsupported", p, vt, err)
			}
			if _, err := New(p, vt); (err == nil) != want {
				t.Errorf("New(%s, %s) = %v", p, vt, err)
			}
		}
	}
}

func TestCmpDecimal(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	nums := []string{"0", "1", "-1", "9", "10", "-10", "99", "100", "-100", "123", "132", "-123", "-132",
		"9223372036854775807", "-9223372036854775808", "18446744073709551616"}
	for range 200 {
		nums = append(nums, randBigInt(r))
	}
	for _, a := range nums {
		for _, b := range nums {
			x, _ := new(big.Int).SetString(a, 10)
			y, _ := new(big.Int).SetString(b, 10)
			if got, want := cmpDecimal([]byte(a), []byte(b)), x.Cmp(y); got != want {
				t.Fatalf("cmpDecimal(%s, %s) = %d, want %d", a, b, got, want)
			}
		}
	}
}

// randBigInt returns a canonical decimal of varied size and sign.
func randBigInt(r *rand.Rand) string {
	var x big.Int
	switch r.IntN(4) {
	case 0:
		x.SetInt64(r.Int64N(21) - 10)
	case 1:
		x.SetInt64(r.Int64())
	default:
		d := make([]byte, 1+r.IntN(90))
		for i := range d {
			d[i] = byte('0' + r.IntN(10))
		}
		x.SetString(string(d), 10)
	}
	if r.IntN(2) == 0 {
		x.Neg(&x)
	}
	return x.String()
}

func ExampleCheckValue() {
	fmt.Println(CheckValue(manifest.ValueBigInt, []byte("0xabc"), []byte("0123")))
	// Output: store: key "0xabc": value "0123" is not a valid bigint (leading zero): invalid store value
}

func TestParseDecimal(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 4))
	nums := []string{"0", "-1", "9999999999999999999", "10000000000000000000", "-18446744073709551615", "18446744073709551616",
		"1" + strings.Repeat("0", 38), strings.Repeat("9", 57), "-" + strings.Repeat("9", 58)}
	for range 500 {
		nums = append(nums, randBigInt(r))
	}
	z := big.NewInt(12345) // reused: old words must not leak into the result
	for _, s := range nums {
		want, _ := new(big.Int).SetString(s, 10)
		if parseDecimal(z, []byte(s)).Cmp(want) != 0 {
			t.Fatalf("parseDecimal(%s) = %s", s, z)
		}
	}
}

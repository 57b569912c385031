package source

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strconv"
)

// Parsing of the number and hex forms found in RPC and ETL data. All of them
// are strict about syntax and exact about value: nothing goes through float64.

// maxQuantityDigits bounds hex quantities to 256 bits.
const maxQuantityDigits = 64

// quantityBig parses a JSON-RPC QUANTITY ("0x" followed by hex digits).
// Leading zeros are accepted; "0x" alone is not.
func quantityBig(s string) (*big.Int, error) {
	if len(s) < 3 || s[0] != '0' || (s[1] != 'x' && s[1] != 'X') {
		return nil, fmt.Errorf("%q is not a 0x-prefixed hex quantity", clip(s))
	}
	digits := s[2:]
	if len(digits) > maxQuantityDigits {
		return nil, fmt.Errorf("hex quantity %q exceeds 256 bits", clip(s))
	}
	for i := 0; i < len(digits); i++ {
		if unhex(digits[i]) < 0 {
			return nil, fmt.Errorf("%q is not a 0x-prefixed hex quantity", clip(s))
		}
	}
	v, _ := new(big.Int).SetString(digits, 16)
	return v, nil
}

// quantityUint64 parses a QUANTITY that must fit in 64 bits.
func quantityUint64(s string) (uint64, error) {
	v, err := quantityBig(s)
	if err != nil {
		return 0, err
	}
	if !v.IsUint64() {
		return 0, fmt.Errorf("quantity %s exceeds 64 bits", clip(s))
	}
	return v.Uint64(), nil
}

// decimalBig parses a JSON number (or numeric string) that must be a
// non-negative integer written without fraction or exponent.
func decimalBig(n json.Number) (*big.Int, error) {
	s := string(n)
	if s == "" {
		return nil, errors.New("missing")
	}
	if !isDecimal(s) {
		return nil, fmt.Errorf("%q is not a non-negative integer", clip(s))
	}
	if len(s) > 78 { // 2^256 has 78 digits
		return nil, fmt.Errorf("integer %s exceeds 256 bits", clip(s))
	}
	v, _ := new(big.Int).SetString(s, 10)
	if v.BitLen() > 256 {
		return nil, fmt.Errorf("integer %s exceeds 256 bits", clip(s))
	}
	return v, nil
}

// decimalUint64 parses a JSON number that must be a uint64.
func decimalUint64(n json.Number) (uint64, error) {
	s := string(n)
	if s == "" {
		return 0, errors.New("missing")
	}
	if !isDecimal(s) {
		return 0, fmt.Errorf("%q is not a non-negative integer", clip(s))
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("integer %s exceeds 64 bits", clip(s))
	}
	return v, nil
}

// isDecimal reports whether s is an unsigned decimal integer in canonical
// form: digits only, no sign, no leading zero unless s is "0".
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

// hexBytes validates a 0x-prefixed hex string of exactly n bytes (any even
// length when n < 0) and returns it in lowercase.
func hexBytes(s string, n int) (string, error) {
	if len(s) < 2 || s[0] != '0' || (s[1] != 'x' && s[1] != 'X') {
		return "", fmt.Errorf("%q is not 0x-prefixed hex", clip(s))
	}
	digits := len(s) - 2
	if n >= 0 && digits != 2*n {
		return "", fmt.Errorf("%q is not %d bytes of hex", clip(s), n)
	}
	if digits%2 != 0 {
		return "", fmt.Errorf("%q has an odd number of hex digits", clip(s))
	}
	lower := true
	for i := 2; i < len(s); i++ {
		c := s[i]
		if unhex(c) < 0 {
			return "", fmt.Errorf("%q is not 0x-prefixed hex", clip(s))
		}
		if c >= 'A' && c <= 'F' {
			lower = false
		}
	}
	if lower && s[1] == 'x' {
		return s, nil
	}
	b := []byte(s)
	b[1] = 'x'
	for i := 2; i < len(b); i++ {
		if b[i] >= 'A' && b[i] <= 'F' {
			b[i] += 'a' - 'A'
		}
	}
	return string(b), nil
}

// Byte lengths of Ethereum values.
const (
	addressLen = 20
	hashLen    = 32
)

func unhex(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// clip shortens s for an error message.
func clip(s string) string {
	const max = 80
	if len(s) <= max {
		return s
	}
	return s[:max] + "…"
}

package store

import (
	"errors"
	"fmt"
	"math/big"
	"math/bits"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/ipdm/ipdm/pipeline/manifest"
)

// Errors to branch on. Every error this package returns matches one of them
// through errors.Is.
var (
	// ErrInvalidValue: a written value is not of the store's value type.
	ErrInvalidValue = errors.New("invalid store value")
	// ErrOverflow: an int64 sum leaves the int64 range.
	ErrOverflow = errors.New("int64 store value overflows")
	// ErrUnsupported: an unknown policy or value type, a policy that does not
	// apply to the value type, or a merge of stores with different ones.
	ErrUnsupported = errors.New("unsupported store policy or value type")
	// ErrMalformed: an encoded state or op log is not what Encode writes.
	ErrMalformed = errors.New("malformed store encoding")
)

// policyTypes lists the value types each policy takes; it agrees with the
// manifest's validation (checked by a test).
var policyTypes = map[manifest.Policy][]manifest.ValueType{
	manifest.PolicySet:         {manifest.ValueBigInt, manifest.ValueInt64, manifest.ValueString, manifest.ValueBytes},
	manifest.PolicySetIfAbsent: {manifest.ValueBigInt, manifest.ValueInt64, manifest.ValueString, manifest.ValueBytes},
	manifest.PolicyAdd:         {manifest.ValueBigInt, manifest.ValueInt64},
	manifest.PolicyMin:         {manifest.ValueBigInt, manifest.ValueInt64},
	manifest.PolicyMax:         {manifest.ValueBigInt, manifest.ValueInt64},
	manifest.PolicyAppend:      {manifest.ValueString, manifest.ValueBytes},
}

// Supported reports an error matching ErrUnsupported unless policy p applies
// to values of type vt.
func Supported(p manifest.Policy, vt manifest.ValueType) error {
	types, ok := policyTypes[p]
	switch {
	case !ok:
		return fmt.Errorf("store: unknown update policy %q: %w", p, ErrUnsupported)
	case !slices.Contains(policyTypes[manifest.PolicySet], vt):
		return fmt.Errorf("store: unknown value type %q: %w", vt, ErrUnsupported)
	case !slices.Contains(types, vt):
		return fmt.Errorf("store: update policy %s does not apply to %s values: %w", p, vt, ErrUnsupported)
	}
	return nil
}

// CheckValue reports whether value is a valid value of type vt, written
// under key (which only appears in the error):
//
//   - bigint: decimal ASCII of any length, an optional leading '-', no
//     leading zeros ("0" itself, never "-0" or "+1");
//   - int64: the same form, within the int64 range;
//   - string: valid UTF-8;
//   - bytes: anything.
//
// The canonical form matters: equal numbers must be equal bytes, so that
// equal states encode alike. The error matches ErrInvalidValue.
func CheckValue(vt manifest.ValueType, key, value []byte) error {
	var why string
	switch vt {
	case manifest.ValueBigInt:
		why = decimalProblem(value)
	case manifest.ValueInt64:
		if why = decimalProblem(value); why == "" {
			if _, err := strconv.ParseInt(string(value), 10, 64); err != nil {
				why = "out of the int64 range"
			}
		}
	case manifest.ValueString:
		if !utf8.Valid(value) {
			why = "invalid UTF-8"
		}
	case manifest.ValueBytes:
	default:
		return fmt.Errorf("store: unknown value type %q: %w", vt, ErrUnsupported)
	}
	if why == "" {
		return nil
	}
	return fmt.Errorf("store: key %s: value %s is not a valid %s (%s): %w", quote(key), quote(value), vt, why, ErrInvalidValue)
}

// decimalProblem says why b is not a canonical decimal integer, or "".
func decimalProblem(b []byte) string {
	digits := b
	if len(b) > 0 && b[0] == '-' {
		digits = b[1:]
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return fmt.Sprintf("%q is not a decimal digit", c)
		}
	}
	switch {
	case len(b) == 0:
		return "empty"
	case len(digits) == 0:
		return "no digits"
	case digits[0] == '0' && len(digits) > 1:
		return "leading zero"
	case digits[0] == '0' && len(digits) < len(b):
		return "negative zero"
	}
	return ""
}

// cmpDecimal compares two canonical decimal integers without parsing them.
func cmpDecimal(a, b []byte) int {
	negA, negB := a[0] == '-', b[0] == '-'
	switch {
	case negA && !negB:
		return -1
	case !negA && negB:
		return 1
	case negA:
		return cmpMagnitude(b[1:], a[1:])
	}
	return cmpMagnitude(a, b)
}

func cmpMagnitude(a, b []byte) int {
	if len(a) != len(b) {
		if len(a) < len(b) {
			return -1
		}
		return 1
	}
	return slices.Compare(a, b)
}

// addDecimal returns a+b for canonical decimal integers of type vt; int64
// sums outside the int64 range fail with ErrOverflow.
func addDecimal(vt manifest.ValueType, key, a, b []byte) ([]byte, error) {
	if vt == manifest.ValueInt64 {
		x, _ := strconv.ParseInt(string(a), 10, 64) // both checked by CheckValue
		y, _ := strconv.ParseInt(string(b), 10, 64)
		s := x + y
		if (y > 0 && s < x) || (y < 0 && s > x) {
			return nil, fmt.Errorf("store: key %s: %s + %s leaves the int64 range: %w", quote(key), a, b, ErrOverflow)
		}
		return strconv.AppendInt(nil, s, 10), nil
	}
	var x, y big.Int
	parseDecimal(&x, a)
	parseDecimal(&y, b)
	return x.Add(&x, &y).Append(nil, 10), nil
}

// chunkDigits is how many decimal digits always fit in a big.Word, and
// chunkPow is 10 to that power.
var chunkDigits, chunkPow = func() (int, uint) {
	if bits.UintSize == 64 {
		return 19, 1e19
	}
	return 9, 1e9
}()

// parseDecimal sets z to the canonical decimal integer b. It does the work
// of big.Int.SetString several times faster for the sizes stores hold, a
// chunk of digits per word multiply-add.
func parseDecimal(z *big.Int, b []byte) *big.Int {
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	words := z.Bits()[:0]
	for first := true; len(b) > 0; first = false {
		n := chunkDigits
		if first && len(b)%chunkDigits != 0 {
			n = len(b) % chunkDigits
		}
		var chunk uint
		for _, c := range b[:n] {
			chunk = chunk*10 + uint(c-'0')
		}
		b = b[n:]
		mul := chunkPow
		if first {
			mul = 0
		}
		carry := chunk
		for i, w := range words {
			hi, lo := bits.Mul(uint(w), mul)
			lo, c := bits.Add(lo, carry, 0)
			words[i], carry = big.Word(lo), hi+c
		}
		if carry != 0 {
			words = append(words, big.Word(carry))
		}
	}
	z.SetBits(words)
	if neg {
		z.Neg(z)
	}
	return z
}

// quote shows a key or value in an error message, cut to a readable length.
func quote(b []byte) string {
	const show = 64
	if len(b) <= show {
		return strconv.Quote(string(b))
	}
	return fmt.Sprintf("%q… (%d bytes)", b[:show], len(b))
}

package spec

import (
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"
)

// Size is a number of bytes. In documents it is written either as a bare
// integer number of bytes or as a string with a unit: "64MiB", "1.5 GiB",
// "512k". Binary units (Ki, Mi, Gi, Ti, Pi, Ei, with or without a trailing
// B) are powers of 1024; decimal units (K, M, G, T, P, E, with or without a
// trailing B) are powers of 1000. Units are case-insensitive. A fractional
// number is allowed when the result is a whole number of bytes.
type Size uint64

// Common sizes.
const (
	KiB Size = 1 << 10
	MiB Size = 1 << 20
	GiB Size = 1 << 30
)

var sizeUnits = map[string]uint64{
	"": 1, "b": 1,
	"k": 1e3, "kb": 1e3, "ki": 1 << 10, "kib": 1 << 10,
	"m": 1e6, "mb": 1e6, "mi": 1 << 20, "mib": 1 << 20,
	"g": 1e9, "gb": 1e9, "gi": 1 << 30, "gib": 1 << 30,
	"t": 1e12, "tb": 1e12, "ti": 1 << 40, "tib": 1 << 40,
	"p": 1e15, "pb": 1e15, "pi": 1 << 50, "pib": 1 << 50,
	"e": 1e18, "eb": 1e18, "ei": 1 << 60, "eib": 1 << 60,
}

// errNotSize is wrapped by ParseSize errors.
var errNotSize = errors.New("is not a size")

// ParseSize parses a size such as "64MiB", "1.5GB", "4096" or "2 gib".
func ParseSize(s string) (Size, error) {
	notSize := fmt.Errorf("%q %w", s, errNotSize)
	t := strings.TrimSpace(s)
	i := 0
	for i < len(t) && (t[i] >= '0' && t[i] <= '9' || t[i] == '.') {
		i++
	}
	num, unit := t[:i], strings.ToLower(strings.TrimSpace(t[i:]))
	mult, ok := sizeUnits[unit]
	if !ok || num == "" {
		return 0, notSize
	}
	intPart, frac, hasDot := strings.Cut(num, ".")
	if intPart == "" || (hasDot && frac == "") || strings.Contains(frac, ".") {
		return 0, notSize
	}
	// Exact arithmetic: value = (intPart.frac) * mult.
	v, ok := new(big.Int).SetString(intPart+frac, 10)
	if !ok {
		return 0, notSize
	}
	v.Mul(v, new(big.Int).SetUint64(mult))
	if frac != "" {
		den := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(len(frac))), nil)
		var rem big.Int
		v.QuoRem(v, den, &rem)
		if rem.Sign() != 0 {
			return 0, fmt.Errorf("%q is not a whole number of bytes", s)
		}
	}
	if !v.IsUint64() {
		return 0, fmt.Errorf("%q is too large", s)
	}
	return Size(v.Uint64()), nil
}

// String formats the size with the largest binary unit that represents it
// exactly ("64MiB"), else the largest exact decimal unit ("100MB"), else in
// bytes ("12345B").
func (z Size) String() string {
	if z == 0 {
		return "0B"
	}
	for _, u := range []struct {
		name string
		mult uint64
	}{
		{"EiB", 1 << 60}, {"PiB", 1 << 50}, {"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10},
		{"EB", 1e18}, {"PB", 1e15}, {"TB", 1e12}, {"GB", 1e9}, {"MB", 1e6}, {"kB", 1e3},
	} {
		if uint64(z)%u.mult == 0 {
			return strconv.FormatUint(uint64(z)/u.mult, 10) + u.name
		}
	}
	return strconv.FormatUint(uint64(z), 10) + "B"
}

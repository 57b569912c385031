package spec

import (
	"errors"
	"strconv"

	"github.com/ipdm/ipdm/fieldpath"
)

// ErrInvalidSpec is matched (via errors.Is) by every error that reports a
// malformed or invalid job spec, in particular by *FieldErrors.
var ErrInvalidSpec = errors.New("invalid job spec")

// MaxFieldErrors bounds the number of problems a *FieldErrors lists; further
// problems are summarised by its Truncated count.
const MaxFieldErrors = 50

// FieldError is one problem found in a spec. Its Path is rooted at "spec":
// for example "spec.resources.memory", "spec.inputs[2].cid" or
// "spec.env.HOME". Line and Column are zero for problems found by
// Spec.Validate on a value that was not decoded. Error formats it as
// "path: detail".
type FieldError = fieldpath.Error

// FieldErrors lists every problem found in a spec, in document order for
// decoding problems followed by validation problems, at most MaxFieldErrors
// of them. It matches ErrInvalidSpec with errors.Is.
type FieldErrors = fieldpath.Errors

// collector accumulates field errors and the positions of decoded fields.
type collector = fieldpath.Collector

// newCollector returns a collector whose errors are *FieldErrors matching
// ErrInvalidSpec.
func newCollector() collector {
	return collector{Kind: ErrInvalidSpec, Max: MaxFieldErrors}
}

// Path helpers.

func field(parent, name string) string {
	if isIdent(name) {
		return parent + "." + name
	}
	return parent + "[" + strconv.Quote(name) + "]"
}

func index(parent string, i int) string {
	return parent + "[" + strconv.Itoa(i) + "]"
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '_':
		case c >= '0' && c <= '9', c == '-':
			if i == 0 {
				return false
			}
		default:
			return false
		}
	}
	return true
}

package manifest

import (
	"errors"
	"strconv"

	"github.com/ipdm/ipdm/fieldpath"
)

// ErrInvalidManifest is matched (via errors.Is) by every error reporting a
// malformed or invalid manifest, in particular by *FieldErrors.
var ErrInvalidManifest = errors.New("invalid pipeline manifest")

// MaxFieldErrors bounds the problems a *FieldErrors lists; further problems
// are counted in Truncated.
const MaxFieldErrors = 50

// FieldError is one problem found in a manifest. Its Path is rooted at
// "manifest": for example "manifest.modules[2].inputs[0].map" or
// "manifest.windows[0].step". Line and Column are zero for problems found
// by Validate on a manifest that was not decoded. Error formats it as
// "path (line N): detail", or "path: detail" when the line is unknown.
type FieldError = fieldpath.Error

// FieldErrors lists every problem found in a manifest: decoding problems in
// document order, then validation problems, at most MaxFieldErrors of them.
// Its text starts with "manifest: ". It matches ErrInvalidManifest.
type FieldErrors = fieldpath.Errors

// collector accumulates field errors and the positions of decoded fields.
type collector = fieldpath.Collector

// newCollector returns a collector whose errors are *FieldErrors matching
// ErrInvalidManifest. A decoded path keeps its key's position, recorded
// before its value's.
func newCollector() collector {
	return collector{Kind: ErrInvalidManifest, Prefix: "manifest: ", Max: MaxFieldErrors, ShowLine: true, KeepFirst: true}
}

func field(parent, name string) string { return parent + "." + name }

func index(parent string, i int) string { return parent + "[" + strconv.Itoa(i) + "]" }

package pipelinetest

import (
	"errors"
	"testing"

	"github.com/ipdm/ipdm/examples/internal/scan"
)

// CheckRejected checks how a scanner refused malformed input of inputLen
// bytes: err is a *scan.InputError matching scan.ErrMalformed that names
// field at an offset within the input, and no row was emitted before it.
func CheckRejected(t testing.TB, err error, inputLen, emitted int, field string) {
	t.Helper()
	var ie *scan.InputError
	if !errors.Is(err, scan.ErrMalformed) || !errors.As(err, &ie) {
		t.Fatalf("err = %v, want an *InputError matching ErrMalformed", err)
	}
	if ie.Field != field || ie.Offset < 0 || ie.Offset > inputLen {
		t.Errorf("field %q offset %d (%v), want field %q", ie.Field, ie.Offset, err, field)
	}
	if emitted != 0 {
		t.Errorf("%d rows emitted before the error", emitted)
	}
}

package fieldpath

import (
	"errors"
	"fmt"
	"testing"
)

var errTest = errors.New("invalid test document")

func TestErrorText(t *testing.T) {
	for _, tc := range []struct {
		e    Error
		want string
	}{
		{Error{Path: "m.a", Detail: "bad", Line: 3, Column: 4}, "m.a: bad"},
		{Error{Path: "m.a", Detail: "bad", Line: 3, Column: 4, ShowLine: true}, "m.a (line 3): bad"},
		{Error{Path: "m.a", Detail: "bad", ShowLine: true}, "m.a: bad"},
		{Error{Path: "m", Detail: ""}, "m: "},
	} {
		if got := tc.e.Error(); got != tc.want {
			t.Errorf("%+v.Error() = %q, want %q", tc.e, got, tc.want)
		}
	}
}

func TestErrorsText(t *testing.T) {
	two := []Error{{Path: "m.a", Detail: "x"}, {Path: "m.b", Detail: "y", Line: 2, ShowLine: true}}
	for _, tc := range []struct {
		e    Errors
		want string
	}{
		{Errors{Errors: two}, "m.a: x; m.b (line 2): y"},
		{Errors{Errors: two, Prefix: "doc: "}, "doc: m.a: x; m.b (line 2): y"},
		{Errors{Errors: two[:1], Truncated: 7}, "m.a: x; and 7 more"},
		{Errors{Errors: two[:1], Truncated: 1, Prefix: "p: "}, "p: m.a: x; and 1 more"},
		{Errors{Prefix: "p: "}, "p: "},
	} {
		if got := tc.e.Error(); got != tc.want {
			t.Errorf("Error() = %q, want %q", got, tc.want)
		}
	}
}

func TestErrorsIsAndHas(t *testing.T) {
	e := &Errors{Errors: []Error{{Path: "m.a[1]", Detail: "x"}}, Kind: errTest}
	wrapped := fmt.Errorf("load: %w", e)
	if !errors.Is(wrapped, errTest) {
		t.Error("wrapped *Errors does not match its Kind")
	}
	if errors.Is(wrapped, errors.New("invalid test document")) {
		t.Error("matched a different sentinel with the same text")
	}
	var got *Errors
	if !errors.As(wrapped, &got) || got != e {
		t.Fatal("errors.As did not find the *Errors")
	}
	if (&Errors{}).Is(nil) || (&Errors{}).Is(errTest) {
		t.Error("an *Errors without Kind matched")
	}
	if !e.Has("m.a[1]") || e.Has("m.a") || e.Has("m.a[1].b") {
		t.Error("Has is not an exact path match")
	}
}

func TestCollector(t *testing.T) {
	c := Collector{Kind: errTest, Prefix: "m: ", ShowLine: true}
	if c.Err() != nil || c.Count() != 0 {
		t.Fatal("empty collector reports an error")
	}
	c.At("m", 1, 1)
	c.At("m.a", 2, 3)
	c.At("m.a", 2, 9) // last position wins without KeepFirst
	c.Report("m.a.b", "missing")
	c.ReportAt("m.c", 7, 5, "duplicate field")
	c.Report("x", "nowhere")
	err := c.Err()
	var fe *Errors
	if !errors.As(err, &fe) || !errors.Is(err, errTest) {
		t.Fatalf("Err() = %T %v", err, err)
	}
	want := []Error{
		{Path: "m.a.b", Detail: "missing", Line: 2, Column: 9, ShowLine: true},
		{Path: "m.c", Detail: "duplicate field", Line: 7, Column: 5, ShowLine: true},
		{Path: "x", Detail: "nowhere", ShowLine: true},
	}
	if len(fe.Errors) != len(want) {
		t.Fatalf("got %d errors, want %d: %v", len(fe.Errors), len(want), err)
	}
	for i := range want {
		if fe.Errors[i] != want[i] {
			t.Errorf("error %d = %+v, want %+v", i, fe.Errors[i], want[i])
		}
	}
	if s := err.Error(); s != "m: m.a.b (line 2): missing; m.c (line 7): duplicate field; x: nowhere" {
		t.Errorf("text %q", s)
	}
	for p, covered := range map[string]bool{"m.a": true, "m.a.b.c": true, "m.c": true, "m.d": false, "m": true} {
		if got := c.Covered(p); got != covered {
			t.Errorf("Covered(%q) = %v, want %v", p, got, covered)
		}
	}
	// Later problems do not change an *Errors already returned.
	c.Report("m.d", "late")
	if len(fe.Errors) != 3 || fe.Has("m.d") || c.Count() != 4 {
		t.Fatalf("returned *Errors changed or count wrong: %d errors, count %d", len(fe.Errors), c.Count())
	}
}

func TestCollectorKeepFirst(t *testing.T) {
	c := Collector{KeepFirst: true}
	c.At("k", 5, 1)
	c.At("k", 5, 9)
	c.Report("k", "bad")
	var fe *Errors
	if !errors.As(c.Err(), &fe) || fe.Errors[0].Column != 1 {
		t.Fatalf("KeepFirst: %v", c.Err())
	}
	if fe.Errors[0].ShowLine || fe.Prefix != "" || fe.Kind != nil {
		t.Errorf("zero-configured collector set %+v", fe)
	}
}

func TestCollectorMax(t *testing.T) {
	for _, tc := range []struct{ max, n, listed int }{
		{0, DefaultMax + 3, DefaultMax},
		{2, 5, 2},
		{10, 4, 4},
	} {
		c := Collector{Max: tc.max}
		for i := range tc.n {
			c.Report(fmt.Sprintf("m.a[%d]", i), "bad")
		}
		var fe *Errors
		if !errors.As(c.Err(), &fe) {
			t.Fatalf("Max %d: no *Errors", tc.max)
		}
		if len(fe.Errors) != tc.listed || fe.Truncated != tc.n-tc.listed || c.Count() != tc.n {
			t.Errorf("Max %d, %d problems: listed %d, truncated %d, count %d", tc.max, tc.n, len(fe.Errors), fe.Truncated, c.Count())
		}
		// A truncated problem still counts as covered.
		if !c.Covered(fmt.Sprintf("m.a[%d]", tc.n-1)) {
			t.Errorf("Max %d: last problem not covered", tc.max)
		}
	}
}

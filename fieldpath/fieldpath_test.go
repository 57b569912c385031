package fieldpath

import "testing"

func TestParent(t *testing.T) {
	for in, want := range map[string]string{
		"spec.a[2]":         "spec.a",
		"spec.a":            "spec",
		"spec":              "",
		`spec.env["a.b"]`:   "spec.env",
		`spec.env["a.b"].x`: `spec.env["a.b"]`,
	} {
		if got := Parent(in); got != want {
			t.Errorf("Parent(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestTracker(t *testing.T) {
	var tr Tracker
	tr.At("m", 1, 1)
	tr.At("m.a", 2, 3)
	tr.At("m.a", 2, 7)
	if l, c := tr.Locate("m.a"); l != 2 || c != 7 {
		t.Fatalf("last position: %d:%d", l, c)
	}
	if l, c := tr.Locate("m.a.missing"); l != 2 || c != 7 {
		t.Fatalf("ancestor position: %d:%d", l, c)
	}
	if l, _ := tr.Locate("x"); l != 0 {
		t.Fatal("unknown path located")
	}
	first := Tracker{KeepFirst: true}
	first.At("k", 5, 1)
	first.At("k", 5, 9)
	if _, c := first.Locate("k"); c != 1 {
		t.Fatalf("KeepFirst kept column %d", c)
	}
	tr.Mark("m.a[1].b")
	for p, want := range map[string]bool{"m.a[1].b": true, "m.a": true, "m.a[1].b.c": true, "m.c": false, "m.a[2]": false} {
		if got := tr.Covered(p); got != want {
			t.Errorf("Covered(%q) = %v, want %v", p, got, want)
		}
	}
}

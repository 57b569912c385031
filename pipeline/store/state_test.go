package store

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/ipdm/ipdm/pipeline/manifest"
)

func ops(kv ...string) []Op {
	var out []Op
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, Op{Key: []byte(kv[i]), Value: []byte(kv[i+1])})
	}
	return out
}

// dump renders a state as "k=v k=v" in key order.
func dump(s *State) string {
	var parts []string
	for k, v := range s.All() {
		parts = append(parts, string(k)+"="+string(v))
	}
	return strings.Join(parts, " ")
}

func mustNew(t testing.TB, p manifest.Policy, vt manifest.ValueType) *State {
	t.Helper()
	s, err := New(p, vt)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestApplyPolicies(t *testing.T) {
	const big = "340282366920938463463374607431768211455"
	tests := []struct {
		policy manifest.Policy
		vt     manifest.ValueType
		ops    []Op
		want   string
	}{
		{manifest.PolicySet, manifest.ValueString, ops("a", "1", "b", "2", "a", "3"), "a=3 b=2"},
		{manifest.PolicySet, manifest.ValueBytes, ops("a", "x", "a", ""), "a="},
		{manifest.PolicySetIfAbsent, manifest.ValueInt64, ops("a", "1", "b", "2", "a", "3", "b", "-4"), "a=1 b=2"},
		{manifest.PolicyAdd, manifest.ValueBigInt, ops("a", big, "a", big, "b", "-5", "b", "5"), "a=680564733841876926926749214863536422910 b=0"},
		{manifest.PolicyAdd, manifest.ValueBigInt, ops("a", "-3", "a", "1"), "a=-2"},
		{manifest.PolicyAdd, manifest.ValueInt64, ops("a", "9223372036854775800", "a", "7", "a", "-9223372036854775807"), "a=0"},
		{manifest.PolicyMin, manifest.ValueBigInt, ops("a", "10", "a", "9", "a", "100", "a", "-"+big, "a", "-1"), "a=-" + big},
		{manifest.PolicyMin, manifest.ValueInt64, ops("a", "5", "a", "-9223372036854775808", "a", "0"), "a=-9223372036854775808"},
		{manifest.PolicyMax, manifest.ValueBigInt, ops("a", "10", "a", "9", "a", big, "a", "-1"), "a=" + big},
		{manifest.PolicyMax, manifest.ValueInt64, ops("a", "-5", "a", "-6", "b", "0"), "a=-5 b=0"},
		{manifest.PolicyAppend, manifest.ValueString, ops("a", "x", "b", "", "a", "yz", "a", "é"), "a=xyzé b="},
		{manifest.PolicyAppend, manifest.ValueBytes, ops("", "\x00", "", "\xff"), "=\x00\xff"},
	}
	for _, tt := range tests {
		s := mustNew(t, tt.policy, tt.vt)
		for _, op := range tt.ops {
			if err := s.Apply(op); err != nil {
				t.Fatalf("%s %s: %v", tt.policy, tt.vt, err)
			}
		}
		if got := dump(s); got != tt.want {
			t.Errorf("%s %s: %q, want %q", tt.policy, tt.vt, got, tt.want)
		}
	}
}

func TestApplyErrorsLeaveStateUnchanged(t *testing.T) {
	tests := []struct {
		policy manifest.Policy
		vt     manifest.ValueType
		before []Op
		bad    Op
		err    error
	}{
		{manifest.PolicyAdd, manifest.ValueInt64, ops("k", "9223372036854775807"), Op{[]byte("k"), []byte("1")}, ErrOverflow},
		{manifest.PolicyAdd, manifest.ValueInt64, ops("k", "-9223372036854775807"), Op{[]byte("k"), []byte("-2")}, ErrOverflow},
		{manifest.PolicyAdd, manifest.ValueBigInt, ops("k", "1"), Op{[]byte("k"), []byte("1.5")}, ErrInvalidValue},
		{manifest.PolicyMax, manifest.ValueInt64, ops("k", "1"), Op{[]byte("k"), []byte("99999999999999999999")}, ErrInvalidValue},
		{manifest.PolicyAppend, manifest.ValueString, ops("k", "ok"), Op{[]byte("k"), []byte("\xfe")}, ErrInvalidValue},
		{manifest.PolicySet, manifest.ValueInt64, ops("k", "1"), Op{[]byte("new"), []byte("")}, ErrInvalidValue},
	}
	for _, tt := range tests {
		s := mustNew(t, tt.policy, tt.vt)
		for _, op := range tt.before {
			if err := s.Apply(op); err != nil {
				t.Fatal(err)
			}
		}
		before, size := s.Encode(), s.Size()
		err := s.Apply(tt.bad)
		if !errors.Is(err, tt.err) {
			t.Errorf("%s %s %q: err = %v, want %v", tt.policy, tt.vt, tt.bad.Value, err, tt.err)
		}
		if !bytes.Equal(s.Encode(), before) || s.Size() != size {
			t.Errorf("%s %s: state changed by a failed write", tt.policy, tt.vt)
		}
	}
}

func TestApplyBlockDeltas(t *testing.T) {
	s := mustNew(t, manifest.PolicySetIfAbsent, manifest.ValueString)
	d, err := s.ApplyBlock(ops("a", "1", "b", "2", "a", "3"))
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprintf("%q", d); got != `[{"a" "1"} {"b" "2"} {"a" "1"}]` {
		t.Errorf("set_if_absent deltas %s", got)
	}

	s = mustNew(t, manifest.PolicyAppend, manifest.ValueBytes)
	d1, _ := s.ApplyBlock(ops("k", "ab"))
	d2, err := s.ApplyBlock(ops("k", "c", "j", "x", "k", "d"))
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprintf("%q %q", d1, d2); got != `[{"k" "ab"}] [{"k" "abc"} {"j" "x"} {"k" "abcd"}]` {
		t.Errorf("append deltas %s", got)
	}
	// Earlier deltas are unaffected by later appends, even to their spare
	// capacity, and so are values a caller extends.
	got, _ := s.Get([]byte("k"))
	_ = append(got, "ZZZ"...)
	_ = append(d2[0].Value, "YYY"...)
	if v, _ := s.Get([]byte("k")); string(v) != "abcd" || string(d2[0].Value) != "abc" || string(d1[0].Value) != "ab" {
		t.Errorf("values changed: state %q, deltas %q %q", v, d1, d2)
	}

	// A failing block leaves the state as before it, new keys included.
	s = mustNew(t, manifest.PolicyAdd, manifest.ValueInt64)
	if _, err := s.ApplyBlock(ops("a", "9223372036854775800")); err != nil {
		t.Fatal(err)
	}
	before, size := s.Encode(), s.Size()
	if _, err := s.ApplyBlock(ops("b", "1", "a", "1", "a", "7", "c", "2")); !errors.Is(err, ErrOverflow) {
		t.Fatalf("err = %v, want ErrOverflow", err)
	}
	if !bytes.Equal(s.Encode(), before) || s.Size() != size || s.Len() != 1 || len(s.Keys()) != 1 {
		t.Errorf("failed block left %s (size %d)", dump(s), s.Size())
	}
	// A failing append block does not corrupt what comes after.
	s = mustNew(t, manifest.PolicyAppend, manifest.ValueString)
	_, _ = s.ApplyBlock(ops("k", "ab"))
	if _, err := s.ApplyBlock(ops("k", "cd", "k", "\xff")); !errors.Is(err, ErrInvalidValue) {
		t.Fatalf("err = %v", err)
	}
	_, _ = s.ApplyBlock(ops("k", "x"))
	if got := dump(s); got != "k=abx" {
		t.Errorf("after a failed append block: %q", got)
	}
}

func TestCloneIsIndependent(t *testing.T) {
	s := mustNew(t, manifest.PolicyAppend, manifest.ValueBytes)
	// Grow "k" so that its backing array has spare capacity.
	for range 5 {
		_ = s.Apply(Op{[]byte("k"), []byte("a")})
	}
	c := s.Clone()
	_ = s.Apply(Op{[]byte("k"), []byte("S")})
	_ = c.Apply(Op{[]byte("k"), []byte("C")})
	_ = c.Apply(Op{[]byte("new"), []byte("n")})
	if dump(s) != "k=aaaaaS" || dump(c) != "k=aaaaaC new=n" {
		t.Errorf("original %q, clone %q", dump(s), dump(c))
	}
	if s.Len() != 1 || c.Len() != 2 || s.Size() != 7 || c.Size() != 11 {
		t.Errorf("len/size %d/%d %d/%d", s.Len(), s.Size(), c.Len(), c.Size())
	}
}

func TestKeysAndSize(t *testing.T) {
	s := mustNew(t, manifest.PolicySet, manifest.ValueBytes)
	for _, op := range ops("b", "22", "a", "1", "", "x", "ab", "", "b", "3") {
		if err := s.Apply(op); err != nil {
			t.Fatal(err)
		}
		if want := len(s.Encode()); want > 7+1+4*s.Len()+s.Size() || want < 7+2*s.Len()+s.Size() {
			t.Errorf("size %d for %d keys does not bound the encoding of %d bytes", s.Size(), s.Len(), want)
		}
	}
	var keys []string
	for _, k := range s.Keys() {
		keys = append(keys, string(k))
	}
	if !slices.Equal(keys, []string{"", "a", "ab", "b"}) {
		t.Errorf("keys %q", keys)
	}
	if s.Size() != len("b3a1xab") || s.Len() != 4 {
		t.Errorf("size %d len %d", s.Size(), s.Len())
	}
	if v, ok := s.Get([]byte("ab")); !ok || len(v) != 0 {
		t.Errorf("Get(ab) = %q %v", v, ok)
	}
	if _, ok := s.Get([]byte("zz")); ok {
		t.Error("Get of an absent key")
	}
	n := 0
	for range s.All() {
		n++
		break
	}
	if n != 1 {
		t.Error("All does not stop")
	}
}

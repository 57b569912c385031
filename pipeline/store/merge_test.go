package store

import (
	"bytes"
	"errors"
	"math"
	"math/big"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/ipdm/ipdm/pipeline/manifest"
)

var combos = []struct {
	p  manifest.Policy
	vt manifest.ValueType
}{
	{manifest.PolicySet, manifest.ValueBigInt}, {manifest.PolicySet, manifest.ValueInt64},
	{manifest.PolicySet, manifest.ValueString}, {manifest.PolicySet, manifest.ValueBytes},
	{manifest.PolicySetIfAbsent, manifest.ValueBigInt}, {manifest.PolicySetIfAbsent, manifest.ValueInt64},
	{manifest.PolicySetIfAbsent, manifest.ValueString}, {manifest.PolicySetIfAbsent, manifest.ValueBytes},
	{manifest.PolicyAdd, manifest.ValueBigInt}, {manifest.PolicyAdd, manifest.ValueInt64},
	{manifest.PolicyMin, manifest.ValueBigInt}, {manifest.PolicyMin, manifest.ValueInt64},
	{manifest.PolicyMax, manifest.ValueBigInt}, {manifest.PolicyMax, manifest.ValueInt64},
	{manifest.PolicyAppend, manifest.ValueString}, {manifest.PolicyAppend, manifest.ValueBytes},
}

// randOps returns n writes over a few keys. int64 values cluster near the
// range's ends often enough that add overflows in some runs and not others.
func randOps(r *rand.Rand, vt manifest.ValueType, n int) []Op {
	keys := []string{"", "a", "b", "c", "\x00\xff"}
	out := make([]Op, n)
	for i := range out {
		var v string
		switch vt {
		case manifest.ValueBigInt:
			v = randBigInt(r)
		case manifest.ValueInt64:
			switch r.IntN(4) {
			case 0:
				v = strconv.FormatInt(math.MaxInt64-r.Int64N(1<<62), 10)
			case 1:
				v = strconv.FormatInt(math.MinInt64+r.Int64N(1<<62), 10)
			default:
				v = strconv.FormatInt(r.Int64N(2001)-1000, 10)
			}
		case manifest.ValueString:
			v = []string{"", "x", "héllo", "✓✓", "z"}[r.IntN(5)]
		default:
			b := make([]byte, r.IntN(4))
			for j := range b {
				b[j] = byte(r.UintN(256))
			}
			v = string(b)
		}
		out[i] = Op{Key: []byte(keys[r.IntN(len(keys))]), Value: []byte(v)}
	}
	return out
}

// model computes the state a run of valid writes gives, from the policy's
// definition, independently of State; ok is false when an int64 sum leaves
// the range at some write.
func model(p manifest.Policy, vt manifest.ValueType, ops []Op) (map[string]string, bool) {
	m := map[string]string{}
	for _, op := range ops {
		k, v := string(op.Key), string(op.Value)
		old, had := m[k]
		if !had {
			m[k] = v
			continue
		}
		x, _ := new(big.Int).SetString(old, 10)
		y, _ := new(big.Int).SetString(v, 10)
		switch p {
		case manifest.PolicySet:
			m[k] = v
		case manifest.PolicyAdd:
			x.Add(x, y)
			if vt == manifest.ValueInt64 && !x.IsInt64() {
				return nil, false
			}
			m[k] = x.String()
		case manifest.PolicyMin:
			if y.Cmp(x) < 0 {
				m[k] = v
			}
		case manifest.PolicyMax:
			if y.Cmp(x) > 0 {
				m[k] = v
			}
		case manifest.PolicyAppend:
			m[k] = old + v
		}
	}
	return m, true
}

// Merging the partials of consecutive segments gives the state and the
// errors of the linear run, and both agree with the model, for every policy
// and value type and for random segment boundaries (sizes 1 and 2
// included).
func TestMergeEqualsLinearRun(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	runs, overflowed := 0, 0
	for _, c := range combos {
		for trial := range 150 {
			all := randOps(r, c.vt, r.IntN(40))
			want, ok := model(c.p, c.vt, all)

			linear := mustNew(t, c.p, c.vt)
			var linearErr error
			for _, op := range all {
				if linearErr = linear.Apply(op); linearErr != nil {
					break
				}
			}
			if (linearErr == nil) != ok {
				t.Fatalf("%s %s: linear error %v, model ok %v", c.p, c.vt, linearErr, ok)
			}
			if linearErr != nil && !errors.Is(linearErr, ErrOverflow) {
				t.Fatalf("%s %s: linear error %v", c.p, c.vt, linearErr)
			}
			if ok {
				got := map[string]string{}
				for k, v := range linear.All() {
					got[string(k)] = string(v)
				}
				if len(got) != len(want) {
					t.Fatalf("%s %s: linear %q, model %q", c.p, c.vt, got, want)
				}
				for k, v := range want {
					if got[k] != v {
						t.Fatalf("%s %s key %q: linear %q, model %q", c.p, c.vt, k, got[k], v)
					}
				}
			} else {
				overflowed++
			}

			// Segment sizes: all 1, all 2, or random.
			merged := mustNew(t, c.p, c.vt)
			var mergedErr error
			for i := 0; i < len(all) && mergedErr == nil; {
				size := []int{1, 2, 1 + r.IntN(10)}[trial%3]
				seg := all[i:min(i+size, len(all))]
				i += len(seg)
				part, err := Reduce(c.p, c.vt, []BlockOps{{Block: uint64(i), Ops: seg}})
				if err != nil {
					mergedErr = err
					break
				}
				mergedErr = merged.Merge(part)
			}
			if (mergedErr == nil) != (linearErr == nil) {
				t.Fatalf("%s %s: merged error %v, linear error %v", c.p, c.vt, mergedErr, linearErr)
			}
			if mergedErr == nil && !bytes.Equal(merged.Encode(), linear.Encode()) {
				t.Fatalf("%s %s: merged %s\nlinear %s", c.p, c.vt, dump(merged), dump(linear))
			}
			if mergedErr == nil && merged.Size() != linear.Size() {
				t.Fatalf("%s %s: merged size %d, linear %d", c.p, c.vt, merged.Size(), linear.Size())
			}
			runs++
		}
	}
	if overflowed == 0 || overflowed > runs/4 {
		t.Errorf("%d of %d runs overflowed; the generator should make some, not most", overflowed, runs)
	}
}

// Deltas are the values Get returns after each write.
func TestDeltasMatchGet(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 5))
	for _, c := range combos {
		blockwise, opwise := mustNew(t, c.p, c.vt), mustNew(t, c.p, c.vt)
		for range 20 {
			blk := randOps(r, c.vt, r.IntN(6))
			if c.vt == manifest.ValueInt64 && c.p == manifest.PolicyAdd {
				blk = randSmallInt64Ops(r, len(blk))
			}
			deltas, err := blockwise.ApplyBlock(blk)
			if err != nil {
				t.Fatal(err)
			}
			if len(deltas) != len(blk) {
				t.Fatalf("%d deltas for %d ops", len(deltas), len(blk))
			}
			for i, op := range blk {
				if err := opwise.Apply(op); err != nil {
					t.Fatal(err)
				}
				v, _ := opwise.Get(op.Key)
				if !bytes.Equal(deltas[i].Key, op.Key) || !bytes.Equal(deltas[i].Value, v) {
					t.Fatalf("%s %s: delta %q, want %q=%q", c.p, c.vt, deltas[i], op.Key, v)
				}
			}
		}
	}
}

func randSmallInt64Ops(r *rand.Rand, n int) []Op {
	out := make([]Op, n)
	for i := range out {
		out[i] = Op{Key: []byte{byte('a' + r.IntN(3))}, Value: []byte(strconv.Itoa(r.IntN(100) - 50))}
	}
	return out
}

// An int64 add partial fails on its own only when no starting value could
// absorb its writes, and its merge fails exactly when a write overflows.
func TestInt64AddPartialBounds(t *testing.T) {
	const max, min = "9223372036854775807", "-9223372036854775808"
	tests := []struct {
		base    string // "" = absent
		ops     []Op
		partial bool // the partial itself fails
		merge   bool // the merge fails
	}{
		{"", ops("k", max, "k", "1", "k", "-1"), false, true},           // max+1 on the way
		{"-1", ops("k", max, "k", "1", "k", "-1"), false, false},        // -1+max+1 fits
		{"5", ops("k", "-5", "k", max), false, false},                   // back to 0 first
		{"5", ops("k", max, "k", "-5"), false, true},                    // 5+max overflows before -5
		{"", ops("k", max, "k", max, "k", "1"), false, true},            // 2^64-1 wide: only base min fits
		{min, ops("k", max, "k", max, "k", "1"), false, false},          // min+2max+1 = max
		{"", ops("k", max, "k", max, "k", "2"), true, true},             // 2^64 wide: no base fits
		{"", ops("k", min, "k", min, "k", "-1"), true, true},            // too far down
		{"", ops("k", min, "k", max, "k", "1", "k", min), false, false}, // swings across the whole range
	}
	for i, tt := range tests {
		st := mustNew(t, manifest.PolicyAdd, manifest.ValueInt64)
		linear := mustNew(t, manifest.PolicyAdd, manifest.ValueInt64)
		if tt.base != "" {
			_ = st.Apply(Op{[]byte("k"), []byte(tt.base)})
			_ = linear.Apply(Op{[]byte("k"), []byte(tt.base)})
		}
		var linearErr error
		for _, op := range tt.ops {
			if linearErr = linear.Apply(op); linearErr != nil {
				break
			}
		}
		if (linearErr != nil) != tt.merge {
			t.Errorf("case %d: linear error %v, want failure %v", i, linearErr, tt.merge)
		}
		p, err := Reduce(manifest.PolicyAdd, manifest.ValueInt64, []BlockOps{{Block: 9, Ops: tt.ops}})
		if (err != nil) != tt.partial {
			t.Errorf("case %d: partial error %v, want failure %v", i, err, tt.partial)
		}
		if err != nil {
			if !errors.Is(err, ErrOverflow) {
				t.Errorf("case %d: %v", i, err)
			}
			continue
		}
		before := st.Encode()
		err = st.Merge(p)
		if (err != nil) != tt.merge || (err != nil && !errors.Is(err, ErrOverflow)) {
			t.Errorf("case %d: merge error %v, want failure %v", i, err, tt.merge)
		}
		if err != nil && !bytes.Equal(st.Encode(), before) {
			t.Errorf("case %d: failed merge changed the state", i)
		}
		if err == nil && !bytes.Equal(st.Encode(), linear.Encode()) {
			t.Errorf("case %d: merged %s, linear %s", i, dump(st), dump(linear))
		}
	}
}

func TestMergeMismatch(t *testing.T) {
	s := mustNew(t, manifest.PolicyAdd, manifest.ValueBigInt)
	p, _ := NewPartial(manifest.PolicyAdd, manifest.ValueInt64)
	if err := s.Merge(p); !errors.Is(err, ErrUnsupported) {
		t.Errorf("merge of an int64 partial into a bigint state: %v", err)
	}
	p, _ = NewPartial(manifest.PolicyMax, manifest.ValueBigInt)
	if err := s.Merge(p); !errors.Is(err, ErrUnsupported) {
		t.Errorf("merge of a max partial into an add state: %v", err)
	}
	if _, err := NewPartial(manifest.PolicyAppend, manifest.ValueInt64); !errors.Is(err, ErrUnsupported) {
		t.Errorf("append int64 partial: %v", err)
	}
	if _, err := Reduce(manifest.PolicySet, manifest.ValueInt64, []BlockOps{{Block: 4, Ops: ops("k", "x")}}); !errors.Is(err, ErrInvalidValue) || !strings.HasPrefix(err.Error(), `store: block 4: key "k": value "x"`) {
		t.Errorf("invalid value in a reduced block: %v", err)
	}
}

// A partial may be merged into several states (it is not consumed), and
// set_if_absent merges keep the base's value.
func TestPartialReuse(t *testing.T) {
	p, _ := Reduce(manifest.PolicySetIfAbsent, manifest.ValueString, []BlockOps{{Block: 1, Ops: ops("a", "first", "a", "second", "b", "b1")}})
	if p.Len() != 2 {
		t.Errorf("partial has %d keys", p.Len())
	}
	s1 := mustNew(t, manifest.PolicySetIfAbsent, manifest.ValueString)
	s2 := mustNew(t, manifest.PolicySetIfAbsent, manifest.ValueString)
	_ = s2.Apply(Op{[]byte("a"), []byte("base")})
	if err := s1.Merge(p); err != nil {
		t.Fatal(err)
	}
	if err := s2.Merge(p); err != nil {
		t.Fatal(err)
	}
	if dump(s1) != "a=first b=b1" || dump(s2) != "a=base b=b1" {
		t.Errorf("s1 %q s2 %q", dump(s1), dump(s2))
	}
}

package window

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/ipdm/ipdm/pipeline/manifest"
)

func mustMatcher(t testing.TB, r manifest.Rule) *Matcher {
	t.Helper()
	m, err := NewMatcher(r)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// ruleStep is one Add of a module's rows, an Advance or Flush.
type ruleStep struct {
	module string
	rows   step
}

func feed(t *testing.T, m *Matcher, script []ruleStep) []string {
	t.Helper()
	var got []string
	for _, s := range script {
		var out []Output
		var err error
		switch {
		case s.rows.flush:
			out, err = m.Flush()
		case s.rows.advance != nil:
			out, err = m.Advance(s.rows.advance[0], s.rows.advance[1])
		default:
			out, err = m.Add(s.module, s.rows.rows...)
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range out {
			got = append(got, fmt.Sprintf("%d: %s", o.Block, o.JSON))
		}
	}
	return got
}

func TestRuleSameModule(t *testing.T) {
	rule := manifest.Rule{Name: "quick_flip", First: "transfers", Then: "transfers", Within: 3, Key: "to"}
	got := feed(t, mustMatcher(t, rule), []ruleStep{
		{"transfers", rows(10, 0, `{"to":"0xa","n":1}`, `{"to":"0xb","n":2}`, `{"to":"0xa", "n":3}`)},
		{"transfers", rows(12, 0, `{"n":4}`, `{"to":null,"n":5}`)},
		{"transfers", rows(13, 0, `{"to":"0xa","n":6}`, `{"to":"0xb","n":7}`)}, // 0xb: 3 blocks after 10, still within
		{"transfers", rows(17, 0, `{"to":"0xa","n":8}`)},                       // 4 blocks after 13: too late
		{"", adv(17, 0)},
		{"transfers", rows(18, 0, `{"to":"0xa","n":9}`)},
		{"", flush},
	})
	want := []string{
		// A row never matches itself; the third row matches the first.
		`10: {"rule":"quick_flip","key":"0xa","first_block":10,"then_block":10,"first":{"to":"0xa","n":1},"then":{"to":"0xa","n":3}}`,
		// The most recent earlier row with the key: n=3, not n=1.
		`13: {"rule":"quick_flip","key":"0xa","first_block":10,"then_block":13,"first":{"to":"0xa","n":3},"then":{"to":"0xa","n":6}}`,
		`13: {"rule":"quick_flip","key":"0xb","first_block":10,"then_block":13,"first":{"to":"0xb","n":2},"then":{"to":"0xb","n":7}}`,
		`18: {"rule":"quick_flip","key":"0xa","first_block":17,"then_block":18,"first":{"to":"0xa","n":8},"then":{"to":"0xa","n":9}}`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestRuleTwoModules(t *testing.T) {
	rule := manifest.Rule{Name: "deposit_withdraw", First: "deposits", Then: "withdrawals", Within: 2, Key: "account.id"}
	got := feed(t, mustMatcher(t, rule), []ruleStep{
		// Within a block, First rows count as before Then rows, whatever
		// order they are added in.
		{"withdrawals", rows(5, 0, `{"account":{"id":7},"w":1}`)},
		{"deposits", rows(5, 0, `{"account":{"id":7},"d":1}`, `{"account":{"id":"7"},"d":2}`)},
		{"deposits", rows(6, 0, `{"account":{"id":-0},"d":3}`)},
		{"withdrawals", rows(7, 0, `{"account":{"id":"7"},"w":2}`, `{"account":{"id":0},"w":3}`, `{"account":{"id":7},"w":4}`)},
		{"withdrawals", rows(8, 0, `{"account":{"id":7},"w":5}`)}, // 3 blocks after 5
		{"", flush},
	})
	want := []string{
		`5: {"rule":"deposit_withdraw","key":7,"first_block":5,"then_block":5,"first":{"account":{"id":7},"d":1},"then":{"account":{"id":7},"w":1}}`,
		`7: {"rule":"deposit_withdraw","key":"7","first_block":5,"then_block":7,"first":{"account":{"id":"7"},"d":2},"then":{"account":{"id":"7"},"w":2}}`,
		`7: {"rule":"deposit_withdraw","key":0,"first_block":6,"then_block":7,"first":{"account":{"id":-0},"d":3},"then":{"account":{"id":0},"w":3}}`,
		`7: {"rule":"deposit_withdraw","key":7,"first_block":5,"then_block":7,"first":{"account":{"id":7},"d":1},"then":{"account":{"id":7},"w":4}}`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if in := mustMatcher(t, rule).Inputs(); len(in) != 2 || in[0] != "deposits" || in[1] != "withdrawals" {
		t.Errorf("inputs %v", in)
	}
}

// Only the latest First row per key within the window is kept.
func TestRuleMemoryIsBounded(t *testing.T) {
	rule := manifest.Rule{Name: "r", First: "m", Then: "m", Within: 10, Key: "k"}
	m := mustMatcher(t, rule)
	for b := uint64(0); b < 5000; b++ {
		// 3 rows per block: one key reused forever, two fresh ones.
		if _, err := m.Add("m", Row{Block: b, JSON: []byte(`{"k":"same"}`)},
			Row{Block: b, JSON: []byte(fmt.Sprintf(`{"k":%d}`, 2*b))}, Row{Block: b, JSON: []byte(fmt.Sprintf(`{"k":%d}`, 2*b+1))}); err != nil {
			t.Fatal(err)
		}
		if len(m.latest) > 2*11+1+2 {
			t.Fatalf("block %d: %d keys kept", b, len(m.latest))
		}
	}
	if len(m.expiry)-m.head > 3*12 || cap(m.expiry) > 4096 {
		t.Errorf("expiry queue holds %d entries (capacity %d)", len(m.expiry)-m.head, cap(m.expiry))
	}
}

func TestRuleErrors(t *testing.T) {
	rule := manifest.Rule{Name: "r", First: "a", Then: "b", Within: 5, Key: "k"}
	tests := []struct {
		name string
		do   func(m *Matcher) error
		want error
		text string
	}{
		{"not an object", func(m *Matcher) error {
			_, err := m.Add("b", Row{Block: 3, JSON: []byte(`{"k":1}`)}, Row{Block: 3, JSON: []byte(`[]`)})
			return err
		}, ErrMalformedRow, "rule r: b block 3 row 1: not a JSON object but an array"},
		{"count-only rows are still decoded", func(m *Matcher) error {
			_, err := m.Add("a", Row{Block: 3, JSON: []byte(`x`)})
			return err
		}, ErrMalformedRow, "a block 3 row 0: not valid JSON"},
		{"object key", func(m *Matcher) error {
			_, err := m.Add("a", Row{Block: 3, JSON: []byte(`{"k":{}}`)})
			return err
		}, ErrMalformedRow, "field k: {} is not a string, integer or boolean"},
		{"fraction key", func(m *Matcher) error {
			_, err := m.Add("a", Row{Block: 3, JSON: []byte(`{"k":0.5}`)})
			return err
		}, ErrMalformedRow, "field k: 0.5 is not"},
		{"blocks across modules go back", func(m *Matcher) error {
			_, _ = m.Add("a", Row{Block: 9, JSON: []byte(`{}`)})
			_, err := m.Add("b", Row{Block: 8, JSON: []byte(`{}`)})
			return err
		}, ErrOutOfOrder, "block 8 after block 9"},
		{"row after advance", func(m *Matcher) error {
			_, _ = m.Advance(9, 0)
			_, err := m.Add("b", Row{Block: 9, JSON: []byte(`{}`)})
			return err
		}, ErrOutOfOrder, "after Advance(9)"},
		{"unknown module", func(m *Matcher) error {
			_, err := m.Add("c", Row{Block: 9, JSON: []byte(`{}`)})
			return err
		}, ErrUnknownModule, `rows of "c"`},
		{"after flush", func(m *Matcher) error {
			_, _ = m.Flush()
			_, err := m.Advance(1, 0)
			return err
		}, ErrFlushed, "advance after flush"},
	}
	for _, tt := range tests {
		err := tt.do(mustMatcher(t, rule))
		if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.text) {
			t.Errorf("%s: err = %v, want %v with %q", tt.name, err, tt.want, tt.text)
		}
	}

	// A failing row does not lose earlier matches of the same call.
	m := mustMatcher(t, manifest.Rule{Name: "r", First: "a", Then: "a", Within: 5, Key: "k"})
	out, err := m.Add("a", Row{Block: 1, JSON: []byte(`{"k":1}`)}, Row{Block: 2, JSON: []byte(`{"k":1}`)}, Row{Block: 3, JSON: []byte(`{"k":1}`)}, Row{Block: 3, JSON: []byte(`{`)})
	if !errors.Is(err, ErrMalformedRow) || len(out) != 1 || !strings.Contains(string(out[0].JSON), `"then_block":2`) {
		t.Errorf("out %v, err %v", out, err)
	}

	for _, bad := range []manifest.Rule{
		{Name: "", First: "a", Then: "b", Within: 5, Key: "k"},
		{Name: "r", First: "a", Then: "", Within: 5, Key: "k"},
		{Name: "r", First: "a", Then: "b", Within: 0, Key: "k"},
		{Name: "r", First: "a", Then: "b", Within: manifest.MaxRuleWithin + 1, Key: "k"},
		{Name: "r", First: "a", Then: "b", Within: 5, Key: "k."},
		{Name: "r", First: "a", Then: "b", Within: 5, Key: ""},
	} {
		if _, err := NewMatcher(bad); !errors.Is(err, ErrInvalidSpec) {
			t.Errorf("%+v: err = %v", bad, err)
		}
	}
}

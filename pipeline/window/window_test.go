package window

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ipdm/ipdm/pipeline/manifest"
)

func mustAggregator(t testing.TB, w manifest.Window) *Aggregator {
	t.Helper()
	a, err := NewAggregator(w)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// step is one call in a scripted run: rows (Add), an Advance, or Flush.
type step struct {
	rows    []Row
	advance *[2]uint64
	flush   bool
}

func rows(block, time uint64, objs ...string) step {
	s := step{}
	for _, o := range objs {
		s.rows = append(s.rows, Row{Block: block, Time: time, JSON: []byte(o)})
	}
	return s
}

func adv(block, time uint64) step { return step{advance: &[2]uint64{block, time}} }

var flush = step{flush: true}

// run feeds a script and renders every output as "block: json".
func run(t *testing.T, op interface {
	Add(string, ...Row) ([]Output, error)
	Advance(uint64, uint64) ([]Output, error)
	Flush() ([]Output, error)
}, module string, script []step) []string {
	t.Helper()
	var got []string
	for _, s := range script {
		var out []Output
		var err error
		switch {
		case s.flush:
			out, err = op.Flush()
		case s.advance != nil:
			out, err = op.Advance(s.advance[0], s.advance[1])
		default:
			out, err = op.Add(module, s.rows...)
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range out {
			if !json.Valid(o.JSON) || strings.ContainsAny(string(o.JSON), "\n ") {
				t.Errorf("output is not compact JSON: %s", o.JSON)
			}
			got = append(got, fmt.Sprintf("%d: %s", o.Block, o.JSON))
		}
	}
	return got
}

func TestTumblingBlocks(t *testing.T) {
	w := manifest.Window{Name: "per_10", Module: "m", Kind: manifest.Tumbling, Size: manifest.Span{Blocks: 10}}
	tests := []struct {
		name   string
		script []step
		want   []string
	}{
		{"rows only: a window ends when a later window's row arrives",
			[]step{rows(0, 0, "x"), rows(9, 0, "x", "x"), rows(10, 0, "x"), rows(35, 0, "x"), flush},
			[]string{
				`10: {"window":"per_10","start":0,"end":10,"unit":"blocks","count":3,"complete":true}`,
				`35: {"window":"per_10","start":10,"end":20,"unit":"blocks","count":1,"complete":true}`,
				`35: {"window":"per_10","start":30,"end":40,"unit":"blocks","count":1,"complete":false}`,
			}},
		{"advance emits a window once its last block is done",
			[]step{adv(0, 0), rows(3, 0, "x"), adv(3, 0), adv(8, 0), adv(9, 0), rows(12, 0, "x"), adv(19, 0), flush},
			[]string{
				`9: {"window":"per_10","start":0,"end":10,"unit":"blocks","count":1,"complete":true}`,
				`19: {"window":"per_10","start":10,"end":20,"unit":"blocks","count":1,"complete":true}`,
			}},
		{"a run starting mid-window marks that window incomplete",
			[]step{rows(5, 0, "x"), rows(10, 0, "x"), adv(19, 0), flush},
			[]string{
				`10: {"window":"per_10","start":0,"end":10,"unit":"blocks","count":1,"complete":false}`,
				`19: {"window":"per_10","start":10,"end":20,"unit":"blocks","count":1,"complete":true}`,
			}},
		{"flush completes the window whose last block is the last one",
			[]step{adv(10, 0), rows(19, 0, "x"), flush},
			[]string{`19: {"window":"per_10","start":10,"end":20,"unit":"blocks","count":1,"complete":true}`}},
		{"empty windows give nothing", []step{adv(0, 0), adv(50, 0), flush}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := run(t, mustAggregator(t, w), "m", tt.script)
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestSlidingTimeGroupsAndSums(t *testing.T) {
	w := manifest.Window{Name: "vol", Module: "m", Kind: manifest.Sliding,
		Size: manifest.Span{Time: 10 * time.Second}, Step: manifest.Span{Time: 5 * time.Second},
		GroupBy: "token", Sum: []string{"value", "fee.amount"}}
	a := mustAggregator(t, w)
	got := run(t, a, "m", []step{
		rows(100, 1001, `{"token":"b","value":"340282366920938463463374607431768211455"}`,
			`{"token":"a","value":1,"fee":{"amount":"-3"}}`),
		adv(100, 1001),
		rows(101, 1007, `{"token":"\u0061","value":"2","fee":{"amount":5}}`, `{"value":7}`),
		adv(101, 1007),
		adv(102, 1010),
		rows(103, 1016, `{"token":"a","value":null,"fee":"n/a"}`),
		flush,
	})
	want := []string{
		// [995,1005) ends when block 101 (time 1007) arrives. It and
		// [1000,1010) start before the first time seen (1001): incomplete.
		`101: {"window":"vol","start":995,"end":1005,"unit":"seconds","group":"a","count":1,"sums":{"value":"1","fee.amount":"-3"},"complete":false}`,
		`101: {"window":"vol","start":995,"end":1005,"unit":"seconds","group":"b","count":1,"sums":{"value":"340282366920938463463374607431768211455","fee.amount":"0"},"complete":false}`,
		// [1000,1010): emitted at block 102 whose time is 1010.
		`102: {"window":"vol","start":1000,"end":1010,"unit":"seconds","group":"a","count":2,"sums":{"value":"3","fee.amount":"2"},"complete":false}`,
		`102: {"window":"vol","start":1000,"end":1010,"unit":"seconds","group":"b","count":1,"sums":{"value":"340282366920938463463374607431768211455","fee.amount":"0"},"complete":false}`,
		`102: {"window":"vol","start":1000,"end":1010,"unit":"seconds","group":null,"count":1,"sums":{"value":"7","fee.amount":"0"},"complete":false}`,
		`103: {"window":"vol","start":1005,"end":1015,"unit":"seconds","group":"a","count":1,"sums":{"value":"2","fee.amount":"5"},"complete":true}`,
		`103: {"window":"vol","start":1005,"end":1015,"unit":"seconds","group":null,"count":1,"sums":{"value":"7","fee.amount":"0"},"complete":true}`,
		// Flush: [1010,1020) and [1015,1025) may still get rows at 1016..1024.
		`103: {"window":"vol","start":1010,"end":1020,"unit":"seconds","group":"a","count":1,"sums":{"value":"0","fee.amount":"0"},"complete":false}`,
		`103: {"window":"vol","start":1015,"end":1025,"unit":"seconds","group":"a","count":1,"sums":{"value":"0","fee.amount":"0"},"complete":false}`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// Group values are compared by value: escapes, "-0" and member order do
// not split groups; strings, integers, booleans and null are distinct.
func TestGroupValues(t *testing.T) {
	w := manifest.Window{Name: "g", Module: "m", Kind: manifest.Tumbling, Size: manifest.Span{Blocks: 100}, GroupBy: "k.v"}
	got := run(t, mustAggregator(t, w), "m", []step{
		rows(1, 0, `{"k":{"v":"x\"y"}}`, `{"k":{"v":"x\u0022y"}}`, `{"k":{"v":0}}`, `{"k":{"v":-0}}`, `{"k":{"v":"0"}}`,
			`{"k":{"v":true}}`, `{"k":"flat"}`, `{"k":{"v":null}}`, `{}`, `{"k":{"v":"é\n"}}`,
			`{"k":{"v":123456789012345678901234567890}}`),
		flush,
	})
	want := []string{
		`1: {"window":"g","start":0,"end":100,"unit":"blocks","group":"0","count":1,"complete":false}`,
		`1: {"window":"g","start":0,"end":100,"unit":"blocks","group":"x\"y","count":2,"complete":false}`,
		`1: {"window":"g","start":0,"end":100,"unit":"blocks","group":"é\n","count":1,"complete":false}`,
		`1: {"window":"g","start":0,"end":100,"unit":"blocks","group":0,"count":2,"complete":false}`,
		`1: {"window":"g","start":0,"end":100,"unit":"blocks","group":123456789012345678901234567890,"count":1,"complete":false}`,
		`1: {"window":"g","start":0,"end":100,"unit":"blocks","group":null,"count":3,"complete":false}`,
		`1: {"window":"g","start":0,"end":100,"unit":"blocks","group":true,"count":1,"complete":false}`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// Block times that go back count as the latest time seen.
func TestTimeNeverGoesBack(t *testing.T) {
	w := manifest.Window{Name: "t", Module: "m", Kind: manifest.Tumbling, Size: manifest.Span{Time: time.Minute}}
	got := run(t, mustAggregator(t, w), "m", []step{
		adv(1, 59), rows(2, 119, "x"), rows(3, 100, "x"), rows(4, 120, "x"), adv(5, 150), flush,
	})
	want := []string{
		`4: {"window":"t","start":60,"end":120,"unit":"seconds","count":2,"complete":true}`,
		`5: {"window":"t","start":120,"end":180,"unit":"seconds","count":1,"complete":false}`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestAggregatorRowErrors(t *testing.T) {
	w := manifest.Window{Name: "w", Module: "m", Kind: manifest.Tumbling, Size: manifest.Span{Blocks: 5}, GroupBy: "g", Sum: []string{"v"}}
	tests := []struct {
		row    string
		detail string
	}{
		{`not json`, "not valid JSON"},
		{`[1,2]`, "not a JSON object but an array"},
		{`"s"`, "not a JSON object but a string"},
		{`null`, "not a JSON object but null"},
		{`{"v":1}{}`, "not valid JSON"},
		{"{\"g\":\"\xff\"}", "not valid UTF-8"},
		{`{"g":{"a":1}}`, `field g: {"a":1} is not a string, integer or boolean`},
		{`{"g":[1]}`, "field g: [1] is not a string, integer or boolean"},
		{`{"g":1.5}`, "field g: 1.5 is not a string, integer or boolean"},
		{`{"g":1e3}`, "field g: 1e3 is not a string, integer or boolean"},
		{`{"v":1.0}`, "field v: 1.0 is not an integer"},
		{`{"v":"0x10"}`, `field v: "0x10" is not a decimal integer`},
		{`{"v":"+1"}`, `field v: "+1" is not a decimal integer`},
		{`{"v":""}`, `field v: "" is not a decimal integer`},
		{`{"v":"-"}`, `field v: "-" is not a decimal integer`},
		{`{"v":true}`, "field v: true is not an integer"},
		{`{"v":{}}`, "field v: {} is not an integer"},
		{`{"v":-` + strings.Repeat("9", MaxIntDigits+1) + `}`, "field v: integer of 1025 digits exceeds 1024"},
		{`{"v":"` + strings.Repeat("9", MaxIntDigits+1) + `"}`, "field v: integer of 1025 digits exceeds 1024"},
		{`{"g":` + strings.Repeat("9", MaxIntDigits+1) + `}`, "field g: integer of 1025 digits exceeds 1024"},
	}
	for _, tt := range tests {
		a := mustAggregator(t, w)
		if _, err := a.Add("m", Row{Block: 7, JSON: []byte(`{"v":1}`)}, Row{Block: 7, JSON: []byte(`{"v":2}`)}); err != nil {
			t.Fatal(err)
		}
		_, err := a.Add("m", Row{Block: 7, JSON: []byte(tt.row)})
		var re *RowError
		if !errors.As(err, &re) || !errors.Is(err, ErrMalformedRow) {
			t.Errorf("%s: err = %v, want a *RowError", tt.row, err)
			continue
		}
		if !strings.Contains(err.Error(), "window w: m block 7 row 2: "+tt.detail) {
			t.Errorf("%s: %q lacks %q", tt.row, err, tt.detail)
		}
		// The failing row is not counted.
		out, _ := a.Flush()
		if len(out) != 1 || !strings.Contains(string(out[0].JSON), `"count":2,"sums":{"v":"3"}`) {
			t.Errorf("%s: after the error: %v", tt.row, out)
		}
	}
}

func TestAggregatorPositionErrors(t *testing.T) {
	blocks := manifest.Window{Name: "w", Module: "m", Kind: manifest.Tumbling, Size: manifest.Span{Blocks: 5}}
	timed := manifest.Window{Name: "w", Module: "m", Kind: manifest.Tumbling, Size: manifest.Span{Time: time.Hour}}
	tests := []struct {
		name string
		w    manifest.Window
		do   func(a *Aggregator) error
		want error
		text string
	}{
		{"block goes back", blocks, func(a *Aggregator) error {
			_, _ = a.Add("m", Row{Block: 5})
			_, err := a.Add("m", Row{Block: 4})
			return err
		}, ErrOutOfOrder, "block 4 after block 5"},
		{"advance goes back", blocks, func(a *Aggregator) error {
			_, _ = a.Add("m", Row{Block: 5})
			_, err := a.Advance(4, 0)
			return err
		}, ErrOutOfOrder, "block 4 after block 5"},
		{"row after its block's advance", blocks, func(a *Aggregator) error {
			_, _ = a.Advance(5, 0)
			_, err := a.Add("m", Row{Block: 5})
			return err
		}, ErrOutOfOrder, "a row of block 5 after Advance(5)"},
		{"huge block", blocks, func(a *Aggregator) error {
			_, err := a.Add("m", Row{Block: 1 << 63})
			return err
		}, ErrMalformedRow, "block 9223372036854775808 row 0: block number exceeds"},
		{"no time", timed, func(a *Aggregator) error {
			_, err := a.Add("m", Row{Block: 5})
			return err
		}, ErrMalformedRow, "m block 5 row 0: no block time"},
		{"advance without time", timed, func(a *Aggregator) error {
			_, err := a.Advance(5, 0)
			return err
		}, ErrMalformedRow, "window w: block 5: no block time"},
		{"two times in one block", timed, func(a *Aggregator) error {
			_, _ = a.Add("m", Row{Block: 5, Time: 100})
			_, err := a.Add("m", Row{Block: 5, Time: 101})
			return err
		}, ErrMalformedRow, "block 5 row 1: time 101 differs from time 100"},
		{"advance disagrees on the time", timed, func(a *Aggregator) error {
			_, _ = a.Add("m", Row{Block: 5, Time: 100})
			_, err := a.Advance(5, 99)
			return err
		}, ErrMalformedRow, "time 99 differs"},
		{"wrong module", blocks, func(a *Aggregator) error {
			_, err := a.Add("other", Row{Block: 5})
			return err
		}, ErrUnknownModule, `rows of "other"`},
		{"add after flush", blocks, func(a *Aggregator) error {
			_, _ = a.Flush()
			_, err := a.Add("m", Row{Block: 5})
			return err
		}, ErrFlushed, "add after flush"},
		{"flush twice", blocks, func(a *Aggregator) error {
			_, _ = a.Flush()
			_, err := a.Flush()
			return err
		}, ErrFlushed, "flushed twice"},
	}
	for _, tt := range tests {
		err := tt.do(mustAggregator(t, tt.w))
		if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.text) {
			t.Errorf("%s: err = %v, want %v with %q", tt.name, err, tt.want, tt.text)
		}
	}
	// Block windows ignore times entirely, zero or inconsistent.
	a := mustAggregator(t, blocks)
	for _, r := range []Row{{Block: 1}, {Block: 1, Time: 9}, {Block: 2, Time: 3}} {
		if _, err := a.Add("m", r); err != nil {
			t.Errorf("block window, row %+v: %v", r, err)
		}
	}
	// A count-only window does not decode rows.
	if _, err := a.Add("m", Row{Block: 3, JSON: []byte("\x00 not json")}); err != nil {
		t.Errorf("count-only window decoded a row: %v", err)
	}
}

func TestNewAggregatorInvalid(t *testing.T) {
	ok := manifest.Window{Name: "w", Module: "m", Kind: manifest.Sliding, Size: manifest.Span{Blocks: 10}, Step: manifest.Span{Blocks: 5}}
	if _, err := NewAggregator(ok); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		change func(w *manifest.Window)
		text   string
	}{
		{"no name", func(w *manifest.Window) { w.Name = "" }, "no name"},
		{"no module", func(w *manifest.Window) { w.Module = "" }, "no module"},
		{"bad kind", func(w *manifest.Window) { w.Kind = "hopping" }, `kind "hopping"`},
		{"no size", func(w *manifest.Window) { w.Size = manifest.Span{} }, "size"},
		{"both units", func(w *manifest.Window) { w.Size.Time = time.Second }, "size"},
		{"sub-second", func(w *manifest.Window) { w.Size = manifest.Span{Time: 1500 * time.Millisecond} }, "whole number of seconds"},
		{"negative", func(w *manifest.Window) { w.Size = manifest.Span{Time: -time.Hour} }, "whole number of seconds"},
		{"huge", func(w *manifest.Window) { w.Size = manifest.Span{Blocks: 1 << 63} }, "exceed"},
		{"no step", func(w *manifest.Window) { w.Step = manifest.Span{} }, "step"},
		{"step over size", func(w *manifest.Window) { w.Step = manifest.Span{Blocks: 11} }, "not at most the size"},
		{"step in seconds", func(w *manifest.Window) { w.Step = manifest.Span{Time: time.Second} }, "same unit"},
		{"tumbling step", func(w *manifest.Window) { w.Kind = manifest.Tumbling }, "tumbling window's step"},
		{"overlap", func(w *manifest.Window) { w.Size = manifest.Span{Blocks: 10_001}; w.Step = manifest.Span{Blocks: 1} }, "more than 10000 windows"},
		{"group path", func(w *manifest.Window) { w.GroupBy = "a..b" }, "group_by"},
		{"sum path", func(w *manifest.Window) { w.Sum = []string{"1a"} }, "sum"},
		{"sum repeat", func(w *manifest.Window) { w.Sum = []string{"a", "a"} }, "repeated"},
		{"many sums", func(w *manifest.Window) { w.Sum = strings.Split("a b c d e f g h i j k l m n o p q", " ") }, "17 sums"},
	}
	for _, tt := range tests {
		w := ok
		tt.change(&w)
		_, err := NewAggregator(w)
		if !errors.Is(err, ErrInvalidSpec) || !strings.Contains(err.Error(), tt.text) {
			t.Errorf("%s: err = %v, want ErrInvalidSpec with %q", tt.name, err, tt.text)
		}
	}
	// The overlap limit is exactly MaxOverlap.
	w := ok
	w.Size, w.Step = manifest.Span{Blocks: MaxOverlap}, manifest.Span{Blocks: 1}
	if _, err := NewAggregator(w); err != nil {
		t.Errorf("overlap of exactly %d: %v", MaxOverlap, err)
	}
}

// Every window of a valid manifest can be run.
func TestManifestWindows(t *testing.T) {
	m := manifest.Manifest{APIVersion: manifest.APIVersion, Kind: manifest.Kind, Name: "p",
		Modules: []manifest.Module{{Name: "m", Kind: manifest.KindMap, File: "m.wasm", Entrypoint: "run", Output: "json:x",
			Inputs: []manifest.Input{{Kind: manifest.InputSource, Source: manifest.SourceEthereumLogs}}}},
		Windows: []manifest.Window{
			{Name: "a", Module: "m", Kind: manifest.Tumbling, Size: manifest.Span{Time: time.Hour}, Step: manifest.Span{Time: time.Hour}},
			{Name: "b", Module: "m", Kind: manifest.Sliding, Size: manifest.Span{Time: time.Hour}, Step: manifest.Span{Time: 7 * time.Minute}, GroupBy: "x.y", Sum: []string{"v"}},
		},
		Rules: []manifest.Rule{{Name: "r", First: "m", Then: "m", Within: manifest.MaxRuleWithin, Key: "a.b_c"}},
	}
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, w := range m.Windows {
		if _, err := NewAggregator(w); err != nil {
			t.Errorf("window %s: %v", w.Name, err)
		}
	}
	for _, r := range m.Rules {
		if _, err := NewMatcher(r); err != nil {
			t.Errorf("rule %s: %v", r.Name, err)
		}
	}
}

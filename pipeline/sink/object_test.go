package sink

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
)

func TestParseObject(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []field
		err  bool
	}{
		{in: `{}`, want: nil},
		{in: " \t{ }\n", want: nil},
		{in: `{"a":"x\"y\\u0041","b":-1.5e+3,"c":true,"d":false,"e":null,"f":{"g": [1, {"h":"}"}]},"i":[]}`, want: []field{
			{"a", kindString, `x"y\u0041`},
			{"b", kindNumber, "-1.5e+3"},
			{"c", kindBool, "true"},
			{"d", kindBool, "false"},
			{"e", kindNull, ""},
			{"f", kindJSON, `{"g": [1, {"h":"}"}]}`},
			{"i", kindJSON, `[]`},
		}},
		{in: `{ "a" : "\u00e9" , "b" : 0 }`, want: []field{{"a", kindString, "é"}, {"b", kindNumber, "0"}}},
		{in: `{"\u0061b":1}`, want: []field{{"ab", kindNumber, "1"}}}, // escaped keys are decoded
		{in: `{"a":"\ud800"}`, want: []field{{"a", kindString, "\ufffd"}}},
		{in: `[]`, err: true},
		{in: `{"a":1,}`, err: true},
		{in: `{"a":1}{}`, err: true},
		{in: `{"A":1}`, err: true},
		{in: `{"a b":1}`, err: true},
		{in: `{"":1}`, err: true},
		{in: `{"a":1,"a":1}`, err: true},
		{in: "{\"a\":\"\xc3\"}", err: true},
		{in: `{"a":01}`, err: true},
	} {
		got, err := parseObject([]byte(tc.in))
		if (err != nil) != tc.err {
			t.Errorf("parseObject(%s) error = %v, want error %v", tc.in, err, tc.err)
			continue
		}
		if !tc.err && !reflect.DeepEqual(got, tc.want) {
			t.Errorf("parseObject(%s) =\n%q\nwant\n%q", tc.in, got, tc.want)
		}
	}
}

func TestAppendStringMatchesEncodingJSON(t *testing.T) {
	for _, s := range []string{"", "plain", "é😀", "\"\\/", "\b\f\n\r\t\x00\x1f\x7f", "<a&b>", "\u2028\u2029", "\xff"} {
		want, _ := json.Marshal(s) // escapes <>& as \u003c...; undo that one difference
		var dec string
		json.Unmarshal(want, &dec)
		got := appendString(nil, s)
		var back string
		if err := json.Unmarshal(got, &back); err != nil || back != dec {
			t.Errorf("appendString(%q) = %s, decodes to %q (%v), want %q", s, got, back, err, dec)
		}
	}
	if got := string(appendString(nil, "<&>\b\u2028")); got != `"<&>\b\u2028"` {
		t.Errorf("appendString = %s", got)
	}
}

func TestCheckIdent(t *testing.T) {
	for name, ok := range map[string]bool{
		"a": true, "transfers": true, "a_1": true, "a__": true,
		"": false, "_a": false, "1a": false, "A": false, "a-b": false, "a b": false, "é": false,
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa":  true,  // 63
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa": false, // 64
	} {
		if err := checkIdent(name); (err == nil) != ok {
			t.Errorf("checkIdent(%q) = %v", name, err)
		}
	}
	if checkTableName("ipdm_x") == nil || checkTableName("ipdmx") != nil {
		t.Error("checkTableName: reserved prefix not handled")
	}
}

func TestPlanWrite(t *testing.T) {
	rows := []Row{{Block: 3}, {Block: 4}, {Block: 4}, {Block: 6}}
	for _, tc := range []struct {
		through, cur Cursor
		has          bool
		fresh        int // rows kept, from the end
		advance      bool
		err          error
	}{
		{Cursor{6, "f"}, Cursor{}, false, 4, true, nil},
		{Cursor{6, "f"}, Cursor{3, "c"}, true, 3, true, nil},
		{Cursor{6, "f"}, Cursor{4, "d"}, true, 1, true, nil},
		{Cursor{6, "f"}, Cursor{6, "f"}, true, 0, false, nil},
		{Cursor{6, "f"}, Cursor{9, "i"}, true, 0, false, nil},
		{Cursor{6, "f"}, Cursor{6, "F"}, true, 0, false, ErrCursorConflict},
	} {
		fresh, advance, err := planWrite(rows, tc.through, tc.cur, tc.has)
		if !errors.Is(err, tc.err) || err == nil && (len(fresh) != tc.fresh || advance != tc.advance) {
			t.Errorf("planWrite(through %v, cur %v %v) = %d rows, %v, %v", tc.through, tc.cur, tc.has, len(fresh), advance, err)
		}
	}
}

func TestBuildPlan(t *testing.T) {
	cur := schema{
		"old":   {owner: "p", cols: []column{{"a", kindNumber}, {"n", kindNull}}},
		"other": {owner: "q"},
	}
	rows := []Row{
		{Table: "old", Block: 1, JSON: []byte(`{"n":"s","b":true}`)},
		{Table: "new", Block: 1, JSON: []byte(`{"x":null}`)},
		{Table: "new", Block: 2, JSON: []byte(`{"x":[1],"y":2}`)},
	}
	p, err := buildPlan(cur, "p", rows, 0, false)
	if err != nil {
		t.Fatal(err)
	}
	want := []change{
		{op: opSetKind, table: "old", col: column{"n", kindString}, pos: 1},
		{op: opAddColumn, table: "old", col: column{"b", kindBool}, pos: 2},
		{op: opCreateTable, table: "new"},
		{op: opAddColumn, table: "new", col: column{"x", kindJSON}, pos: 0}, // kind settled within the write
		{op: opAddColumn, table: "new", col: column{"y", kindNumber}, pos: 1},
	}
	if !reflect.DeepEqual(p.changes, want) {
		t.Errorf("changes =\n%+v\nwant\n%+v", p.changes, want)
	}
	ins := p.inserts[1]
	wantVals := [][]value{{{kindNull, ""}, {kindJSON, "[1]"}}, {{kindNull, ""}, {kindNumber, "2"}}}
	if ins.table != "new" || !reflect.DeepEqual(ins.vals, wantVals) || !reflect.DeepEqual(ins.blocks, []int64{1, 2}) {
		t.Errorf("insert = %+v", ins)
	}
	// The cached schema is untouched; the plan's is updated.
	if cur["old"].cols[1].kind != kindNull || len(cur["old"].cols) != 2 || cur["new"] != nil {
		t.Error("buildPlan modified the cached schema")
	}
	if p.next["old"].cols[1].kind != kindString || len(p.next["new"].cols) != 2 {
		t.Error("plan schema not updated")
	}
	if _, err := buildPlan(cur, "p", []Row{{Table: "other", JSON: []byte(`{}`)}}, 0, false); !errors.Is(err, ErrNameConflict) {
		t.Errorf("writing another pipeline's table = %v", err)
	}
	if _, err := buildPlan(cur, "p", []Row{{Table: "t", JSON: []byte(`{"s":"a\u0000"}`)}}, 0, true); !errors.Is(err, ErrInvalidRow) {
		t.Errorf("NUL with noNUL = %v", err)
	}
}

func TestDerivedPath(t *testing.T) {
	for in, want := range map[string]string{
		"out.jsonl":      "out.t.jsonl",
		"/a/b/out.jsonl": "/a/b/out.t.jsonl",
		"out":            "out.t",
		"/a.d/out":       "/a.d/out.t",
		".jsonl":         ".jsonl.t",
		"x.tar.gz":       "x.tar.t.gz",
	} {
		if got := derivedPath(in, "t"); got != want {
			t.Errorf("derivedPath(%q) = %q, want %q", in, got, want)
		}
	}
}

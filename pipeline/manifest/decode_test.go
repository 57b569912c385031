package manifest

import (
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
)

// base is a small valid manifest; its line numbers are used below.
const base = `apiVersion: ipdm/v1
kind: Pipeline
name: p
modules:
  - name: a
    kind: map
    file: a.wasm
    entrypoint: run
    start_block: 10
    inputs:
      - source: ethereum-block
    output: json:t.A
  - name: s
    kind: store
    file: s.wasm
    entrypoint: run
    inputs:
      - map: a
    value_type: bigint
    update_policy: add
`

// extra is a third module, appended to base by some cases.
const extra = `  - name: b
    kind: map
    file: b.wasm
    entrypoint: run
    inputs:
`

func TestBaseIsValid(t *testing.T) {
	m, err := Decode([]byte(base))
	if err != nil {
		t.Fatal(err)
	}
	if m.Modules[1].StartBlock != 10 {
		t.Errorf("store start block %d, want 10 inherited from a", m.Modules[1].StartBlock)
	}
}

func TestDecodeMalformed(t *testing.T) {
	with := func(old, new string) string {
		t.Helper()
		if !strings.Contains(base, old) {
			t.Fatalf("base lacks %q", old)
		}
		return strings.Replace(base, old, new, 1)
	}
	tests := []struct {
		name   string
		doc    string
		path   string // a problem must be reported at this path …
		detail string // … with this in its detail …
		line   int    // … on this line (0: not checked)
	}{
		// Syntax and document shape.
		{"syntax", "modules: [", "manifest", "syntax", 0},
		{"tab indentation", "name: p\n\tkind: x\n", "manifest", "syntax", 0},
		{"empty", "", "manifest", "empty document", 0},
		{"comment only", "# nothing\n", "manifest", "empty document", 0},
		{"two documents", base + "---\n" + base, "manifest", "more than one YAML document", 0},
		{"list at top", "- a\n- b\n", "manifest", "must be a mapping, not a list", 1},
		{"scalar at top", "hello\n", "manifest", "must be a mapping", 1},
		{"too large", base + "# " + strings.Repeat("x", MaxManifestSize) + "\n", "manifest", "exceeds the limit", 0},
		// Strictness.
		{"unknown field", base + "colour: red\n", "manifest.colour", "unknown field", 21},
		{"misspelt module field", with("    entrypoint: run\n    start_block", "    entrypiont: run\n    start_block"), "manifest.modules[0].entrypiont", "unknown field", 8},
		{"misspelt field leaves it missing", with("    entrypoint: run\n    start_block", "    entrypiont: run\n    start_block"), "manifest.modules[0].entrypoint", "missing", 5},
		{"duplicate field", with("kind: Pipeline\n", "kind: Pipeline\nkind: Pipeline\n"), "manifest.kind", "duplicate field", 3},
		{"anchor", with("name: p", "name: &n p"), "manifest.name", "anchors are not allowed", 3},
		{"alias", with("name: p", "name: &n p\ndescription: *n"), "manifest.description", "aliases are not allowed", 4},
		{"merge key", with("  - name: s\n", "  - <<: {kind: store}\n    name: s\n"), "manifest.modules[1]", "merge keys", 13},
		{"explicit tag", with("name: p", "name: !!str p"), "manifest.name", "explicit tags", 3},
		{"non-string key", with("    entrypoint: run\n    start_block", "    entrypoint: run\n    1: x\n    start_block"), "manifest.modules[0]", "a key must be a string", 9},
		// Top-level fields.
		{"wrong apiVersion", with("ipdm/v1", "ipdm/v2"), "manifest.apiVersion", `must be "ipdm/v1"`, 1},
		{"wrong kind", with("kind: Pipeline", "kind: Job"), "manifest.kind", `must be "Pipeline"`, 2},
		{"missing apiVersion", strings.Replace(base, "apiVersion: ipdm/v1\n", "", 1), "manifest.apiVersion", "must be", 0},
		{"name not a string", with("name: p", "name: 123"), "manifest.name", "must be a string, not the integer 123", 3},
		{"bad name", with("name: p", "name: Bad Name"), "manifest.name", "is not a name", 3},
		{"zero segment size", base + "segment_size: 0\n", "manifest.segment_size", "must be positive", 21},
		{"negative segment size", base + "segment_size: -5\n", "manifest.segment_size", "negative", 21},
		{"fractional segment size", base + "segment_size: 1.5\n", "manifest.segment_size", "not the number 1.5", 21},
		{"huge segment size", base + "segment_size: 2000000\n", "manifest.segment_size", "exceeds the maximum", 21},
		{"overflowing integer", base + "segment_size: 99999999999999999999\n", "manifest.segment_size", "64 bits", 21},
		{"no modules", "apiVersion: ipdm/v1\nkind: Pipeline\nname: p\n", "manifest.modules", "at least one module", 0},
		{"modules not a list", "apiVersion: ipdm/v1\nkind: Pipeline\nname: p\nmodules: {a: 1}\n", "manifest.modules", "must be a list, not a mapping", 4},
		// Modules.
		{"duplicate module", with("  - name: s", "  - name: a"), "manifest.modules[1].name", `duplicate name "a"`, 13},
		{"bad kind", with("kind: map", "kind: reduce"), "manifest.modules[0].kind", `"reduce" is not map or store`, 6},
		{"missing kind", with("    kind: map\n", ""), "manifest.modules[0].kind", "missing", 5},
		{"file and cid", with("    file: a.wasm\n", "    file: a.wasm\n    cid: bafkreih37mkjwjab7bzlxqu74idufcakiwxahrpg7caa6trvaod7yt4wmq\n"), "manifest.modules[0]", "both file and cid", 5},
		{"no binary", with("    file: a.wasm\n", ""), "manifest.modules[0].file", "name the Wasm binary", 5},
		{"absolute file", with("file: a.wasm", "file: /etc/a.wasm"), "manifest.modules[0].file", "not a relative path", 7},
		{"escaping file", with("file: a.wasm", "file: lib/../../a.wasm"), "manifest.modules[0].file", "not a relative path", 7},
		{"backslash file", with("file: a.wasm", `file: 'lib\a.wasm'`), "manifest.modules[0].file", "not a relative path", 7},
		{"bad cid", with("file: a.wasm", "cid: notacid"), "manifest.modules[0].cid", "is not a CID", 7},
		{"bad entrypoint", with("entrypoint: run\n    start", "entrypoint: run-it\n    start"), "manifest.modules[0].entrypoint", "exported function name", 8},
		{"negative start", with("start_block: 10", "start_block: -1"), "manifest.modules[0].start_block", "-1 is negative", 9},
		{"string start", with("start_block: 10", "start_block: ten"), "manifest.modules[0].start_block", `not the string "ten"`, 9},
		{"float start", with("start_block: 10", "start_block: 1e3"), "manifest.modules[0].start_block", "not the number 1e3", 9},
		{"start too large", with("start_block: 10", "start_block: 18446744073709551615"), "manifest.modules[0].start_block", "exceeds", 9},
		{"start before input", with("    entrypoint: run\n    inputs:\n      - map: a", "    entrypoint: run\n    start_block: 5\n    inputs:\n      - map: a"), "manifest.modules[1].start_block", `5 is before 10, the start block of input "a"`, 17},
		// Inputs.
		{"unknown input", with("- map: a", "- map: nope"), "manifest.modules[1].inputs[0].map", `no module named "nope"`, 18},
		{"store where map required", base + extra + "      - map: s\n    output: json:t.B\n", "manifest.modules[2].inputs[0].map", `"s" is a store; a map module's output is required`, 26},
		{"map read as store", base + extra + "      - source: ethereum-block\n      - store: a\n    output: json:t.B\n", "manifest.modules[2].inputs[1].store", `"a" is a map module, not a store`, 27},
		{"two kinds in one input", with("      - source: ethereum-block\n", "      - source: ethereum-block\n        map: s\n"), "manifest.modules[0].inputs[0].map", "one of source, map, store or params", 12},
		{"input without kind", with("      - map: a\n", "      - map: a\n      - mode: get\n"), "manifest.modules[1].inputs[1]", "missing: an input is one of", 19},
		{"input not a mapping", with("      - map: a\n", "      - a\n"), "manifest.modules[1].inputs[0]", "must be a mapping", 18},
		{"mode on a map input", with("      - map: a\n", "      - map: a\n        mode: get\n"), "manifest.modules[1].inputs[0].mode", "only store inputs have a mode", 19},
		{"bad store mode", base + extra + "      - source: ethereum-block\n      - store: s\n        mode: latest\n    output: json:t.B\n", "manifest.modules[2].inputs[1].mode", `"latest" is not get or deltas`, 28},
		{"unknown source", with("source: ethereum-block", "source: bitcoin-block"), "manifest.modules[0].inputs[0].source", `"bitcoin-block" is not a source kind`, 11},
		{"map type mismatch", with("      - map: a\n", "      - map: a\n        type: json:t.B\n"), "manifest.modules[1].inputs[0].type", `declared json:t.B, but "a" outputs json:t.A`, 19},
		{"source type mismatch", with("      - source: ethereum-block\n", "      - source: ethereum-block\n        type: json:ipdm.ethereum.logs.v1\n"), "manifest.modules[0].inputs[0].type", "yields json:ipdm.ethereum.block.v1", 12},
		{"type on a store input", base + extra + "      - source: ethereum-block\n      - store: s\n        type: json:t.A\n    output: json:t.B\n", "manifest.modules[2].inputs[1].type", "only source and map inputs declare a type", 28},
		{"malformed type", with("      - map: a\n", "      - map: a\n        type: t.A\n"), "manifest.modules[1].inputs[0].type", `"t.A" is not a type`, 19},
		{"two params", with("      - map: a\n", "      - map: a\n      - params: x\n      - params: y\n"), "manifest.modules[1].inputs[2].params", "at most one params input", 20},
		{"params not a string", with("      - map: a\n", "      - map: a\n      - params: 42\n"), "manifest.modules[1].inputs[1].params", "must be a string, not the integer 42", 19},
		{"duplicate input", with("      - source: ethereum-block\n", "      - source: ethereum-block\n      - source: ethereum-block\n"), "manifest.modules[0].inputs[1]", "the same input as inputs[0]", 12},
		{"reads itself", with("      - map: a\n", "      - map: a\n      - store: s\n"), "manifest.modules[1].inputs[1].store", `module "s" reads its own output`, 19},
		{"cycle", base + extra + "      - map: c\n    output: json:t.B\n  - name: c\n    kind: map\n    file: c.wasm\n    entrypoint: run\n    inputs:\n      - map: b\n    output: json:t.C\n",
			"manifest.modules[3].inputs[0]", "cycle: b -> c -> b", 33},
		{"params only", with("      - map: a\n", "      - params: x\n"), "manifest.modules[1].inputs", "needs a source or map input", 17},
		{"no inputs", with("    inputs:\n      - map: a\n", ""), "manifest.modules[1].inputs", "needs a source or map input", 13},
		{"two chains", base + extra + "      - source: solana-instructions\n    output: json:t.B\n", "manifest.modules", "more than one chain", 4},
		// Outputs and stores.
		{"map without output", with("    output: json:t.A\n", ""), "manifest.modules[0].output", "missing: a map module declares its output type", 5},
		{"malformed output", with("output: json:t.A", "output: JSON"), "manifest.modules[0].output", `"JSON" is not a type`, 12},
		{"map with value type", with("    output: json:t.A\n", "    output: json:t.A\n    value_type: bigint\n"), "manifest.modules[0].value_type", "only store modules", 13},
		{"store with output", base + "    output: json:t.S\n", "manifest.modules[1].output", "has no output type", 21},
		{"unknown policy", with("update_policy: add", "update_policy: sum"), "manifest.modules[1].update_policy", `"sum" is not set, set_if_absent, add, min, max or append`, 20},
		{"missing policy", with("    update_policy: add\n", ""), "manifest.modules[1].update_policy", "missing", 13},
		{"unknown value type", with("value_type: bigint", "value_type: float64"), "manifest.modules[1].value_type", `"float64" is not bigint, int64, string or bytes`, 19},
		{"add on strings", with("value_type: bigint", "value_type: string"), "manifest.modules[1].update_policy", "add does not apply to string values", 20},
		{"append on integers", with("update_policy: add", "update_policy: append"), "manifest.modules[1].update_policy", "append does not apply to bigint values", 20},
		{"max on bytes", with("value_type: bigint\n    update_policy: add", "value_type: bytes\n    update_policy: max"), "manifest.modules[1].update_policy", "max does not apply to bytes values", 20},
		// Windows.
		{"window of unknown module", base + "windows:\n  - {name: w, module: x, kind: tumbling, size: 10}\n", "manifest.windows[0].module", `no module named "x"`, 22},
		{"window of a store", base + "windows:\n  - {name: w, module: s, kind: tumbling, size: 10}\n", "manifest.windows[0].module", `"s" is a store`, 22},
		{"window kind", base + "windows:\n  - {name: w, module: a, kind: hopping, size: 10}\n", "manifest.windows[0].kind", `"hopping" is not tumbling or sliding`, 22},
		{"window zero size", base + "windows:\n  - {name: w, module: a, kind: tumbling, size: 0}\n", "manifest.windows[0].size", "must be positive", 22},
		{"window bad duration", base + "windows:\n  - {name: w, module: a, kind: tumbling, size: an hour}\n", "manifest.windows[0].size", "neither a number of blocks nor a duration", 22},
		{"window sub-second", base + "windows:\n  - {name: w, module: a, kind: tumbling, size: 1500ms}\n", "manifest.windows[0].size", "whole number of seconds", 22},
		{"window negative duration", base + "windows:\n  - {name: w, module: a, kind: tumbling, size: -1h}\n", "manifest.windows[0].size", "not positive", 22},
		{"sliding without step", base + "windows:\n  - {name: w, module: a, kind: sliding, size: 10}\n", "manifest.windows[0].step", "missing", 22},
		{"step beyond size", base + "windows:\n  - {name: w, module: a, kind: sliding, size: 10, step: 20}\n", "manifest.windows[0].step", "exceeds the size 10 blocks", 22},
		{"step in other unit", base + "windows:\n  - {name: w, module: a, kind: sliding, size: 1h, step: 20}\n", "manifest.windows[0].step", "different units", 22},
		{"tumbling step", base + "windows:\n  - {name: w, module: a, kind: tumbling, size: 10, step: 5}\n", "manifest.windows[0].step", "a tumbling window's step is its size", 22},
		{"window name clash", base + "windows:\n  - {name: a, module: a, kind: tumbling, size: 10}\n", "manifest.windows[0].name", `duplicate name "a"`, 22},
		{"window group_by not a string", base + "windows:\n  - {name: w, module: a, kind: tumbling, size: 10, group_by: [x]}\n", "manifest.windows[0].group_by", "must be a string, not a list", 22},
		{"window bad group_by", base + "windows:\n  - {name: w, module: a, kind: tumbling, size: 10, group_by: 'a b'}\n", "manifest.windows[0].group_by", `"a b" is not a field name`, 22},
		{"window sum not a list", base + "windows:\n  - {name: w, module: a, kind: tumbling, size: 10, sum: value}\n", "manifest.windows[0].sum", `must be a list, not the string "value"`, 22},
		{"window sum item not a string", base + "windows:\n  - {name: w, module: a, kind: tumbling, size: 10, sum: [value, 3]}\n", "manifest.windows[0].sum[1]", "must be a string, not the integer 3", 22},
		{"window bad sum field", base + "windows:\n  - {name: w, module: a, kind: tumbling, size: 10, sum: [value, x..y]}\n", "manifest.windows[0].sum[1]", `"x..y" is not a field name`, 22},
		{"window repeated sum field", base + "windows:\n  - {name: w, module: a, kind: tumbling, size: 10, sum: [v, w, v]}\n", "manifest.windows[0].sum[2]", `"v" is already summed at sum[0]`, 22},
		{"window too many sums", base + "windows:\n  - {name: w, module: a, kind: tumbling, size: 10, sum: [a, b, c, d, e, f, g, h, i, j, k, l, m, n, o, p, q]}\n", "manifest.windows[0].sum", "17 fields exceed the limit of 16", 22},
		{"window sum on non-JSON rows", with("output: json:t.A", "output: raw:t.A") + "windows:\n  - {name: w, module: a, kind: tumbling, size: 10, sum: [v]}\n", "manifest.windows[0].module", "group_by and sum need JSON rows", 22},
		{"window group on non-JSON rows", with("output: json:t.A", "output: proto:t.A") + "windows:\n  - {name: w, module: a, kind: tumbling, size: 10, group_by: k}\n", "manifest.windows[0].module", "group_by and sum need JSON rows", 22},
		{"unknown window field", base + "windows:\n  - {name: w, module: a, kind: tumbling, size: 10, over: time}\n", "manifest.windows[0].over", "unknown field", 22},
		// Rules.
		{"rule zero within", base + "rules:\n  - {name: r, first: a, then: a, within: 0, key: k}\n", "manifest.rules[0].within", "not between 1 and", 22},
		{"rule huge within", base + "rules:\n  - {name: r, first: a, then: a, within: 99999999, key: k}\n", "manifest.rules[0].within", "not between 1 and", 22},
		{"rule bad key", base + "rules:\n  - {name: r, first: a, then: a, within: 5, key: 'a b'}\n", "manifest.rules[0].key", "not a field name", 22},
		{"rule missing key", base + "rules:\n  - {name: r, first: a, then: a, within: 5}\n", "manifest.rules[0].key", "missing", 22},
		{"rule on a store", base + "rules:\n  - {name: r, first: a, then: s, within: 5, key: k}\n", "manifest.rules[0].then", `"s" is a store`, 22},
		{"rule on unknown module", base + "rules:\n  - {name: r, first: x, then: a, within: 5, key: k}\n", "manifest.rules[0].first", `no module named "x"`, 22},
		{"rule on non-JSON rows", with("output: json:t.A", "output: proto:t.A") + "rules:\n  - {name: r, first: a, then: a, within: 5, key: k}\n", "manifest.rules[0].first", "needs JSON rows", 22},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode([]byte(tt.doc))
			if !errors.Is(err, ErrInvalidManifest) {
				t.Fatalf("err = %v, want ErrInvalidManifest", err)
			}
			var fe *FieldErrors
			if !errors.As(err, &fe) {
				t.Fatalf("err is %T, want *FieldErrors", err)
			}
			for _, e := range fe.Errors {
				if e.Path == tt.path && strings.Contains(e.Detail, tt.detail) {
					if tt.line != 0 && e.Line != tt.line {
						t.Errorf("%s reported on line %d, want %d", e, e.Line, tt.line)
					}
					return
				}
			}
			t.Errorf("no problem at %s containing %q in:\n%s", tt.path, tt.detail, strings.ReplaceAll(err.Error(), "; ", "\n"))
		})
	}
}

// Every problem is reported at once, not just the first.
func TestDecodeReportsAllProblems(t *testing.T) {
	doc := strings.NewReplacer("kind: Pipeline", "kind: Job", "file: a.wasm", "file: /a.wasm", "update_policy: add", "update_policy: sum").Replace(base) + "colour: red\n"
	_, err := Decode([]byte(doc))
	var fe *FieldErrors
	if !errors.As(err, &fe) {
		t.Fatalf("err = %v", err)
	}
	for _, p := range []string{"manifest.kind", "manifest.modules[0].file", "manifest.modules[1].update_policy", "manifest.colour"} {
		if !fe.Has(p) {
			t.Errorf("no problem at %s in %v", p, err)
		}
	}
	if !strings.Contains(err.Error(), "(line 2)") {
		t.Errorf("error text %q lacks line numbers", err)
	}
}

func TestDecodeTruncatesProblems(t *testing.T) {
	var b strings.Builder
	b.WriteString(base)
	for i := range MaxFieldErrors + 10 {
		b.WriteString("unknown_")
		b.WriteString(strings.Repeat("x", i+1))
		b.WriteString(": 1\n")
	}
	_, err := Decode([]byte(b.String()))
	var fe *FieldErrors
	if !errors.As(err, &fe) || len(fe.Errors) != MaxFieldErrors || fe.Truncated != 10 || !strings.Contains(err.Error(), "and 10 more") {
		t.Fatalf("got %d errors, %d truncated: %v", len(fe.Errors), fe.Truncated, err)
	}
}

func TestDecodeExamples(t *testing.T) {
	data, err := os.ReadFile("testdata/erc20.yaml")
	if err != nil {
		t.Fatal(err)
	}
	m, err := Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	if m.Name != "erc20-volume" || m.SegmentSize != 500 || len(m.Modules) != 4 || len(m.Windows) != 2 || len(m.Rules) != 1 {
		t.Fatalf("decoded %+v", m)
	}
	vol, _ := m.Module("volume_by_token")
	if vol.StartBlock != 17173049 || !vol.CID.Defined() || vol.File != "" || vol.Inputs[1].Kind != InputParams || vol.Inputs[1].Params != "min_value=0" {
		t.Errorf("volume_by_token = %+v", vol)
	}
	ntv, _ := m.Module("new_token_volume")
	if ntv.StartBlock != 17173050 {
		t.Errorf("new_token_volume starts at %d, want 17173050 (the latest of its inputs)", ntv.StartBlock)
	}
	if ntv.Inputs[1].Mode != "" || ntv.Inputs[2].Mode != ModeDeltas {
		t.Errorf("modes %q %q", ntv.Inputs[1].Mode, ntv.Inputs[2].Mode)
	}
	if d := m.WithDefaults(); d.Modules[3].Inputs[1].Mode != ModeGet || m.Modules[3].Inputs[1].Mode != "" {
		t.Error("WithDefaults did not fill the store mode, or changed the original")
	}
	w := m.Windows[0]
	if w.Kind != Sliding || w.Size.Time.String() != "1h0m0s" || w.Step.Time.String() != "15m0s" || m.Windows[1].Size.Blocks != 100 {
		t.Errorf("windows %+v", m.Windows)
	}
	if w.GroupBy != "token_address" || !slices.Equal(w.Sum, []string{"value"}) || m.Windows[1].GroupBy != "" || m.Windows[1].Sum != nil {
		t.Errorf("window aggregates %+v", m.Windows)
	}
	if r := m.Rules[0]; r.Within != 10 || r.Key != "to_address" || r.First != "erc20_transfers" {
		t.Errorf("rule %+v", r)
	}
	if err := m.Validate(); err != nil {
		t.Errorf("decoded manifest does not validate: %v", err)
	}

	data, err = os.ReadFile("testdata/spl.json")
	if err != nil {
		t.Fatal(err)
	}
	s, err := Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	if s.WithDefaults().SegmentSize != DefaultSegmentSize || s.Modules[1].StartBlock != 138802069 || s.Modules[1].UpdatePolicy != PolicyAppend {
		t.Errorf("spl manifest %+v", s)
	}
}

// Window aggregates: valid forms decode, and sum: [] or null is no sums.
func TestDecodeWindowAggregates(t *testing.T) {
	tests := []struct {
		doc     string
		groupBy string
		sum     []string
	}{
		{"{name: w, module: a, kind: tumbling, size: 10}", "", nil},
		{"{name: w, module: a, kind: tumbling, size: 10, group_by: token, sum: [value, fee.amount]}", "token", []string{"value", "fee.amount"}},
		{"{name: w, module: a, kind: tumbling, size: 10, group_by: a.b_c, sum: []}", "a.b_c", nil},
		{"{name: w, module: a, kind: tumbling, size: 10, group_by: null, sum: null}", "", nil},
	}
	for _, tt := range tests {
		m, err := Decode([]byte(base + "windows:\n  - " + tt.doc + "\n"))
		if err != nil {
			t.Errorf("%s: %v", tt.doc, err)
			continue
		}
		if w := m.Windows[0]; w.GroupBy != tt.groupBy || !slices.Equal(w.Sum, tt.sum) {
			t.Errorf("%s: group_by %q sum %q", tt.doc, w.GroupBy, w.Sum)
		}
	}
}

package manifest

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"
)

func testCID(t testing.TB, s string) cid.Cid {
	t.Helper()
	h, err := mh.Sum([]byte(s), mh.SHA2_256, -1)
	if err != nil {
		t.Fatal(err)
	}
	return cid.NewCidV1(cid.Raw, h)
}

// mapModule returns a map module reading the given upstream maps, or the
// block source when there are none.
func mapModule(name string, ups ...string) Module {
	m := Module{Name: name, Kind: KindMap, File: name + ".wasm", Entrypoint: "run", Output: "json:t." + name}
	if len(ups) == 0 {
		m.Inputs = []Input{{Kind: InputSource, Source: SourceEthereumBlock}}
	}
	for _, u := range ups {
		m.Inputs = append(m.Inputs, Input{Kind: InputMap, Module: u})
	}
	return m
}

func pipeline(mods ...Module) Manifest {
	return Manifest{APIVersion: APIVersion, Kind: Kind, Name: "p", Modules: mods}
}

func TestValidateCycles(t *testing.T) {
	tests := []struct {
		name  string
		mods  []Module
		cycle string
		path  string
	}{
		{"two", []Module{mapModule("a", "b"), mapModule("b", "a")}, "a -> b -> a", "manifest.modules[1].inputs[0]"},
		{"three behind a root", []Module{mapModule("root"), mapModule("x", "root", "z"), mapModule("y", "x"), mapModule("z", "y")},
			"x -> z -> y -> x", "manifest.modules[2].inputs[0]"},
		{"through a store", []Module{
			mapModule("m", "root"),
			{Name: "s", Kind: KindStore, File: "s.wasm", Entrypoint: "run", ValueType: ValueInt64, UpdatePolicy: PolicyAdd, Inputs: []Input{{Kind: InputMap, Module: "m"}}},
			{Name: "root", Kind: KindMap, File: "r.wasm", Entrypoint: "run", Output: "json:t.r", Inputs: []Input{{Kind: InputSource, Source: SourceEthereumLogs}, {Kind: InputStore, Module: "s", Mode: ModeDeltas}}},
		}, "m -> root -> s -> m", "manifest.modules[1].inputs[0]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := pipeline(tt.mods...)
			err := m.Validate()
			var fe *FieldErrors
			if !errors.As(err, &fe) {
				t.Fatalf("err = %v", err)
			}
			found := false
			for _, e := range fe.Errors {
				found = found || (e.Path == tt.path && e.Detail == "cycle: "+tt.cycle && e.Line == 0)
			}
			if !found {
				t.Errorf("no %q at %s in %v", tt.cycle, tt.path, err)
			}
			if _, err := m.Order(); !errors.Is(err, ErrInvalidManifest) {
				t.Errorf("Order on a cyclic graph: %v", err)
			}
		})
	}
}

func TestOrder(t *testing.T) {
	// d and b are both ready after a; declaration order breaks the tie.
	m := pipeline(mapModule("e", "d", "c"), mapModule("d", "a"), mapModule("a"), mapModule("b", "a"), mapModule("c", "b", "a"))
	order, err := m.Order()
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"a", "d", "b", "c", "e"}; !slices.Equal(order, want) {
		t.Errorf("order %v, want %v", order, want)
	}
	for i := range 20 { // deterministic
		again, _ := m.Order()
		if !slices.Equal(again, order) {
			t.Fatalf("run %d: order %v", i, again)
		}
	}
	if got := m.Ancestors("e"); !slices.Equal(got, []string{"a", "d", "b", "c"}) {
		t.Errorf("ancestors of e = %v", got)
	}
	if got := m.Upstream("c"); !slices.Equal(got, []string{"b", "a"}) {
		t.Errorf("upstream of c = %v", got)
	}
	if m.Ancestors("nope") != nil || m.Upstream("a") != nil {
		t.Error("ancestors of an unknown module, or upstream of a root")
	}
}

func TestValidateCodeBuilt(t *testing.T) {
	if err := pipeline(mapModule("a"), mapModule("b", "a")).Validate(); err != nil {
		t.Fatalf("valid manifest: %v", err)
	}
	both := mapModule("a")
	both.CID = testCID(t, "a")
	bad := mapModule("b", "a")
	bad.StartBlock = MaxStartBlock + 1
	m := pipeline(both, bad, Module{Name: "c", Kind: KindStore, CID: testCID(t, "c"), Entrypoint: "run", ValueType: ValueString, UpdatePolicy: PolicyMin,
		Inputs: []Input{{Kind: "stream", Module: "a"}, {Kind: InputMap, Module: "a", Mode: ModeDeltas}}})
	m.SegmentSize = MaxSegmentSize + 1
	m.Windows = []Window{{Name: "w", Module: "a", Kind: Tumbling, Size: Span{Blocks: 5, Time: 1e9}}}
	err := m.Validate()
	var fe *FieldErrors
	if !errors.As(err, &fe) {
		t.Fatalf("err = %v", err)
	}
	for _, p := range []string{
		"manifest.segment_size", "manifest.modules[0]", "manifest.modules[1].start_block",
		"manifest.modules[2].update_policy", "manifest.modules[2].inputs[0]", "manifest.modules[2].inputs[1].mode",
		"manifest.windows[0].size",
	} {
		if !fe.Has(p) {
			t.Errorf("no problem at %s in:\n%s", p, strings.ReplaceAll(err.Error(), "; ", "\n"))
		}
	}
	for _, e := range fe.Errors {
		if e.Line != 0 {
			t.Errorf("position %d for a manifest built in code: %v", e.Line, e)
		}
	}
}

func TestLocalPath(t *testing.T) {
	for p, ok := range map[string]bool{
		"a.wasm": true, "build/a.wasm": true, "./a.wasm": true, "a/../b.wasm": true,
		"": false, ".": false, "..": false, "../a.wasm": false, "a/../../b": false, "/a.wasm": false, `a\b.wasm`: false, "a\x00b": false,
	} {
		if localPath(p) != ok {
			t.Errorf("localPath(%q) = %v", p, !ok)
		}
	}
}

// A module may read a store both ways, its state and its deltas, but not
// the same way twice.
func TestStoreReadTwoWays(t *testing.T) {
	s := Module{Name: "s", Kind: KindStore, File: "s.wasm", Entrypoint: "run", ValueType: ValueInt64, UpdatePolicy: PolicyAdd, Inputs: []Input{{Kind: InputMap, Module: "a"}}}
	b := mapModule("b", "a")
	b.Inputs = append(b.Inputs, Input{Kind: InputStore, Module: "s"}, Input{Kind: InputStore, Module: "s", Mode: ModeDeltas})
	if err := pipeline(mapModule("a"), s, b).Validate(); err != nil {
		t.Errorf("get and deltas of one store: %v", err)
	}
	b.Inputs = append(b.Inputs, Input{Kind: InputStore, Module: "s", Mode: ModeGet})
	var fe *FieldErrors
	if err := pipeline(mapModule("a"), s, b).Validate(); !errors.As(err, &fe) || !fe.Has("manifest.modules[2].inputs[3]") {
		t.Errorf("get twice (once implicitly): %v", err)
	}
}

// Window aggregates built in code are validated like decoded ones.
func TestValidateWindowAggregatesCodeBuilt(t *testing.T) {
	m := pipeline(mapModule("a"))
	m.Windows = []Window{{Name: "w", Module: "a", Kind: Tumbling, Size: Span{Blocks: 5}, GroupBy: "to", Sum: []string{"value", "fee.gas"}}}
	if err := m.Validate(); err != nil {
		t.Fatalf("valid window: %v", err)
	}
	m.Windows[0].GroupBy = "to."
	m.Windows[0].Sum = []string{"value", "", "value"}
	var fe *FieldErrors
	if err := m.Validate(); !errors.As(err, &fe) {
		t.Fatalf("err = %v", err)
	}
	for _, p := range []string{"manifest.windows[0].group_by", "manifest.windows[0].sum[1]", "manifest.windows[0].sum[2]"} {
		if !fe.Has(p) {
			t.Errorf("no problem at %s in %v", p, fe)
		}
	}
}

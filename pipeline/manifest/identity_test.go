package manifest

import (
	"bytes"
	"errors"
	"os"
	"testing"

	"github.com/ipfs/go-cid"
	"github.com/ipld/go-ipld-prime/codec/dagjson"
	"github.com/ipld/go-ipld-prime/node/basicnode"
)

func storeModule() Module {
	return Module{
		Name: "volume", Kind: KindStore, File: "v.wasm", Entrypoint: "store_volume", StartBlock: 17173049,
		Inputs: []Input{
			{Kind: InputSource, Source: SourceEthereumLogs},
			{Kind: InputMap, Module: "transfers"},
			{Kind: InputStore, Module: "prices", Mode: ModeDeltas},
			{Kind: InputParams, Params: "min=1\x00é"},
		},
		ValueType: ValueBigInt, UpdatePolicy: PolicyAdd,
	}
}

func TestIdentity(t *testing.T) {
	wasm := testCID(t, "wasm")
	ups := map[string]string{"transfers": testCID(t, "t").String(), "prices": testCID(t, "p").String()}
	base, err := Identity(storeModule(), wasm, ups)
	if err != nil {
		t.Fatal(err)
	}
	c, err := cid.Decode(base)
	if err != nil || c.Version() != 1 || c.Prefix().Codec != codecDagJSON || c.Prefix().MhType != 0x12 {
		t.Fatalf("identity %s is not a CIDv1 dag-json sha2-256: %v", base, err)
	}

	// Everything that determines the output changes the identity …
	changes := map[string]func(m *Module, w *cid.Cid, u map[string]string){
		"wasm":            func(m *Module, w *cid.Cid, u map[string]string) { *w = testCID(t, "other") },
		"entrypoint":      func(m *Module, w *cid.Cid, u map[string]string) { m.Entrypoint = "other" },
		"start block":     func(m *Module, w *cid.Cid, u map[string]string) { m.StartBlock++ },
		"params":          func(m *Module, w *cid.Cid, u map[string]string) { m.Inputs[3].Params = "min=2" },
		"source kind":     func(m *Module, w *cid.Cid, u map[string]string) { m.Inputs[0].Source = SourceEthereumBlock },
		"store mode":      func(m *Module, w *cid.Cid, u map[string]string) { m.Inputs[2].Mode = ModeGet },
		"input kind":      func(m *Module, w *cid.Cid, u map[string]string) { m.Inputs[1].Kind = InputStore },
		"input order":     func(m *Module, w *cid.Cid, u map[string]string) { m.Inputs[1], m.Inputs[2] = m.Inputs[2], m.Inputs[1] },
		"upstream":        func(m *Module, w *cid.Cid, u map[string]string) { u["transfers"] = testCID(t, "t2").String() },
		"policy":          func(m *Module, w *cid.Cid, u map[string]string) { m.UpdatePolicy = PolicyMax },
		"value type":      func(m *Module, w *cid.Cid, u map[string]string) { m.ValueType = ValueInt64 },
		"dropped input":   func(m *Module, w *cid.Cid, u map[string]string) { m.Inputs = m.Inputs[:3] },
		"params vs empty": func(m *Module, w *cid.Cid, u map[string]string) { m.Inputs[3].Params = "" },
	}
	seen := map[string]string{base: "base"}
	for name, change := range changes {
		m, w, u := storeModule(), wasm, map[string]string{"transfers": ups["transfers"], "prices": ups["prices"]}
		change(&m, &w, u)
		id, err := Identity(m, w, u)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if prev, dup := seen[id]; dup {
			t.Errorf("changing the %s gives the identity of %s", name, prev)
		}
		seen[id] = name
	}
	// … and what does not, does not.
	same := map[string]func(m *Module){
		"name":          func(m *Module) { m.Name = "renamed" },
		"file":          func(m *Module) { m.File = "elsewhere.wasm" },
		"declared type": func(m *Module) { m.Inputs[1].Type = "json:t.T" },
	}
	for name, change := range same {
		m := storeModule()
		change(&m)
		if id, err := Identity(m, wasm, ups); err != nil || id != base {
			t.Errorf("changing the %s changed the identity: %v", name, err)
		}
	}
	get := storeModule()
	get.Inputs[2].Mode = ""
	implicit, _ := Identity(get, wasm, ups)
	get.Inputs[2].Mode = ModeGet
	explicit, _ := Identity(get, wasm, ups)
	if implicit != explicit {
		t.Error("an implicit get mode and an explicit one differ")
	}
	// The module's own CID stands in for the argument, and must agree with it.
	named := storeModule()
	named.File, named.CID = "", wasm
	if id, err := Identity(named, cid.Undef, ups); err != nil || id != base {
		t.Errorf("module CID: %s, %v", id, err)
	}
	if _, err := Identity(named, testCID(t, "other"), ups); !errors.Is(err, ErrInvalidManifest) {
		t.Errorf("disagreeing CIDs: %v", err)
	}
}

func TestIdentityErrors(t *testing.T) {
	wasm := testCID(t, "wasm")
	ups := map[string]string{"transfers": testCID(t, "t").String(), "prices": testCID(t, "p").String()}
	tests := map[string]func(m *Module, u map[string]string) cid.Cid{
		"no wasm":          func(m *Module, u map[string]string) cid.Cid { return cid.Undef },
		"missing upstream": func(m *Module, u map[string]string) cid.Cid { delete(u, "prices"); return wasm },
		"upstream not cid": func(m *Module, u map[string]string) cid.Cid { u["prices"] = "x"; return wasm },
		"bad kind":         func(m *Module, u map[string]string) cid.Cid { m.Kind = "reduce"; return wasm },
		"bad policy":       func(m *Module, u map[string]string) cid.Cid { m.UpdatePolicy = PolicyAppend; return wasm },
		"bad source":       func(m *Module, u map[string]string) cid.Cid { m.Inputs[0].Source = "x"; return wasm },
		"bad mode":         func(m *Module, u map[string]string) cid.Cid { m.Inputs[2].Mode = "x"; return wasm },
		"bad input kind":   func(m *Module, u map[string]string) cid.Cid { m.Inputs[0].Kind = "x"; return wasm },
		"bad entrypoint":   func(m *Module, u map[string]string) cid.Cid { m.Entrypoint = ""; return wasm },
		"start too large":  func(m *Module, u map[string]string) cid.Cid { m.StartBlock = MaxStartBlock + 1; return wasm },
		"map without type": func(m *Module, u map[string]string) cid.Cid { m.Kind = KindMap; return wasm },
	}
	for name, change := range tests {
		m, u := storeModule(), map[string]string{"transfers": ups["transfers"], "prices": ups["prices"]}
		w := change(&m, u)
		if _, err := Identity(m, w, u); !errors.Is(err, ErrInvalidManifest) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
}

// The identity document is canonical DAG-JSON: go-ipld-prime decodes it and
// encodes exactly the same bytes.
func TestIdentityDocumentIsCanonicalDagJSON(t *testing.T) {
	wasm := testCID(t, "wasm")
	ups := map[string]string{"transfers": testCID(t, "t").String(), "prices": testCID(t, "p").String()}
	mapMod := mapModule("transfers")
	mapMod.Inputs = append(mapMod.Inputs, Input{Kind: InputParams, Params: "\xff\x00 not UTF-8"})
	for _, mod := range []Module{storeModule(), mapMod} {
		doc, err := identityDocument(mod, wasm, ups)
		if err != nil {
			t.Fatal(err)
		}
		nb := basicnode.Prototype.Any.NewBuilder()
		if err := dagjson.Decode(nb, bytes.NewReader(doc)); err != nil {
			t.Fatalf("not DAG-JSON: %v\n%s", err, doc)
		}
		var out bytes.Buffer
		if err := dagjson.Encode(nb.Build(), &out); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out.Bytes(), doc) {
			t.Errorf("not canonical:\nours   %s\nipld   %s", doc, out.Bytes())
		}
		id, _ := Identity(mod, wasm, ups)
		if id != identityCID(out.Bytes()).String() {
			t.Error("identity is not the CID of the document")
		}
	}
}

// A pinned identity: the encoding must not drift silently, or every cached
// output in a network would be orphaned. Change identityVersion instead.
func TestIdentityGolden(t *testing.T) {
	wasm, err := cid.Decode("bafkreih37mkjwjab7bzlxqu74idufcakiwxahrpg7caa6trvaod7yt4wmq")
	if err != nil {
		t.Fatal(err)
	}
	mod := mapModule("transfers")
	mod.Inputs = append(mod.Inputs, Input{Kind: InputParams, Params: "x"})
	doc, err := identityDocument(mod, wasm, nil)
	if err != nil {
		t.Fatal(err)
	}
	const wantDoc = `{"entrypoint":"run","inputs":[{"kind":"source","source":"ethereum-block"},{"kind":"params","value":{"/":{"bytes":"eA"}}}],"kind":"map","output":"json:t.transfers","start_block":0,"version":"ipdm.pipeline.module.v1","wasm":{"/":"bafkreih37mkjwjab7bzlxqu74idufcakiwxahrpg7caa6trvaod7yt4wmq"}}`
	if string(doc) != wantDoc {
		t.Errorf("identity document\n got %s\nwant %s", doc, wantDoc)
	}
}

func TestIdentities(t *testing.T) {
	data, err := os.ReadFile("testdata/erc20.yaml")
	if err != nil {
		t.Fatal(err)
	}
	m, err := Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Identities(m, nil); !errors.Is(err, ErrInvalidManifest) {
		t.Errorf("file modules without CIDs: %v", err)
	}
	wasm := map[string]cid.Cid{
		"erc20_transfers": testCID(t, "1"), "first_seen": testCID(t, "2"), "new_token_volume": testCID(t, "3"),
	}
	ids, err := Identities(m, wasm)
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != 4 {
		t.Fatalf("%d identities", len(ids))
	}
	// A new binary upstream changes every identity downstream, and only those.
	wasm["first_seen"] = testCID(t, "2b")
	ids2, err := Identities(m, wasm)
	if err != nil {
		t.Fatal(err)
	}
	for name, changed := range map[string]bool{"erc20_transfers": false, "volume_by_token": false, "first_seen": true, "new_token_volume": true} {
		if (ids[name] != ids2[name]) != changed {
			t.Errorf("%s: identity changed = %v, want %v", name, ids[name] != ids2[name], changed)
		}
	}
}

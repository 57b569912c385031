package manifest

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/ipfs/go-cid"
)

// FuzzDecode: Decode never panics, fails only with *FieldErrors, and what it
// accepts validates, orders and gets identities.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(base))
	f.Add([]byte(base + extra + "      - map: c\n    output: json:t.B\n"))
	f.Add([]byte("name: &a x\nkind: *a\n"))
	f.Add([]byte("modules: [{<<: {a: 1}}]"))
	f.Add([]byte(base + "windows:\n  - {name: w, module: a, kind: sliding, size: 1h, step: 30m}\nrules:\n  - {name: r, first: a, then: a, within: 3, key: k.v}\n"))
	f.Add([]byte(base + "windows:\n  - {name: w, module: a, kind: tumbling, size: 10, group_by: k.v, sum: [x, y.z]}\n"))
	if files, _ := filepath.Glob("testdata/*.*"); files != nil {
		for _, p := range files {
			if b, err := os.ReadFile(p); err == nil {
				f.Add(b)
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Decode(data)
		if err != nil {
			var fe *FieldErrors
			if !errors.As(err, &fe) || !errors.Is(err, ErrInvalidManifest) || len(fe.Errors) == 0 {
				t.Fatalf("error %v (%T) is not a non-empty *FieldErrors", err, err)
			}
			return
		}
		if err := m.Validate(); err != nil {
			t.Fatalf("decoded manifest does not validate: %v", err)
		}
		order, err := m.Order()
		if err != nil || len(order) != len(m.Modules) {
			t.Fatalf("order %v: %v", order, err)
		}
		wasm := map[string]cid.Cid{}
		for _, mod := range m.Modules {
			if !mod.CID.Defined() {
				wasm[mod.Name] = fuzzCID
			}
		}
		if _, err := Identities(m, wasm); err != nil {
			t.Fatalf("identities of a valid manifest: %v", err)
		}
	})
}

var fuzzCID = cid.MustParse("bafkreih37mkjwjab7bzlxqu74idufcakiwxahrpg7caa6trvaod7yt4wmq")

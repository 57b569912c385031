package window

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ipdm/ipdm/pipeline/manifest"
)

// FuzzRows feeds arbitrary row JSON (one row per line, two rows per block)
// to a grouping, summing time window and to a rule: nothing panics, every
// error is a *RowError naming its block, and every output is one line of
// valid JSON.
func FuzzRows(f *testing.F) {
	f.Add([]byte(`{"token":"0xa","value":"12","to":"0xb"}`+"\n"+`{"token":"0xa","value":3,"to":"0xb"}`), uint16(1000))
	f.Add([]byte(`{"token":{"x":1}}`), uint16(7))
	f.Add([]byte(`{"value":"1e3"}`+"\n"+`[]`+"\n"+`{"to":"\u2028\"\\"}`), uint16(0))
	f.Add([]byte("{\"to\":\"\xff\"}\n{\"to\":\"a\",\"to\":\"b\"}"), uint16(3))
	f.Add([]byte(`{"token":-0,"value":"-00","to":true}`+"\n"+`{"token":0,"value":null,"to":1}`+"\n"+`{ "to" : 1 , "x" : [ 1 , { } ] }`), uint16(59))
	f.Fuzz(func(t *testing.T, data []byte, start uint16) {
		a, err := NewAggregator(manifest.Window{Name: "w", Module: "m", Kind: manifest.Sliding,
			Size: manifest.Span{Time: 10 * time.Second}, Step: manifest.Span{Time: 5 * time.Second}, GroupBy: "token", Sum: []string{"value", "fee.v"}})
		if err != nil {
			t.Fatal(err)
		}
		m := mustMatcher(t, manifest.Rule{Name: "r", First: "m", Then: "m", Within: 2, Key: "to"})
		lines := bytes.Split(data, []byte("\n"))
		check := func(op string, out []Output, err error) bool {
			for _, o := range out {
				if !json.Valid(o.JSON) || bytes.ContainsAny(o.JSON, "\n\r") {
					t.Fatalf("%s: output %q is not one line of JSON", op, o.JSON)
				}
			}
			if err == nil {
				return true
			}
			var re *RowError
			if !errors.As(err, &re) || !errors.Is(err, ErrMalformedRow) || !strings.Contains(err.Error(), fmt.Sprintf("block %d", re.Block)) {
				t.Fatalf("%s: error %v is not a *RowError naming its block", op, err)
			}
			return false
		}
		aliveA, aliveM := true, true
		for i, line := range lines {
			r := Row{Block: uint64(i / 2), Time: uint64(start) + uint64(i/2)*3, JSON: line}
			if aliveA {
				out, err := a.Add("m", r)
				aliveA = check("window", out, err)
			}
			if aliveM {
				out, err := m.Add("m", r)
				aliveM = check("rule", out, err)
			}
		}
		if aliveA {
			out, err := a.Flush()
			check("window flush", out, err)
		}
		if aliveM {
			out, err := m.Flush()
			check("rule flush", out, err)
		}
	})
}

package window

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/ipdm/ipdm/pipeline/manifest"
)

// benchRows are 100k ERC-20 transfer rows (the reference extractor's
// shape) over 10k blocks of 12 s, 200 tokens, 37 recipients.
func benchRows() []Row {
	rows := make([]Row, 100_000)
	for i := range rows {
		block := uint64(17_000_000 + i/10)
		rows[i] = Row{Block: block, Time: 1_680_000_000 + (block-17_000_000)*12, JSON: fmt.Appendf(nil,
			`{"token_address":"0x%040x","from_address":"0x%040x","to_address":"0x%040x","value":"%d000000000000000000","transaction_hash":"0x%064x","log_index":%d,"block_number":%d}`,
			i%200, i%977, i%37, i%1000+1, i, i%10, block)}
	}
	return rows
}

// baseline decodes every row into map[string]any — the least a consumer
// of JSON rows does — and reads the fields the operator needs.
func baseline(b *testing.B, rows []Row, fields ...string) time.Duration {
	start := time.Now()
	for _, r := range rows {
		var m map[string]any
		if err := json.Unmarshal(r.JSON, &m); err != nil {
			b.Fatal(err)
		}
		for _, f := range fields {
			_ = m[f]
		}
	}
	return time.Since(start)
}

// BenchmarkWindow: an hourly window sliding every 15 minutes, grouped by
// token with the value summed, against decoding the rows into
// map[string]any.
func BenchmarkWindow(b *testing.B) {
	rows := benchRows()
	w := manifest.Window{Name: "hourly_volume", Module: "m", Kind: manifest.Sliding,
		Size: manifest.Span{Time: time.Hour}, Step: manifest.Span{Time: 15 * time.Minute}, GroupBy: "token_address", Sum: []string{"value"}}
	var ours, base time.Duration
	results := 0
	for range b.N {
		start := time.Now()
		a, _ := NewAggregator(w)
		for i := 0; i < len(rows); i += 10 {
			out, err := a.Add("m", rows[i:i+10]...)
			if err != nil {
				b.Fatal(err)
			}
			results += len(out)
		}
		out, _ := a.Flush()
		results += len(out)
		ours += time.Since(start)
		base += baseline(b, rows, "token_address", "value")
	}
	b.ReportMetric(float64(len(rows))*float64(b.N)/ours.Seconds(), "rows/s")
	b.ReportMetric(float64(ours)/float64(base), "x-vs-json-decode")
	if results == 0 {
		b.Fatal("no results")
	}
}

// BenchmarkRule: a quick-flip rule over the same rows (key to_address,
// within 10 blocks), against decoding the rows.
func BenchmarkRule(b *testing.B) {
	rows := benchRows()
	var ours, base time.Duration
	matches := 0
	for range b.N {
		start := time.Now()
		m, _ := NewMatcher(manifest.Rule{Name: "quick_flip", First: "m", Then: "m", Within: 10, Key: "to_address"})
		for i := 0; i < len(rows); i += 10 {
			out, err := m.Add("m", rows[i:i+10]...)
			if err != nil {
				b.Fatal(err)
			}
			matches += len(out)
		}
		out, _ := m.Flush()
		matches += len(out)
		ours += time.Since(start)
		base += baseline(b, rows, "to_address")
	}
	b.ReportMetric(float64(len(rows))*float64(b.N)/ours.Seconds(), "rows/s")
	b.ReportMetric(float64(ours)/float64(base), "x-vs-json-decode")
	if matches == 0 {
		b.Fatal("no matches")
	}
}

// BenchmarkClone: the hourly window and the quick-flip rule fed the rows
// block by block with a Clone before every block, as a live run keeps
// each block's undo point, against the same without cloning.
func BenchmarkClone(b *testing.B) {
	rows := benchRows()
	w := manifest.Window{Name: "hourly_volume", Module: "m", Kind: manifest.Sliding,
		Size: manifest.Span{Time: time.Hour}, Step: manifest.Span{Time: 15 * time.Minute}, GroupBy: "token_address", Sum: []string{"value"}}
	r := manifest.Rule{Name: "quick_flip", First: "m", Then: "m", Within: 10, Key: "to_address"}
	pass := func(clone bool) time.Duration {
		start := time.Now()
		a, _ := NewAggregator(w)
		m, _ := NewMatcher(r)
		for i := 0; i < len(rows); i += 10 {
			if clone {
				_, _ = a.Clone(), m.Clone()
			}
			if _, err := a.Add("m", rows[i:i+10]...); err != nil {
				b.Fatal(err)
			}
			if _, err := m.Add("m", rows[i:i+10]...); err != nil {
				b.Fatal(err)
			}
		}
		return time.Since(start)
	}
	var ours, base time.Duration
	for range b.N {
		ours += pass(true)
		base += pass(false)
	}
	b.ReportMetric(float64(ours)/float64(b.N)/float64(len(rows)/10)/1e3, "µs/block")
	b.ReportMetric(float64(ours)/float64(base), "x-vs-no-clone")
}

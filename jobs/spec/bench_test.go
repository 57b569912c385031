package spec

import (
	"encoding/json"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// BenchmarkDecode measures Decode (parse, strict schema walk, validation)
// against a plain, schema-less parse of the same document into a map with
// yaml.v3 or encoding/json, run in the same loop.
func BenchmarkDecode(b *testing.B) {
	full := fullSpec(b)
	jsonDoc, err := full.Encode()
	if err != nil {
		b.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		data     []byte
		baseline func([]byte) error
	}{
		{"yaml", doc(b, fullYAML), func(d []byte) error { var m map[string]any; return yaml.Unmarshal(d, &m) }},
		{"json", jsonDoc, func(d []byte) error { var m map[string]any; return json.Unmarshal(d, &m) }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			var ours, base time.Duration
			for i := 0; i < b.N; i++ {
				start := time.Now()
				if _, err := Decode(tc.data); err != nil {
					b.Fatal(err)
				}
				mid := time.Now()
				if err := tc.baseline(tc.data); err != nil {
					b.Fatal(err)
				}
				ours, base = ours+mid.Sub(start), base+time.Since(mid)
			}
			b.ReportMetric(float64(ours.Nanoseconds())/float64(b.N), "ns/decode")
			b.ReportMetric(float64(ours)/float64(base), "x-vs-untyped-parse")
		})
	}
}

// BenchmarkDigest measures Digest (defaults, validation, canonical
// encoding, SHA-256) against json.Marshal of the same spec.
func BenchmarkDigest(b *testing.B) {
	s := fullSpec(b)
	var ours, base time.Duration
	for i := 0; i < b.N; i++ {
		start := time.Now()
		if _, err := s.Digest(); err != nil {
			b.Fatal(err)
		}
		mid := time.Now()
		if _, err := json.Marshal(map[string]any{"module": s.Module.String(), "args": s.Args, "env": s.Env}); err != nil {
			b.Fatal(err)
		}
		ours, base = ours+mid.Sub(start), base+time.Since(mid)
	}
	b.ReportMetric(float64(ours.Nanoseconds())/float64(b.N), "ns/digest")
	b.ReportMetric(float64(ours)/float64(base), "x-vs-json.Marshal-subset")
}

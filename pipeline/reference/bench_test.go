package reference

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/ipdm/ipdm/pipeline/source"
)

// untypedTransfers is the baseline: the obvious implementation with
// encoding/json into map[string]any, per log line.
func untypedTransfers(b *testing.B, logs []byte) int {
	n := 0
	sc := bufio.NewScanner(bytes.NewReader(logs))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var l map[string]any
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			b.Fatal(err)
		}
		topics, _ := l["topics"].([]any)
		if len(topics) == 0 || topics[0] != TransferTopic {
			continue
		}
		data := strings.TrimPrefix(l["data"].(string), "0x")
		if len(topics)+(len(data)+63)/64 != 4 {
			continue
		}
		words := make([]string, 0, 4)
		for _, t := range topics {
			words = append(words, strings.TrimPrefix(t.(string), "0x"))
		}
		for ; data != ""; data = data[min(64, len(data)):] {
			words = append(words, data[:min(64, len(data))])
		}
		v, _ := new(big.Int).SetString(words[3], 16)
		_ = TokenTransfer{TokenAddress: l["address"].(string), FromAddress: "0x" + words[1][24:], ToAddress: "0x" + words[2][24:], Value: v.String()}
		n++
	}
	return n
}

// BenchmarkERC20Transfers measures decode+extract on the 681 logs of blocks
// 17173049–17173050 (291 transfers):
//   - etl: DecodeETL of blocks.json and logs.json, then TokenTransfers,
//     against the untyped map[string]any baseline on logs.json;
//   - module: MapERC20Transfers on the canonical logs-view encodings (what a
//     Wasm build of the module will be compared with), against
//     json.Unmarshal of the same bytes into any.
func BenchmarkERC20Transfers(b *testing.B) {
	blocksJSON, logsJSON := readFixture(b, largeEth+"blocks.json"), readFixture(b, largeEth+"logs.json")
	const logs = 681
	b.Run("etl", func(b *testing.B) {
		var ours, base time.Duration
		for i := 0; i < b.N; i++ {
			start := time.Now()
			blocks, err := source.DecodeETL(bytes.NewReader(blocksJSON), nil, bytes.NewReader(logsJSON))
			if err != nil {
				b.Fatal(err)
			}
			rows := 0
			for _, blk := range blocks {
				rows += len(TokenTransfers(blk))
			}
			mid := time.Now()
			if n := untypedTransfers(b, logsJSON); n != rows || rows != 291 {
				b.Fatalf("%d rows, baseline %d", rows, n)
			}
			ours, base = ours+mid.Sub(start), base+time.Since(mid)
		}
		b.ReportMetric(float64(logs)*float64(b.N)/ours.Seconds(), "logs/s")
		b.ReportMetric(float64(ours)/float64(base), "x-vs-untyped-json")
	})
	b.Run("module", func(b *testing.B) {
		blocks, err := source.DecodeETL(bytes.NewReader(blocksJSON), nil, bytes.NewReader(logsJSON))
		if err != nil {
			b.Fatal(err)
		}
		var inputs [][]byte
		for _, blk := range blocks {
			enc, err := blk.EncodeLogs()
			if err != nil {
				b.Fatal(err)
			}
			inputs = append(inputs, enc)
		}
		var ours, base time.Duration
		for i := 0; i < b.N; i++ {
			start := time.Now()
			for _, in := range inputs {
				if _, err := MapERC20Transfers(in); err != nil {
					b.Fatal(err)
				}
			}
			mid := time.Now()
			for _, in := range inputs {
				var v any
				if err := json.Unmarshal(in, &v); err != nil {
					b.Fatal(err)
				}
			}
			ours, base = ours+mid.Sub(start), base+time.Since(mid)
		}
		b.ReportMetric(float64(logs)*float64(b.N)/ours.Seconds(), "logs/s")
		b.ReportMetric(float64(ours)/float64(base), "x-vs-json.Unmarshal-any")
	})
}

// BenchmarkSPLTransfers measures decode+extract on the 5,376 instructions of
// slot 138802069 (570 transfers):
//   - csv: DecodeInstructionsCSV then SPLTransfers, against encoding/csv
//     plus json.Unmarshal of every params cell into map[string]any;
//   - module: MapSPLTransfers on the slot's canonical encoding, against
//     json.Unmarshal of the same bytes into any.
func BenchmarkSPLTransfers(b *testing.B) {
	data := readFixture(b, solSlotDir+"instructions.csv")
	const instructions = 5376
	b.Run("csv", func(b *testing.B) {
		var ours, base time.Duration
		for i := 0; i < b.N; i++ {
			start := time.Now()
			ins, err := source.DecodeInstructionsCSV(bytes.NewReader(data))
			if err != nil {
				b.Fatal(err)
			}
			rows, err := SPLTransfers(ins)
			if err != nil || len(rows) != 570 {
				b.Fatalf("%d rows: %v", len(rows), err)
			}
			mid := time.Now()
			recs, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
			if err != nil {
				b.Fatal(err)
			}
			for _, rec := range recs[1:] {
				var p map[string]any
				if err := json.Unmarshal([]byte(rec[9]), &p); err != nil {
					b.Fatal(err)
				}
			}
			ours, base = ours+mid.Sub(start), base+time.Since(mid)
		}
		b.ReportMetric(float64(instructions)*float64(b.N)/ours.Seconds(), "instructions/s")
		b.ReportMetric(float64(ours)/float64(base), "x-vs-csv+untyped-json")
	})
	b.Run("module", func(b *testing.B) {
		ins, err := source.DecodeInstructionsCSV(bytes.NewReader(data))
		if err != nil {
			b.Fatal(err)
		}
		input, err := source.Slot{Slot: 138802069, Instructions: ins}.Encode()
		if err != nil {
			b.Fatal(err)
		}
		var ours, base time.Duration
		for i := 0; i < b.N; i++ {
			start := time.Now()
			if _, err := MapSPLTransfers(input); err != nil {
				b.Fatal(err)
			}
			mid := time.Now()
			var v any
			if err := json.Unmarshal(input, &v); err != nil {
				b.Fatal(err)
			}
			ours, base = ours+mid.Sub(start), base+time.Since(mid)
		}
		b.ReportMetric(float64(instructions)*float64(b.N)/ours.Seconds(), "instructions/s")
		b.ReportMetric(float64(ours)/float64(base), "x-vs-json.Unmarshal-any")
	})
}

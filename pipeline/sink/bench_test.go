package sink

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// Benchmarks write ERC-20-transfer-shaped rows (8 columns, ~330 bytes) in
// Writes of a fixed size, 10 rows per block, and report rows/s next to a
// baseline measured in the same run: the same bytes written sequentially to
// a plain file, one write per batch and one fsync at the end.
//
//	go test -run '^$' -bench BenchmarkSink -benchtime 20x ./pipeline/sink/

func BenchmarkSinkJSONL(b *testing.B) {
	benchSink(b, func(b *testing.B) target {
		return target{kind: "jsonl", uri: "jsonl:" + filepath.Join(b.TempDir(), "bench.jsonl")}
	})
}

func BenchmarkSinkSQLite(b *testing.B) {
	benchSink(b, func(b *testing.B) target {
		return target{kind: "sqlite", uri: "sqlite:" + filepath.Join(b.TempDir(), "bench.db")}
	})
}

func BenchmarkSinkPostgres(b *testing.B) {
	if os.Getenv(envPostgres) == "" {
		b.Skipf("%s unset", envPostgres)
	}
	benchSink(b, func(b *testing.B) target { return *pgTarget(b) })
}

const benchRowsPerBlock = 10

// benchBatch returns the rows of one Write: blocks from first on.
func benchBatch(first uint64, rows int) []Row {
	out := make([]Row, 0, rows)
	for i := range rows {
		block := first + uint64(i/benchRowsPerBlock)
		idx := i % benchRowsPerBlock
		out = append(out, Row{Table: "transfers", Block: block, Index: idx, JSON: fmt.Appendf(nil,
			`{"token_address":"0x%040x","from_address":"0x%040x","to_address":"0x%040x","value":"%d","transaction_hash":"0x%064x","log_index":%d,"block_number":%d,"ok":true}`,
			block%97, block*31+uint64(idx), block*17+uint64(idx), block*1000003+uint64(idx)*1e18, block<<8|uint64(idx), idx, block)})
	}
	return out
}

func benchSink(b *testing.B, newTarget func(*testing.B) target) {
	for _, size := range []int{100, 2000} {
		b.Run("rows="+strconv.Itoa(size), func(b *testing.B) {
			ctx := context.Background()
			tg := newTarget(b)
			s, err := Open(ctx, tg.uri, tg.opts)
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			blocks := uint64(size / benchRowsPerBlock)
			batches := make([][]Row, b.N)
			var bytes int64
			for i := range batches {
				batches[i] = benchBatch(1+uint64(i)*blocks, size)
				for _, r := range batches[i] {
					bytes += int64(len(r.JSON)) + 1
				}
			}
			b.SetBytes(bytes / int64(b.N))
			b.ResetTimer()
			for i := range b.N {
				last := uint64(i+1) * blocks
				if err := s.Write(ctx, batches[i], Cursor{Number: last, Hash: strconv.FormatUint(last, 16)}); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			rowsPerSec := float64(b.N*size) / b.Elapsed().Seconds()
			base := rawFileRowsPerSec(b, batches)
			b.ReportMetric(rowsPerSec, "rows/s")
			b.ReportMetric(rowsPerSec/base, "x-vs-raw-file")
		})
	}
}

// rawFileRowsPerSec is the baseline: the batches' lines written to a file
// sequentially, one write per batch, one fsync at the end.
func rawFileRowsPerSec(b *testing.B, batches [][]Row) float64 {
	f, err := os.Create(filepath.Join(b.TempDir(), "raw.jsonl"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	rows := 0
	start := time.Now()
	var buf []byte
	for _, batch := range batches {
		buf = buf[:0]
		for _, r := range batch {
			buf = append(append(buf, r.JSON...), '\n')
		}
		if _, err := f.Write(buf); err != nil {
			b.Fatal(err)
		}
		rows += len(batch)
	}
	if err := f.Sync(); err != nil {
		b.Fatal(err)
	}
	return float64(rows) / time.Since(start).Seconds()
}

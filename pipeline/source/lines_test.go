package source

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

func numberedLines(n int) string {
	var b strings.Builder
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "%d\n", i)
	}
	return b.String()
}

type failingReader struct {
	r   io.Reader
	err error
}

func (f *failingReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err == io.EOF {
		return n, f.err
	}
	return n, err
}

func TestDecodeLinesKeepsLineOrderAndFirstError(t *testing.T) {
	const total = 10*linesPerBatch + 7
	decode := func(line []byte) int {
		v, _ := strconv.Atoi(strings.TrimSpace(string(line)))
		return v
	}
	before := runtime.NumGoroutine()
	for _, tc := range []struct {
		name     string
		r        io.Reader
		stopAt   int // consume fails at this line (0: never)
		wantSeen int
		wantErr  string
	}{
		{"all", strings.NewReader(numberedLines(total)), 0, total, ""},
		{"consume error", strings.NewReader(numberedLines(total)), 5*linesPerBatch + 3, 5*linesPerBatch + 2, "stop at"},
		{"consume error on the last line", strings.NewReader(numberedLines(total)), total, total - 1, "stop at"},
		{"read error after the lines", &failingReader{strings.NewReader(numberedLines(total)), errors.New("disk gone")}, 0, total, "disk gone"},
		{"blank lines skipped", strings.NewReader("1\n\n3\n  \n5\n"), 0, 3, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			seen := 0
			err := decodeLines(tc.r, "test", decode, func(v, n int) error {
				if v != n {
					return fmt.Errorf("line %d decoded as %d: out of order", n, v)
				}
				if n == tc.stopAt {
					return fmt.Errorf("stop at %d", n)
				}
				seen++
				return nil
			})
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("err = %v, want %q", err, tc.wantErr)
			}
			if seen != tc.wantSeen {
				t.Errorf("consumed %d lines, want %d", seen, tc.wantSeen)
			}
		})
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("%d goroutines left running (%d before)", n, before)
	}
}

// BenchmarkDecodeETLLogs decodes 100 copies of the 17173049–17173050 logs
// (renumbered blocks, ~55 MB) with DecodeETLLogs, whose lines are decoded
// on every core, and reports the ratio to decoding the same lines one
// after the other on one goroutine (the previous reader) in the same run.
//
//	go test ./pipeline/source -run '^$' -bench DecodeETLLogs -benchtime 3x
func BenchmarkDecodeETLLogs(b *testing.B) {
	raw, err := os.ReadFile(filepath.Join(fixtureDir, "ethereum", "mainnet-17173049-17173050", "logs.json"))
	if err != nil {
		b.Skip("fixture: ", err)
	}
	var data bytes.Buffer
	for k := range 100 {
		for _, line := range bytes.Split(bytes.TrimSpace(raw), []byte("\n")) {
			for _, n := range []string{"17173049", "17173050"} {
				num, _ := strconv.Atoi(n)
				line = bytes.Replace(line, []byte(`"block_number": `+n+","), []byte(fmt.Sprintf(`"block_number": %d,`, num+2*k+1_000_000)), 1)
			}
			data.Write(line)
			data.WriteByte('\n')
		}
	}
	var tPar, tSeq time.Duration
	for range b.N {
		start := time.Now()
		blocks, err := DecodeETLLogs(bytes.NewReader(data.Bytes()))
		if err != nil || len(blocks) != 200 {
			b.Fatalf("%d blocks, %v", len(blocks), err)
		}
		tPar += time.Since(start)
		start = time.Now()
		if err := readLines(bytes.NewReader(data.Bytes()), "logs", func(line []byte, _ int) error {
			return decodeETLLog(line).err
		}); err != nil {
			b.Fatal(err)
		}
		tSeq += time.Since(start)
	}
	b.ReportMetric(float64(data.Len())*float64(b.N)/tPar.Seconds()/1e6, "MB/s")
	b.ReportMetric(tSeq.Seconds()/tPar.Seconds(), "x-faster-than-sequential")
}

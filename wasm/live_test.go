package wasm

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
)

// printSpinPrint returns a module that writes "hello\n" to fd, spins for
// iters loop iterations (for ever when iters < 0) and writes "world\n".
func printSpinPrint(fd, iters int32) []byte {
	write := func(iov int32) []byte {
		return cat(i32c(fd), i32c(iov), i32c(1), i32c(8), op1(opCall, 0), []byte{0x1a}) // drop
	}
	spin := cat([]byte{opLoop, blockEmpty}, op1(opBr, 0), []byte{opEnd})
	if iters >= 0 {
		spin = cat([]byte{opLoop, blockEmpty},
			op1(opLocalGet, 0), i32c(1), []byte{opI32Add}, op1(opLocalTee, 0), i32c(iters), []byte{0x49}, // i32.lt_u
			op1(0x0d, 0), // br_if 0
			[]byte{opEnd})
	}
	return (&tmod{
		types:   []funcType{tVoid, tFdWrite},
		imports: []timport{{"wasi_snapshot_preview1", "fd_write", 1}},
		funcs:   []tfunc{{locals: []byte{valI32}, body: cat(write(0), spin, write(16))}},
		mem:     &[2]uint32{1, 0},
		data: []tdata{
			{0, []byte{32, 0, 0, 0, 6, 0, 0, 0}}, {16, []byte{40, 0, 0, 0, 6, 0, 0, 0}},
			{32, []byte("hello\n")}, {40, []byte("world\n")},
		},
	}).bytes()
}

// liveSink records live writes; onWrite runs after each.
type liveSink struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	writes  int
	onWrite func(got []byte)
}

func (s *liveSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	s.buf.Write(p)
	s.writes++
	got := bytes.Clone(s.buf.Bytes())
	s.mu.Unlock()
	if s.onWrite != nil {
		s.onWrite(got)
	}
	return len(p), nil
}

func (s *liveSink) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

// TestLiveOutputMatchesCapturedStreams: the live copies carry exactly what
// the Result keeps, caps included, and leave the Result unchanged.
func TestLiveOutputMatchesCapturedStreams(t *testing.T) {
	rt := newRuntime(t, Config{})
	for _, tc := range []struct {
		name      string
		fd        int32
		maxStream int
		want      string
	}{
		{"stdout", 1, 0, "hello\nworld\n"},
		{"stderr", 2, 0, "hello\nworld\n"},
		{"stdout capped", 1, 8, "hello\nwo"},
		{"stderr capped", 2, 3, "hel"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := mustCompile(t, rt, printSpinPrint(tc.fd, 1000))
			plain := mustRun(t, rt, m, RunSpec{MaxStdout: tc.maxStream, MaxStderr: tc.maxStream})
			var out, errs liveSink
			res := mustRun(t, rt, m, RunSpec{MaxStdout: tc.maxStream, MaxStderr: tc.maxStream, Stdout: &out, Stderr: &errs})
			live, other, captured := out.String(), errs.String(), string(res.Stdout)
			if tc.fd == 2 {
				live, other, captured = errs.String(), out.String(), string(res.Stderr)
			}
			if live != tc.want || captured != tc.want || other != "" {
				t.Fatalf("live %q, other stream %q, captured %q; want %q", live, other, captured, tc.want)
			}
			plain.Duration, res.Duration = 0, 0
			if string(plain.Stdout) != string(res.Stdout) || string(plain.Stderr) != string(res.Stderr) ||
				plain.FuelUsed != res.FuelUsed || plain.StdoutTruncated != res.StdoutTruncated ||
				plain.StderrTruncated != res.StderrTruncated || plain.ExitCode != res.ExitCode {
				t.Fatalf("live sinks changed the result:\n%+v\n%+v", plain, res)
			}
		})
	}
}

// TestLiveOutputArrivesWhileRunning: the first line reaches the sink while
// the guest still runs (here it never ends on its own: the sink stops it).
func TestLiveOutputArrivesWhileRunning(t *testing.T) {
	rt := newRuntime(t, Config{})
	m := mustCompile(t, rt, printSpinPrint(1, -1))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sink := &liveSink{onWrite: func(got []byte) {
		if string(got) == "hello\n" {
			cancel()
		}
	}}
	_, err := rt.Run(ctx, m, RunSpec{Fuel: 1 << 40, Stdout: sink})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("run: %v (want it stopped by the sink's cancel)", err)
	}
	if got := sink.String(); got != "hello\n" {
		t.Fatalf("live output %q", got)
	}
	checkServing(t, rt)
}

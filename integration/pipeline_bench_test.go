package integration

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ipdm/ipdm/devnet"
)

// BenchmarkPipelineScaling backfills a 400-block chain (58,200 ERC-20
// transfers, real mainnet logs renumbered) with the erc20-transfers Wasm
// pipeline as verified segment jobs (10 blocks each), on a network of one
// and then two daemons. Every daemon runs with GOMAXPROCS=1, so a node is
// one core — on a 2-core machine the only way to measure what a second
// node adds. It reports both wall times, the speed-up (goal >= 1.7x) and
// the time of a fully cached re-run against the computed run.
//
// It also reports where the CPU of each computed run went (seconds of
// user+system time): the executors, the coordinating daemon, and the CLI
// (which also reads and parses the source before the timed phase). With
// two single-core executors beside the coordinator and the CLI on a
// 2-core machine, the two-node run is bound by the machine, not by the
// network: cpu-bound-2nodes is its total CPU over the cores, a floor for
// its wall time.
//
//	go test ./integration -run '^$' -bench BenchmarkPipelineScaling -benchtime 1x
func BenchmarkPipelineScaling(b *testing.B) {
	fx := fixtures(b)
	dir := b.TempDir()
	chain := synthChain(b, filepath.Join(fx, "ethereum/mainnet-17173049-17173050"), filepath.Join(dir, "chain"), 400, false)
	src := "file:" + filepath.Join(chain, "logs.json")
	type cpu struct{ exec, coord, cli time.Duration }
	run := func(executors int) (compute, cached time.Duration, used cpu) {
		ndir := filepath.Join(dir, fmt.Sprint("net", executors))
		// node0 coordinates and stores; it does not execute.
		net := startNet(b, executors+1, devnet.Options{Dir: ndir, Env: []string{"GOMAXPROCS=1"},
			PerNodeArgs: map[int][]string{0: {"--role", "storage", "--role", "gateway"}}})
		repo := net.Nodes[0].Repo
		// Warm up: every node compiles the module once (kept on disk),
		// on a range the measured run does not share.
		mustIPDM(b, "pipeline", "run", erc20Manifest, "--repo", repo, "--source", src, "--to", "100000001", "--segment-size", "1", "--replicas", fmt.Sprint(executors))
		args := []string{"pipeline", "run", erc20Manifest, "--repo", repo, "--source", src, "--from", "100000010", "--segment-size", "10", "--parallel", "8", "--json"}
		before := make([]time.Duration, len(net.Nodes))
		for i, nd := range net.Nodes {
			before[i] = processCPU(b, nd.PID())
		}
		out, cliCPU := cpuIPDM(b, args...)
		used.cli = cliCPU
		for i, nd := range net.Nodes {
			d := processCPU(b, nd.PID()) - before[i]
			if i == 0 {
				used.coord = d
			} else {
				used.exec += d
			}
		}
		return engineTime(b, out), engineTime(b, mustIPDM(b, args...)), used
	}
	for i := 0; i < b.N; i++ {
		one, oneCached, cpu1 := run(1)
		two, _, cpu2 := run(2)
		b.ReportMetric(one.Seconds(), "s-1node")
		b.ReportMetric(two.Seconds(), "s-2nodes")
		b.ReportMetric(one.Seconds()/two.Seconds(), "x-speedup")
		b.ReportMetric(390/one.Seconds(), "blocks/s-1node")
		b.ReportMetric(oneCached.Seconds(), "s-cached-rerun")
		b.ReportMetric(oneCached.Seconds()/one.Seconds(), "cached/computed")
		b.ReportMetric(cpu1.exec.Seconds(), "cpu-s-executor-1node")
		b.ReportMetric(cpu1.coord.Seconds(), "cpu-s-coordinator-1node")
		b.ReportMetric(cpu1.cli.Seconds(), "cpu-s-cli-1node")
		b.ReportMetric(cpu2.exec.Seconds(), "cpu-s-executors-2nodes")
		total := cpu2.exec + cpu2.coord + cpu2.cli
		b.ReportMetric(total.Seconds()/float64(runtime.NumCPU()), "cpu-bound-s-2nodes")
	}
}

// processCPU is the CPU time (user and system) process pid has used.
func processCPU(b *testing.B, pid int) time.Duration {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	// Fields after the parenthesised command name; utime and stime are
	// the 14th and 15th fields of the line, in clock ticks (100 a second).
	i := bytes.LastIndexByte(data, ')')
	f := strings.Fields(string(data[i+1:]))
	if i < 0 || len(f) < 13 {
		b.Fatalf("/proc/%d/stat: %q", pid, data)
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		b.Fatalf("/proc/%d/stat: %q", pid, data)
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

// cpuIPDM runs the CLI and returns its output and the CPU time it used.
func cpuIPDM(b *testing.B, args ...string) (string, time.Duration) {
	cmd := exec.Command(ipdmBin, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		b.Fatalf("ipdm %s: %v\n%s", strings.Join(args, " "), err, stderr.Bytes())
	}
	ru, _ := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if ru == nil {
		return string(out), 0
	}
	return string(out), time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// engineTime reads the engine's elapsed time (after the source was read)
// from a run's JSON summary.
func engineTime(b *testing.B, out string) time.Duration {
	var sum struct {
		ElapsedMS int64 `json:"elapsed_ms"`
	}
	if err := json.Unmarshal([]byte(out), &sum); err != nil || sum.ElapsedMS == 0 {
		b.Fatalf("no elapsed_ms in %q: %v", out, err)
	}
	return time.Duration(sum.ElapsedMS) * time.Millisecond
}

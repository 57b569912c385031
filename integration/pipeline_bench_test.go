package integration

import (
	"encoding/json"
	"fmt"
	"path/filepath"
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
//	go test ./integration -run '^$' -bench BenchmarkPipelineScaling -benchtime 1x
func BenchmarkPipelineScaling(b *testing.B) {
	fx := fixtures(b)
	dir := b.TempDir()
	chain := synthChain(b, filepath.Join(fx, "ethereum/mainnet-17173049-17173050"), filepath.Join(dir, "chain"), 400, false)
	src := "file:" + filepath.Join(chain, "logs.json")
	run := func(executors int) (compute, cached time.Duration) {
		ndir := filepath.Join(dir, fmt.Sprint("net", executors))
		// node0 coordinates and stores; it does not execute.
		net := startNet(b, executors+1, devnet.Options{Dir: ndir, Env: []string{"GOMAXPROCS=1"},
			PerNodeArgs: map[int][]string{0: {"--role", "storage", "--role", "gateway"}}})
		repo := net.Nodes[0].Repo
		// Warm up: every node compiles the module once (kept on disk),
		// on a range the measured run does not share.
		mustIPDM(b, "pipeline", "run", erc20Manifest, "--repo", repo, "--source", src, "--to", "100000001", "--segment-size", "1", "--replicas", fmt.Sprint(executors))
		args := []string{"pipeline", "run", erc20Manifest, "--repo", repo, "--source", src, "--from", "100000010", "--segment-size", "10", "--parallel", "8", "--json"}
		return engineTime(b, mustIPDM(b, args...)), engineTime(b, mustIPDM(b, args...))
	}
	for i := 0; i < b.N; i++ {
		one, oneCached := run(1)
		two, _ := run(2)
		b.ReportMetric(one.Seconds(), "s-1node")
		b.ReportMetric(two.Seconds(), "s-2nodes")
		b.ReportMetric(one.Seconds()/two.Seconds(), "x-speedup")
		b.ReportMetric(390/one.Seconds(), "blocks/s-1node")
		b.ReportMetric(oneCached.Seconds(), "s-cached-rerun")
		b.ReportMetric(oneCached.Seconds()/one.Seconds(), "cached/computed")
	}
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

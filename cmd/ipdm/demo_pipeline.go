package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"slices"
	"strings"
	"time"

	"github.com/ipdm/ipdm/devnet"
	erc20transfers "github.com/ipdm/ipdm/examples/erc20-transfers"
	"github.com/ipdm/ipdm/pipeline/engine"
	"github.com/ipdm/ipdm/pipeline/manifest"
	"github.com/ipdm/ipdm/pipeline/sink"
	"github.com/ipdm/ipdm/pipeline/source"
	"github.com/ipdm/ipdm/pipeline/store"
)

// demoPipeline indexes the embedded Ethereum fixture (mainnet blocks
// 17173049-17173050) with the erc20-transfers example across the demo
// network: one verified segment job per block, 2 replicas each, and prints
// the top tokens by transfer count with their exact volume.
func demoPipeline(ctx context.Context, out io.Writer, net *devnet.Net) error {
	t0 := time.Now()
	m, err := manifest.Decode(erc20transfers.Manifest)
	if err != nil {
		return err
	}
	wasmFiles := map[string][]byte{}
	for _, mod := range m.Modules {
		wasmFiles[mod.Name] = erc20transfers.Wasm
	}
	plan, err := engine.NewPlan(ctx, erc20transfers.Manifest, m, wasmFiles, "")
	if err != nil {
		return err
	}
	blocks, err := source.DecodeETL(erc20transfers.FixtureETL())
	if err != nil {
		return err
	}
	var data []engine.BlockData
	for _, b := range blocks {
		bd, err := blockData(source.Unit{Number: b.Number, Hash: b.Hash, ParentHash: b.ParentHash, Time: b.Timestamp, Eth: &b}, plan.SourceKinds())
		if err != nil {
			return err
		}
		data = append(data, bd)
	}
	c := net.Nodes[0].Client()
	defer c.Close()
	b := remote{c}
	rows := &collectSink{}
	res, err := engine.Run(ctx, engine.Config{Plan: plan, Blocks: data, SegmentSize: 1,
		Executor: networkExecutor(b, 2, 30*time.Second), Sink: rows})
	if err != nil {
		return fmt.Errorf("pipeline: %w", err)
	}
	fmt.Fprintf(out, "\nindexed Ethereum mainnet blocks %d-%d (%d transfers) with the erc20-transfers Wasm pipeline in %s:\n",
		res.From, res.To, res.Rows, time.Since(t0).Round(time.Millisecond))
	fmt.Fprintf(out, "  %d segment jobs, each run by 2 nodes that agreed on its output; output CID %s\n", len(res.Jobs), res.OutputCID)
	for _, d := range res.Digests[plan.Output] {
		fmt.Fprintf(out, "  proof of processing, blocks %s: %.16s…\n", d.Segment, d.Digest)
	}

	count := map[string]int{}
	for _, r := range rows.rows {
		if r.Table != engine.TableName(plan.Output) {
			continue
		}
		var t struct {
			Token string `json:"token_address"`
		}
		if err := json.Unmarshal(r.JSON, &t); err != nil {
			return err
		}
		count[t.Token]++
	}
	tokens := make([]string, 0, len(count))
	for t := range count {
		tokens = append(tokens, t)
	}
	slices.SortFunc(tokens, func(a, b string) int {
		if count[a] != count[b] {
			return count[b] - count[a]
		}
		return strings.Compare(a, b)
	})
	volume, err := store.Decode(res.Stores["token_volume"])
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "  top tokens by transfer count (volume is the exact sum of raw values):\n")
	for _, t := range tokens[:min(5, len(tokens))] {
		v, _ := volume.Get([]byte(t))
		n, _ := new(big.Int).SetString(string(v), 10)
		fmt.Fprintf(out, "    %s  %3d transfers  volume %s\n", t, count[t], n)
	}
	fmt.Fprintf(out, "  (fixture data: ethereum-etl, MIT licence)\n")
	return nil
}

// collectSink keeps the rows of a run in memory.
type collectSink struct{ rows []engine.Row }

func (s *collectSink) Write(_ context.Context, rows []engine.Row, _ sink.Cursor) error {
	s.rows = append(s.rows, rows...)
	return nil
}

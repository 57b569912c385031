package car_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"runtime"
	"testing"
	"time"

	"github.com/ipdm/ipdm/storage/blocks"
	"github.com/ipdm/ipdm/storage/blocks/blockstest"
	"github.com/ipdm/ipdm/storage/car"
	"github.com/ipfs/boxo/ipld/merkledag"
	blockformat "github.com/ipfs/go-block-format"
	cid "github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
	gocar "github.com/ipld/go-car/v2"
)

// benchDAG is 4 inner dag-pb nodes of 16 raw 256 KiB leaves each (16 MiB).
func benchDAG(b *testing.B) (*blocks.Memory, cid.Cid, int64) {
	ctx := context.Background()
	store := blocks.NewMemory()
	top := merkledag.NodeWithData([]byte("top"))
	_ = top.SetCidBuilder(merkledag.V1CidPrefix())
	var size int64
	for i := range 4 {
		inner := merkledag.NodeWithData([]byte(fmt.Sprint("inner", i)))
		_ = inner.SetCidBuilder(merkledag.V1CidPrefix())
		for j := range 16 {
			leaf := blockstest.RandomBlock(b, 256<<10)
			if err := store.Put(ctx, leaf); err != nil {
				b.Fatal(err)
			}
			_ = inner.AddRawLink(fmt.Sprintf("%02d", j), &ipld.Link{Cid: leaf.Cid()})
			size += 256 << 10
		}
		if err := store.Put(ctx, inner); err != nil {
			b.Fatal(err)
		}
		_ = top.AddRawLink(fmt.Sprint(i), &ipld.Link{Cid: inner.Cid()})
	}
	if err := store.Put(ctx, top); err != nil {
		b.Fatal(err)
	}
	return store, top.Cid(), size
}

// ratio runs ours b.N times under the benchmark timer, then baseline for
// as many iterations (or until it has run as long as ours did, at least
// 200ms, if it is much slower), and reports the per-op time ratio.
func ratio(b *testing.B, baseline, ours func()) {
	runtime.GC()
	b.ResetTimer()
	for range b.N {
		ours()
	}
	b.StopTimer()
	oursPerOp := float64(b.Elapsed()) / float64(b.N)
	runtime.GC()
	budget := max(b.Elapsed(), 200*time.Millisecond)
	start := time.Now()
	n := 0
	for n < b.N && (n == 0 || time.Since(start) < budget) {
		baseline()
		n++
	}
	basePerOp := float64(time.Since(start)) / float64(n)
	b.ReportMetric(oursPerOp/basePerOp, "x-vs-baseline")
}

// BenchmarkExport: our Export vs go-car's TraverseV1 (Kubo's engine), same
// 16 MiB DAG from memory to io.Discard.
func BenchmarkExport(b *testing.B) {
	store, root, size := benchDAG(b)
	b.SetBytes(size)
	ratio(b,
		func() { goCarExportTo(b, io.Discard, store, root) },
		func() {
			if err := car.Export(context.Background(), io.Discard, store, root); err != nil {
				b.Fatal(err)
			}
		})
}

// BenchmarkImport: our Import vs go-car's BlockReader (which also checks
// every hash) feeding PutMany batches, 16 MiB CAR into a Memory store.
func BenchmarkImport(b *testing.B) {
	ctx := context.Background()
	store, root, size := benchDAG(b)
	var buf bytes.Buffer
	if err := car.Export(ctx, &buf, store, root); err != nil {
		b.Fatal(err)
	}
	data := buf.Bytes()
	b.SetBytes(size)
	ratio(b,
		func() {
			br, err := gocar.NewBlockReader(bytes.NewReader(data))
			if err != nil {
				b.Fatal(err)
			}
			dst := blocks.NewMemory()
			var batch []blockformat.Block
			for {
				blk, err := br.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					b.Fatal(err)
				}
				if batch = append(batch, blk); len(batch) == 256 {
					_ = dst.PutMany(ctx, batch)
					batch = nil
				}
			}
			_ = dst.PutMany(ctx, batch)
		},
		func() {
			if _, err := car.Import(ctx, bytes.NewReader(data), blocks.NewMemory(), car.ImportOptions{}); err != nil {
				b.Fatal(err)
			}
		})
}

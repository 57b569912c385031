package unixfs

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/ipfs/boxo/blockstore"
	"github.com/ipfs/boxo/files"
	blocks "github.com/ipfs/go-block-format"
	ds "github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"
	flatfs "github.com/ipfs/go-ds-flatfs"
)

// baselineSHA256 is the fastest of a few single-threaded SHA-256 passes over
// data: the cost floor of hashing the same bytes.
func baselineSHA256(data []byte) time.Duration {
	best := time.Duration(1<<63 - 1)
	for range 3 {
		start := time.Now()
		sha256.Sum256(data)
		best = min(best, time.Since(start))
	}
	return best
}

func memBlockstore() blockstore.Blockstore {
	return blockstore.NewBlockstore(dssync.MutexWrap(ds.NewMapDatastore()))
}

// benchImport times ImportReader of data into the store newStore makes
// (fresh each iteration) and reports the ratio to raw single-threaded
// SHA-256 of the same bytes. The baseline is measured in every iteration,
// right before the import, so both see the same machine load. With
// storeFloor it also times writing the same leaf blocks, already hashed,
// into a fresh store (PutMany in 16 MiB batches): the cost of storage alone.
func benchImport(b *testing.B, data []byte, newStore func(b *testing.B) (BlockWriter, func()), storeFloor bool) {
	var leaves [][]blocks.Block
	if storeFloor {
		for off := 0; off < len(data); off += 16 * chunkSize {
			var batch []blocks.Block
			for o := off; o < min(off+16*chunkSize, len(data)); o += chunkSize {
				blk, err := hashLeaf(data[o:min(o+chunkSize, len(data))])
				if err != nil {
					b.Fatal(err)
				}
				batch = append(batch, blk)
			}
			leaves = append(leaves, batch)
		}
	}
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	var total, base, store time.Duration
	for range b.N {
		b.StopTimer()
		start := time.Now()
		sha256.Sum256(data)
		base += time.Since(start)
		if storeFloor {
			dst, done := newStore(b)
			start = time.Now()
			for _, batch := range leaves {
				if err := dst.PutMany(context.Background(), batch); err != nil {
					b.Fatal(err)
				}
			}
			store += time.Since(start)
			done()
		}
		dst, done := newStore(b)
		b.StartTimer()
		start = time.Now()
		if _, err := ImportReader(context.Background(), dst, bytes.NewReader(data), Options{}); err != nil {
			b.Fatal(err)
		}
		total += time.Since(start)
		b.StopTimer()
		done()
		b.StartTimer()
	}
	b.ReportMetric(float64(total)/float64(base), "x-vs-sha256")
	b.ReportMetric(float64(base.Microseconds())/1000/float64(b.N), "sha256-ms")
	if storeFloor {
		b.ReportMetric(float64(total)/float64(store), "x-vs-putmany")
	}
}

// BenchmarkAdd200MiB imports 200 MiB of pseudo-random bytes.
//
//	mem:    boxo blockstore over an in-memory map datastore (the main figure)
//	flatfs: boxo blockstore over go-ds-flatfs on disk, sync on; also
//	        reports the ratio to storing the pre-hashed leaves alone
func BenchmarkAdd200MiB(b *testing.B) {
	data := make([]byte, 200<<20)
	newPRNG(1).Read(data)
	b.Run("mem", func(b *testing.B) {
		benchImport(b, data, func(*testing.B) (BlockWriter, func()) { return memBlockstore(), func() {} }, false)
	})
	b.Run("flatfs", func(b *testing.B) {
		benchImport(b, data, func(b *testing.B) (BlockWriter, func()) {
			dir, err := os.MkdirTemp("", "unixfs-bench-flatfs-")
			if err != nil {
				b.Fatal(err)
			}
			fds, err := flatfs.CreateOrOpen(dir, flatfs.NextToLast(2), true)
			if err != nil {
				b.Fatal(err)
			}
			return blockstore.NewBlockstoreNoPrefix(fds), func() {
				fds.Close()
				os.RemoveAll(dir)
			}
		}, true)
	})
}

// BenchmarkAddSmallFiles imports a directory of 2000 files of 4 KiB from
// memory: per-file overhead rather than hashing throughput.
func BenchmarkAddSmallFiles(b *testing.B) {
	const n, size = 2000, 4 << 10
	data := make([]byte, n*size)
	newPRNG(2).Read(data)
	base := baselineSHA256(data)
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for range b.N {
		ents := make([]files.DirEntry, n)
		for i := range ents {
			ents[i] = files.FileEntry(fmt.Sprintf("f%05d", i), files.NewBytesFile(data[i*size:(i+1)*size]))
		}
		if _, err := ImportNode(context.Background(), memBlockstore(), files.NewSliceDirectory(ents), Options{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed())/float64(b.N)/float64(base), "x-vs-sha256")
}

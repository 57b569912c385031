package store

import (
	"math/big"
	"strconv"
	"testing"
	"time"

	"github.com/ipdm/ipdm/pipeline/manifest"
)

// benchOps is a segment's worth of ERC-20-like volume writes: 100k bigint
// additions of uint256-sized values over 1,000 token keys.
func benchOps() []Op {
	out := make([]Op, 100_000)
	for i := range out {
		v := new(big.Int).Lsh(big.NewInt(int64(i%977+1)), uint(i%190))
		out[i] = Op{Key: []byte("0x" + strconv.Itoa(i%1000)), Value: v.Append(nil, 10)}
	}
	return out
}

// BenchmarkAddBigInt: the store's exact bigint add (validation, decimal
// bytes in and out) against the obvious native accumulator, a
// map[string]*big.Int fed the same decimal writes and printing each sum
// once at the end.
//   - linear: State.ApplyBlock (deltas included, as the engine needs them)
//   - partial: Reduce of the segment, then Merge into a state
func BenchmarkAddBigInt(b *testing.B) {
	ops := benchOps()
	native := func() time.Duration {
		start := time.Now()
		m := map[string]*big.Int{}
		for _, op := range ops {
			x, ok := m[string(op.Key)]
			if !ok {
				x = new(big.Int)
				m[string(op.Key)] = x
			}
			var y big.Int
			y.SetString(string(op.Value), 10)
			x.Add(x, &y)
		}
		for _, x := range m {
			_ = x.String()
		}
		return time.Since(start)
	}
	for _, mode := range []string{"linear", "partial"} {
		b.Run(mode, func(b *testing.B) {
			var ours, base time.Duration
			for range b.N {
				start := time.Now()
				s, _ := New(manifest.PolicyAdd, manifest.ValueBigInt)
				if mode == "linear" {
					if _, err := s.ApplyBlock(ops); err != nil {
						b.Fatal(err)
					}
				} else {
					p, err := Reduce(manifest.PolicyAdd, manifest.ValueBigInt, []BlockOps{{Block: 1, Ops: ops}})
					if err != nil {
						b.Fatal(err)
					}
					if err := s.Merge(p); err != nil {
						b.Fatal(err)
					}
				}
				ours += time.Since(start)
				base += native()
			}
			b.ReportMetric(float64(len(ops))*float64(b.N)/ours.Seconds(), "ops/s")
			b.ReportMetric(float64(ours)/float64(base), "x-vs-native-bigint")
		})
	}
}

// BenchmarkEncode: canonical encoding of a 100k-key state against copying
// its keys and values into one buffer in map order (no sorting, no framing).
func BenchmarkEncode(b *testing.B) {
	s, _ := New(manifest.PolicySet, manifest.ValueBytes)
	for i := range 100_000 {
		_ = s.Apply(Op{Key: []byte("key-" + strconv.Itoa(i*7919%100_000)), Value: []byte("value-" + strconv.Itoa(i))})
	}
	var ours, base time.Duration
	for range b.N {
		s.sorted = nil // measure the sort too
		start := time.Now()
		enc := s.Encode()
		mid := time.Now()
		buf := make([]byte, 0, s.Size())
		for k, v := range s.m {
			buf = append(buf, k...)
			buf = append(buf, v...)
		}
		ours, base = ours+mid.Sub(start), base+time.Since(mid)
		b.SetBytes(int64(len(enc)))
	}
	b.ReportMetric(float64(ours)/float64(base), "x-vs-raw-copy")
}

package unixfs

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/bits"
	"slices"

	dag "github.com/ipfs/boxo/ipld/merkledag"
	ft "github.com/ipfs/boxo/ipld/unixfs"
	bitfield "github.com/ipfs/go-bitfield"
	ipld "github.com/ipfs/go-ipld-format"
	"github.com/spaolacci/murmur3"
)

var (
	// hamtBits is log2(hamtFanout): the hash bits consumed per shard level.
	hamtBits = bits.TrailingZeros(hamtFanout)
	// hamtPadLen is the length of the hex slot prefix of shard link names.
	hamtPadLen = len(fmt.Sprintf("%X", hamtFanout-1))
)

// hamtEntry is a directory entry with the HAMT hash of its name.
type hamtEntry struct {
	dirEntry
	hash uint64 // murmur3-x64-64 of the name, bits read from the most significant end
}

// hamtHash is UnixFS's HAMT hash: the first 64-bit half of murmur3 x64 128
// (seed 0), its bytes big-endian, consumed most significant bit first.
func hamtHash(name string) uint64 {
	h := murmur3.New64()
	_, _ = h.Write([]byte(name))
	return binary.BigEndian.Uint64(h.Sum(nil))
}

// hamtSlot returns the child index of hash at the given shard depth.
func hamtSlot(hash uint64, depth int) int {
	return int(hash << (depth * hamtBits) >> (64 - hamtBits))
}

// hamtDir builds the HAMT-sharded directory holding entries. The shape
// depends only on the set of names: a slot with one entry links to it
// ("XX"+name), a slot with several links to a child shard ("XX") that splits
// them on the next hashBits, as boxo's hamt.Shard does for inserts.
func (im *importer) hamtDir(ctx context.Context, entries []dirEntry) (dagLink, error) {
	hes := make([]hamtEntry, len(entries))
	for i, e := range entries {
		hes[i] = hamtEntry{dirEntry: e, hash: hamtHash(e.name)}
	}
	slices.SortFunc(hes, func(a, b hamtEntry) int {
		switch {
		case a.hash < b.hash:
			return -1
		case a.hash > b.hash:
			return 1
		}
		return 0
	})
	return im.hamtShard(ctx, hes, 0)
}

// hamtShard builds the shard at depth for entries, which are sorted by hash
// and share the hash bits of the levels above.
func (im *importer) hamtShard(ctx context.Context, entries []hamtEntry, depth int) (dagLink, error) {
	if (depth+1)*hamtBits > 64 {
		return dagLink{}, fmt.Errorf("unixfs: hamt: names %q and %q have the same hash", entries[0].name, entries[1].name)
	}
	nd := new(dag.ProtoNode)
	if err := nd.SetCidBuilder(dagPBPrefix); err != nil {
		return dagLink{}, err
	}
	bf, err := bitfield.NewBitfield(hamtFanout)
	if err != nil {
		return dagLink{}, err
	}
	for start := 0; start < len(entries); {
		slot := hamtSlot(entries[start].hash, depth)
		end := start + 1
		for end < len(entries) && hamtSlot(entries[end].hash, depth) == slot {
			end++
		}
		bf.SetBit(slot)
		prefix := fmt.Sprintf("%0*X", hamtPadLen, slot)
		if end-start == 1 {
			e := entries[start]
			if err := nd.AddRawLink(prefix+e.name, ipldLink(e.link)); err != nil {
				return dagLink{}, err
			}
		} else {
			child, err := im.hamtShard(ctx, entries[start:end], depth+1)
			if err != nil {
				return dagLink{}, err
			}
			if err := nd.AddRawLink(prefix, ipldLink(child)); err != nil {
				return dagLink{}, err
			}
		}
		start = end
	}
	data, err := ft.HAMTShardData(bf.Bytes(), hamtFanout, hamtHashMurmur3)
	if err != nil {
		return dagLink{}, fmt.Errorf("unixfs: encode hamt shard: %w", err)
	}
	nd.SetData(data)
	return im.putProto(ctx, nd, 0)
}

func ipldLink(l dagLink) *ipld.Link {
	return &ipld.Link{Cid: l.c, Size: l.tsize}
}

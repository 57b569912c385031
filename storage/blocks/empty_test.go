package blocks

import (
	"context"
	"testing"

	blk "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"
)

func TestKnownEmpty(t *testing.T) {
	ctx := context.Background()
	bs := KnownEmpty(NewMemory())
	for _, codec := range []uint64{cid.Raw, cid.DagProtobuf} {
		c, _ := cid.V1Builder{Codec: codec, MhType: mh.SHA2_256}.Sum(nil)
		if ok, err := bs.Has(ctx, c); !ok || err != nil {
			t.Fatalf("Has(%s) = %v, %v", c, ok, err)
		}
		b, err := bs.Get(ctx, c)
		if err != nil || len(b.RawData()) != 0 || !b.Cid().Equals(c) {
			t.Fatalf("Get(%s) = %v, %v", c, b, err)
		}
	}
	// Other blocks behave as the wrapped store does.
	other := blk.NewBlock([]byte("x"))
	if ok, _ := bs.Has(ctx, other.Cid()); ok {
		t.Fatal("unknown block reported present")
	}
	if err := bs.Put(ctx, other); err != nil {
		t.Fatal(err)
	}
	if b, err := bs.Get(ctx, other.Cid()); err != nil || string(b.RawData()) != "x" {
		t.Fatalf("Get: %v %v", b, err)
	}
	blake, _ := cid.V1Builder{Codec: cid.Raw, MhType: mh.BLAKE2B_MIN + 31}.Sum(nil)
	if ok, _ := bs.Has(ctx, blake); ok {
		t.Fatal("empty block under another hash function treated as known")
	}
}

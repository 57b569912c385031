package car

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"testing"

	"github.com/ipfs/boxo/ipld/merkledag"
	blocks "github.com/ipfs/go-block-format"
	cid "github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
	carv2 "github.com/ipld/go-car/v2"
	"github.com/multiformats/go-multihash"
	"github.com/multiformats/go-varint"
)

// sink is a BlockWriter that records what it is given.
type sink struct {
	got   []blocks.Block
	calls int
}

func (s *sink) PutMany(_ context.Context, bs []blocks.Block) error {
	s.calls++
	s.got = append(s.got, bs...)
	return nil
}

func rawBlock(t testing.TB, data []byte) blocks.Block {
	t.Helper()
	c, err := cid.Prefix{Version: 1, Codec: cid.Raw, MhType: multihash.SHA2_256, MhLength: -1}.Sum(data)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := blocks.NewBlockWithCid(data, c)
	return b
}

// testCAR is a small valid CARv1 and where each block section starts.
type testCAR struct {
	data    []byte
	root    cid.Cid
	blocks  []blocks.Block
	offsets []int64
}

func buildCAR(t testing.TB) testCAR {
	t.Helper()
	var tc testCAR
	var leaves []cid.Cid
	for i := range 4 {
		b := rawBlock(t, bytes.Repeat([]byte{byte('a' + i)}, 100*(i+1)))
		tc.blocks = append(tc.blocks, b)
		leaves = append(leaves, b.Cid())
	}
	n := merkledag.NodeWithData([]byte("root"))
	for i, l := range leaves {
		_ = n.AddRawLink(fmt.Sprint(i), &ipld.Link{Cid: l})
	}
	tc.root = n.Cid()
	tc.blocks = append([]blocks.Block{n}, tc.blocks...)
	hdr, err := encodeHeader([]cid.Cid{tc.root})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	buf.Write(hdr)
	for _, b := range tc.blocks {
		tc.offsets = append(tc.offsets, int64(buf.Len()))
		if err := writeSection(&buf, b.Cid(), b.RawData()); err != nil {
			t.Fatal(err)
		}
	}
	tc.data = buf.Bytes()
	return tc
}

// cborHeader wraps a raw dag-cbor header body in its length prefix.
func cborHeader(body []byte) []byte {
	return append(varint.ToUvarint(uint64(len(body))), body...)
}

// section builds a section from raw parts.
func section(parts ...[]byte) []byte {
	var n int
	for _, p := range parts {
		n += len(p)
	}
	out := varint.ToUvarint(uint64(n))
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func v2Header(dataOffset, dataSize uint64) []byte {
	out := append([]byte{}, carv2.Pragma...)
	var h [40]byte
	binary.LittleEndian.PutUint64(h[16:], dataOffset)
	binary.LittleEndian.PutUint64(h[24:], dataSize)
	return append(out, h[:]...)
}

func TestImportRejectsBadInput(t *testing.T) {
	tc := buildCAR(t)
	hdrLen := tc.offsets[0]
	body := tc.data[hdrLen:]
	third := tc.offsets[2]
	flipped := bytes.Clone(tc.data)
	flipped[tc.offsets[3]+50] ^= 0x01 // inside block 3's data

	unknownHash, _ := multihash.Encode(make([]byte, 32), 0x3f0000)
	unknownCid := cid.NewCidV1(cid.Raw, unknownHash)
	badIdent, _ := multihash.Encode([]byte("abc"), multihash.IDENTITY)
	big := rawBlock(t, bytes.Repeat([]byte{7}, 3<<20))

	concat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	hdrOnly := tc.data[:hdrLen]
	v1Payload := tc.data

	tests := []struct {
		name     string
		in       []byte
		opts     ImportOptions
		sentinel error
		block    int   // -1: header
		offset   int64 // -1: don't check
		written  int   // blocks that must have reached dst
	}{
		{"empty", nil, ImportOptions{}, ErrTruncated, -1, 0, 0},
		{"zero-length header", []byte{0}, ImportOptions{}, ErrMalformed, -1, 0, 0},
		{"truncated header length", []byte{0x80}, ImportOptions{}, ErrTruncated, -1, 0, 0},
		{"truncated header", tc.data[:hdrLen-3], ImportOptions{}, ErrTruncated, -1, 0, 0},
		{"huge header length", varint.ToUvarint(1 << 40), ImportOptions{}, ErrTooLarge, -1, 0, 0},
		{"header over the limit", tc.data, ImportOptions{MaxHeaderSize: 10}, ErrTooLarge, -1, 0, 0},
		{"header not cbor", cborHeader([]byte{0xff, 0xfe}), ImportOptions{}, ErrMalformed, -1, 0, 0},
		{"header not a map", cborHeader([]byte{0x01}), ImportOptions{}, ErrMalformed, -1, 0, 0},
		// {"version": 3}
		{"unknown version", cborHeader([]byte{0xa1, 0x67, 'v', 'e', 'r', 's', 'i', 'o', 'n', 0x03}), ImportOptions{}, ErrMalformed, -1, 0, 0},
		// {"version": 1} without roots
		{"no roots", cborHeader([]byte{0xa1, 0x67, 'v', 'e', 'r', 's', 'i', 'o', 'n', 0x01}), ImportOptions{}, ErrMalformed, -1, 0, 0},
		// {"roots": ["x"], "version": 1}: a root that is not a link
		{"bad root: not a link", cborHeader([]byte{0xa2, 0x65, 'r', 'o', 'o', 't', 's', 0x81, 0x61, 'x', 0x67, 'v', 'e', 'r', 's', 'i', 'o', 'n', 0x01}), ImportOptions{}, ErrMalformed, -1, 0, 0},
		// {"roots": [tag42(h'00 01 02')], "version": 1}: a link that is not a CID
		{"bad root: invalid cid", cborHeader([]byte{0xa2, 0x65, 'r', 'o', 'o', 't', 's', 0x81, 0xd8, 0x2a, 0x43, 0x00, 0x01, 0x02, 0x67, 'v', 'e', 'r', 's', 'i', 'o', 'n', 0x01}), ImportOptions{}, ErrMalformed, -1, 0, 0},
		{"truncated in block 2", tc.data[:third+20], ImportOptions{}, ErrTruncated, 2, third, 2},
		{"truncated in block 2 length", concat(tc.data[:third], []byte{0x81}), ImportOptions{}, ErrTruncated, 2, third, 2},
		{"bit flip in block 3", flipped, ImportOptions{}, ErrHashMismatch, 3, tc.offsets[3], 3},
		{"huge section length", concat(hdrOnly, varint.ToUvarint(1<<62)), ImportOptions{}, ErrTooLarge, 0, hdrLen, 0},
		{"varint overflow", concat(hdrOnly, bytes.Repeat([]byte{0xff}, 10)), ImportOptions{}, ErrMalformed, 0, hdrLen, 0},
		{"zero-length section", concat(tc.data, []byte{0}), ImportOptions{}, ErrMalformed, 5, int64(len(tc.data)), 5},
		{"bad cid in section", concat(hdrOnly, section([]byte{0x01, 0x55, 0x12, 0x40, 1, 2, 3})), ImportOptions{}, ErrMalformed, 0, hdrLen, 0},
		{"block over the limit", concat(hdrOnly, section(big.Cid().Bytes(), big.RawData())), ImportOptions{}, ErrTooLarge, 0, hdrLen, 0},
		{"block over a custom limit", tc.data, ImportOptions{MaxBlockSize: 250}, ErrTooLarge, 3, tc.offsets[3], 3},
		{"unsupported hash", concat(body[:0], hdrOnly, section(unknownCid.Bytes(), []byte("x"))), ImportOptions{}, ErrUnsupportedHash, 0, hdrLen, 0},
		{"identity cid with other data", concat(hdrOnly, section(cid.NewCidV1(cid.Raw, badIdent).Bytes(), []byte("abd"))), ImportOptions{}, ErrHashMismatch, 0, hdrLen, 0},
		{"v2: truncated header", carv2.Pragma, ImportOptions{}, ErrTruncated, -1, 11, 0},
		{"v2: data offset inside header", concat(v2Header(20, 100), v1Payload), ImportOptions{}, ErrMalformed, -1, 11, 0},
		{"v2: data offset past the end", concat(v2Header(1<<40, 100), v1Payload), ImportOptions{}, ErrTruncated, -1, 11, 0},
		{"v2: payload cut by data size", concat(v2Header(51, uint64(third+20)), v1Payload), ImportOptions{}, ErrTruncated, 2, 51 + third, 2},
		{"v2: payload header is v2", concat(v2Header(51, 100), carv2.Pragma, v1Payload), ImportOptions{}, ErrMalformed, -1, 51, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst := &sink{}
			_, err := Import(context.Background(), bytes.NewReader(tt.in), dst, tt.opts)
			if !errors.Is(err, tt.sentinel) {
				t.Fatalf("err = %v, want %v", err, tt.sentinel)
			}
			var ie *ImportError
			if !errors.As(err, &ie) {
				t.Fatalf("err = %T %v, want *ImportError", err, err)
			}
			if ie.Block != tt.block || (tt.offset >= 0 && ie.Offset != tt.offset) {
				t.Fatalf("fault at block %d offset %d, want block %d offset %d (%v)", ie.Block, ie.Offset, tt.block, tt.offset, err)
			}
			if len(dst.got) > tt.written {
				t.Fatalf("%d blocks written, at most %d precede the fault", len(dst.got), tt.written)
			}
			for _, b := range dst.got {
				if sum, _ := b.Cid().Prefix().Sum(b.RawData()); !sum.Equals(b.Cid()) {
					t.Fatalf("unverified block %s written", b.Cid())
				}
			}
		})
	}
}

func TestImportValid(t *testing.T) {
	tc := buildCAR(t)
	dst := &sink{}
	res, err := Import(context.Background(), bytes.NewReader(tc.data), dst, ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, b := range tc.blocks {
		total += int64(len(b.RawData()))
	}
	if res.Version != 1 || len(res.Roots) != 1 || !res.Roots[0].Equals(tc.root) || res.Blocks != len(tc.blocks) || res.Bytes != total {
		t.Fatalf("result = %+v", res)
	}
	if len(dst.got) != len(tc.blocks) || dst.calls != 1 {
		t.Fatalf("dst got %d blocks in %d calls", len(dst.got), dst.calls)
	}
	for i, b := range dst.got {
		if !b.Cid().Equals(tc.blocks[i].Cid()) || !bytes.Equal(b.RawData(), tc.blocks[i].RawData()) {
			t.Fatalf("block %d differs", i)
		}
	}

	// No roots, and an identity block, which is verified but not written.
	hdr, _ := encodeHeader(nil)
	ident, _ := cid.Prefix{Version: 1, Codec: cid.Raw, MhType: multihash.IDENTITY, MhLength: -1}.Sum([]byte("tiny"))
	in := append(hdr, section(ident.Bytes(), []byte("tiny"))...)
	dst = &sink{}
	res, err = Import(context.Background(), bytes.NewReader(in), dst, ImportOptions{})
	if err != nil || len(res.Roots) != 0 || res.Blocks != 1 || len(dst.got) != 0 {
		t.Fatalf("identity-only import = %+v, %v, wrote %d", res, err, len(dst.got))
	}
}

func TestImportBatchesAndStopsOnCancel(t *testing.T) {
	hdr, _ := encodeHeader(nil)
	var buf bytes.Buffer
	buf.Write(hdr)
	const n = 1000
	for i := range n {
		b := rawBlock(t, []byte(fmt.Sprint("block ", i)))
		if err := writeSection(&buf, b.Cid(), b.RawData()); err != nil {
			t.Fatal(err)
		}
	}
	dst := &sink{}
	res, err := Import(context.Background(), bytes.NewReader(buf.Bytes()), dst, ImportOptions{})
	if err != nil || res.Blocks != n || len(dst.got) != n {
		t.Fatalf("import = %+v, %v, wrote %d", res, err, len(dst.got))
	}
	if want := (n + flushBlocks - 1) / flushBlocks; dst.calls != want {
		t.Fatalf("%d PutMany calls, want %d", dst.calls, want)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Import(ctx, bytes.NewReader(buf.Bytes()), &sink{}, ImportOptions{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("import with cancelled context: %v", err)
	}
}

type failingWriter struct{}

func (failingWriter) PutMany(context.Context, []blocks.Block) error { return errors.New("disk full") }

func TestImportReportsWriteErrors(t *testing.T) {
	tc := buildCAR(t)
	_, err := Import(context.Background(), bytes.NewReader(tc.data), failingWriter{}, ImportOptions{})
	var ie *ImportError
	if err == nil || errors.As(err, &ie) {
		t.Fatalf("err = %v, want a plain write error", err)
	}
}

// FuzzImport: no input makes Import panic, and whatever it hands to the
// writer is verified.
func FuzzImport(f *testing.F) {
	tc := buildCAR(f)
	f.Add(tc.data)
	var v2 bytes.Buffer
	if err := carv2.WrapV1(bytes.NewReader(tc.data), &v2); err != nil {
		f.Fatal(err)
	}
	f.Add(v2.Bytes())
	for _, cut := range []int64{1, tc.offsets[0] - 1, tc.offsets[0], tc.offsets[2] + 7, int64(len(tc.data)) - 1} {
		f.Add(tc.data[:cut])
	}
	for _, at := range []int64{0, 3, tc.offsets[1], tc.offsets[1] + 1, tc.offsets[1] + 5, tc.offsets[4] + 60} {
		b := bytes.Clone(tc.data)
		b[at] ^= 0x40
		f.Add(b)
	}
	f.Add(v2.Bytes()[:60])
	f.Add([]byte{})
	f.Add(varint.ToUvarint(1 << 62))

	f.Fuzz(func(t *testing.T, in []byte) {
		dst := &sink{}
		res, err := Import(context.Background(), bytes.NewReader(in), dst, ImportOptions{MaxBlockSize: 64 << 10, MaxHeaderSize: 4 << 10})
		if err != nil {
			var ie *ImportError
			if !errors.As(err, &ie) {
				t.Fatalf("error is not an *ImportError: %v", err)
			}
		}
		if len(dst.got) > res.Blocks {
			t.Fatalf("wrote %d blocks, counted %d", len(dst.got), res.Blocks)
		}
		for _, b := range dst.got {
			sum, err := b.Cid().Prefix().Sum(b.RawData())
			if err != nil || !sum.Equals(b.Cid()) {
				t.Fatalf("wrote unverified block %s", b.Cid())
			}
		}
	})
}

package car

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	blocks "github.com/ipfs/go-block-format"
	cid "github.com/ipfs/go-cid"
	carv2 "github.com/ipld/go-car/v2"
	"github.com/multiformats/go-multihash"
	"github.com/multiformats/go-varint"
)

const (
	// DefaultMaxBlockSize is the default ImportOptions.MaxBlockSize: 2 MiB,
	// the largest block bitswap moves.
	DefaultMaxBlockSize = 2 << 20
	// DefaultMaxHeaderSize is the default ImportOptions.MaxHeaderSize.
	DefaultMaxHeaderSize = 1 << 20
	// maxCIDSize bounds the CID part of a section (CIDs of real DAGs are
	// under 100 bytes; identity CIDs inline small blocks).
	maxCIDSize = 4096
	// flushBytes and flushBlocks bound what Import holds before PutMany.
	flushBytes  = 8 << 20
	flushBlocks = 256
)

var (
	// ErrTruncated: the input ended inside the header or a block section.
	ErrTruncated = errors.New("car: truncated")
	// ErrMalformed: the input is not a well-formed CARv1/CARv2.
	ErrMalformed = errors.New("car: malformed")
	// ErrHashMismatch: a block's bytes do not hash to its CID.
	ErrHashMismatch = errors.New("car: block does not match its cid")
	// ErrTooLarge: the header or a block exceeds its limit.
	ErrTooLarge = errors.New("car: too large")
	// ErrUnsupportedHash: a block's CID uses a hash function this build
	// cannot compute, so it cannot be verified.
	ErrUnsupportedHash = errors.New("car: unsupported hash function")
)

// ImportError locates a fault in the input. It wraps one of ErrTruncated,
// ErrMalformed, ErrHashMismatch, ErrTooLarge or ErrUnsupportedHash.
type ImportError struct {
	// Block is the 0-based index of the bad block section, or -1 when the
	// fault is in the header.
	Block int
	// Offset is where the bad section (or header) starts, in bytes from the
	// start of the input.
	Offset int64
	// Cid is the bad block's CID, when it could be read.
	Cid cid.Cid
	// Err is the sentinel with details.
	Err error
}

func (e *ImportError) Error() string {
	where := fmt.Sprintf("block %d at offset %d", e.Block, e.Offset)
	if e.Block < 0 {
		where = fmt.Sprintf("header at offset %d", e.Offset)
	}
	if e.Cid.Defined() {
		where += " (" + e.Cid.String() + ")"
	}
	return "car: import: " + where + ": " + e.Err.Error()
}

func (e *ImportError) Unwrap() error { return e.Err }

// BlockWriter receives the verified blocks of an import. blocks.Disk and
// blocks.Memory (any boxo blockstore) fit.
type BlockWriter interface {
	PutMany(ctx context.Context, bs []blocks.Block) error
}

// ImportOptions configures Import. The zero value is the default.
type ImportOptions struct {
	// MaxBlockSize is the largest block (data, CID excluded) accepted, in
	// bytes. 0 means DefaultMaxBlockSize.
	MaxBlockSize int
	// MaxHeaderSize is the largest CARv1 header accepted, in bytes. 0 means
	// DefaultMaxHeaderSize.
	MaxHeaderSize int
}

// ImportResult is what Import read.
type ImportResult struct {
	// Version is the CAR version (1 or 2).
	Version uint64
	// Roots are the roots the header names (possibly none). Import does not
	// check that they are among the blocks.
	Roots []cid.Cid
	// Blocks and Bytes count the block sections read and verified (block
	// data bytes, CIDs and framing excluded), duplicates included.
	Blocks int
	Bytes  int64
}

// Import reads a CARv1 or CARv2 stream from r and writes its blocks to dst,
// in batches, after checking that every block hashes to its CID. It keeps
// at most one batch (8 MiB) in memory, so CARs of any size stream through.
// A CARv2's index, and anything after its data payload, is not read.
//
// Blocks of identity-hash CIDs are verified and counted but not written
// (their CID holds their data).
//
// On a fault in the input, Import returns an *ImportError locating it, with
// the roots and counts read so far. Blocks before the fault may already
// have been written to dst; they were verified and are content-addressed, so
// they are harmless (garbage collection removes them unless pinned).
func Import(ctx context.Context, r io.Reader, dst BlockWriter, opts ImportOptions) (ImportResult, error) {
	maxBlock := opts.MaxBlockSize
	if maxBlock <= 0 {
		maxBlock = DefaultMaxBlockSize
	}
	maxHeader := opts.MaxHeaderSize
	if maxHeader <= 0 {
		maxHeader = DefaultMaxHeaderSize
	}
	im := importer{
		in:        &countingReader{r: bufio.NewReaderSize(r, 256<<10), limit: -1},
		dst:       dst,
		maxBlock:  maxBlock,
		maxHeader: maxHeader,
	}
	err := im.run(ctx)
	if err == nil {
		err = im.flush(ctx)
	}
	return im.res, err
}

type importer struct {
	in        *countingReader
	dst       BlockWriter
	maxBlock  int
	maxHeader int
	res       ImportResult

	pending      []blocks.Block
	pendingBytes int
}

func (im *importer) headerErr(off int64, sentinel error, format string, args ...any) error {
	return &ImportError{Block: -1, Offset: off, Err: fmt.Errorf("%w: "+format, append([]any{sentinel}, args...)...)}
}

// readHeader reads one header section.
func (im *importer) readHeader() (header, error) {
	off := im.in.n
	l, err := varint.ReadUvarint(im.in)
	switch {
	case errors.Is(err, io.EOF):
		return header{}, im.headerErr(off, ErrTruncated, "empty input")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return header{}, im.headerErr(off, ErrTruncated, "inside the header length")
	case err != nil:
		return header{}, im.headerErr(off, ErrMalformed, "header length: %v", err)
	case l == 0:
		return header{}, im.headerErr(off, ErrMalformed, "zero-length header")
	case l > uint64(im.maxHeader):
		return header{}, im.headerErr(off, ErrTooLarge, "header of %d bytes, limit %d", l, im.maxHeader)
	}
	body := make([]byte, l)
	if _, err := io.ReadFull(im.in, body); err != nil {
		return header{}, im.headerErr(off, ErrTruncated, "header of %d bytes: %v", l, err)
	}
	h, err := decodeHeader(body)
	if err != nil {
		return header{}, im.headerErr(off, ErrMalformed, "%v", err)
	}
	return h, nil
}

func (im *importer) run(ctx context.Context) error {
	h, err := im.readHeader()
	if err != nil {
		return err
	}
	im.res.Version = h.version
	switch h.version {
	case 1:
	case 2:
		off := im.in.n
		var v2 carv2.Header
		if _, err := v2.ReadFrom(im.in); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return im.headerErr(off, ErrTruncated, "inside the CARv2 header")
			}
			return im.headerErr(off, ErrMalformed, "CARv2 header: %v", err)
		}
		if int64(v2.DataOffset) < im.in.n {
			return im.headerErr(off, ErrMalformed, "CARv2 data offset %d inside the header", v2.DataOffset)
		}
		if _, err := io.CopyN(io.Discard, im.in, int64(v2.DataOffset)-im.in.n); err != nil {
			return im.headerErr(off, ErrTruncated, "before the CARv2 data offset %d", v2.DataOffset)
		}
		im.in.limit = im.in.n + int64(v2.DataSize) // ReadFrom ensured DataSize fits
		if im.in.limit < 0 {
			im.in.limit = 1<<63 - 1
		}
		off = im.in.n
		if h, err = im.readHeader(); err != nil {
			return err
		}
		if h.version != 1 {
			return im.headerErr(off, ErrMalformed, "CARv2 payload header has version %d, want 1", h.version)
		}
	default:
		return im.headerErr(0, ErrMalformed, "unsupported CAR version %d", h.version)
	}
	im.res.Roots = h.roots

	for i := 0; ; i++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		b, err := im.readSection(i)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		im.res.Blocks++
		im.res.Bytes += int64(len(b.RawData()))
		if b.Cid().Prefix().MhType == multihash.IDENTITY {
			continue
		}
		im.pending = append(im.pending, b)
		im.pendingBytes += len(b.RawData())
		if len(im.pending) >= flushBlocks || im.pendingBytes >= flushBytes {
			if err := im.flush(ctx); err != nil {
				return err
			}
		}
	}
}

// readSection reads and verifies block section i; io.EOF means a clean end.
func (im *importer) readSection(i int) (blocks.Block, error) {
	off := im.in.n
	fail := func(c cid.Cid, sentinel error, format string, args ...any) error {
		return &ImportError{Block: i, Offset: off, Cid: c, Err: fmt.Errorf("%w: "+format, append([]any{sentinel}, args...)...)}
	}
	l, err := varint.ReadUvarint(im.in)
	switch {
	case err == io.EOF:
		return nil, io.EOF
	case errors.Is(err, io.ErrUnexpectedEOF):
		return nil, fail(cid.Undef, ErrTruncated, "inside the section length")
	case err != nil:
		return nil, fail(cid.Undef, ErrMalformed, "section length: %v", err)
	case l == 0:
		return nil, fail(cid.Undef, ErrMalformed, "zero-length section")
	case l > uint64(im.maxBlock+maxCIDSize):
		return nil, fail(cid.Undef, ErrTooLarge, "section of %d bytes, block limit %d", l, im.maxBlock)
	}
	buf := make([]byte, l)
	if n, err := io.ReadFull(im.in, buf); err != nil {
		return nil, fail(cid.Undef, ErrTruncated, "section of %d bytes ends after %d", l, n)
	}
	n, c, err := cid.CidFromBytes(buf)
	if err != nil {
		return nil, fail(cid.Undef, ErrMalformed, "bad cid: %v", err)
	}
	data := buf[n:]
	if len(data) > im.maxBlock {
		return nil, fail(c, ErrTooLarge, "block of %d bytes, limit %d", len(data), im.maxBlock)
	}
	dec, err := multihash.Decode(c.Hash())
	if err != nil {
		return nil, fail(c, ErrMalformed, "bad multihash: %v", err)
	}
	sum, err := multihash.Sum(data, dec.Code, dec.Length)
	switch {
	case err != nil && dec.Code == multihash.IDENTITY:
		return nil, fail(c, ErrHashMismatch, "identity cid of %d bytes for %d bytes of data", dec.Length, len(data))
	case err != nil:
		return nil, fail(c, ErrUnsupportedHash, "%v", err)
	case !bytes.Equal(sum, c.Hash()):
		return nil, fail(c, ErrHashMismatch, "data hashes to %s", cid.NewCidV1(c.Type(), sum))
	}
	return blocks.NewBlockWithCid(data, c)
}

func (im *importer) flush(ctx context.Context) error {
	if len(im.pending) == 0 {
		return nil
	}
	if err := im.dst.PutMany(ctx, im.pending); err != nil {
		return fmt.Errorf("car: import: write blocks: %w", err)
	}
	im.pending = nil
	im.pendingBytes = 0
	return nil
}

// countingReader counts the bytes consumed and, when limit >= 0, reports
// EOF at that offset (the end of a CARv2 data payload).
type countingReader struct {
	r     *bufio.Reader
	n     int64
	limit int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	if c.limit >= 0 {
		if c.n >= c.limit {
			return 0, io.EOF
		}
		if rem := c.limit - c.n; int64(len(p)) > rem {
			p = p[:rem]
		}
	}
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func (c *countingReader) ReadByte() (byte, error) {
	if c.limit >= 0 && c.n >= c.limit {
		return 0, io.EOF
	}
	b, err := c.r.ReadByte()
	if err == nil {
		c.n++
	}
	return b, err
}

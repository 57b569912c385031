package blocks

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ipfs/boxo/blockstore"
	dshelp "github.com/ipfs/boxo/datastore/dshelp"
	blocks "github.com/ipfs/go-block-format"
	cid "github.com/ipfs/go-cid"
	ds "github.com/ipfs/go-datastore"
	dsq "github.com/ipfs/go-datastore/query"
	flatfs "github.com/ipfs/go-ds-flatfs"
	ipld "github.com/ipfs/go-ipld-format"
)

// DefaultQuarantineDir is the folder, inside the store's folder, that
// receives blocks failing verification when DiskOptions.QuarantineDir is
// empty. Its leading dot keeps flatfs from ever listing it as a shard.
const DefaultQuarantineDir = ".quarantine"

// flatfs file name suffix of a stored block.
const blockFileExt = ".data"

// DiskOptions configures OpenDisk. The zero value is the production setting.
type DiskOptions struct {
	// NoSync skips fsync of block files and directories. Writes are still
	// atomic (temp file + rename) so a process crash never exposes a torn
	// block, but a power loss may lose recent blocks. Default false: every
	// Put/PutMany is durable when it returns.
	NoSync bool

	// QuarantineDir is where blocks whose bytes do not match their hash are
	// moved. Empty means <path>/.quarantine. It must not be one of the store's
	// shard folders; a folder outside the store works too (moves then fall
	// back to copy + delete across file systems).
	QuarantineDir string

	// Logger receives one warning per corrupt block found. Nil means
	// slog.Default().
	Logger *slog.Logger

	// VerifyWorkers is how many blocks Verify hashes in parallel. 0 means
	// runtime.GOMAXPROCS(0).
	VerifyWorkers int
}

// Stats are the store's running totals.
type Stats struct {
	// Blocks is the number of stored blocks.
	Blocks int64
	// Bytes is the sum of their sizes (block data only, not file system
	// overhead).
	Bytes int64
	// Corrupt counts blocks found corrupt (and quarantined) since open.
	Corrupt int64
}

// VerifyReport is the outcome of Verify.
type VerifyReport struct {
	// Checked is how many blocks were read and hashed.
	Checked int64
	// Bytes is how many block bytes were hashed.
	Bytes int64
	// Corrupt lists the blocks whose bytes did not match their hash, as
	// CIDv1 raw (the store keeps multihashes, not codecs), sorted.
	Corrupt []cid.Cid
	// Quarantined lists where the corrupt blocks' bytes were moved.
	Quarantined []string
	// Unverifiable lists blocks whose hash function this build cannot
	// compute; they are left in place.
	Unverifiable []cid.Cid
}

// Disk is the persistent block store: one file per block in a flatfs folder
// (Kubo's layout: next-to-last/2 sharding, base32 multihash file names),
// blocks keyed by multihash, every read verified against its CID. It
// implements boxo's blockstore.Blockstore. All methods are safe for
// concurrent use.
type Disk struct {
	path  string
	qdir  string
	fs    *flatfs.Datastore
	shard flatfs.ShardFunc
	log   *slog.Logger
	vwork int

	locks *keyLocks

	nblocks  atomic.Int64
	nbytes   atomic.Int64
	ncorrupt atomic.Int64

	closed    atomic.Bool
	closeOnce sync.Once
	closeErr  error
}

var (
	_ blockstore.Blockstore           = (*Disk)(nil)
	_ blockstore.AllKeysChanWithErrer = (*Disk)(nil)
)

// OpenDisk opens the block store in folder path, creating it (and its
// parents) if needed. Leftover temporary files of an interrupted write are
// removed. Opening counts the stored blocks and their sizes (one directory
// scan and one stat per block) so that Stat is free afterwards.
func OpenDisk(path string, opts DiskOptions) (*Disk, error) {
	if err := os.MkdirAll(path, 0o755); err != nil {
		return nil, fmt.Errorf("blocks: open %s: %w", path, err)
	}
	fsds, err := flatfs.CreateOrOpen(path, flatfs.IPFS_DEF_SHARD, !opts.NoSync)
	if err != nil {
		return nil, fmt.Errorf("blocks: open %s: %w", path, err)
	}
	shardID, err := flatfs.ReadShardFunc(path)
	if err != nil {
		_ = fsds.Close()
		return nil, fmt.Errorf("blocks: open %s: %w", path, err)
	}
	d := &Disk{
		path:  path,
		qdir:  opts.QuarantineDir,
		fs:    fsds,
		shard: shardID.Func(),
		log:   opts.Logger,
		vwork: opts.VerifyWorkers,
		locks: newKeyLocks(),
	}
	if d.qdir == "" {
		d.qdir = filepath.Join(path, DefaultQuarantineDir)
	}
	if d.log == nil {
		d.log = slog.Default()
	}
	if d.vwork <= 0 {
		d.vwork = runtime.GOMAXPROCS(0)
	}
	if err := d.count(); err != nil {
		_ = fsds.Close()
		return nil, fmt.Errorf("blocks: open %s: count blocks: %w", path, err)
	}
	return d, nil
}

// count sets the block and byte counters from a scan of the folder.
func (d *Disk) count() error {
	res, err := d.fs.Query(context.Background(), dsq.Query{KeysOnly: true, ReturnsSizes: true})
	if err != nil {
		return err
	}
	defer res.Close()
	var n, b int64
	for {
		e, ok := res.NextSync()
		if !ok {
			break
		}
		if e.Error != nil {
			return e.Error
		}
		if _, err := dshelp.DsKeyToMultihash(ds.RawKey(e.Key)); err != nil {
			continue // not a block file; AllKeysChan skips it too
		}
		n++
		b += int64(e.Size)
	}
	d.nblocks.Store(n)
	d.nbytes.Store(b)
	return nil
}

// Path returns the store's folder.
func (d *Disk) Path() string { return d.path }

// QuarantineDir returns where corrupt blocks are moved.
func (d *Disk) QuarantineDir() string { return d.qdir }

// Close flushes and closes the store. It is idempotent; every other method
// fails with ErrClosed afterwards.
func (d *Disk) Close() error {
	d.closeOnce.Do(func() {
		d.closed.Store(true)
		d.closeErr = d.fs.Close()
	})
	return d.closeErr
}

func (d *Disk) check(ctx context.Context) error {
	if d.closed.Load() {
		return ErrClosed
	}
	return ctx.Err()
}

// Stat returns the running totals. It does no I/O.
func (d *Disk) Stat(ctx context.Context) (Stats, error) {
	if err := d.check(ctx); err != nil {
		return Stats{}, err
	}
	return Stats{Blocks: d.nblocks.Load(), Bytes: d.nbytes.Load(), Corrupt: d.ncorrupt.Load()}, nil
}

// Has reports whether a block with c's multihash is stored. It does not
// read or verify the block.
func (d *Disk) Has(ctx context.Context, c cid.Cid) (bool, error) {
	if err := d.check(ctx); err != nil {
		return false, err
	}
	if !c.Defined() {
		return false, nil
	}
	ok, err := d.fs.Has(ctx, dshelp.MultihashToDsKey(c.Hash()))
	if err != nil {
		return false, fmt.Errorf("blocks: has %s: %w", c, err)
	}
	return ok, nil
}

// GetSize returns the stored size of c's block (a stat, no verification),
// or an ipld.ErrNotFound.
func (d *Disk) GetSize(ctx context.Context, c cid.Cid) (int, error) {
	if err := d.check(ctx); err != nil {
		return -1, err
	}
	if !c.Defined() {
		return -1, ipld.ErrNotFound{Cid: c}
	}
	n, err := d.fs.GetSize(ctx, dshelp.MultihashToDsKey(c.Hash()))
	if errors.Is(err, ds.ErrNotFound) {
		return -1, ipld.ErrNotFound{Cid: c}
	}
	if err != nil {
		return -1, fmt.Errorf("blocks: get size %s: %w", c, err)
	}
	return n, nil
}

// Get reads c's block and checks that it hashes to c. The returned block
// carries c itself (a CIDv0 and a CIDv1 of the same multihash share one
// stored block). A block that fails the check is moved to the quarantine
// folder and Get returns a *CorruptError, which matches both ErrCorrupt and
// ipld.ErrNotFound.
func (d *Disk) Get(ctx context.Context, c cid.Cid) (blocks.Block, error) {
	if err := d.check(ctx); err != nil {
		return nil, err
	}
	if !c.Defined() {
		return nil, ipld.ErrNotFound{Cid: c}
	}
	k := dshelp.MultihashToDsKey(c.Hash())
	data, err := d.fs.Get(ctx, k)
	if errors.Is(err, ds.ErrNotFound) {
		return nil, ipld.ErrNotFound{Cid: c}
	}
	if err != nil {
		return nil, fmt.Errorf("blocks: get %s: %w", c, err)
	}
	ok, err := hashMatches(c.Hash(), data)
	if err != nil {
		return nil, fmt.Errorf("blocks: get %s: %w", c, err)
	}
	if !ok {
		if data, err = d.handleCorrupt(ctx, c, k); err != nil {
			return nil, err
		}
	}
	return blocks.NewBlockWithCid(data, c)
}

// handleCorrupt re-checks c's block under its key lock and, if it is still
// bad, quarantines it. It returns the block's bytes if a concurrent Put
// repaired it meanwhile, and a *CorruptError otherwise.
func (d *Disk) handleCorrupt(ctx context.Context, c cid.Cid, k ds.Key) ([]byte, error) {
	if err := d.locks.lock(ctx, k.String()); err != nil {
		return nil, &CorruptError{Cid: c}
	}
	defer d.locks.unlock(k.String())

	data, err := d.fs.Get(ctx, k)
	if errors.Is(err, ds.ErrNotFound) {
		return nil, &CorruptError{Cid: c} // another reader moved it
	}
	if err != nil {
		return nil, fmt.Errorf("blocks: get %s: %w", c, err)
	}
	if ok, _ := hashMatches(c.Hash(), data); ok {
		return data, nil
	}
	dst, err := d.quarantine(k, data)
	if err != nil {
		d.log.Error("blocks: corrupt block could not be quarantined", "cid", c.String(), "err", err)
		return nil, fmt.Errorf("blocks: get %s: quarantine corrupt block: %w", c, err)
	}
	d.nblocks.Add(-1)
	d.nbytes.Add(-int64(len(data)))
	d.ncorrupt.Add(1)
	d.log.Warn("blocks: corrupt block quarantined", "cid", c.String(), "path", dst)
	return nil, &CorruptError{Cid: c, QuarantinePath: dst}
}

// blockPath is the file flatfs keeps k in.
func (d *Disk) blockPath(k ds.Key) string {
	name := k.String()[1:]
	return filepath.Join(d.path, d.shard(name), name+blockFileExt)
}

// quarantine moves k's file to the quarantine folder. data is its current
// content, used when a rename is impossible. The caller holds k's lock.
func (d *Disk) quarantine(k ds.Key, data []byte) (string, error) {
	if err := os.MkdirAll(d.qdir, 0o755); err != nil {
		return "", err
	}
	dst := filepath.Join(d.qdir, fmt.Sprintf("%s.%d.corrupt", k.String()[1:], time.Now().UnixNano()))
	if err := os.Rename(d.blockPath(k), dst); err != nil {
		// Different file system (or an odd platform): copy, then delete.
		if werr := os.WriteFile(dst, data, 0o644); werr != nil {
			return "", errors.Join(err, werr)
		}
		if derr := d.fs.Delete(context.Background(), k); derr != nil {
			return "", derr
		}
	}
	return dst, nil
}

// Put stores b under its multihash unless a block with that multihash is
// already stored. It is durable when it returns (unless NoSync).
func (d *Disk) Put(ctx context.Context, b blocks.Block) error {
	if err := d.check(ctx); err != nil {
		return err
	}
	c := b.Cid()
	if err := checkHashSupported(c.Hash()); err != nil {
		return fmt.Errorf("blocks: put %s: %w", c, err)
	}
	k := dshelp.MultihashToDsKey(c.Hash())
	if err := d.locks.lock(ctx, k.String()); err != nil {
		return err
	}
	defer d.locks.unlock(k.String())
	has, err := d.fs.Has(ctx, k)
	if err != nil {
		return fmt.Errorf("blocks: put %s: %w", c, err)
	}
	if has {
		return nil
	}
	if err := d.fs.Put(ctx, k, b.RawData()); err != nil {
		return fmt.Errorf("blocks: put %s: %w", c, err)
	}
	d.nblocks.Add(1)
	d.nbytes.Add(int64(len(b.RawData())))
	return nil
}

type putItem struct {
	key ds.Key
	blk blocks.Block
}

// PutMany stores the blocks that are not stored yet, writing them in
// parallel and making them durable with one round of directory syncs. On
// error, some of the blocks may have been stored (each one whole).
func (d *Disk) PutMany(ctx context.Context, bs []blocks.Block) error {
	if err := d.check(ctx); err != nil {
		return err
	}
	if len(bs) == 1 {
		return d.Put(ctx, bs[0])
	}
	for _, b := range bs {
		if err := checkHashSupported(b.Cid().Hash()); err != nil {
			return fmt.Errorf("blocks: put %s: %w", b.Cid(), err)
		}
	}

	// Lock the keys that are free; the others are being written or deleted
	// right now and are retried one by one afterwards, with no lock held,
	// so two PutMany calls can never wait for each other.
	seen := make(map[string]struct{}, len(bs))
	var mine []putItem
	var later []blocks.Block
	for _, b := range bs {
		k := dshelp.MultihashToDsKey(b.Cid().Hash())
		ks := k.String()
		if _, dup := seen[ks]; dup {
			continue
		}
		seen[ks] = struct{}{}
		if ok, _ := d.locks.tryLock(ks); ok {
			mine = append(mine, putItem{key: k, blk: b})
		} else {
			later = append(later, b)
		}
	}
	err := d.putLocked(ctx, mine)
	for _, it := range mine {
		d.locks.unlock(it.key.String())
	}
	if err != nil {
		return err
	}
	for _, b := range later {
		if err := d.Put(ctx, b); err != nil {
			return err
		}
	}
	return nil
}

// putLocked writes the items that are missing; the caller holds their locks.
func (d *Disk) putLocked(ctx context.Context, items []putItem) error {
	missing := items[:0:0]
	for _, it := range items {
		has, err := d.fs.Has(ctx, it.key)
		if err != nil {
			return fmt.Errorf("blocks: put %s: %w", it.blk.Cid(), err)
		}
		if !has {
			missing = append(missing, it)
		}
	}
	switch len(missing) {
	case 0:
		return nil
	case 1:
		if err := d.fs.Put(ctx, missing[0].key, missing[0].blk.RawData()); err != nil {
			return fmt.Errorf("blocks: put %s: %w", missing[0].blk.Cid(), err)
		}
	default:
		batch, err := d.fs.Batch(ctx)
		if err != nil {
			return fmt.Errorf("blocks: put many: %w", err)
		}
		discard := func() {
			if db, ok := batch.(flatfs.DiscardableBatch); ok {
				_ = db.Discard(context.Background())
			}
		}
		for _, it := range missing {
			if err := batch.Put(ctx, it.key, it.blk.RawData()); err != nil {
				discard()
				return fmt.Errorf("blocks: put %s: %w", it.blk.Cid(), err)
			}
		}
		if err := batch.Commit(ctx); err != nil {
			discard()
			return fmt.Errorf("blocks: put many: %w", err)
		}
	}
	var n int64
	for _, it := range missing {
		n += int64(len(it.blk.RawData()))
	}
	d.nblocks.Add(int64(len(missing)))
	d.nbytes.Add(n)
	return nil
}

// DeleteBlock removes the block with c's multihash. Deleting a missing
// block is not an error.
func (d *Disk) DeleteBlock(ctx context.Context, c cid.Cid) error {
	if err := d.check(ctx); err != nil {
		return err
	}
	if !c.Defined() {
		return nil
	}
	k := dshelp.MultihashToDsKey(c.Hash())
	if err := d.locks.lock(ctx, k.String()); err != nil {
		return err
	}
	defer d.locks.unlock(k.String())
	size, err := d.fs.GetSize(ctx, k)
	if errors.Is(err, ds.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("blocks: delete %s: %w", c, err)
	}
	if err := d.fs.Delete(ctx, k); err != nil {
		return fmt.Errorf("blocks: delete %s: %w", c, err)
	}
	d.nblocks.Add(-1)
	d.nbytes.Add(-int64(size))
	return nil
}

// AllKeysChan lists every stored block as a CIDv1 with the raw codec (the
// store keeps multihashes only). The channel closes early when ctx is done.
func (d *Disk) AllKeysChan(ctx context.Context) (<-chan cid.Cid, error) {
	ch, _, err := d.AllKeysChanWithErr(ctx)
	return ch, err
}

// AllKeysChanWithErr is AllKeysChan plus a function, to call after draining
// the channel, that reports whether the listing stopped early.
func (d *Disk) AllKeysChanWithErr(ctx context.Context) (<-chan cid.Cid, func() error, error) {
	if err := d.check(ctx); err != nil {
		return nil, nil, err
	}
	res, err := d.fs.Query(ctx, dsq.Query{KeysOnly: true})
	if err != nil {
		return nil, nil, fmt.Errorf("blocks: list: %w", err)
	}
	return keysFromQuery(ctx, res)
}

// keysFromQuery turns a key-only query over multihash keys into a CID
// channel; the goroutine it starts ends when the results end or ctx is done.
func keysFromQuery(ctx context.Context, res dsq.Results) (<-chan cid.Cid, func() error, error) {
	out := make(chan cid.Cid, dsq.KeysOnlyBufSize)
	done := make(chan struct{})
	var iterErr error
	go func() {
		defer func() {
			_ = res.Close()
			close(out)
			close(done)
		}()
		for {
			e, ok := res.NextSync()
			if !ok {
				return
			}
			if e.Error != nil {
				iterErr = fmt.Errorf("blocks: list: %w", e.Error)
				return
			}
			h, err := dshelp.DsKeyToMultihash(ds.RawKey(e.Key))
			if err != nil {
				continue // not a block file
			}
			select {
			case out <- cid.NewCidV1(cid.Raw, h):
			case <-ctx.Done():
				iterErr = ctx.Err()
				return
			}
		}
	}()
	return out, func() error { <-done; return iterErr }, nil
}

// Verify reads and hashes every stored block, quarantining the ones that
// do not match (as Get would). It returns an error only if the listing or a
// read fails for another reason than corruption; the report then covers the
// blocks checked so far.
func (d *Disk) Verify(ctx context.Context) (VerifyReport, error) {
	var rep VerifyReport
	if err := d.check(ctx); err != nil {
		return rep, err
	}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	res, err := d.fs.Query(wctx, dsq.Query{KeysOnly: true})
	if err != nil {
		return rep, fmt.Errorf("blocks: verify: %w", err)
	}
	defer res.Close()

	var (
		mu       sync.Mutex
		firstErr error
		wg       sync.WaitGroup
	)
	fail := func(err error) {
		mu.Lock()
		if firstErr == nil {
			firstErr = err
		}
		mu.Unlock()
		cancel()
	}
	keys := make(chan ds.Key)
	for range d.vwork {
		wg.Go(func() {
			for k := range keys {
				d.verifyOne(wctx, k, &rep, &mu, fail)
			}
		})
	}
	feed := true
	for feed {
		e, ok := res.NextSync()
		switch {
		case !ok:
			feed = false
		case e.Error != nil:
			fail(fmt.Errorf("blocks: verify: list: %w", e.Error))
			feed = false
		default:
			select {
			case keys <- ds.RawKey(e.Key):
			case <-wctx.Done():
				feed = false
			}
		}
	}
	close(keys)
	wg.Wait()

	byKey := func(a, b cid.Cid) int { return strings.Compare(a.KeyString(), b.KeyString()) }
	slices.SortFunc(rep.Corrupt, byKey)
	slices.SortFunc(rep.Unverifiable, byKey)
	slices.Sort(rep.Quarantined)
	if err := ctx.Err(); err != nil {
		return rep, err
	}
	return rep, firstErr
}

func (d *Disk) verifyOne(ctx context.Context, k ds.Key, rep *VerifyReport, mu *sync.Mutex, fail func(error)) {
	h, err := dshelp.DsKeyToMultihash(k)
	if err != nil {
		return // not a block file
	}
	c := cid.NewCidV1(cid.Raw, h)
	data, err := d.fs.Get(ctx, k)
	if errors.Is(err, ds.ErrNotFound) {
		return // deleted meanwhile
	}
	if err != nil {
		fail(fmt.Errorf("blocks: verify %s: %w", c, err))
		return
	}
	ok, herr := hashMatches(h, data)
	mu.Lock()
	rep.Checked++
	rep.Bytes += int64(len(data))
	if herr != nil {
		rep.Unverifiable = append(rep.Unverifiable, c)
	}
	mu.Unlock()
	if herr != nil || ok {
		return
	}
	_, err = d.handleCorrupt(ctx, c, k)
	var ce *CorruptError
	switch {
	case errors.As(err, &ce):
		mu.Lock()
		rep.Corrupt = append(rep.Corrupt, c)
		if ce.QuarantinePath != "" {
			rep.Quarantined = append(rep.Quarantined, ce.QuarantinePath)
		}
		mu.Unlock()
	case err != nil:
		fail(err)
	}
}

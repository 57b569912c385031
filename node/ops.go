package node

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"syscall"
	"time"

	"github.com/ipfs/boxo/blockservice"
	"github.com/ipfs/boxo/exchange/offline"
	"github.com/ipfs/boxo/files"
	"github.com/ipfs/boxo/ipld/merkledag"
	unixfile "github.com/ipfs/boxo/ipld/unixfs/file"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"

	"github.com/ipdm/ipdm/api"
	"github.com/ipdm/ipdm/gateway"
	"github.com/ipdm/ipdm/p2p"
	"github.com/ipdm/ipdm/storage/car"
	"github.com/ipdm/ipdm/storage/pin"
	"github.com/ipdm/ipdm/storage/unixfs"
)

// ErrStorageFull is returned when an add would pass storage_max_bytes.
var ErrStorageFull = errors.New("storage limit reached")

var _ gateway.Backend = (*Node)(nil)

// Add imports a file or directory tree as UnixFS (Kubo's unixfs-v1-2025
// profile), pins the root when asked and announces the new blocks.
func (n *Node) Add(ctx context.Context, f files.Node, opts gateway.AddOptions) (api.AddResult, error) {
	ctx, unlock, err := n.pins.PinLock(ctx)
	if err != nil {
		return api.AddResult{}, err
	}
	defer unlock()
	w := &addWriter{n: n}
	root, err := unixfs.ImportNode(ctx, w, f, unixfs.Options{Hidden: opts.Hidden})
	if err != nil {
		return api.AddResult{}, fmt.Errorf("add: %w", err)
	}
	if opts.Pin {
		if err := n.pins.Pin(ctx, root, true, getter{n.bserv}); err != nil {
			return api.AddResult{}, fmt.Errorf("add: pin %s: %w", root, err)
		}
	}
	n.provide(ctx, root, w.cids)
	return api.AddResult{CID: root.String(), Name: opts.Name, Bytes: w.bytes}, nil
}

// addWriter puts imported blocks through the block service (so bitswap
// learns of them), enforces the storage cap and remembers what to announce.
type addWriter struct {
	n     *Node
	cids  []cid.Cid
	bytes int64
}

func (w *addWriter) PutMany(ctx context.Context, bs []blocks.Block) error {
	if max := w.n.cfg.StorageMaxBytes; max > 0 {
		var add int64
		for _, b := range bs {
			add += int64(len(b.RawData()))
		}
		st, err := w.n.blocks.Stat(ctx)
		if err != nil {
			return err
		}
		if st.Bytes+add > max {
			return fmt.Errorf("%w: %d of %d bytes used (storage_max_bytes)", ErrStorageFull, st.Bytes, max)
		}
	}
	if err := w.n.bserv.AddBlocks(ctx, bs); err != nil {
		return err
	}
	for _, b := range bs {
		w.cids = append(w.cids, b.Cid())
		if b.Cid().Prefix().Codec == cid.Raw {
			w.bytes += int64(len(b.RawData()))
		}
	}
	return nil
}

// provide queues root, then the rest, for announcement in the DHT by the
// libp2p node's background workers. It blocks only while the queue is full.
func (n *Node) provide(ctx context.Context, root cid.Cid, all []cid.Cid) {
	if n.host == nil {
		return
	}
	if err := n.host.Provide(ctx, append([]cid.Cid{root}, all...)...); err != nil {
		n.log.Warn("provide", "root", root, "err", err)
	}
}

// getter and writer adapt a block service to the storage packages' small
// interfaces.
type getter struct{ bs blockservice.BlockService }

func (g getter) Get(ctx context.Context, c cid.Cid) (blocks.Block, error) {
	return g.bs.GetBlock(ctx, c)
}

// Has lets a pin walk pass over raw leaves already stored here without
// reading them back: a pin right after an add would otherwise read the
// whole file again.
func (g getter) Has(ctx context.Context, c cid.Cid) (bool, error) {
	return g.bs.Blockstore().Has(ctx, c)
}

type writer struct{ bs blockservice.BlockService }

func (w writer) PutMany(ctx context.Context, bs []blocks.Block) error { return w.bs.AddBlocks(ctx, bs) }

// Cat opens a UnixFS file.
func (n *Node) Cat(ctx context.Context, c cid.Cid) (io.ReadCloser, int64, error) {
	f, err := unixfs.Open(ctx, n.dag, c)
	if err != nil {
		if errors.Is(err, unixfs.ErrNotFile) || errors.Is(err, unixfs.ErrNotUnixFS) {
			return nil, 0, gateway.BadRequest(fmt.Errorf("cat %s: %w (use get for directories)", c, err))
		}
		return nil, 0, fmt.Errorf("cat %s: %w", c, err)
	}
	return f, f.Size(), nil
}

// GetTo writes a UnixFS file, directory or symlink to out (which must not
// exist); total is called with the content size first when set.
func (n *Node) GetTo(ctx context.Context, c cid.Cid, out string, total, progress func(int64)) error {
	if total != nil {
		info, err := unixfs.Stat(ctx, n.dag, c)
		if err != nil {
			return fmt.Errorf("get %s: %w", c, err)
		}
		total(info.Size)
	}
	if err := unixfs.WriteTo(ctx, n.dag, c, out, unixfs.ExportOptions{Progress: progress}); err != nil {
		return fmt.Errorf("get %s: %w", c, err)
	}
	return nil
}

// Get opens a UnixFS file, directory or symlink.
func (n *Node) Get(ctx context.Context, c cid.Cid) (files.Node, error) {
	root, err := n.dag.Get(ctx, c)
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", c, err)
	}
	nd, err := unixfile.NewUnixfsFile(ctx, n.dag, root)
	if err != nil {
		return nil, gateway.BadRequest(fmt.Errorf("get %s: %v", c, err))
	}
	return nd, nil
}

// PinAdd fetches the whole DAG under c (recursive) or its root (direct) and
// pins it.
func (n *Node) PinAdd(ctx context.Context, c cid.Cid, recursive bool) (api.Pin, error) {
	ctx, unlock, err := n.pins.PinLock(ctx)
	if err != nil {
		return api.Pin{}, err
	}
	defer unlock()
	if err := n.pins.Pin(ctx, c, recursive, getter{n.bserv}); err != nil {
		return api.Pin{}, fmt.Errorf("pin %s: %w", c, err)
	}
	n.provide(ctx, c, nil)
	return api.Pin{CID: c.String(), Type: pinType(recursive)}, nil
}

func pinType(recursive bool) string {
	if recursive {
		return "recursive"
	}
	return "direct"
}

// PinRm removes a pin; the blocks stay until the next GC.
func (n *Node) PinRm(ctx context.Context, c cid.Cid) error {
	if err := n.pins.Unpin(ctx, c); err != nil {
		if errors.Is(err, pin.ErrNotPinned) {
			return gateway.NotFound(fmt.Errorf("unpin %s: %v", c, err))
		}
		return fmt.Errorf("unpin %s: %w", c, err)
	}
	return nil
}

// PinLs lists pins.
func (n *Node) PinLs(ctx context.Context) ([]api.Pin, error) {
	ps, err := n.pins.List(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]api.Pin, 0, len(ps))
	for _, p := range ps {
		out = append(out, api.Pin{CID: p.Cid.String(), Type: p.Mode.String()})
	}
	return out, nil
}

// GC deletes every block not reachable from a pin.
func (n *Node) GC(ctx context.Context) (api.GCResult, error) {
	res, err := pin.Collect(ctx, n.blocks, n.pins)
	if err != nil {
		return api.GCResult{}, fmt.Errorf("gc: %w", err)
	}
	return api.GCResult{Removed: res.Removed, Bytes: res.Bytes}, nil
}

// RepoStat describes the store.
func (n *Node) RepoStat(ctx context.Context) (api.RepoStat, error) {
	st, err := n.blocks.Stat(ctx)
	if err != nil {
		return api.RepoStat{}, err
	}
	ps, err := n.pins.List(ctx)
	if err != nil {
		return api.RepoStat{}, err
	}
	return api.RepoStat{Path: n.repo.Path(), Blocks: st.Blocks, Bytes: st.Bytes, MaxBytes: n.cfg.StorageMaxBytes, Pins: len(ps)}, nil
}

// RepoVerify hashes every block; corrupt ones are quarantined.
func (n *Node) RepoVerify(ctx context.Context) (api.VerifyResult, error) {
	rep, err := n.blocks.Verify(ctx)
	if err != nil {
		return api.VerifyResult{}, err
	}
	out := api.VerifyResult{Checked: int(rep.Checked)}
	for _, c := range rep.Corrupt {
		out.Corrupt = append(out.Corrupt, c.String())
	}
	return out, nil
}

// DagExport fetches the DAG under c and writes it as CAR v1.
func (n *Node) DagExport(ctx context.Context, c cid.Cid, w io.Writer) error {
	if err := merkledag.FetchGraph(ctx, c, n.dag); err != nil {
		return fmt.Errorf("export %s: %w", c, err)
	}
	return car.Export(ctx, w, n.blocks, c)
}

// DagImport reads a CAR, verifying every block, and pins its roots.
func (n *Node) DagImport(ctx context.Context, r io.Reader, pinRoots bool) (api.ImportResult, error) {
	ctx, unlock, err := n.pins.PinLock(ctx)
	if err != nil {
		return api.ImportResult{}, err
	}
	defer unlock()
	res, err := car.Import(ctx, r, writer{n.bserv}, car.ImportOptions{})
	if err != nil {
		return api.ImportResult{}, gateway.BadRequest(err)
	}
	out := api.ImportResult{Blocks: res.Blocks, Bytes: res.Bytes}
	for _, root := range res.Roots {
		out.Roots = append(out.Roots, root.String())
	}
	if pinRoots {
		// Pin against local blocks only: a CAR that lacks blocks of its
		// roots is kept but not pinned, and the error says so.
		local := blockservice.New(n.blocks, offline.Exchange(n.blocks))
		for _, root := range res.Roots {
			if err := n.pins.Pin(ctx, root, true, getter{local}); err != nil {
				return out, fmt.Errorf("import: pin root %s: %w (the CAR does not hold its whole DAG; its blocks were kept unpinned)", root, err)
			}
		}
		out.Pinned = len(res.Roots) > 0
	}
	for _, root := range res.Roots {
		n.provide(ctx, root, nil)
	}
	return out, nil
}

// BlockGet returns one block, fetching it from the network when needed.
func (n *Node) BlockGet(ctx context.Context, c cid.Cid) (blocks.Block, error) {
	b, err := n.bserv.GetBlock(ctx, c)
	if err != nil {
		return nil, fmt.Errorf("block %s: %w", c, err)
	}
	return b, nil
}

// BlockPut stores one block under a CIDv1 (sha2-256) of codec.
func (n *Node) BlockPut(ctx context.Context, data []byte, codec uint64) (api.BlockStat, error) {
	c, err := cid.V1Builder{Codec: codec, MhType: mh.SHA2_256}.Sum(data)
	if err != nil {
		return api.BlockStat{}, err
	}
	b, err := blocks.NewBlockWithCid(data, c)
	if err != nil {
		return api.BlockStat{}, err
	}
	if err := n.bserv.AddBlock(ctx, b); err != nil {
		return api.BlockStat{}, err
	}
	n.provide(ctx, c, nil)
	return api.BlockStat{CID: c.String(), Size: len(data)}, nil
}

// ID describes the node.
func (n *Node) ID(ctx context.Context) (api.Identity, error) {
	id, err := p2p.PeerIDFromKey(n.repo.Key())
	if err != nil {
		return api.Identity{}, err
	}
	out := api.Identity{
		ID:           id,
		PublicKey:    base64.StdEncoding.EncodeToString(n.repo.Key().Public().(ed25519.PublicKey)),
		AgentVersion: Version,
		Online:       n.online,
		Addresses:    []string{},
	}
	if n.host != nil {
		out.Addresses = n.host.Addrs()
	}
	return out, nil
}

// SwarmConnect dials a peer.
func (n *Node) SwarmConnect(ctx context.Context, addr string) error {
	if n.host == nil {
		return ErrOffline
	}
	if err := n.host.Connect(ctx, addr); err != nil {
		return fmt.Errorf("connect %s: %w", addr, err)
	}
	return nil
}

// SwarmPeers lists connected peers.
func (n *Node) SwarmPeers(ctx context.Context) ([]api.SwarmPeer, error) {
	if n.host == nil {
		return nil, ErrOffline
	}
	var out []api.SwarmPeer
	for _, p := range n.host.Peers() {
		out = append(out, api.SwarmPeer{ID: p.ID, Addr: p.Addr, LatencyMS: float64(p.Latency) / float64(time.Millisecond)})
	}
	return out, nil
}

// Peers lists the live capability index.
func (n *Node) Peers(ctx context.Context) ([]api.PeerCapability, error) {
	if n.host == nil {
		return nil, ErrOffline
	}
	connected := map[string]bool{}
	for _, p := range n.host.Peers() {
		connected[p.ID] = true
	}
	var out []api.PeerCapability
	for _, e := range n.host.CapabilityEntries() {
		a := e.Advert
		out = append(out, api.PeerCapability{
			ID: a.PeerID, Roles: a.Roles, Cores: a.Cores, MemoryBytes: a.MemoryBytes,
			FreeDiskBytes: a.FreeDiskBytes, Version: a.Version, Addrs: a.Addrs,
			Connected: connected[a.PeerID], Self: a.PeerID == n.host.ID(), LastSeen: e.LastSeen,
		})
	}
	return out, nil
}

// freeDisk reports free bytes on the block store's file system.
func (n *Node) freeDisk() uint64 {
	var st syscall.Statfs_t
	if err := syscall.Statfs(n.repo.BlocksPath(), &st); err != nil {
		return 0
	}
	free := st.Bavail * uint64(st.Bsize)
	if max := n.cfg.StorageMaxBytes; max > 0 {
		if s, err := n.blocks.Stat(context.Background()); err == nil {
			left := uint64(max - min(max, s.Bytes))
			free = min(free, left)
		}
	}
	return free
}

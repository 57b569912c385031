package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/ipfs/boxo/files"
	"github.com/ipfs/go-cid"

	"github.com/ipdm/ipdm/api"
	"github.com/ipdm/ipdm/gateway"
	"github.com/ipdm/ipdm/modules"
	"github.com/ipdm/ipdm/storage/unixfs"
	"github.com/ipdm/ipdm/wasm"
)

// Protocols of the module registry. Announce pushes a new record to a peer
// (the answer acknowledges it); resolve asks a peer for the record of
// name@version.
const (
	protoModuleAnnounce = "/ipdm/modules/announce/1.0.0"
	protoModuleResolve  = "/ipdm/modules/resolve/1.0.0"
)

// moduleResolveTimeout bounds asking peers for an unknown name@version.
const moduleResolveTimeout = 10 * time.Second

// ModuleAdd validates a Wasm module (decodes, compiles, checks imports and
// limits), stores its bytes as a pinned UnixFS file, and, when name is set,
// signs a name@version record with the node's identity, keeps it and
// announces it to every peer in the capability index.
func (n *Node) ModuleAdd(ctx context.Context, data []byte, name, version string) (api.Module, error) {
	info, err := n.wasm.Validate(ctx, data)
	if err != nil {
		return api.Module{}, gateway.BadRequest(fmt.Errorf("module: %w", err))
	}
	res, err := n.Add(ctx, files.NewBytesFile(data), gateway.AddOptions{Pin: true})
	if err != nil {
		return api.Module{}, fmt.Errorf("module: %w", err)
	}
	out := moduleInfo(res.CID, info)
	if name == "" && version == "" {
		return out, nil
	}
	rec, err := modules.Sign(modules.Record{
		Name: name, Version: version, CID: res.CID, Size: int64(len(data)), Published: time.Now().Unix(),
	}, n.repo.Key())
	if err != nil {
		return api.Module{}, gateway.BadRequest(fmt.Errorf("module: %w", err))
	}
	if _, err := n.registry.Put(ctx, rec); err != nil {
		return api.Module{}, moduleErr(err)
	}
	out.Name, out.Version, out.Publisher = rec.Name, rec.Version, rec.Publisher
	out.Announced = n.announceModule(ctx, rec)
	return out, nil
}

func moduleInfo(c string, info wasm.ModuleInfo) api.Module {
	return api.Module{CID: c, Size: int64(info.Size), Imports: info.Imports, Exports: info.Exports,
		MemoryMinPages: info.MemoryMinPages, MemoryMaxPages: info.MemoryMaxPages}
}

// moduleErr maps registry refusals to API errors.
func moduleErr(err error) error {
	switch {
	case errors.Is(err, modules.ErrNotFound):
		return gateway.NotFound(err)
	case errors.Is(err, modules.ErrInvalid), errors.Is(err, modules.ErrConflict), errors.Is(err, modules.ErrNotOwner):
		return gateway.BadRequest(err)
	}
	return err
}

// announceModule pushes rec to every peer of the capability index and
// returns how many acknowledged it.
func (n *Node) announceModule(ctx context.Context, rec modules.Record) int {
	if n.host == nil {
		return 0
	}
	data, err := rec.Encode()
	if err != nil {
		return 0
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	acked := 0
	for _, e := range n.host.CapabilityEntries() {
		if e.Advert.PeerID == n.host.ID() {
			continue
		}
		wg.Add(1)
		go func(peerID string) {
			defer wg.Done()
			rctx, cancel := context.WithTimeout(ctx, moduleResolveTimeout)
			defer cancel()
			if _, err := n.host.Request(rctx, peerID, protoModuleAnnounce, data); err != nil {
				n.log.Warn("module announce", "peer", peerID, "module", rec.Ref(), "err", err)
				return
			}
			mu.Lock()
			acked++
			mu.Unlock()
		}(e.Advert.PeerID)
	}
	wg.Wait()
	return acked
}

// handleModuleAnnounce stores a record a peer pushed.
func (n *Node) handleModuleAnnounce(ctx context.Context, from string, msg []byte) ([]byte, error) {
	rec, err := modules.Decode(msg)
	if err != nil {
		return nil, err
	}
	if _, err := n.registry.Put(ctx, rec); err != nil {
		return nil, err
	}
	n.log.Info("module record accepted", "module", rec.Ref(), "cid", rec.CID, "from", from)
	return []byte("ok"), nil
}

// handleModuleResolve answers a peer's question for name@version.
func (n *Node) handleModuleResolve(ctx context.Context, from string, msg []byte) ([]byte, error) {
	name, version, err := modules.ParseRef(string(msg))
	if err != nil {
		return nil, err
	}
	rec, err := n.registry.Resolve(ctx, name, version)
	if err != nil {
		return nil, err
	}
	return rec.Encode()
}

// ModuleResolve returns the module a reference names: a CID, or a
// name@version known locally or, failing that, to a peer.
func (n *Node) ModuleResolve(ctx context.Context, ref string) (api.Module, error) {
	if c, err := cid.Decode(ref); err == nil {
		return n.moduleByCID(ctx, c, api.Module{})
	}
	name, version, err := modules.ParseRef(ref)
	if err != nil {
		return api.Module{}, gateway.BadRequest(fmt.Errorf("module %q is neither a CID nor name@version: %v", ref, err))
	}
	rec, err := n.registry.Resolve(ctx, name, version)
	if errors.Is(err, modules.ErrNotFound) {
		rec, err = n.resolveFromPeers(ctx, ref)
	}
	if err != nil {
		return api.Module{}, moduleErr(err)
	}
	c, err := cid.Decode(rec.CID)
	if err != nil {
		return api.Module{}, err
	}
	return n.moduleByCID(ctx, c, api.Module{Name: rec.Name, Version: rec.Version, Publisher: rec.Publisher})
}

// moduleByCID fetches and validates the module bytes.
func (n *Node) moduleByCID(ctx context.Context, c cid.Cid, base api.Module) (api.Module, error) {
	data, err := n.ModuleBytes(ctx, c)
	if err != nil {
		return api.Module{}, err
	}
	info, err := n.wasm.Validate(ctx, data)
	if err != nil {
		return api.Module{}, gateway.BadRequest(fmt.Errorf("module %s: %v", c, err))
	}
	m := moduleInfo(c.String(), info)
	m.Name, m.Version, m.Publisher = base.Name, base.Version, base.Publisher
	return m, nil
}

// ModuleBytes reads a module's bytes (a UnixFS file), fetching them from
// peers when needed.
func (n *Node) ModuleBytes(ctx context.Context, c cid.Cid) ([]byte, error) {
	f, err := unixfs.Open(ctx, n.dag, c)
	if err != nil {
		return nil, fmt.Errorf("module %s: %w", c, err)
	}
	defer f.Close()
	if f.Size() > wasm.DefaultMaxModuleBytes {
		return nil, gateway.BadRequest(fmt.Errorf("module %s: %d bytes, limit %d", c, f.Size(), wasm.DefaultMaxModuleBytes))
	}
	return io.ReadAll(f)
}

// resolveFromPeers asks the peers of the capability index for ref; the
// first record that verifies and that the registry accepts wins.
func (n *Node) resolveFromPeers(ctx context.Context, ref string) (modules.Record, error) {
	if n.host == nil {
		return modules.Record{}, fmt.Errorf("%w: %s (offline: peers were not asked)", modules.ErrNotFound, ref)
	}
	ctx, cancel := context.WithTimeout(ctx, moduleResolveTimeout)
	defer cancel()
	type answer struct {
		rec modules.Record
		err error
	}
	peers := 0
	answers := make(chan answer)
	for _, e := range n.host.CapabilityEntries() {
		if e.Advert.PeerID == n.host.ID() {
			continue
		}
		peers++
		go func(peerID string) {
			data, err := n.host.Request(ctx, peerID, protoModuleResolve, []byte(ref))
			var a answer
			if err != nil {
				a.err = err
			} else {
				a.rec, a.err = modules.Decode(data)
			}
			select {
			case answers <- a:
			case <-ctx.Done():
			}
		}(e.Advert.PeerID)
	}
	for i := 0; i < peers; i++ {
		select {
		case a := <-answers:
			if a.err != nil {
				continue
			}
			if _, err := n.registry.Put(ctx, a.rec); err != nil {
				n.log.Warn("module record refused", "module", ref, "publisher", a.rec.Publisher, "err", err)
				continue
			}
			return a.rec, nil
		case <-ctx.Done():
			return modules.Record{}, fmt.Errorf("%w: %s: no peer answered within %s", modules.ErrNotFound, ref, moduleResolveTimeout)
		}
	}
	return modules.Record{}, fmt.Errorf("%w: %s (asked %d peers)", modules.ErrNotFound, ref, peers)
}

// ModuleList lists the records this node knows.
func (n *Node) ModuleList(ctx context.Context) ([]api.Module, error) {
	recs, err := n.registry.List(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]api.Module, 0, len(recs))
	for _, r := range recs {
		out = append(out, api.Module{CID: r.CID, Name: r.Name, Version: r.Version, Publisher: r.Publisher, Size: r.Size})
	}
	return out, nil
}

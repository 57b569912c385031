package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"time"

	"github.com/ipfs/boxo/files"
	"github.com/ipfs/boxo/tar"

	"github.com/ipdm/ipdm/api"
	"github.com/ipdm/ipdm/gateway"
	"github.com/ipdm/ipdm/node"
	"github.com/ipdm/ipdm/repo"
)

// backend is what the CLI verbs need: a running daemon's API (remote) or the
// repo opened in this process (local). Both behave the same.
type backend interface {
	Add(ctx context.Context, name string, n files.Node, opts api.AddOptions) (api.AddResult, error)
	Cat(ctx context.Context, cid string, timeout time.Duration) (io.ReadCloser, int64, error)
	// GetTo saves a file or directory at out; total is called once with the
	// size when known, progress with the bytes written so far.
	GetTo(ctx context.Context, cid string, timeout time.Duration, out string, total, progress func(int64)) error
	PinAdd(ctx context.Context, cid string, recursive bool, timeout time.Duration) (api.Pin, error)
	PinRm(ctx context.Context, cid string) error
	PinLs(ctx context.Context) ([]api.Pin, error)
	GC(ctx context.Context) (api.GCResult, error)
	RepoStat(ctx context.Context) (api.RepoStat, error)
	RepoVerify(ctx context.Context) (api.VerifyResult, error)
	DagExport(ctx context.Context, cid string, timeout time.Duration) (io.ReadCloser, error)
	DagImport(ctx context.Context, car io.Reader, pin bool) (api.ImportResult, error)
	BlockGet(ctx context.Context, cid string, timeout time.Duration) ([]byte, error)
	BlockPut(ctx context.Context, data []byte, codec string) (api.BlockStat, error)
	BlockStat(ctx context.Context, cid string, timeout time.Duration) (api.BlockStat, error)
	ID(ctx context.Context) (api.Identity, error)
	SwarmConnect(ctx context.Context, addr string) error
	SwarmPeers(ctx context.Context) ([]api.SwarmPeer, error)
	Peers(ctx context.Context) ([]api.PeerCapability, error)
	ModuleAdd(ctx context.Context, wasm []byte, name, version string) (api.Module, error)
	ModuleList(ctx context.Context) ([]api.Module, error)
	ModuleShow(ctx context.Context, ref string) (api.Module, error)
	JobSubmit(ctx context.Context, spec []byte, wait bool) (api.Job, error)
	JobDescribe(ctx context.Context, id string) (api.Job, error)
	JobList(ctx context.Context) ([]api.Job, error)
	JobCancel(ctx context.Context, id string) (api.Job, error)
	JobReceipts(ctx context.Context, id string) ([]json.RawMessage, error)
	SegmentCacheGet(ctx context.Context, identity, segment string) (api.SegmentCacheRecord, error)
	SegmentCachePut(ctx context.Context, rec api.SegmentCacheRecord) error
	Close() error
}

// openBackend uses the repo's daemon when its api file names one that
// answers; otherwise it opens the repo in this process. A stale api file
// (daemon killed) is removed once the repo lock proves nobody holds it.
func openBackend(ctx context.Context, f *flags) (backend, error) {
	path, err := f.repoPath()
	if err != nil {
		return nil, err
	}
	addr, err := repo.ReadAddr(path, repo.APIFile)
	if err == nil {
		c := api.NewClient(addr)
		pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		perr := c.Ping(pctx)
		cancel()
		if perr == nil {
			return remote{c}, nil
		}
		c.Close()
		r, oerr := repo.Open(path)
		if oerr != nil {
			if errors.Is(oerr, repo.ErrLocked) {
				return nil, fmt.Errorf("the daemon of %s (api %s) does not answer: %v", path, addr, perr)
			}
			return nil, oerr
		}
		r.RemoveAddr(repo.APIFile)
		r.RemoveAddr(repo.GatewayFile)
		return openLocal(ctx, r)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	r, err := repo.Open(path)
	if err != nil {
		return nil, err
	}
	return openLocal(ctx, r)
}

func openLocal(ctx context.Context, r *repo.Repo) (backend, error) {
	n, err := node.New(ctx, r, node.Options{})
	if err != nil {
		return nil, err
	}
	return local{n}, nil
}

type remote struct{ *api.Client }

func (r remote) GetTo(ctx context.Context, cid string, timeout time.Duration, out string, total, progress func(int64)) error {
	body, size, err := r.Client.Get(ctx, cid, timeout)
	if err != nil {
		return err
	}
	defer body.Close()
	if size > 0 && total != nil {
		total(size)
	}
	ex := tar.Extractor{Path: out}
	if progress != nil {
		var done int64
		ex.Progress = func(n int64) int64 { done += n; progress(done); return done }
	}
	return ex.Extract(body)
}

type local struct{ n *node.Node }

func (l local) Close() error { return l.n.Close() }

func (l local) SegmentCacheGet(ctx context.Context, identity, segment string) (api.SegmentCacheRecord, error) {
	return l.n.SegmentCacheGet(ctx, identity, segment)
}

func (l local) SegmentCachePut(ctx context.Context, rec api.SegmentCacheRecord) error {
	return l.n.SegmentCachePut(ctx, rec)
}

func withTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if d <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, d)
}

func (l local) Add(ctx context.Context, name string, f files.Node, opts api.AddOptions) (api.AddResult, error) {
	if opts.Progress != nil {
		f = progressNode(f, opts.Progress)
	}
	return l.n.Add(ctx, f, gateway.AddOptions{Name: name, Pin: opts.Pin, Hidden: opts.Hidden})
}

func (l local) Cat(ctx context.Context, c string, timeout time.Duration) (io.ReadCloser, int64, error) {
	id, err := parseCID(c)
	if err != nil {
		return nil, 0, err
	}
	return l.n.Cat(ctx, id)
}

func (l local) GetTo(ctx context.Context, c string, timeout time.Duration, out string, total, progress func(int64)) error {
	id, err := parseCID(c)
	if err != nil {
		return err
	}
	return l.n.GetTo(ctx, id, out, total, progress)
}

func (l local) PinAdd(ctx context.Context, c string, recursive bool, timeout time.Duration) (api.Pin, error) {
	id, err := parseCID(c)
	if err != nil {
		return api.Pin{}, err
	}
	return l.n.PinAdd(ctx, id, recursive)
}

func (l local) PinRm(ctx context.Context, c string) error {
	id, err := parseCID(c)
	if err != nil {
		return err
	}
	return l.n.PinRm(ctx, id)
}

func (l local) PinLs(ctx context.Context) ([]api.Pin, error)       { return l.n.PinLs(ctx) }
func (l local) GC(ctx context.Context) (api.GCResult, error)       { return l.n.GC(ctx) }
func (l local) RepoStat(ctx context.Context) (api.RepoStat, error) { return l.n.RepoStat(ctx) }
func (l local) RepoVerify(ctx context.Context) (api.VerifyResult, error) {
	return l.n.RepoVerify(ctx)
}

func (l local) DagExport(ctx context.Context, c string, timeout time.Duration) (io.ReadCloser, error) {
	id, err := parseCID(c)
	if err != nil {
		return nil, err
	}
	// Export into a pipe so the caller streams it like the remote answer.
	pr, pw := io.Pipe()
	errc := make(chan error, 1)
	go func() { errc <- l.n.DagExport(ctx, id, pw); pw.Close() }()
	return &pipeExport{PipeReader: pr, errc: errc}, nil
}

// pipeExport reports the exporter's error at the end of the stream and
// waits for the exporting goroutine on Close.
type pipeExport struct {
	*io.PipeReader
	errc chan error
	err  error
	done bool
}

func (p *pipeExport) Read(b []byte) (int, error) {
	n, err := p.PipeReader.Read(b)
	if err == io.EOF {
		p.wait()
		if p.err != nil {
			return n, p.err
		}
	}
	return n, err
}

func (p *pipeExport) wait() {
	if !p.done {
		p.err = <-p.errc
		p.done = true
	}
}

func (p *pipeExport) Close() error {
	p.PipeReader.CloseWithError(errors.New("export abandoned"))
	p.wait()
	return nil
}

func (l local) DagImport(ctx context.Context, car io.Reader, pin bool) (api.ImportResult, error) {
	return l.n.DagImport(ctx, car, pin)
}

func (l local) BlockGet(ctx context.Context, c string, timeout time.Duration) ([]byte, error) {
	id, err := parseCID(c)
	if err != nil {
		return nil, err
	}
	b, err := l.n.BlockGet(ctx, id)
	if err != nil {
		return nil, err
	}
	return b.RawData(), nil
}

func (l local) BlockPut(ctx context.Context, data []byte, codec string) (api.BlockStat, error) {
	code, err := codecCode(codec)
	if err != nil {
		return api.BlockStat{}, err
	}
	return l.n.BlockPut(ctx, data, code)
}

func (l local) BlockStat(ctx context.Context, c string, timeout time.Duration) (api.BlockStat, error) {
	b, err := l.BlockGet(ctx, c, timeout)
	if err != nil {
		return api.BlockStat{}, err
	}
	return api.BlockStat{CID: c, Size: len(b)}, nil
}

func (l local) ID(ctx context.Context) (api.Identity, error) { return l.n.ID(ctx) }
func (l local) SwarmConnect(ctx context.Context, addr string) error {
	return l.n.SwarmConnect(ctx, addr)
}
func (l local) SwarmPeers(ctx context.Context) ([]api.SwarmPeer, error) { return l.n.SwarmPeers(ctx) }
func (l local) Peers(ctx context.Context) ([]api.PeerCapability, error) { return l.n.Peers(ctx) }
func (l local) ModuleAdd(ctx context.Context, wasm []byte, name, version string) (api.Module, error) {
	return l.n.ModuleAdd(ctx, wasm, name, version)
}
func (l local) ModuleList(ctx context.Context) ([]api.Module, error) { return l.n.ModuleList(ctx) }
func (l local) JobSubmit(ctx context.Context, spec []byte, wait bool) (api.Job, error) {
	return l.n.JobSubmit(ctx, spec, wait)
}
func (l local) JobDescribe(ctx context.Context, id string) (api.Job, error) {
	return l.n.JobDescribe(ctx, id)
}
func (l local) JobList(ctx context.Context) ([]api.Job, error) { return l.n.JobList(ctx) }
func (l local) JobCancel(ctx context.Context, id string) (api.Job, error) {
	return l.n.JobCancel(ctx, id)
}
func (l local) JobReceipts(ctx context.Context, id string) ([]json.RawMessage, error) {
	rs, err := l.n.JobReceipts(ctx, id)
	if err != nil {
		return nil, err
	}
	out := make([]json.RawMessage, len(rs))
	for i, r := range rs {
		if out[i], err = json.Marshal(r); err != nil {
			return nil, err
		}
	}
	return out, nil
}
func (l local) ModuleShow(ctx context.Context, ref string) (api.Module, error) {
	return l.n.ModuleResolve(ctx, ref)
}

// progressNode wraps the files of a tree so reads report progress.
func progressNode(n files.Node, progress func(int64)) files.Node {
	var done int64
	return wrapFiles(n, func(r io.Reader) io.Reader {
		return readerFunc(func(p []byte) (int, error) {
			k, err := r.Read(p)
			done += int64(k)
			progress(done)
			return k, err
		})
	})
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

func wrapFiles(n files.Node, wrap func(io.Reader) io.Reader) files.Node {
	switch n := n.(type) {
	case files.File:
		return &wrappedFile{File: n, r: wrap(n)}
	case files.Directory:
		return &wrappedDir{Directory: n, wrap: wrap}
	}
	return n
}

type wrappedFile struct {
	files.File
	r io.Reader
}

func (w *wrappedFile) Read(p []byte) (int, error) { return w.r.Read(p) }

type wrappedDir struct {
	files.Directory
	wrap func(io.Reader) io.Reader
}

func (w *wrappedDir) Entries() files.DirIterator {
	return &wrappedIter{DirIterator: w.Directory.Entries(), wrap: w.wrap}
}

type wrappedIter struct {
	files.DirIterator
	wrap func(io.Reader) io.Reader
}

func (w *wrappedIter) Node() files.Node { return wrapFiles(w.DirIterator.Node(), w.wrap) }

func codecCode(name string) (uint64, error) {
	switch name {
	case "", "raw":
		return 0x55, nil
	case "dag-pb":
		return 0x70, nil
	case "dag-cbor":
		return 0x71, nil
	}
	return 0, usagef("--codec %q: want raw, dag-pb or dag-cbor", name)
}

package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/pprof"
	"strconv"
	"time"

	"github.com/ipfs/boxo/files"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"

	"github.com/ipdm/ipdm/api"
	"github.com/ipdm/ipdm/verify"
)

// Request body limits of the admin API. Uploads (add, CAR import) stream and
// have no size limit here; the node's storage cap applies to them.
const (
	maxJSONBody   = 64 << 10
	maxBlockSize  = 2 << 20 // the largest block bitswap will move
	maxModuleSize = 64 << 20
)

// Backend is what the admin API needs from a node. Fetching methods take a
// context whose deadline bounds how long they wait for a block nobody
// provides; they return an error wrapping context.DeadlineExceeded then.
// Not-found conditions wrap ErrNotFound or satisfy ipld.IsNotFound.
type Backend interface {
	Add(ctx context.Context, n files.Node, opts AddOptions) (api.AddResult, error)
	// Cat opens a UnixFS file and says its size; the caller closes it.
	Cat(ctx context.Context, c cid.Cid) (io.ReadCloser, int64, error)
	// Get opens a UnixFS file or directory tree for a tar stream.
	Get(ctx context.Context, c cid.Cid) (files.Node, error)
	PinAdd(ctx context.Context, c cid.Cid, recursive bool) (api.Pin, error)
	PinRm(ctx context.Context, c cid.Cid) error
	PinLs(ctx context.Context) ([]api.Pin, error)
	GC(ctx context.Context) (api.GCResult, error)
	RepoStat(ctx context.Context) (api.RepoStat, error)
	RepoVerify(ctx context.Context) (api.VerifyResult, error)
	// DagExport fetches the whole DAG, then writes it as CAR v1 to w.
	DagExport(ctx context.Context, c cid.Cid, w io.Writer) error
	DagImport(ctx context.Context, r io.Reader, pin bool) (api.ImportResult, error)
	BlockGet(ctx context.Context, c cid.Cid) (blocks.Block, error)
	BlockPut(ctx context.Context, data []byte, codec uint64) (api.BlockStat, error)
	ID(ctx context.Context) (api.Identity, error)
	SwarmConnect(ctx context.Context, addr string) error
	SwarmPeers(ctx context.Context) ([]api.SwarmPeer, error)
	Peers(ctx context.Context) ([]api.PeerCapability, error)
	// ModuleAdd validates and stores a Wasm module; with a name it also
	// signs and announces a name@version record.
	ModuleAdd(ctx context.Context, wasm []byte, name, version string) (api.Module, error)
	// ModuleResolve describes the module a CID or name@version names.
	ModuleResolve(ctx context.Context, ref string) (api.Module, error)
	ModuleList(ctx context.Context) ([]api.Module, error)
	// JobSubmit starts a job from a JSON or YAML spec; with wait it
	// returns when the job has ended.
	JobSubmit(ctx context.Context, spec []byte, wait bool) (api.Job, error)
	JobDescribe(ctx context.Context, id string) (api.Job, error)
	JobList(ctx context.Context) ([]api.Job, error)
	JobCancel(ctx context.Context, id string) (api.Job, error)
	JobReceipts(ctx context.Context, id string) ([]verify.Receipt, error)
}

// AddOptions tunes Backend.Add.
type AddOptions struct {
	Name   string // file or directory name, for the answer
	Pin    bool
	Hidden bool
}

// APIOptions tunes NewAPI.
type APIOptions struct {
	// Metrics, when set, instruments every route and serves /metrics.
	Metrics *Metrics
	// MetricsHandler serves GET /metrics when set.
	MetricsHandler http.Handler
}

// NewAPI returns the admin API handler (routes under /api/v1, see
// docs/API.md).
func NewAPI(b Backend, opts APIOptions) http.Handler {
	a := &apiServer{b: b}
	mux := http.NewServeMux()
	route := func(pattern, name string, h http.HandlerFunc) {
		var handler http.Handler = h
		if opts.Metrics != nil {
			handler = opts.Metrics.Wrap(name, handler)
		}
		mux.Handle(pattern, handler)
	}
	v := api.Version
	route("POST "+v+"/add", "add", a.add)
	route("GET "+v+"/cat/{cid}", "cat", a.cat)
	route("GET "+v+"/get/{cid}", "get", a.get)
	route("POST "+v+"/pins/{cid}", "pin_add", a.json(a.pinAdd))
	route("DELETE "+v+"/pins/{cid}", "pin_rm", a.json(a.pinRm))
	route("GET "+v+"/pins", "pin_ls", a.json(func(r *http.Request) (any, error) { return nonNil(a.b.PinLs(r.Context())) }))
	route("POST "+v+"/repo/gc", "repo_gc", a.json(func(r *http.Request) (any, error) { return a.b.GC(r.Context()) }))
	route("GET "+v+"/repo/stat", "repo_stat", a.json(func(r *http.Request) (any, error) { return a.b.RepoStat(r.Context()) }))
	route("POST "+v+"/repo/verify", "repo_verify", a.json(a.repoVerify))
	route("GET "+v+"/dag/export/{cid}", "dag_export", a.dagExport)
	route("POST "+v+"/dag/import", "dag_import", a.json(a.dagImport))
	route("GET "+v+"/blocks/{cid}", "block_get", a.blockGet)
	route("GET "+v+"/blocks/{cid}/stat", "block_stat", a.json(a.blockStat))
	route("POST "+v+"/blocks", "block_put", a.json(a.blockPut))
	route("GET "+v+"/id", "id", a.json(func(r *http.Request) (any, error) { return a.b.ID(r.Context()) }))
	route("POST "+v+"/swarm/connect", "swarm_connect", a.json(a.swarmConnect))
	route("GET "+v+"/swarm/peers", "swarm_peers", a.json(func(r *http.Request) (any, error) { return nonNil(a.b.SwarmPeers(r.Context())) }))
	route("GET "+v+"/peers", "peers", a.json(func(r *http.Request) (any, error) { return nonNil(a.b.Peers(r.Context())) }))
	route("POST "+v+"/modules", "module_add", a.json(a.moduleAdd))
	route("GET "+v+"/modules", "module_ls", a.json(func(r *http.Request) (any, error) { return nonNil(a.b.ModuleList(r.Context())) }))
	route("GET "+v+"/modules/{ref}", "module_show", a.json(func(r *http.Request) (any, error) {
		return a.b.ModuleResolve(r.Context(), r.PathValue("ref"))
	}))
	route("POST "+v+"/jobs", "job_submit", a.json(a.jobSubmit))
	route("GET "+v+"/jobs", "job_list", a.json(func(r *http.Request) (any, error) { return nonNil(a.b.JobList(r.Context())) }))
	route("GET "+v+"/jobs/{id}", "job_describe", a.json(func(r *http.Request) (any, error) {
		return a.b.JobDescribe(r.Context(), r.PathValue("id"))
	}))
	route("POST "+v+"/jobs/{id}/cancel", "job_cancel", a.json(func(r *http.Request) (any, error) {
		return a.b.JobCancel(r.Context(), r.PathValue("id"))
	}))
	route("GET "+v+"/jobs/{id}/receipts", "job_receipts", a.json(func(r *http.Request) (any, error) {
		return nonNil(a.b.JobReceipts(r.Context(), r.PathValue("id")))
	}))
	route("GET "+v+"/pipeline/cache/{identity}/{segment}", "segment_cache_get", a.json(a.segmentCacheGet))
	route("PUT "+v+"/pipeline/cache/{identity}/{segment}", "segment_cache_put", a.json(a.segmentCachePut))
	route("GET "+v+"/jobs/{id}/logs", "job_logs", a.jobLogs)
	route("GET "+v+"/routing/providers/{cid}", "find_providers", a.json(a.findProviders))
	route("GET "+v+"/reputation", "reputation", a.json(a.reputation))
	if opts.MetricsHandler != nil {
		mux.Handle("GET /metrics", opts.MetricsHandler)
	}
	// Go's profiler, for operators on the (loopback) admin port, as Kubo
	// serves it: go tool pprof http://API/debug/pprof/profile?seconds=10.
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeJSONError(w, r, fmt.Errorf("%w: no route %s %s (see docs/API.md)", ErrNotFound, r.Method, r.URL.Path))
	})
	return mux
}

type apiServer struct {
	b Backend
}

// fetchCtx applies ?timeout=, an overall deadline for a request that may
// wait on the network. Without it the node's own stall timeout (the wait for
// any single block) still bounds the request.
func (a *apiServer) fetchCtx(r *http.Request) (context.Context, context.CancelFunc, error) {
	s := r.URL.Query().Get("timeout")
	if s == "" {
		ctx, cancel := context.WithCancel(r.Context())
		return ctx, cancel, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return nil, nil, fmt.Errorf("%w: timeout %q is not a positive duration like 30s", ErrBadRequest, s)
	}
	ctx, cancel := context.WithTimeout(r.Context(), d)
	return ctx, cancel, nil
}

// json adapts a handler that returns a value to one that writes it as JSON,
// or the error with its status and hint.
func (a *apiServer) json(h func(r *http.Request) (any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		v, err := h(r)
		if err != nil {
			writeJSONError(w, r, err)
			return
		}
		writeJSON(w, v)
	}
}

// nonNil makes an empty listing encode as [] rather than null.
func nonNil[T any](list []T, err error) ([]T, error) {
	if list == nil && err == nil {
		list = []T{}
	}
	return list, err
}

// fetchRequest parses the {cid} of the route and bounds the request by its
// ?timeout=. Call cancel when done.
func (a *apiServer) fetchRequest(r *http.Request) (ctx context.Context, c cid.Cid, cancel context.CancelFunc, err error) {
	if c, err = pathCID(r); err != nil {
		return nil, cid.Undef, nil, err
	}
	if ctx, cancel, err = a.fetchCtx(r); err != nil {
		return nil, cid.Undef, nil, err
	}
	return ctx, c, cancel, nil
}

func pathCID(r *http.Request) (cid.Cid, error) {
	s := r.PathValue("cid")
	c, err := cid.Decode(s)
	if err != nil {
		return cid.Undef, fmt.Errorf("%w: invalid CID %q: %v", ErrBadRequest, s, err)
	}
	return c, nil
}

func boolParam(r *http.Request, name string, def bool) (bool, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return def, nil
	}
	v, err := strconv.ParseBool(s)
	if err != nil {
		return false, fmt.Errorf("%w: %s=%q is not true or false", ErrBadRequest, name, s)
	}
	return v, nil
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

func (a *apiServer) add(w http.ResponseWriter, r *http.Request) {
	a.json(func(r *http.Request) (any, error) {
		pin, err := boolParam(r, "pin", true)
		if err != nil {
			return nil, err
		}
		hidden, err := boolParam(r, "hidden", false)
		if err != nil {
			return nil, err
		}
		node, name, err := uploadedNode(r)
		if err != nil {
			return nil, err
		}
		defer node.Close()
		return a.b.Add(r.Context(), node, AddOptions{Name: name, Pin: pin, Hidden: hidden})
	})(w, r)
}

// uploadedNode reads the body of an add: multipart/form-data holding one
// file or directory tree (the format of boxo/files.MultiFileReader, as Kubo
// uses), or any other content type as the bytes of a single file, named by
// the name query parameter.
func uploadedNode(r *http.Request) (files.Node, string, error) {
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" {
		return files.NewReaderFile(r.Body), r.URL.Query().Get("name"), nil
	}
	boundary := params["boundary"]
	if boundary == "" {
		return nil, "", fmt.Errorf("%w: multipart body without boundary", ErrBadRequest)
	}
	dir, err := files.NewFileFromPartReader(multipart.NewReader(r.Body, boundary), mt)
	if err != nil {
		return nil, "", fmt.Errorf("%w: %v", ErrBadRequest, err)
	}
	it := dir.Entries()
	if !it.Next() {
		if err := it.Err(); err != nil {
			return nil, "", fmt.Errorf("%w: reading upload: %v", ErrBadRequest, err)
		}
		return nil, "", fmt.Errorf("%w: upload holds no file", ErrBadRequest)
	}
	return it.Node(), it.Name(), nil
}

func (a *apiServer) cat(w http.ResponseWriter, r *http.Request) {
	ctx, c, cancel, err := a.fetchRequest(r)
	if err != nil {
		writeJSONError(w, r, err)
		return
	}
	defer cancel()
	f, size, err := a.b.Cat(ctx, c)
	if err != nil {
		writeJSONError(w, r, err)
		return
	}
	defer f.Close()
	w.Header().Set("Content-Length", strconv.FormatInt(size, 10))
	w.Header().Set("Content-Type", "application/octet-stream")
	streamBody(w, f)
}

// streamBody copies a stream after the status line went out; an error then
// can only be reported in the X-Stream-Error trailer (and by cutting the
// body short, which a client checking Content-Length also sees).
func streamBody(w http.ResponseWriter, src io.Reader) {
	w.Header().Set("Trailer", "X-Stream-Error")
	if _, err := io.Copy(w, src); err != nil {
		w.Header().Set("X-Stream-Error", err.Error())
	}
}

func (a *apiServer) get(w http.ResponseWriter, r *http.Request) {
	ctx, c, cancel, err := a.fetchRequest(r)
	if err != nil {
		writeJSONError(w, r, err)
		return
	}
	defer cancel()
	n, err := a.b.Get(ctx, c)
	if err != nil {
		writeJSONError(w, r, err)
		return
	}
	defer n.Close()
	if size, err := n.Size(); err == nil {
		w.Header().Set("X-Content-Length", strconv.FormatInt(size, 10))
	}
	w.Header().Set("Content-Type", "application/x-tar")
	w.Header().Set("Trailer", "X-Stream-Error")
	// boxo's UnixFS directory reader can panic on a malformed DAG fetched
	// from a peer; the stream is then cut and the reason goes in the
	// trailer instead of taking the connection down.
	defer func() {
		if p := recover(); p != nil {
			w.Header().Set("X-Stream-Error", fmt.Sprintf("malformed DAG under %s: %v", c, p))
		}
	}()
	tw, err := files.NewTarWriter(w)
	if err == nil {
		err = tw.WriteFile(n, c.String())
	}
	if err == nil {
		err = tw.Close()
	}
	if err != nil {
		w.Header().Set("X-Stream-Error", err.Error())
	}
}

func (a *apiServer) pinAdd(r *http.Request) (any, error) {
	recursive, err := boolParam(r, "recursive", true)
	if err != nil {
		return nil, err
	}
	ctx, c, cancel, err := a.fetchRequest(r)
	if err != nil {
		return nil, err
	}
	defer cancel()
	return a.b.PinAdd(ctx, c, recursive)
}

func (a *apiServer) pinRm(r *http.Request) (any, error) {
	c, err := pathCID(r)
	if err != nil {
		return nil, err
	}
	return api.Pin{CID: c.String()}, a.b.PinRm(r.Context(), c)
}

func (a *apiServer) repoVerify(r *http.Request) (any, error) {
	res, err := a.b.RepoVerify(r.Context())
	if res.Corrupt == nil {
		res.Corrupt = []string{}
	}
	return res, err
}

func (a *apiServer) dagExport(w http.ResponseWriter, r *http.Request) {
	ctx, c, cancel, err := a.fetchRequest(r)
	if err != nil {
		writeJSONError(w, r, err)
		return
	}
	defer cancel()
	// The backend fetches the whole DAG before it writes the first byte, so
	// a missing block still becomes a proper status code; after that, only
	// local reads remain and failures go to the trailer.
	pw := &pendingWriter{w: w, header: func() {
		w.Header().Set("Content-Type", "application/vnd.ipld.car; version=1")
		w.Header().Set("Trailer", "X-Stream-Error")
	}}
	if err := a.b.DagExport(ctx, c, pw); err != nil {
		if !pw.started {
			writeJSONError(w, r, err)
			return
		}
		w.Header().Set("X-Stream-Error", err.Error())
	}
}

// pendingWriter delays the response header until the first byte, so an
// error before any output can still choose the status code.
type pendingWriter struct {
	w       http.ResponseWriter
	header  func()
	started bool
}

func (p *pendingWriter) Write(b []byte) (int, error) {
	if !p.started {
		p.started = true
		p.header()
	}
	return p.w.Write(b)
}

func (a *apiServer) dagImport(r *http.Request) (any, error) {
	pin, err := boolParam(r, "pin", true)
	if err != nil {
		return nil, err
	}
	return a.b.DagImport(r.Context(), r.Body, pin)
}

func (a *apiServer) blockGet(w http.ResponseWriter, r *http.Request) {
	ctx, c, cancel, err := a.fetchRequest(r)
	if err != nil {
		writeJSONError(w, r, err)
		return
	}
	defer cancel()
	b, err := a.b.BlockGet(ctx, c)
	if err != nil {
		writeJSONError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/vnd.ipld.raw")
	w.Header().Set("Content-Length", strconv.Itoa(len(b.RawData())))
	w.Write(b.RawData())
}

func (a *apiServer) blockStat(r *http.Request) (any, error) {
	ctx, c, cancel, err := a.fetchRequest(r)
	if err != nil {
		return nil, err
	}
	defer cancel()
	b, err := a.b.BlockGet(ctx, c)
	if err != nil {
		return nil, err
	}
	return api.BlockStat{CID: c.String(), Size: len(b.RawData())}, nil
}

func (a *apiServer) blockPut(r *http.Request) (any, error) {
	var codec uint64
	switch name := r.URL.Query().Get("codec"); name {
	case "", "raw":
		codec = cid.Raw
	case "dag-pb":
		codec = cid.DagProtobuf
	case "dag-cbor":
		codec = cid.DagCBOR
	default:
		return nil, fmt.Errorf("%w: codec %q is not raw, dag-pb or dag-cbor", ErrBadRequest, name)
	}
	data, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxBlockSize))
	if err != nil {
		return nil, bodyError(err, "block", maxBlockSize)
	}
	return a.b.BlockPut(r.Context(), data, codec)
}

func (a *apiServer) swarmConnect(r *http.Request) (any, error) {
	var req api.ConnectRequest
	if err := decodeJSON(r, &req); err != nil {
		return nil, err
	}
	if req.Addr == "" {
		return nil, fmt.Errorf("%w: addr is required (a multiaddr ending in /p2p/PEERID)", ErrBadRequest)
	}
	ctx, cancel, err := a.fetchCtx(r)
	if err != nil {
		return nil, err
	}
	defer cancel()
	return req, a.b.SwarmConnect(ctx, req.Addr)
}

// decodeJSON reads a small JSON body strictly.
func decodeJSON(r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, maxJSONBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return bodyError(err, "JSON body", maxJSONBody)
	}
	return nil
}

func bodyError(err error, what string, limit int64) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return fmt.Errorf("%w: %s larger than %d bytes", ErrTooLarge, what, limit)
	}
	return fmt.Errorf("%w: %s: %v", ErrBadRequest, what, err)
}

func (a *apiServer) moduleAdd(r *http.Request) (any, error) {
	q := r.URL.Query()
	name, version := q.Get("name"), q.Get("version")
	if (name == "") != (version == "") {
		return nil, fmt.Errorf("%w: name and version go together", ErrBadRequest)
	}
	data, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxModuleSize))
	if err != nil {
		return nil, bodyError(err, "module", maxModuleSize)
	}
	return a.b.ModuleAdd(r.Context(), data, name, version)
}

// ProviderFinder is the part of a node that looks up DHT provider records.
type ProviderFinder interface {
	// FindProviders lists the peers that provider records name for c,
	// waiting at most until ctx ends.
	FindProviders(ctx context.Context, c cid.Cid) ([]string, error)
}

// Reputations is the part of a node that scores executors.
type Reputations interface {
	// JobReputation reports the standing of every executor this node has
	// judged or can ask for bids.
	JobReputation(ctx context.Context) ([]api.NodeReputation, error)
}

// JobLogger is the part of a node that streams job logs.
type JobLogger interface {
	// JobLogs calls emit with the job's log entries in order: its history
	// so far, then with follow each new history entry and the executors'
	// live output (entries with Node set) as they happen; once the job has
	// ended, the accepted result's stdout and stderr in chunks of at most
	// api.JobLogChunk bytes (less the prefix live output of an agreeing
	// executor showed), and an "end" entry. Without follow it returns after
	// what there is now. An unknown job is not found.
	JobLogs(ctx context.Context, id string, follow bool, emit func(api.JobLogEntry) error) error
}

// jobLogs streams a job's log as newline-delimited JSON, each entry
// flushed as it is written. An error after the first entry can only go
// in the X-Stream-Error trailer.
func (a *apiServer) jobLogs(w http.ResponseWriter, r *http.Request) {
	jl, ok := a.b.(JobLogger)
	if !ok {
		writeJSONError(w, r, NotFound(errors.New("this node keeps no job logs")))
		return
	}
	follow, err := boolParam(r, "follow", false)
	if err != nil {
		writeJSONError(w, r, err)
		return
	}
	rc := http.NewResponseController(w)
	started := false
	enc := json.NewEncoder(w)
	err = jl.JobLogs(r.Context(), r.PathValue("id"), follow, func(e api.JobLogEntry) error {
		if !started {
			started = true
			w.Header().Set("Content-Type", "application/x-ndjson")
			w.Header().Set("Trailer", "X-Stream-Error")
			w.Header().Set("Cache-Control", "no-store")
		}
		if err := enc.Encode(e); err != nil {
			return err
		}
		return rc.Flush()
	})
	switch {
	case err == nil:
	case !started:
		writeJSONError(w, r, err)
	default:
		w.Header().Set("X-Stream-Error", err.Error())
	}
}

func (a *apiServer) findProviders(r *http.Request) (any, error) {
	pf, ok := a.b.(ProviderFinder)
	if !ok {
		return nil, NotFound(errors.New("this node does not look up providers"))
	}
	ctx, c, cancel, err := a.fetchRequest(r)
	if err != nil {
		return nil, err
	}
	defer cancel()
	ids, err := pf.FindProviders(ctx, c)
	if ids == nil {
		ids = []string{}
	}
	return api.Providers{CID: c.String(), Providers: ids}, err
}

func (a *apiServer) reputation(r *http.Request) (any, error) {
	rs, ok := a.b.(Reputations)
	if !ok {
		return nil, NotFound(errors.New("this node keeps no reputation"))
	}
	return nonNil(rs.JobReputation(r.Context()))
}

func (a *apiServer) jobSubmit(r *http.Request) (any, error) {
	wait, err := boolParam(r, "wait", false)
	if err != nil {
		return nil, err
	}
	data, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxJSONBody*4))
	if err != nil {
		return nil, bodyError(err, "job spec", maxJSONBody*4)
	}
	return a.b.JobSubmit(r.Context(), data, wait)
}

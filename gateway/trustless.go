package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/ipfs/boxo/blockservice"
	"github.com/ipfs/boxo/files"
	boxogw "github.com/ipfs/boxo/gateway"
	"github.com/ipfs/boxo/ipld/merkledag"
	"github.com/ipfs/boxo/path"
	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multihash"
	"github.com/prometheus/client_golang/prometheus"
)

// Defaults applied by NewTrustless to zero-valued TrustlessOptions fields.
const (
	// DefaultRequestTimeout is the default TrustlessOptions.RequestTimeout.
	DefaultRequestTimeout = boxogw.DefaultRetrievalTimeout
	// DefaultMaxRequestDuration is the default TrustlessOptions.MaxRequestDuration.
	DefaultMaxRequestDuration = boxogw.DefaultMaxRequestDuration
	// DefaultMaxConcurrentRequests is the default TrustlessOptions.MaxConcurrentRequests.
	DefaultMaxConcurrentRequests = boxogw.DefaultMaxConcurrentRequests
)

// TrustlessOptions configures NewTrustless. The zero value is a sensible
// production configuration.
type TrustlessOptions struct {
	// RequestTimeout bounds how long a request may wait for content. If no
	// response byte could be written within it (typically: no reachable peer
	// provides the CID), the request ends with 504 Gateway Timeout and a
	// text message saying the content could not be retrieved in time. Once
	// streaming has started it bounds the gap between two writes; a stream
	// that stalls longer is cut off (the status line is already sent, so the
	// client sees a truncated body). Zero means DefaultRequestTimeout (30s);
	// a negative value disables the timeout.
	RequestTimeout time.Duration

	// MaxRequestDuration is an absolute deadline for one request, however
	// steadily it streams. Zero means DefaultMaxRequestDuration (1h).
	// Negative values are treated as zero.
	MaxRequestDuration time.Duration

	// MaxConcurrentRequests caps the requests processed at once; requests
	// over the cap are answered 429 Too Many Requests with Retry-After: 60.
	// Zero means DefaultMaxConcurrentRequests (4096); a negative value
	// removes the cap.
	MaxConcurrentRequests int

	// NoFetch serves only blocks already in the block service's blockstore
	// and never asks its exchange (bitswap) for missing ones: a missing root
	// block is 404 at once instead of a network search.
	NoFetch bool

	// Registry receives boxo/gateway's own metrics (ipfs_http_gw_*: response
	// codes, request types, backend call latencies). Nil keeps them in a
	// private registry nobody scrapes; the global default registry is never
	// used. Per-handler request metrics for the daemon come from Metrics.Wrap.
	Registry *prometheus.Registry
}

// NewTrustless returns a read-only IPFS Trustless Gateway
// (https://specs.ipfs.tech/http-gateways/trustless-gateway/) serving
// GET and HEAD /ipfs/{cid}[/{path}] from bs, which may fetch from the network
// (bitswap) unless opts.NoFetch is set. Mount it at "/ipfs/".
//
// Only verifiable responses are produced: application/vnd.ipld.raw for
// /ipfs/{cid} and application/vnd.ipld.car for /ipfs/{cid}[/{path}], chosen by
// ?format=raw|car or the Accept header (CAR parameters version=1,
// order=dfs|unk, dups=y|n, also as ?car-version=, ?car-order=, ?car-dups=),
// with ?dag-scope=block|entity|all and ?entity-bytes=from:to for CARs. Any
// other response type is 406 Not Acceptable, a malformed path or CID is 400,
// a root block that is not available is 404, content not retrieved within
// opts.RequestTimeout is 504, and paths outside /ipfs/ are 404. Error bodies
// are text/plain.
//
// The handler is safe for concurrent use. It starts no goroutines beyond
// those serving an in-flight request, all of which end with it.
func NewTrustless(bs blockservice.BlockService, opts TrustlessOptions) (http.Handler, error) {
	if bs == nil {
		return nil, errors.New("new trustless gateway: nil block service")
	}
	if opts.NoFetch {
		bs = offlineBlockService(bs)
	}
	reg := opts.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	inner, err := boxogw.NewBlocksBackend(bs, boxogw.WithPrometheusRegistry(reg))
	if err != nil {
		return nil, fmt.Errorf("new trustless gateway: %w", err)
	}
	cfg := boxogw.Config{
		DeserializedResponses: false, // trustless: raw blocks and CARs only
		NoDNSLink:             true,
		DisableHTMLErrors:     true, // clients are programs: plain-text errors
		RetrievalTimeout:      orDefault(opts.RequestTimeout, DefaultRequestTimeout),
		MaxRequestDuration:    orDefault(opts.MaxRequestDuration, DefaultMaxRequestDuration),
		MaxConcurrentRequests: orDefault(opts.MaxConcurrentRequests, DefaultMaxConcurrentRequests),
		MetricsRegistry:       reg,
	}
	// boxo treats 0 as "disabled"; our negative means disabled.
	cfg.RetrievalTimeout = max(cfg.RetrievalTimeout, 0)
	cfg.MaxConcurrentRequests = max(cfg.MaxConcurrentRequests, 0)
	if cfg.MaxRequestDuration < 0 {
		cfg.MaxRequestDuration = DefaultMaxRequestDuration
	}
	backend := &trustlessBackend{BlocksBackend: inner, bs: bs}
	return &trustlessHandler{gw: boxogw.NewHandler(cfg, backend)}, nil
}

func orDefault[T time.Duration | int](v, def T) T {
	if v == 0 {
		return def
	}
	return v
}

// offlineBlockService returns a block service over bs's blockstore that
// never fetches: a block that is not stored locally is ipld.ErrNotFound.
// The CID allowlist of bs (which hash functions are acceptable) is kept.
func offlineBlockService(bs blockservice.BlockService) blockservice.BlockService {
	var opts []blockservice.Option
	if bounded, ok := bs.(blockservice.BoundedBlockService); ok {
		opts = append(opts, blockservice.WithAllowlist(bounded.Allowlist()))
	}
	return blockservice.New(bs.Blockstore(), nil, opts...)
}

// trustlessHandler confines boxo's gateway handler to the /ipfs/ namespace:
// IPNS and DNSLink need naming services this daemon does not run, and
// /ipld/ is not a gateway namespace. It also marks HEAD requests so the
// backend can answer them without streaming a whole DAG.
type trustlessHandler struct {
	gw http.Handler
}

func (t *trustlessHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	if p != "/ipfs" && !strings.HasPrefix(p, "/ipfs/") {
		err := fmt.Errorf("%q is not an /ipfs/ content path: %w", p, ErrNotFound)
		writeTextError(w, r, withHint(err, "this trustless gateway serves only GET/HEAD /ipfs/{cid}[/path]?format=raw|car"))
		return
	}
	if r.Method == http.MethodHead {
		r = r.WithContext(context.WithValue(r.Context(), headRequestKey{}, true))
	}
	// The spec says entity-bytes implies dag-scope=entity; boxo defaults
	// the scope to "all" regardless, which would return the whole DAG.
	if q := r.URL.Query(); q.Has(entityBytesParam) && !q.Has(dagScopeParam) {
		r = r.Clone(r.Context())
		r.URL.RawQuery += "&" + dagScopeParam + "=entity"
	}
	t.gw.ServeHTTP(w, r)
}

// CAR request query parameters (trustless gateway spec).
const (
	dagScopeParam    = "dag-scope"
	entityBytesParam = "entity-bytes"
)

// headRequestKey marks, in a request context, a HEAD request.
type headRequestKey struct{}

func isHeadRequest(ctx context.Context) bool {
	head, _ := ctx.Value(headRequestKey{}).(bool)
	return head
}

// trustlessBackend is boxo's BlocksBackend with the behaviour the trustless
// gateway spec asks for and boxo does not give:
//
//   - a CAR request whose root block is unavailable is 404 Not Found (or 504
//     when fetching it timed out), not 200 with an empty CAR;
//   - a HEAD request for a CAR resolves the path (all status-deciding work)
//     but does not traverse and discard the whole DAG;
//   - errors boxo would report as 500 go through statusFor, so a CID with a
//     disallowed hash function is 400, not 500.
//
// The embedded BlocksBackend supplies the remaining IPFSBackend methods,
// including WrapContextForRequest (one exchange session per request).
type trustlessBackend struct {
	*boxogw.BlocksBackend
	bs blockservice.BlockService
}

var (
	_ boxogw.IPFSBackend     = (*trustlessBackend)(nil)
	_ boxogw.WithContextHint = (*trustlessBackend)(nil)
)

func (b *trustlessBackend) GetBlock(ctx context.Context, p path.ImmutablePath) (boxogw.ContentPathMetadata, files.File, error) {
	md, f, err := b.BlocksBackend.GetBlock(ctx, p)
	return md, f, classify(err)
}

func (b *trustlessBackend) Head(ctx context.Context, p path.ImmutablePath) (boxogw.ContentPathMetadata, *boxogw.HeadResponse, error) {
	md, h, err := b.BlocksBackend.Head(ctx, p)
	return md, h, classify(err)
}

func (b *trustlessBackend) ResolvePath(ctx context.Context, p path.ImmutablePath) (boxogw.ContentPathMetadata, error) {
	md, err := b.BlocksBackend.ResolvePath(ctx, p)
	return md, classify(err)
}

func (b *trustlessBackend) GetCAR(ctx context.Context, p path.ImmutablePath, params boxogw.CarParams) (boxogw.ContentPathMetadata, io.ReadCloser, error) {
	// Identity CIDs carry their data inline and are never "missing"; the
	// spec's probe CID bafkqaaa must answer 200 with an (empty) CAR.
	if root := p.RootCid(); root.Prefix().MhType != multihash.IDENTITY {
		if _, err := b.bs.GetBlock(ctx, root); err != nil {
			return boxogw.ContentPathMetadata{}, nil, classify(fmt.Errorf("root block: %w", err))
		}
	}
	if isHeadRequest(ctx) {
		// The status and headers of a CAR response depend only on path
		// resolution. If it fails, fall through so HEAD reports exactly
		// what GET would (e.g. 200 with a proof of a missing path segment).
		if md, err := b.BlocksBackend.ResolvePath(ctx, p); err == nil {
			return md, headBody{}, nil
		}
	}
	md, rc, err := b.BlocksBackend.GetCAR(ctx, p, params)
	if err != nil {
		return md, rc, classify(err)
	}
	if params.Scope == boxogw.DagScopeAll && params.Range == nil && len(p.Segments()) == 2 {
		rc = b.prefetch(ctx, p.RootCid(), rc)
	}
	return md, rc, nil
}

// prefetch walks the whole DAG under root with many blocks in flight while
// boxo's CAR writer traverses it one block at a time: over bitswap the
// writer then finds most blocks already local instead of paying a round
// trip for each. The walk belongs to the response body: closing the body
// stops it and waits for it.
func (b *trustlessBackend) prefetch(ctx context.Context, root cid.Cid, rc io.ReadCloser) io.ReadCloser {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		// Errors surface through the CAR writer's own reads.
		_ = merkledag.FetchGraph(ctx, root, merkledag.NewDAGService(b.bs))
	}()
	return &prefetchingBody{ReadCloser: rc, stop: func() { cancel(); <-done }}
}

type prefetchingBody struct {
	io.ReadCloser
	once sync.Once
	stop func()
}

func (p *prefetchingBody) Close() error {
	err := p.ReadCloser.Close()
	p.once.Do(p.stop)
	return err
}

// classify tags err with the status statusFor picks for it, so boxo's error
// writer uses it. Errors statusFor leaves at 500 are returned unchanged, so
// boxo's own finer classification still applies to them.
func classify(err error) error {
	if err == nil {
		return nil
	}
	var explicit *boxogw.ErrorStatusCode
	if errors.As(err, &explicit) {
		return err
	}
	if code := statusFor(err); code != http.StatusInternalServerError {
		return boxogw.NewErrorStatusCode(err, code)
	}
	return err
}

// headBody is the CAR "stream" of a HEAD request: empty. Its WriteTo, which
// io.Copy prefers, makes one zero-length Write: boxo's retrieval-timeout
// writer copies the response headers the handler set to the connection only
// on a Write or WriteHeader call, and boxo's CAR handler makes neither for an
// empty body, so without it a HEAD response would lose all its headers. A
// zero-length write also keeps net/http from inventing a Content-Length the
// GET response (a chunked stream) would not have.
type headBody struct{}

func (headBody) Read([]byte) (int, error) { return 0, io.EOF }
func (headBody) Close() error             { return nil }

func (headBody) WriteTo(w io.Writer) (int64, error) {
	_, err := w.Write(nil)
	return 0, err
}

package source

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// MaxResponseSize bounds one JSON-RPC response body (a Solana block with
// parsed transactions runs to tens of megabytes).
const MaxResponseSize = 512 << 20

// ErrUnavailable is matched by errors of requests that still failed
// transiently (transport errors, timeouts, HTTP 429 or 5xx, transient
// JSON-RPC errors) after OpenOptions.Retries retries.
var ErrUnavailable = errors.New("source: node unavailable")

// rpcOp names a request in errors: the method and the block it concerns.
type rpcOp struct {
	source   string // "ethereum-rpc" or "solana-rpc"
	method   string
	block    uint64
	hasBlock bool
}

func (o rpcOp) String() string {
	s := o.source + " " + o.method
	if o.hasBlock {
		s += " block " + strconv.FormatUint(o.block, 10)
	}
	return s
}

// RPCError is a JSON-RPC error response.
type RPCError struct {
	Source   string // "ethereum-rpc" or "solana-rpc"
	Method   string
	Block    uint64 // the block or slot requested, when HasBlock
	HasBlock bool
	Code     int64
	Message  string
}

// Error formats the error as "source: SOURCE METHOD block N: rpc error
// CODE: MESSAGE".
func (e *RPCError) Error() string {
	op := rpcOp{e.Source, e.Method, e.Block, e.HasBlock}
	return fmt.Sprintf("source: %s: rpc error %d: %s", op, e.Code, clip(e.Message))
}

// HTTPError is a response with a status other than 200.
type HTTPError struct {
	Source   string
	Method   string
	Block    uint64
	HasBlock bool
	Status   int
	Body     string // the start of the body
	// RetryAfter is the wait a 429 or 503 response asked for, 0 if none.
	RetryAfter time.Duration
}

// Error formats the error as "source: SOURCE METHOD block N: http STATUS:
// BODY".
func (e *HTTPError) Error() string {
	op := rpcOp{e.Source, e.Method, e.Block, e.HasBlock}
	return fmt.Sprintf("source: %s: http %d %s: %s", op, e.Status, http.StatusText(e.Status), e.Body)
}

// transientError marks a failure worth retrying.
type transientError struct{ err error }

func (e *transientError) Error() string { return e.err.Error() }
func (e *transientError) Unwrap() error { return e.err }

func transient(err error) error { return &transientError{err} }

func isTransient(err error) bool {
	var te *transientError
	return errors.As(err, &te)
}

// unavailableError is the last transient failure after all retries. It is
// not transient itself: an outer retry loop does not start over.
type unavailableError struct {
	attempts int
	err      error
}

func (e *unavailableError) Error() string {
	return fmt.Sprintf("%v (gave up after %d attempts)", e.err, e.attempts)
}
func (e *unavailableError) Unwrap() error        { return e.err }
func (e *unavailableError) Is(target error) bool { return target == ErrUnavailable }

// JSON-RPC error codes retried as transient.
var (
	ethTransientCodes = map[int64]bool{
		-32005: true, // limit exceeded
		-32603: true, // internal error
		429:    true, // some providers put the HTTP status here
	}
	solTransientCodes = map[int64]bool{
		-32004: true, // block not available for slot (yet)
		-32005: true, // node unhealthy / behind
		-32014: true, // block status not yet available
		-32016: true, // minimum context slot not reached
		-32603: true,
		429:    true,
	}
)

// rpcClient sends JSON-RPC 2.0 requests over HTTP with rate limiting,
// timeouts and retries. It is safe for concurrent use.
type rpcClient struct {
	source    string
	url       string
	http      *http.Client
	own       *http.Transport // the transport of a client this stream made, closed by close
	limit     *limiter
	retries   int
	timeout   time.Duration
	backoff   backoff
	transient map[int64]bool
	nextID    atomic.Uint64
}

func newRPCClient(source string, u *url.URL, o OpenOptions, transientCodes map[int64]bool) *rpcClient {
	c := &rpcClient{
		source:    source,
		url:       u.String(),
		http:      o.HTTPClient,
		limit:     newLimiter(o.RequestsPerSecond),
		retries:   o.Retries,
		timeout:   o.RequestTimeout,
		backoff:   backoff{o.RetryDelay, o.MaxRetryDelay},
		transient: transientCodes,
	}
	if c.http == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = o.Concurrency + 2
		c.own = t
		c.http = &http.Client{Transport: t}
	}
	return c
}

func (c *rpcClient) close() {
	if c.own != nil {
		c.own.CloseIdleConnections()
	}
}

func (c *rpcClient) op(method string, block uint64, hasBlock bool) rpcOp {
	return rpcOp{c.source, method, block, hasBlock}
}

// call sends one request, retrying transient failures, and returns its
// result, which may be JSON null.
func (c *rpcClient) call(ctx context.Context, op rpcOp, params ...any) (json.RawMessage, error) {
	var result json.RawMessage
	err := retry(ctx, c.retries, c.backoff, func() error {
		var err error
		result, err = c.once(ctx, op, params)
		return err
	})
	return result, err
}

// retry runs fn until it succeeds, fails with an error that is not
// transient, the context ends, or retries retries have failed.
func retry(ctx context.Context, retries int, b backoff, fn func() error) error {
	for attempt := 0; ; attempt++ {
		err := fn()
		if err == nil || !isTransient(err) {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if attempt >= retries {
			var te *transientError
			errors.As(err, &te)
			return &unavailableError{attempt + 1, te.err}
		}
		wait := b.delay(attempt)
		var he *HTTPError
		if errors.As(err, &he) && he.RetryAfter > wait {
			wait = min(he.RetryAfter, b.max)
		}
		if err := sleep(ctx, wait); err != nil {
			return err
		}
	}
}

type rpcRequest struct {
	JSONRPC string `json:"jsonrpc"`
	ID      uint64 `json:"id"`
	Method  string `json:"method"`
	Params  []any  `json:"params"`
}

// once sends one request without retrying; transient failures come back
// marked with transient.
func (c *rpcClient) once(ctx context.Context, op rpcOp, params []any) (json.RawMessage, error) {
	if params == nil {
		params = []any{}
	}
	id := c.nextID.Add(1)
	body, err := json.Marshal(rpcRequest{"2.0", id, op.method, params})
	if err != nil {
		return nil, fmt.Errorf("source: %s: %w", op, err)
	}
	if err := c.limit.wait(ctx); err != nil {
		return nil, err
	}
	rctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("source: %s: %w", op, err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		// Transport errors carry the full URL; name only the operation.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, transient(fmt.Errorf("source: %s: %w", op, err))
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponseSize+1))
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, transient(fmt.Errorf("source: %s: reading the response: %w", op, err))
	}
	if resp.StatusCode != http.StatusOK {
		he := &HTTPError{Source: op.source, Method: op.method, Block: op.block, HasBlock: op.hasBlock, Status: resp.StatusCode, Body: clip(string(bytes.TrimSpace(data)))}
		if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
			he.RetryAfter = time.Duration(s) * time.Second
		}
		if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusRequestTimeout || resp.StatusCode >= 500 {
			return nil, transient(he)
		}
		return nil, he
	}
	if len(data) > MaxResponseSize {
		return nil, fmt.Errorf("source: %s: response larger than %d bytes", op, MaxResponseSize)
	}
	result, rerr, err := decodeRPCResponse(data, id)
	if err != nil {
		// A 200 that is not a JSON-RPC response is usually a proxy's
		// error page: worth another try.
		return nil, transient(fmt.Errorf("source: %s: %w", op, err))
	}
	if rerr != nil {
		e := &RPCError{Source: op.source, Method: op.method, Block: op.block, HasBlock: op.hasBlock, Code: rerr.Code, Message: rerr.Message}
		if c.transient[e.Code] {
			return nil, transient(e)
		}
		return nil, e
	}
	return result, nil
}

// rpcErrorObject is the error member of a JSON-RPC response.
type rpcErrorObject struct {
	Code    int64  `json:"code"`
	Message string `json:"message"`
}

// decodeRPCResponse reads a JSON-RPC 2.0 response to request id: its
// result (possibly null) or its error object. A body that is not such a
// response is an error matching ErrMalformed.
func decodeRPCResponse(data []byte, id uint64) (json.RawMessage, *rpcErrorObject, error) {
	var env struct {
		ID     json.RawMessage `json:"id"`
		Result json.RawMessage `json:"result"`
		Error  json.RawMessage `json:"error"`
	}
	bad := func(field string, err error) (json.RawMessage, *rpcErrorObject, error) {
		return nil, nil, &DecodeError{Input: "json-rpc response", Field: field, Err: err}
	}
	if err := json.Unmarshal(data, &env); err != nil {
		return bad("", err)
	}
	if len(env.Error) > 0 && string(env.Error) != "null" {
		var eo struct {
			Code    *json.Number `json:"code"`
			Message string       `json:"message"`
		}
		if err := json.Unmarshal(env.Error, &eo); err != nil {
			return bad("error", err)
		}
		if eo.Code == nil {
			return bad("error.code", errors.New("missing"))
		}
		code, err := strconv.ParseInt(string(*eo.Code), 10, 64)
		if err != nil {
			return bad("error.code", fmt.Errorf("%q is not an integer", clip(string(*eo.Code))))
		}
		return nil, &rpcErrorObject{code, eo.Message}, nil
	}
	if string(env.ID) != strconv.FormatUint(id, 10) {
		return bad("id", fmt.Errorf("%q is not the request's id %d", clip(string(env.ID)), id))
	}
	if len(env.Result) == 0 {
		return bad("result", errors.New("missing"))
	}
	return env.Result, nil, nil
}

// backoff computes exponential delays with jitter.
type backoff struct{ base, max time.Duration }

// delay returns the wait before retry attempt+1: base·2^attempt capped at
// max, drawn uniformly from its upper half.
func (b backoff) delay(attempt int) time.Duration {
	d := b.max
	if attempt < 30 && b.base<<attempt < b.max && b.base<<attempt > 0 {
		d = b.base << attempt
	}
	half := d / 2
	return half + rand.N(half+1)
}

// limiter is a token bucket holding one token, refilled at a fixed rate:
// tokens are granted at least 1/rate apart, measured when granted, so
// waiters that wake late cannot catch up in a burst. A nil limiter does not
// limit.
type limiter struct {
	mu       sync.Mutex
	interval time.Duration
	next     time.Time // when the next token is available
}

func newLimiter(perSecond float64) *limiter {
	if perSecond <= 0 {
		return nil
	}
	return &limiter{interval: time.Duration(float64(time.Second) / perSecond)}
}

// wait takes a token, sleeping until one is available or ctx ends.
func (l *limiter) wait(ctx context.Context) error {
	if l == nil {
		return nil
	}
	for {
		l.mu.Lock()
		now := time.Now()
		if !now.Before(l.next) {
			l.next = now.Add(l.interval)
			l.mu.Unlock()
			return nil
		}
		d := l.next.Sub(now)
		l.mu.Unlock()
		if err := sleep(ctx, d); err != nil {
			return err
		}
	}
}

// sleep waits for d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

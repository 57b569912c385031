package source

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// OpenOptions configures Open. The zero value reads everything from block
// 0: a whole file, or a chain from genesis following its head.
type OpenOptions struct {
	// From is the first block or slot delivered.
	From uint64
	// To is the last block or slot delivered; 0 means no end: an RPC source
	// follows the chain head live, a file source reads to its end. An RPC
	// source with To beyond the head waits for the chain to get there.
	To uint64
	// After resumes after a cursor (the last block handled): delivery
	// starts at the larger of From and After.Number+1. When it starts right
	// after the cursor and After.Hash is set, the stream checks that the
	// chain still has that block: if it reorganised while nobody was
	// watching, the first event is an undo to the common ancestor. A file
	// source whose block at After.Number has another hash fails with
	// ErrCursorMismatch.
	After *Cursor
	// Confirmations delays delivery of a block until the head is this many
	// blocks past it (RPC sources). 0 delivers the head block.
	Confirmations uint64
	// PollInterval is how often the head is polled once the stream has
	// caught up (RPC sources). 0 means 2s for ethereum-rpc, 400ms for
	// solana-rpc.
	PollInterval time.Duration
	// MaxReorgDepth bounds how far back the stream looks for the common
	// ancestor of a reorganisation, in blocks; a deeper one fails with
	// ErrReorgTooDeep. When the abandoned chain cannot be traced (a resume
	// cursor whose block the node no longer serves by hash, or Solana,
	// which has no lookup by hash), the stream assumes the deepest possible
	// reorganisation and undoes MaxReorgDepth blocks: safe, since undone
	// canonical blocks are delivered again. 0 means 64.
	MaxReorgDepth uint64
	// RequestsPerSecond caps the HTTP requests the stream makes (a token
	// bucket holding one token, shared by all its requests, retries
	// included). 0 means no limit.
	RequestsPerSecond float64
	// Retries is how often a request is retried after a transport error, a
	// timeout, HTTP 429 or 5xx, or a transient JSON-RPC error, with
	// exponential backoff and jitter. 0 means 5; negative means none.
	Retries int
	// Concurrency is the number of blocks fetched in parallel while
	// catching up; blocks are delivered in order regardless. 0 means 4.
	Concurrency int
	// HTTPClient sends the requests; nil means a client of this stream.
	HTTPClient *http.Client
	// RequestTimeout bounds one HTTP request. 0 means 30s.
	RequestTimeout time.Duration
	// RetryDelay is the backoff before the first retry; each retry doubles
	// it up to MaxRetryDelay, and each wait is drawn at random between half
	// the delay and the delay. A Retry-After header lengthens a wait. 0
	// means 250ms.
	RetryDelay time.Duration
	// MaxRetryDelay caps one backoff wait. 0 means 15s.
	MaxRetryDelay time.Duration
	// LogsOnly makes ethereum-rpc fetch each block's logs with eth_getLogs
	// by block hash instead of its transactions and receipts: far fewer
	// bytes, but the Units can only be encoded as ethereum-logs.
	LogsOnly bool
}

// Defaults of OpenOptions.
const (
	DefaultMaxReorgDepth   = 64
	DefaultRetries         = 5
	DefaultConcurrency     = 4
	DefaultRequestTimeout  = 30 * time.Second
	DefaultRetryDelay      = 250 * time.Millisecond
	DefaultMaxRetryDelay   = 15 * time.Second
	DefaultEthPollInterval = 2 * time.Second
	DefaultSolPollInterval = 400 * time.Millisecond
)

// Validate reports options that cannot work.
func (o OpenOptions) Validate() error {
	switch {
	case o.To != 0 && o.To < o.From:
		return fmt.Errorf("source: options: To %d is below From %d", o.To, o.From)
	case o.PollInterval < 0, o.RequestTimeout < 0, o.RetryDelay < 0, o.MaxRetryDelay < 0:
		return errors.New("source: options: negative duration")
	case o.Concurrency < 0:
		return fmt.Errorf("source: options: Concurrency %d is negative", o.Concurrency)
	case o.RequestsPerSecond < 0 || math.IsNaN(o.RequestsPerSecond) || math.IsInf(o.RequestsPerSecond, 0):
		return fmt.Errorf("source: options: RequestsPerSecond %v is not a non-negative number", o.RequestsPerSecond)
	case o.After != nil && o.After.Number == math.MaxUint64:
		return errors.New("source: options: After is the last possible block")
	}
	if o.After != nil {
		if _, err := ParseCursor(o.After.String()); err != nil {
			return fmt.Errorf("source: options: After: %w", err)
		}
	}
	return nil
}

// withDefaults fills zero fields.
func (o OpenOptions) withDefaults(pollInterval time.Duration) OpenOptions {
	if o.PollInterval == 0 {
		o.PollInterval = pollInterval
	}
	if o.MaxReorgDepth == 0 {
		o.MaxReorgDepth = DefaultMaxReorgDepth
	}
	switch {
	case o.Retries == 0:
		o.Retries = DefaultRetries
	case o.Retries < 0:
		o.Retries = 0
	}
	if o.Concurrency == 0 {
		o.Concurrency = DefaultConcurrency
	}
	if o.RequestTimeout == 0 {
		o.RequestTimeout = DefaultRequestTimeout
	}
	if o.RetryDelay == 0 {
		o.RetryDelay = DefaultRetryDelay
	}
	if o.MaxRetryDelay == 0 {
		o.MaxRetryDelay = DefaultMaxRetryDelay
	}
	o.MaxRetryDelay = max(o.MaxRetryDelay, o.RetryDelay)
	return o
}

// start returns the first number to deliver and whether the stream starts
// right after a cursor with a hash (which the first block must extend).
func (o OpenOptions) start() (first uint64, anchored bool) {
	first = o.From
	if o.After != nil && o.After.Number+1 >= first {
		return o.After.Number + 1, o.After.Hash != ""
	}
	return first, false
}

// ErrUnsupported is matched by errors from Open for a URI scheme it does
// not know or a file whose format it does not recognise.
var ErrUnsupported = errors.New("source: unsupported source")

// ErrCursorMismatch is matched by errors from opening a file source whose
// block at OpenOptions.After.Number has another hash than the cursor.
var ErrCursorMismatch = errors.New("source: cursor does not match the source")

// Open opens the source named by uri:
//
//   - "file:PATH": ethereum-etl JSON lines (a directory holding
//     blocks.json, transactions.json and logs.json, or one of those files,
//     whose siblings with the same name prefix are used when present; logs
//     are required, and logs.json without blocks.json gives blocks without
//     headers); a directory of JSON-RPC responses
//     (web3_response.eth_getBlockByNumber_0xN_true.json with
//     web3_response.eth_getTransactionReceipt_0xHASH.json), or one such
//     block file; a solana-etl instructions CSV (one slot, whose number is
//     taken from a "slot-N" in the file or directory name); a Solana
//     getTransaction response or batch (units per slot, in slot order).
//     The file is read and decoded by Open.
//   - "ethereum-rpc:URL": an Ethereum JSON-RPC node over HTTP(S).
//   - "solana-rpc:URL": a Solana JSON-RPC node over HTTP(S), at commitment
//     confirmed.
//
// RPC sources contact the node only from Next. The caller must Close the
// stream.
func Open(ctx context.Context, uri string, opts OpenOptions) (Stream, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	scheme, rest, ok := strings.Cut(uri, ":")
	if !ok || rest == "" {
		return nil, fmt.Errorf("%w: %q is not SCHEME:LOCATION (file:, ethereum-rpc:, solana-rpc:)", ErrUnsupported, clip(uri))
	}
	switch scheme {
	case "file":
		return openFile(ctx, rest, opts)
	case "ethereum-rpc", "solana-rpc":
		u, err := url.Parse(rest)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("%w: %s: %q is not an http or https URL", ErrUnsupported, scheme, redactURL(rest))
		}
		if scheme == "ethereum-rpc" {
			o := opts.withDefaults(DefaultEthPollInterval)
			if o.After != nil {
				// Hashes compare as the decoders write them: lowercase.
				a := *o.After
				if h, err := hexBytes(a.Hash, hashLen); err == nil {
					a.Hash = h
				}
				o.After = &a
			}
			c := newRPCClient(scheme, u, o, ethTransientCodes)
			return newPollStream(&ethChain{rpc: c, logsOnly: o.LogsOnly, retries: o.Retries, backoff: c.backoff}, c, o), nil
		}
		o := opts.withDefaults(DefaultSolPollInterval)
		c := newRPCClient(scheme, u, o, solTransientCodes)
		return newPollStream(&solChain{rpc: c, retries: o.Retries, backoff: c.backoff}, c, o), nil
	}
	return nil, fmt.Errorf("%w: scheme %q (want file, ethereum-rpc or solana-rpc)", ErrUnsupported, clip(scheme))
}

// redactURL keeps the scheme and host of a URL: paths and user info often
// hold API keys.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return "(unparsable URL)"
	}
	return u.Scheme + "://" + u.Host
}

package api

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ipfs/boxo/files"
)

// ErrNotFound is wrapped by errors for 404 answers.
var ErrNotFound = errors.New("not found")

// StatusError is a non-2xx answer from the daemon.
type StatusError struct {
	Code    int
	Message string
	Hint    string
}

func (e *StatusError) Error() string { return e.Message }

// Unwrap lets errors.Is(err, ErrNotFound) and context.DeadlineExceeded
// match the answers that mean them.
func (e *StatusError) Unwrap() error {
	switch e.Code {
	case http.StatusNotFound:
		return ErrNotFound
	case http.StatusGatewayTimeout:
		return context.DeadlineExceeded
	}
	return nil
}

// Client talks to one daemon's admin API.
type Client struct {
	base string
	http *http.Client
}

// NewClient returns a client for the API listening at hostport.
func NewClient(hostport string) *Client {
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		MaxIdleConnsPerHost: 16,
		DisableCompression:  true,
	}
	return &Client{base: "http://" + hostport + Version, http: &http.Client{Transport: tr}}
}

// Close releases idle connections.
func (c *Client) Close() error {
	c.http.CloseIdleConnections()
	return nil
}

// Ping checks that a daemon answers.
func (c *Client) Ping(ctx context.Context) error {
	_, err := c.ID(ctx)
	return err
}

// AddOptions tunes an add.
type AddOptions struct {
	Pin    bool // pin the root recursively (default for the CLI)
	Hidden bool // include dot-files of directories
	// Progress, when set, is called with the number of upload bytes sent so far.
	Progress func(sent int64)
}

// Add streams a file or directory tree to the daemon as multipart/form-data
// and returns the root. Nothing is buffered whole in memory on either side.
func (c *Client) Add(ctx context.Context, name string, n files.Node, opts AddOptions) (AddResult, error) {
	q := url.Values{"pin": {strconv.FormatBool(opts.Pin)}, "hidden": {strconv.FormatBool(opts.Hidden)}}
	var body io.Reader
	size := int64(-1)
	contentType := "application/octet-stream"
	if f, ok := n.(files.File); ok {
		// A single file goes as the raw body, with its length when known:
		// no multipart framing for the daemon to scan for boundaries.
		body = f
		if s, err := f.Size(); err == nil {
			size = s
		}
		if name != "" {
			q.Set("name", name)
		}
	} else {
		mfr := files.NewMultiFileReader(files.NewMapDirectory(map[string]files.Node{name: n}), true, false)
		body, contentType = mfr, "multipart/form-data; boundary="+mfr.Boundary()
	}
	if opts.Progress != nil {
		body = &countingReader{r: body, fn: opts.Progress}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/add?"+q.Encode(), body)
	if err != nil {
		return AddResult{}, err
	}
	if size >= 0 {
		req.ContentLength = size
	}
	req.Header.Set("Content-Type", contentType)
	var out AddResult
	return out, c.doJSON(req, &out)
}

// Cat streams the content of a UnixFS file. The caller closes the reader.
// size is -1 when the daemon did not say.
func (c *Client) Cat(ctx context.Context, cid string, timeout time.Duration) (rc io.ReadCloser, size int64, err error) {
	resp, err := c.get(ctx, "/cat/"+url.PathEscape(cid)+timeoutQuery(timeout))
	if err != nil {
		return nil, 0, err
	}
	return resp.Body, resp.ContentLength, nil
}

// Get streams a file or directory as a tar archive. The caller closes it.
func (c *Client) Get(ctx context.Context, cid string, timeout time.Duration) (io.ReadCloser, int64, error) {
	resp, err := c.get(ctx, "/get/"+url.PathEscape(cid)+timeoutQuery(timeout))
	if err != nil {
		return nil, 0, err
	}
	size, _ := strconv.ParseInt(resp.Header.Get("X-Content-Length"), 10, 64)
	return resp.Body, size, nil
}

// PinAdd pins cid (recursively unless direct), fetching missing blocks.
func (c *Client) PinAdd(ctx context.Context, cid string, recursive bool, timeout time.Duration) (Pin, error) {
	q := "?recursive=" + strconv.FormatBool(recursive)
	if timeout > 0 {
		q += "&timeout=" + timeout.String()
	}
	var out Pin
	return out, c.call(ctx, http.MethodPost, "/pins/"+url.PathEscape(cid)+q, nil, &out)
}

// PinRm removes the pin of cid.
func (c *Client) PinRm(ctx context.Context, cid string) error {
	return c.call(ctx, http.MethodDelete, "/pins/"+url.PathEscape(cid), nil, nil)
}

// PinLs lists the pins.
func (c *Client) PinLs(ctx context.Context) ([]Pin, error) {
	var out []Pin
	return out, c.call(ctx, http.MethodGet, "/pins", nil, &out)
}

// GC removes every block not reachable from a pin.
func (c *Client) GC(ctx context.Context) (GCResult, error) {
	var out GCResult
	return out, c.call(ctx, http.MethodPost, "/repo/gc", nil, &out)
}

// RepoStat describes the store.
func (c *Client) RepoStat(ctx context.Context) (RepoStat, error) {
	var out RepoStat
	return out, c.call(ctx, http.MethodGet, "/repo/stat", nil, &out)
}

// RepoVerify hashes every stored block.
func (c *Client) RepoVerify(ctx context.Context) (VerifyResult, error) {
	var out VerifyResult
	return out, c.call(ctx, http.MethodPost, "/repo/verify", nil, &out)
}

// DagExport streams the DAG under cid as a CAR v1.
func (c *Client) DagExport(ctx context.Context, cid string, timeout time.Duration) (io.ReadCloser, error) {
	resp, err := c.get(ctx, "/dag/export/"+url.PathEscape(cid)+timeoutQuery(timeout))
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}

// DagImport streams a CAR to the daemon; its roots are pinned when pin is set.
func (c *Client) DagImport(ctx context.Context, car io.Reader, pin bool) (ImportResult, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/dag/import?pin="+strconv.FormatBool(pin), car)
	if err != nil {
		return ImportResult{}, err
	}
	req.Header.Set("Content-Type", "application/vnd.ipld.car")
	var out ImportResult
	return out, c.doJSON(req, &out)
}

// BlockGet returns the raw bytes of one block.
func (c *Client) BlockGet(ctx context.Context, cid string, timeout time.Duration) ([]byte, error) {
	resp, err := c.get(ctx, "/blocks/"+url.PathEscape(cid)+timeoutQuery(timeout))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return io.ReadAll(resp.Body)
}

// BlockPut stores one block under a CIDv1 of the given codec ("raw" or
// "dag-pb").
func (c *Client) BlockPut(ctx context.Context, data []byte, codec string) (BlockStat, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/blocks?codec="+url.QueryEscape(codec), bytes.NewReader(data))
	if err != nil {
		return BlockStat{}, err
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	var out BlockStat
	return out, c.doJSON(req, &out)
}

// BlockStat describes one block.
func (c *Client) BlockStat(ctx context.Context, cid string, timeout time.Duration) (BlockStat, error) {
	var out BlockStat
	return out, c.call(ctx, http.MethodGet, "/blocks/"+url.PathEscape(cid)+"/stat"+timeoutQuery(timeout), nil, &out)
}

// ID describes the node.
func (c *Client) ID(ctx context.Context) (Identity, error) {
	var out Identity
	return out, c.call(ctx, http.MethodGet, "/id", nil, &out)
}

// SwarmConnect dials a peer.
func (c *Client) SwarmConnect(ctx context.Context, addr string) error {
	return c.call(ctx, http.MethodPost, "/swarm/connect", ConnectRequest{Addr: addr}, nil)
}

// SwarmPeers lists connected peers.
func (c *Client) SwarmPeers(ctx context.Context) ([]SwarmPeer, error) {
	var out []SwarmPeer
	return out, c.call(ctx, http.MethodGet, "/swarm/peers", nil, &out)
}

// Peers lists the capability index.
func (c *Client) Peers(ctx context.Context) ([]PeerCapability, error) {
	var out []PeerCapability
	return out, c.call(ctx, http.MethodGet, "/peers", nil, &out)
}

func timeoutQuery(d time.Duration) string {
	if d <= 0 {
		return ""
	}
	return "?timeout=" + d.String()
}

func (c *Client) get(ctx context.Context, path string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		return nil, err
	}
	return c.do(req)
}

func (c *Client) call(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return c.doJSON(req, out)
}

func (c *Client) doJSON(req *http.Request, out any) error {
	resp, err := c.do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		io.Copy(io.Discard, resp.Body)
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("decode %s answer: %w", req.URL.Path, err)
	}
	return nil
}

// do sends req and turns non-2xx answers into *StatusError.
func (c *Client) do(req *http.Request) (*http.Response, error) {
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 == 2 {
		resp.Body = &trailerChecked{rc: resp.Body, resp: resp}
		return resp, nil
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	se := &StatusError{Code: resp.StatusCode}
	var e Error
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt == "application/json" && json.Unmarshal(data, &e) == nil && e.Message != "" {
		se.Message, se.Hint = e.Message, e.Hint
	} else {
		se.Message = strings.TrimSpace(string(data))
		if se.Message == "" {
			se.Message = resp.Status
		}
	}
	return nil, se
}

type countingReader struct {
	r  io.Reader
	n  int64
	fn func(int64)
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	c.fn(c.n)
	return n, err
}

// trailerChecked turns an X-Stream-Error trailer (a failure after the
// status line was sent) into a read error at the end of the body, so a
// cut-short stream is never mistaken for a complete one.
type trailerChecked struct {
	rc   io.ReadCloser
	resp *http.Response
}

func (t *trailerChecked) Read(p []byte) (int, error) {
	n, err := t.rc.Read(p)
	if err == io.EOF {
		if msg := t.resp.Trailer.Get("X-Stream-Error"); msg != "" {
			return n, fmt.Errorf("stream cut short by the daemon: %s", msg)
		}
	}
	return n, err
}

func (t *trailerChecked) Close() error { return t.rc.Close() }

// ModuleAdd uploads a Wasm module; name and version (both or neither)
// publish a signed name@version record.
func (c *Client) ModuleAdd(ctx context.Context, wasm []byte, name, version string) (Module, error) {
	q := url.Values{}
	if name != "" {
		q.Set("name", name)
		q.Set("version", version)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/modules?"+q.Encode(), bytes.NewReader(wasm))
	if err != nil {
		return Module{}, err
	}
	req.Header.Set("Content-Type", "application/wasm")
	var out Module
	return out, c.doJSON(req, &out)
}

// ModuleList lists the registry records the daemon knows.
func (c *Client) ModuleList(ctx context.Context) ([]Module, error) {
	var out []Module
	return out, c.call(ctx, http.MethodGet, "/modules", nil, &out)
}

// ModuleShow resolves a CID or name@version.
func (c *Client) ModuleShow(ctx context.Context, ref string) (Module, error) {
	var out Module
	return out, c.call(ctx, http.MethodGet, "/modules/"+url.PathEscape(ref), nil, &out)
}

// JobSubmit starts a job from a JSON or YAML spec; with wait it returns
// when the job has ended.
func (c *Client) JobSubmit(ctx context.Context, spec []byte, wait bool) (Job, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/jobs?wait="+strconv.FormatBool(wait), bytes.NewReader(spec))
	if err != nil {
		return Job{}, err
	}
	req.Header.Set("Content-Type", "application/yaml")
	var out Job
	return out, c.doJSON(req, &out)
}

// JobDescribe reports one job.
func (c *Client) JobDescribe(ctx context.Context, id string) (Job, error) {
	var out Job
	return out, c.call(ctx, http.MethodGet, "/jobs/"+url.PathEscape(id), nil, &out)
}

// JobList lists the jobs the daemon coordinates.
func (c *Client) JobList(ctx context.Context) ([]Job, error) {
	var out []Job
	return out, c.call(ctx, http.MethodGet, "/jobs", nil, &out)
}

// JobCancel cancels a job.
func (c *Client) JobCancel(ctx context.Context, id string) (Job, error) {
	var out Job
	return out, c.call(ctx, http.MethodPost, "/jobs/"+url.PathEscape(id)+"/cancel", nil, &out)
}

// JobReceipts returns a job's signed receipts as JSON (verify.Receipt).
func (c *Client) JobReceipts(ctx context.Context, id string) ([]json.RawMessage, error) {
	var out []json.RawMessage
	return out, c.call(ctx, http.MethodGet, "/jobs/"+url.PathEscape(id)+"/receipts", nil, &out)
}

// FindProviders lists the peers that DHT provider records name for cid
// (timeout 0: the daemon's own bound).
func (c *Client) FindProviders(ctx context.Context, cid string, timeout time.Duration) ([]string, error) {
	var out Providers
	err := c.call(ctx, http.MethodGet, "/routing/providers/"+url.PathEscape(cid)+timeoutQuery(timeout), nil, &out)
	return out.Providers, err
}

// JobReputation lists the daemon's view of every executor: score and
// quarantine.
func (c *Client) JobReputation(ctx context.Context) ([]NodeReputation, error) {
	var out []NodeReputation
	err := c.call(ctx, http.MethodGet, "/reputation", nil, &out)
	return out, err
}

// JobLogs reads a job's log stream, calling fn with each entry in order:
// history events (with follow, interleaved with the executors' live output
// as it is written: entries with Node set), then (once the job has ended)
// the accepted result's stdout and stderr in chunks, less what live output
// of an agreeing executor already showed, then an "end" entry. With follow
// the stream stays open until the job ends; without, it holds what there
// is now. An error from fn stops the stream and is returned.
func (c *Client) JobLogs(ctx context.Context, id string, follow bool, fn func(JobLogEntry) error) error {
	resp, err := c.get(ctx, "/jobs/"+url.PathEscape(id)+"/logs?follow="+strconv.FormatBool(follow))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 16*JobLogChunk) // a chunk, JSON-escaped, fits
	for sc.Scan() {
		var e JobLogEntry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			return fmt.Errorf("job logs: %w", err)
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	return sc.Err()
}

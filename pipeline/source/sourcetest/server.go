package sourcetest

import (
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"
)

// Fault is what a Server does with one request instead of answering it.
type Fault int

const (
	// FaultNone answers the request.
	FaultNone Fault = iota
	// FaultTooManyRequests answers HTTP 429 with Retry-After: 0.
	FaultTooManyRequests
	// FaultInternalError answers HTTP 500.
	FaultInternalError
	// FaultHang answers nothing until the client gives up (at most two
	// seconds).
	FaultHang
	// FaultGarbage answers HTTP 200 with a body that is not JSON-RPC.
	FaultGarbage
	// FaultForbidden answers HTTP 403, as a node rejecting an API key.
	FaultForbidden
)

// hangLimit bounds a FaultHang, so that closing the server never waits
// long for a client that keeps its request open.
const hangLimit = 2 * time.Second

// ErrorObject is the error member of a JSON-RPC response.
type ErrorObject struct {
	Code    int64  `json:"code"`
	Message string `json:"message"`
}

// Hooks of a Server, each nil by default. They are called from the
// server's goroutines, concurrently.
type (
	// FaultFunc picks a fault for the n-th request (counting from 1).
	FaultFunc func(n int, method string) Fault
	// LatencyFunc delays the answer to a request.
	LatencyFunc func(method string, params []json.RawMessage) time.Duration
	// ErrorFunc answers a request with a JSON-RPC error instead of its
	// result when it returns non-nil.
	ErrorFunc func(method string, params []json.RawMessage) *ErrorObject
	// RewriteFunc replaces the result of a request; what it returns must
	// be valid JSON.
	RewriteFunc func(method string, params []json.RawMessage, result json.RawMessage) json.RawMessage
)

// handler answers one request: its result, or a JSON-RPC error.
type handler func(method string, params []json.RawMessage) (any, *ErrorObject)

// Server is the HTTP side of a fake node: it parses JSON-RPC requests
// (POST, any path, one request per body), counts them, applies the fault
// hooks and hands the rest to the fake.
type Server struct {
	srv    *httptest.Server
	handle handler

	mu          sync.Mutex
	requests    int
	perMethod   map[string]int
	times       []time.Time
	inFlight    int
	maxInFlight int
	faults      FaultFunc
	latency     LatencyFunc
	errorFor    ErrorFunc
	rewrite     RewriteFunc
}

func newServer(t testing.TB, handle handler) *Server {
	s := &Server{perMethod: map[string]int{}, handle: handle}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	return s
}

// URL returns the server's base URL, "http://127.0.0.1:PORT".
func (s *Server) URL() string { return s.srv.URL }

// SetFaults sets the fault hook; nil answers every request.
func (s *Server) SetFaults(fn FaultFunc) { s.mu.Lock(); s.faults = fn; s.mu.Unlock() }

// SetLatency sets the latency hook; nil answers at once.
func (s *Server) SetLatency(fn LatencyFunc) { s.mu.Lock(); s.latency = fn; s.mu.Unlock() }

// SetErrors sets the JSON-RPC error hook; nil answers normally.
func (s *Server) SetErrors(fn ErrorFunc) { s.mu.Lock(); s.errorFor = fn; s.mu.Unlock() }

// SetRewrite sets a hook that sees every result (JSON-RPC errors
// excluded) and returns the one to send, to corrupt answers; nil sends
// results as they are.
func (s *Server) SetRewrite(fn RewriteFunc) { s.mu.Lock(); s.rewrite = fn; s.mu.Unlock() }

// Requests returns how many requests for method arrived, or for any method
// when method is "". Requests the server could not parse are not counted.
func (s *Server) Requests(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if method == "" {
		return s.requests
	}
	return s.perMethod[method]
}

// RequestCounts returns the number of requests per method.
func (s *Server) RequestCounts() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.perMethod)
}

// RequestTimes returns the arrival time of every counted request, in order.
func (s *Server) RequestTimes() []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.times)
}

// MaxInFlight returns the most requests the server was handling at once.
func (s *Server) MaxInFlight() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.maxInFlight
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	var req struct {
		ID     json.RawMessage   `json:"id"`
		Method string            `json:"method"`
		Params []json.RawMessage `json:"params"`
	}
	if r.Method != http.MethodPost || json.Unmarshal(body, &req) != nil {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	s.requests++
	n := s.requests
	s.perMethod[req.Method]++
	s.times = append(s.times, time.Now())
	s.inFlight++
	s.maxInFlight = max(s.maxInFlight, s.inFlight)
	faults, latency, errorFor, rewrite := s.faults, s.latency, s.errorFor, s.rewrite
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.inFlight--
		s.mu.Unlock()
	}()

	f := FaultNone
	if faults != nil {
		f = faults(n, req.Method)
	}
	switch f {
	case FaultTooManyRequests:
		w.Header().Set("Retry-After", "0")
		http.Error(w, "slow down", http.StatusTooManyRequests)
		return
	case FaultInternalError:
		http.Error(w, "internal trouble", http.StatusInternalServerError)
		return
	case FaultHang:
		select {
		case <-r.Context().Done():
		case <-time.After(hangLimit):
		}
		return
	case FaultGarbage:
		io.WriteString(w, "<html>bad gateway</html>")
		return
	case FaultForbidden:
		http.Error(w, "invalid api key", http.StatusForbidden)
		return
	}
	if latency != nil {
		select {
		case <-r.Context().Done():
			return
		case <-time.After(latency(req.Method, req.Params)):
		}
	}
	var result any
	var rerr *ErrorObject
	if errorFor != nil {
		rerr = errorFor(req.Method, req.Params)
	}
	if rerr == nil {
		result, rerr = s.handle(req.Method, req.Params)
	}
	if rerr == nil && rewrite != nil {
		raw, err := json.Marshal(result)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		result = rewrite(req.Method, req.Params, raw)
	}
	resp := map[string]any{"jsonrpc": "2.0", "id": req.ID}
	if rerr != nil {
		resp["error"] = rerr
	} else {
		resp["result"] = result
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(resp)
}

// param decodes params[i] into v, leaving v alone when it is absent or
// does not decode.
func param(params []json.RawMessage, i int, v any) {
	if i < len(params) {
		json.Unmarshal(params[i], v)
	}
}

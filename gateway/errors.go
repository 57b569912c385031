package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	boxogw "github.com/ipfs/boxo/gateway"
	"github.com/ipfs/boxo/path"
	"github.com/ipfs/boxo/path/resolver"
	"github.com/ipfs/boxo/verifcid"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
)

// Sentinel errors that handlers in this package (and the services they call)
// wrap with %w to choose the HTTP status of a failed request. See statusFor
// for the complete mapping.
var (
	// ErrNotFound reports that the requested object does not exist (404).
	ErrNotFound = errors.New("not found")
	// ErrBadRequest reports a malformed or invalid request (400).
	ErrBadRequest = errors.New("bad request")
	// ErrTooLarge reports a request body or parameter over a size limit (413).
	ErrTooLarge = errors.New("request too large")
)

// statusClientClosedRequest is the non-standard status (nginx's 499) recorded
// when the client went away before the response was ready. Nobody reads the
// response; the code exists so logs and metrics do not count client
// disconnects as server errors.
const statusClientClosedRequest = 499

// statusFor is the one place that maps errors to HTTP status codes for the
// whole gateway package (admin API and trustless gateway). The first matching
// rule wins:
//
//	*boxo/gateway.ErrorStatusCode            -> its StatusCode
//	ErrTooLarge, *http.MaxBytesError         -> 413 Request Entity Too Large
//	ErrBadRequest, invalid CID, invalid
//	  content path, CID with a disallowed
//	  hash function or digest length,
//	  malformed JSON                         -> 400 Bad Request
//	ErrNotFound, ipld.IsNotFound (block not
//	  in store or not retrievable offline),
//	  path segment missing in a DAG          -> 404 Not Found
//	context.DeadlineExceeded                 -> 504 Gateway Timeout
//	context.Canceled (client went away)      -> 499 (logs and metrics only)
//	anything else, including nil             -> 500 Internal Server Error
//
// The trustless gateway's own backend errors are classified by boxo/gateway,
// which applies the same rules for the cases it knows (invalid CID 400,
// not found 404, deadline 504); errors that boxo would otherwise report as
// 500 are passed through statusFor first (see trustlessBackend).
func statusFor(err error) int {
	if err == nil {
		return http.StatusInternalServerError
	}
	var explicit *boxogw.ErrorStatusCode
	if errors.As(err, &explicit) && explicit.StatusCode >= 100 && explicit.StatusCode <= 999 {
		return explicit.StatusCode
	}
	var maxBytes *http.MaxBytesError
	switch {
	case errors.Is(err, ErrTooLarge), errors.As(err, &maxBytes):
		return http.StatusRequestEntityTooLarge
	case isBadRequest(err):
		return http.StatusBadRequest
	case errors.Is(err, ErrNotFound), ipld.IsNotFound(err), errors.Is(err, &resolver.ErrNoLink{}):
		return http.StatusNotFound
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusGatewayTimeout
	case errors.Is(err, context.Canceled):
		return statusClientClosedRequest
	default:
		return http.StatusInternalServerError
	}
}

func isBadRequest(err error) bool {
	var (
		syntaxErr *json.SyntaxError
		typeErr   *json.UnmarshalTypeError
	)
	return errors.Is(err, ErrBadRequest) ||
		errors.Is(err, cid.ErrInvalidCid{}) ||
		errors.Is(err, &path.ErrInvalidPath{}) ||
		errors.Is(err, verifcid.ErrPossiblyInsecureHashFunction) ||
		errors.Is(err, verifcid.ErrDigestTooSmall) ||
		errors.Is(err, verifcid.ErrDigestTooLarge) ||
		errors.As(err, &syntaxErr) ||
		errors.As(err, &typeErr)
}

// hintError attaches a human-oriented hint (what to do about the error) to an
// error without changing its classification.
type hintError struct {
	err  error
	hint string
}

func (e *hintError) Error() string { return e.err.Error() }
func (e *hintError) Unwrap() error { return e.err }

// withHint returns err annotated with hint; writeError reports the hint next
// to the message. A nil err stays nil.
func withHint(err error, hint string) error {
	if err == nil {
		return nil
	}
	return &hintError{err: err, hint: hint}
}

// hintFor returns the outermost hint attached with withHint, or a
// generic hint for the status code, or "".
func hintFor(err error, status int) string {
	var h *hintError
	if errors.As(err, &h) && h.hint != "" {
		return h.hint
	}
	switch status {
	case http.StatusGatewayTimeout:
		return "no reachable peer provided the data in time; retry later or check that a provider is online"
	case http.StatusRequestEntityTooLarge:
		return "reduce the size of the request"
	default:
		return ""
	}
}

// errorBody is the JSON shape of an admin API error response.
type errorBody struct {
	Error string `json:"error"`
	Hint  string `json:"hint,omitempty"`
}

// writeError writes err as the complete response, with the status chosen by
// statusFor. Requests for the gateway namespaces (/ipfs/, /ipns/) get a
// text/plain body, like boxo/gateway's own errors; all other requests (the
// admin API) get a JSON body {"error": "...", "hint": "..."} (hint omitted
// when empty). It must be called before anything else was written to w.
func writeError(w http.ResponseWriter, r *http.Request, err error) {
	if isGatewayNamespace(r.URL.Path) {
		writeTextError(w, r, err)
		return
	}
	writeJSONError(w, r, err)
}

// writeJSONError writes err as a JSON error body (see writeError).
func writeJSONError(w http.ResponseWriter, r *http.Request, err error) {
	status := statusFor(err)
	body := errorBody{Error: errorMessage(err), Hint: hintFor(err, status)}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	h.Del("Content-Length")
	w.WriteHeader(status)
	if r.Method == http.MethodHead {
		return
	}
	// Encoding a struct of two strings cannot fail; a write error means the
	// client is gone and there is nobody left to tell.
	_ = json.NewEncoder(w).Encode(body)
}

// writeTextError writes err as a text/plain error body, the format of
// boxo/gateway's errors: the message, then the hint on its own line.
func writeTextError(w http.ResponseWriter, r *http.Request, err error) {
	status := statusFor(err)
	msg := errorMessage(err)
	if hint := hintFor(err, status); hint != "" {
		msg += "\nhint: " + hint
	}
	h := w.Header()
	h.Del("Content-Length")
	h.Set("Cache-Control", "no-store")
	http.Error(w, msg, status)
}

func errorMessage(err error) string {
	if err == nil {
		return "internal error"
	}
	return err.Error()
}

// isGatewayNamespace reports whether p is a content path served by the
// trustless gateway handler.
func isGatewayNamespace(p string) bool {
	return p == "/ipfs" || p == "/ipns" ||
		strings.HasPrefix(p, "/ipfs/") || strings.HasPrefix(p, "/ipns/")
}

// BadRequest marks err as the client's fault (400) and NotFound as a
// missing object (404), keeping err's message as it is.
func BadRequest(err error) error { return &markedError{err: err, mark: ErrBadRequest} }

// NotFound: see BadRequest.
func NotFound(err error) error { return &markedError{err: err, mark: ErrNotFound} }

type markedError struct{ err, mark error }

func (e *markedError) Error() string   { return e.err.Error() }
func (e *markedError) Unwrap() []error { return []error{e.err, e.mark} }

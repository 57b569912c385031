package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	boxogw "github.com/ipfs/boxo/gateway"
	"github.com/ipfs/boxo/path"
	"github.com/ipfs/boxo/path/resolver"
	"github.com/ipfs/boxo/verifcid"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
)

func TestStatusFor(t *testing.T) {
	_, cidErr := cid.Decode("not-a-cid")
	_, pathErr := path.NewPath("/ipfs/not-a-cid")
	_, nsErr := path.NewPath("/foo/bar")
	var v struct{ N int }
	syntaxErr := json.Unmarshal([]byte(`{"N":`), &v)
	typeErr := json.Unmarshal([]byte(`{"N":"x"}`), &v)
	_, maxBytesErr := io.ReadAll(http.MaxBytesReader(httptest.NewRecorder(), io.NopCloser(strings.NewReader("too long")), 3))
	deadlineCtx, cancel := context.WithTimeout(context.Background(), 0)
	defer cancel()
	<-deadlineCtx.Done()
	canceledCtx, cancel2 := context.WithCancel(context.Background())
	cancel2()
	someCid := missingCID(t, "x")
	for _, e := range []error{cidErr, pathErr, nsErr, syntaxErr, typeErr, maxBytesErr} {
		if e == nil {
			t.Fatal("fixture error is nil")
		}
	}

	tests := []struct {
		name string
		err  error
		want int
	}{
		{"nil", nil, 500},
		{"plain", errors.New("disk on fire"), 500},
		{"not found", fmt.Errorf("pin %s: %w", someCid, ErrNotFound), 404},
		{"ipld not found", ipld.ErrNotFound{Cid: someCid}, 404},
		{"wrapped ipld not found", fmt.Errorf("get: %w", ipld.ErrNotFound{Cid: someCid}), 404},
		{"no link", fmt.Errorf("resolve: %w", &resolver.ErrNoLink{Name: "x", Node: someCid}), 404},
		{"bad request", fmt.Errorf("limit %q: %w", "x", ErrBadRequest), 400},
		{"cid parse", fmt.Errorf("arg: %w", cidErr), 400},
		{"invalid path", pathErr, 400},
		{"unknown namespace", nsErr, 400},
		{"insecure hash", verifcid.ErrPossiblyInsecureHashFunction, 400},
		{"digest too small", fmt.Errorf("x: %w", verifcid.ErrDigestTooSmall), 400},
		{"digest too large", verifcid.ErrDigestTooLarge, 400},
		{"json syntax", syntaxErr, 400},
		{"json type", typeErr, 400},
		{"too large", fmt.Errorf("upload: %w", ErrTooLarge), 413},
		{"max bytes reader", maxBytesErr, 413},
		{"deadline", fmt.Errorf("fetch: %w", deadlineCtx.Err()), 504},
		{"deadline with state", fmt.Errorf("a: %w", fmt.Errorf("b: %w", context.DeadlineExceeded)), 504},
		{"canceled", canceledCtx.Err(), 499},
		{"explicit status", boxogw.NewErrorStatusCode(errors.New("slow down"), 429), 429},
		{"explicit wins", boxogw.NewErrorStatusCode(ErrNotFound, 503), 503},
		{"wrapped explicit", fmt.Errorf("x: %w", boxogw.ErrGatewayTimeout), 504},
		{"bad request before deadline", errors.Join(context.DeadlineExceeded, ErrBadRequest), 400},
		{"not found before deadline", errors.Join(context.DeadlineExceeded, ErrNotFound), 404},
		{"hint keeps class", withHint(ErrNotFound, "check the CID"), 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := statusFor(tt.err); got != tt.want {
				t.Fatalf("statusFor(%v) = %d, want %d", tt.err, got, tt.want)
			}
		})
	}
}

func TestWriteError(t *testing.T) {
	tests := []struct {
		name       string
		method     string
		target     string
		err        error
		status     int
		json       bool
		wantError  string
		wantHint   string
		noHintJSON bool
	}{
		{"api not found with hint", "GET", "/api/v0/pins/x",
			withHint(fmt.Errorf("pin %s: %w", "x", ErrNotFound), "list pins with GET /api/v0/pins"),
			404, true, "pin x: not found", "list pins with GET /api/v0/pins", false},
		{"api internal, no hint", "POST", "/api/v0/add", errors.New("disk full"),
			500, true, "disk full", "", true},
		{"api timeout default hint", "GET", "/api/v0/cat", fmt.Errorf("cat: %w", context.DeadlineExceeded),
			504, true, "cat: context deadline exceeded", "no reachable peer", false},
		{"api too large", "POST", "/api/v0/add", ErrTooLarge,
			413, true, "request too large", "reduce the size", false},
		{"gateway text", "GET", "/ipfs/bafkqaaa", withHint(fmt.Errorf("x: %w", ErrBadRequest), "fix it"),
			400, false, "x: bad request", "fix it", false},
		{"ipns text", "GET", "/ipns/example.org", ErrNotFound,
			404, false, "not found", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			rec.Header().Set("Content-Length", "12345") // must not survive
			writeError(rec, httptest.NewRequest(tt.method, tt.target, nil), tt.err)
			res := rec.Result()
			if res.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", res.StatusCode, tt.status)
			}
			if cl := res.Header.Get("Content-Length"); cl == "12345" {
				t.Error("stale Content-Length kept")
			}
			body := rec.Body.String()
			ct := res.Header.Get("Content-Type")
			if !tt.json {
				if !strings.HasPrefix(ct, "text/plain") {
					t.Fatalf("Content-Type %q, want text/plain", ct)
				}
				if !strings.Contains(body, tt.wantError) || !strings.Contains(body, tt.wantHint) {
					t.Fatalf("body %q lacks %q / %q", body, tt.wantError, tt.wantHint)
				}
				return
			}
			if ct != "application/json; charset=utf-8" {
				t.Fatalf("Content-Type %q", ct)
			}
			var raw map[string]any
			if err := json.Unmarshal([]byte(body), &raw); err != nil {
				t.Fatalf("body %q: %v", body, err)
			}
			if raw["error"] != tt.wantError {
				t.Errorf("error = %q, want %q", raw["error"], tt.wantError)
			}
			hint, hasHint := raw["hint"].(string)
			if tt.noHintJSON && hasHint {
				t.Errorf("unexpected hint %q", hint)
			}
			if !strings.Contains(hint, tt.wantHint) {
				t.Errorf("hint = %q, want it to contain %q", hint, tt.wantHint)
			}
		})
	}

	// HEAD gets the status and headers but no body.
	rec := httptest.NewRecorder()
	writeError(rec, httptest.NewRequest(http.MethodHead, "/api/v0/pins/x", nil), ErrNotFound)
	if rec.Code != http.StatusNotFound || rec.Body.Len() != 0 {
		t.Fatalf("HEAD: status %d, body %q", rec.Code, rec.Body.String())
	}
}

func TestWithHint(t *testing.T) {
	if withHint(nil, "x") != nil {
		t.Fatal("withHint(nil) != nil")
	}
	inner := withHint(ErrNotFound, "inner")
	outer := fmt.Errorf("outer: %w", inner)
	if !errors.Is(outer, ErrNotFound) {
		t.Fatal("hint breaks errors.Is")
	}
	if got := hintFor(outer, 404); got != "inner" {
		t.Fatalf("hintFor = %q", got)
	}
	if got := outer.Error(); got != "outer: not found" {
		t.Fatalf("Error() = %q", got)
	}
}

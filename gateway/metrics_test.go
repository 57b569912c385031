package gateway

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// metricValue returns the value of the counter, gauge or histogram sample
// count named name whose labels include all of labels, or -1 if absent.
func metricValue(t testing.TB, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			have := map[string]string{}
			for _, lp := range m.GetLabel() {
				have[lp.GetName()] = lp.GetValue()
			}
			for k, v := range labels {
				if have[k] != v {
					continue next
				}
			}
			switch mf.GetType() {
			case dto.MetricType_COUNTER:
				return m.GetCounter().GetValue()
			case dto.MetricType_GAUGE:
				return m.GetGauge().GetValue()
			case dto.MetricType_HISTOGRAM:
				return float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return -1
}

func TestMetricsWrap(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	entered := make(chan struct{})
	mux := http.NewServeMux()
	mux.Handle("/ok", m.Wrap("ok", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "fine")
	})))
	mux.Handle("/missing", m.Wrap("missing", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, ErrNotFound)
	})))
	mux.Handle("/panic", m.Wrap("panic", http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		panic(http.ErrAbortHandler) // aborts quietly: no stack trace in the test log
	})))
	mux.Handle("/silent", m.Wrap("silent", http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})))
	mux.Handle("/hints", m.Wrap("hints", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusEarlyHints)
		w.WriteHeader(http.StatusCreated)
	})))
	mux.Handle("/slow", m.Wrap("slow", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-release
	})))
	mux.Handle("/stream", m.Wrap("stream", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := w.(http.Flusher); !ok {
			t.Error("wrapped writer is not an http.Flusher")
		}
		io.WriteString(w, "part")
		if err := http.NewResponseController(w).Flush(); err != nil {
			t.Errorf("flush: %v", err)
		}
		if rf, ok := w.(io.ReaderFrom); !ok {
			t.Error("wrapped writer is not an io.ReaderFrom")
		} else if _, err := rf.ReadFrom(strings.NewReader("rest")); err != nil {
			t.Errorf("ReadFrom: %v", err)
		}
	})))
	mux.Handle("/hijack", m.Wrap("hijack", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, buf, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Errorf("hijack: %v", err)
			return
		}
		defer conn.Close()
		buf.WriteString("HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
		buf.Flush()
	})))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	get := func(method, p string) *http.Response {
		t.Helper()
		req, err := http.NewRequest(method, srv.URL+p, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	for range 3 {
		get("GET", "/ok")
	}
	get("HEAD", "/ok")
	get("PROPFIND", "/ok")
	get("GET", "/missing")
	get("GET", "/silent")
	// POST: the transport would retry an idempotent GET on the dropped connection.
	if req, err := http.NewRequest("POST", srv.URL+"/panic", nil); err != nil {
		t.Fatal(err)
	} else if resp, err := srv.Client().Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("panicking handler answered %s", resp.Status)
	}
	get("GET", "/hints")
	if resp := get("GET", "/stream"); resp.StatusCode != 200 {
		t.Fatalf("stream: %s", resp.Status)
	}
	if resp := get("GET", "/hijack"); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("hijack: %s", resp.Status)
	}

	done := make(chan struct{})
	go func() { defer close(done); get("GET", "/slow") }()
	<-entered
	if v := metricValue(t, reg, "ipdm_http_requests_in_flight", map[string]string{"handler": "slow"}); v != 1 {
		t.Errorf("in flight while blocked = %v, want 1", v)
	}
	close(release)
	<-done

	counts := []struct {
		handler, method, code string
		want                  float64
	}{
		{"ok", "GET", "200", 3},
		{"ok", "HEAD", "200", 1},
		{"ok", "OTHER", "200", 1},
		{"missing", "GET", "404", 1},
		{"silent", "GET", "200", 1},
		{"hints", "GET", "201", 1},
		{"stream", "GET", "200", 1},
		{"hijack", "GET", "200", 1}, // hijacked: no status passed through the writer
		{"slow", "GET", "200", 1},
		{"panic", "POST", "500", 1},
	}
	// A hijacking or panicking handler may still be returning after its
	// client saw the end of the response; wait for it to be counted.
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if metricValue(t, reg, "ipdm_http_requests_in_flight", map[string]string{"handler": "hijack"}) == 0 &&
			metricValue(t, reg, "ipdm_http_requests_in_flight", map[string]string{"handler": "panic"}) == 0 {
			break
		}
	}
	for _, c := range counts {
		labels := map[string]string{"handler": c.handler, "method": c.method, "code": c.code}
		if got := metricValue(t, reg, "ipdm_http_requests_total", labels); got != c.want {
			t.Errorf("requests_total%v = %v, want %v", labels, got, c.want)
		}
	}
	if got := metricValue(t, reg, "ipdm_http_request_duration_seconds", map[string]string{"handler": "ok", "method": "GET"}); got != 3 {
		t.Errorf("duration samples for ok/GET = %v, want 3", got)
	}
	if v := metricValue(t, reg, "ipdm_http_requests_in_flight", map[string]string{"handler": "slow"}); v != 0 {
		t.Errorf("in flight after = %v, want 0", v)
	}

	// A second Metrics on the same registry shares the collectors.
	m2, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	m2.Wrap("ok", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})).ServeHTTP(rec, httptest.NewRequest("GET", "/ok", nil))
	if got := metricValue(t, reg, "ipdm_http_requests_total", map[string]string{"handler": "ok", "method": "GET", "code": "200"}); got != 4 {
		t.Errorf("after second Metrics: %v, want 4", got)
	}
}

func TestMetricsNil(t *testing.T) {
	h := http.NotFoundHandler()
	var m *Metrics
	if got := m.Wrap("x", h); got == nil {
		t.Fatal("nil Metrics.Wrap returned nil")
	}
	m, err := NewMetrics(nil) // private registry
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	m.Wrap("x", h).ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != 404 {
		t.Fatalf("status %d", rec.Code)
	}

	// A conflicting collector under the same name is an error, not a panic.
	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewCounter(prometheus.CounterOpts{Name: "ipdm_http_requests_total", Help: "other"}))
	if _, err := NewMetrics(reg); err == nil {
		t.Fatal("NewMetrics succeeded over a conflicting collector")
	}

	// Hijack on a writer that cannot hijack reports an error.
	rec = httptest.NewRecorder()
	sr := &statusRecorder{ResponseWriter: rec}
	if _, _, err := sr.Hijack(); err == nil {
		t.Fatal("Hijack on a recorder succeeded")
	}
}

// The gateway's retrieval-timeout 504 is written by boxo's middleware; the
// metrics wrapped around the whole gateway must still see it.
func TestMetricsAroundTrustless(t *testing.T) {
	_, ex, bs := stallingDAG(t)
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	h, err := NewTrustless(bs, TrustlessOptions{RequestTimeout: 200 * time.Millisecond, Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(m.Wrap("trustless", h))
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL + "/ipfs/" + missingCID(t, "unprovided").String() + "?format=raw")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusGatewayTimeout {
		t.Fatalf("status %s", resp.Status)
	}
	ex.waitIdle(t)
	if got := metricValue(t, reg, "ipdm_http_requests_total", map[string]string{"handler": "trustless", "code": "504"}); got != 1 {
		t.Fatalf("504s recorded = %v, want 1", got)
	}
	// boxo's own counter is on the same registry. (It counts a timeout
	// twice: once in its timeout middleware, once in its response metrics.)
	if got := metricValue(t, reg, "ipfs_http_gw_responses_total", map[string]string{"code": "504"}); got < 1 {
		t.Fatalf("boxo 504s recorded = %v, want >= 1", got)
	}
}

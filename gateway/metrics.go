package gateway

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics instruments HTTP handlers with Prometheus metrics:
//
//	ipdm_http_requests_total{handler,method,code}          counter
//	ipdm_http_request_duration_seconds{handler,method}     histogram (seconds until the handler returned)
//	ipdm_http_requests_in_flight{handler}                  gauge
//
// The handler label is the name given to Wrap; method is the HTTP method
// folded to a fixed set (unknown methods count as "OTHER") so clients cannot
// grow label cardinality. A Metrics is safe for concurrent use; one Metrics
// can wrap any number of handlers.
type Metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	inFlight *prometheus.GaugeVec
}

// NewMetrics registers the HTTP metrics on reg and returns the Metrics that
// feed them. It never touches prometheus.DefaultRegisterer: with a nil reg the
// metrics are kept in a private registry nobody scrapes. Calling NewMetrics
// twice with the same registry returns Metrics sharing the same collectors.
func NewMetrics(reg *prometheus.Registry) (*Metrics, error) {
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	requests, err := registerOrExisting(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "ipdm",
		Subsystem: "http",
		Name:      "requests_total",
		Help:      "HTTP requests served, by handler, method and status code.",
	}, []string{"handler", "method", "code"}))
	if err != nil {
		return nil, err
	}
	duration, err := registerOrExisting(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: "ipdm",
		Subsystem: "http",
		Name:      "request_duration_seconds",
		Help:      "Time from receiving an HTTP request until its handler returned, by handler and method.",
		Buckets:   []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300},
	}, []string{"handler", "method"}))
	if err != nil {
		return nil, err
	}
	inFlight, err := registerOrExisting(reg, prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: "ipdm",
		Subsystem: "http",
		Name:      "requests_in_flight",
		Help:      "HTTP requests currently being served, by handler.",
	}, []string{"handler"}))
	if err != nil {
		return nil, err
	}
	return &Metrics{requests: requests, duration: duration, inFlight: inFlight}, nil
}

// registerOrExisting registers c on reg, or returns the equal collector that
// is already registered there.
func registerOrExisting[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	err := reg.Register(c)
	if err == nil {
		return c, nil
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing, nil
		}
	}
	var zero C
	return zero, fmt.Errorf("register http metrics: %w", err)
}

// Wrap returns h instrumented under the handler label name. The status code
// recorded is the first one h writes (200 if it writes a body without calling
// WriteHeader, and also 200 if it writes nothing at all; 500 if it panics
// before writing anything, after which the panic continues). The returned
// handler's ResponseWriter keeps supporting http.Flusher, http.Hijacker and
// io.ReaderFrom when the underlying one does, and http.ResponseController
// through Unwrap. Wrap on a nil *Metrics returns h unchanged, so callers can
// leave metrics off without branching.
func (m *Metrics) Wrap(name string, h http.Handler) http.Handler {
	if m == nil {
		return h
	}
	inFlight := m.inFlight.WithLabelValues(name)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		inFlight.Inc()
		rec := &statusRecorder{ResponseWriter: w}
		defer func() {
			code := rec.statusCode()
			p := recover()
			if p != nil && rec.status == 0 {
				code = http.StatusInternalServerError // net/http drops the connection
			}
			method := methodLabel(r.Method)
			m.duration.WithLabelValues(name, method).Observe(time.Since(start).Seconds())
			m.requests.WithLabelValues(name, method, strconv.Itoa(code)).Inc()
			inFlight.Dec()
			if p != nil {
				panic(p) // keep net/http's handling of the panic
			}
		}()
		h.ServeHTTP(rec, r)
	})
}

// methodLabel folds the request method into a bounded label set.
func methodLabel(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
		http.MethodPatch, http.MethodDelete, http.MethodOptions:
		return method
	default:
		return "OTHER"
	}
}

// statusRecorder remembers the first final status code written through it.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) statusCode() int {
	if s.status == 0 {
		return http.StatusOK
	}
	return s.status
}

func (s *statusRecorder) WriteHeader(code int) {
	// 1xx informational responses are not final; keep waiting for the real one.
	if s.status == 0 && code >= 200 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(p []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(p)
}

// ReadFrom keeps io.Copy's sendfile/splice fast path of the underlying writer.
func (s *statusRecorder) ReadFrom(src io.Reader) (int64, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	if rf, ok := s.ResponseWriter.(io.ReaderFrom); ok {
		return rf.ReadFrom(src)
	}
	return io.Copy(s.ResponseWriter, src)
}

// Flush implements http.Flusher; it is a no-op when the underlying writer
// cannot flush.
func (s *statusRecorder) Flush() {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Hijack implements http.Hijacker when the underlying writer does.
func (s *statusRecorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	hj, ok := s.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, fmt.Errorf("hijack: %T does not support hijacking", s.ResponseWriter)
	}
	return hj.Hijack()
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

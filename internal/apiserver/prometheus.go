package apiserver

import (
	"bufio"
	"errors"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// requestMetrics are the API server's Prometheus series, in a registry of its own
// (several servers run in one test process). Other components of `skiff server` may
// add theirs to Registry so that one /metrics shows them all.
type requestMetrics struct {
	Registry *prometheus.Registry
	total    *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newRequestMetrics() *requestMetrics {
	m := &requestMetrics{
		Registry: prometheus.NewRegistry(),
		total: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "apiserver_request_total",
			Help: "API requests by verb, group, resource, subresource and HTTP status code."},
			[]string{"verb", "group", "resource", "subresource", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "apiserver_request_duration_seconds",
			Help:    "API request latency by verb, group, resource and subresource; long-running requests (watch, exec, attach, port-forward, proxy) are left out.",
			Buckets: []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1, 1.25, 1.5, 2, 3, 4, 5, 6, 8, 10, 15, 20, 30, 45, 60}},
			[]string{"verb", "group", "resource", "subresource"}),
	}
	// The Go runtime and process series (heap, GC pauses, RSS, CPU) let anyone
	// watching the server see its memory and CPU without a profiler.
	m.Registry.MustRegister(m.total, m.duration,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// handler serves /metrics (authorized like any non-resource path: the
// system:monitoring group and cluster admins may read it).
func (m *requestMetrics) handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{})
}

// MetricsRegistry is where the API server's series live; add other components'
// collectors to it to publish them on the same /metrics.
func (a *API) MetricsRegistry() *prometheus.Registry { return a.metrics.Registry }

// ServeHTTP counts and times every request around the real handler.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rec := &statusRecorder{ResponseWriter: w}
	a.serveHTTP(rec, r)
	a.metrics.observe(r, rec.code(), time.Since(start))
}

func (m *requestMetrics) observe(r *http.Request, code int, took time.Duration) {
	verb, group, res, sub := r.Method, "", "", ""
	if q, ok := parseRequest(r); ok {
		verb, group, res, sub = metricVerb(r, q), q.Group, q.Resource, q.Subresource
	}
	m.total.WithLabelValues(verb, group, res, sub, strconv.Itoa(code)).Inc()
	if !longRunning(verb, sub) {
		m.duration.WithLabelValues(verb, group, res, sub).Observe(took.Seconds())
	}
}

// metricVerb names a request as Kubernetes' request metrics do: the HTTP method,
// except that reads are LIST, GET or WATCH and server-side apply is APPLY.
func metricVerb(r *http.Request, q request) string {
	switch q.Verb {
	case "get", "list", "watch":
		return strings.ToUpper(q.Verb)
	case "patch":
		if r.Header.Get("Content-Type") == "application/apply-patch+yaml" {
			return "APPLY"
		}
	}
	return r.Method
}

func longRunning(verb, sub string) bool {
	switch sub {
	case "exec", "attach", "portforward", "proxy", "log":
		return true
	}
	return verb == "WATCH"
}

// statusRecorder remembers the status code while passing flushes and connection
// hijacks (watch streams, exec upgrades) through.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusRecorder) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// CloseNotify passes the connection's through: the audit filter's writer keeps
// Flush only when the writer it wraps also has CloseNotify, and without Flush a
// watch of an audited resource sent nothing until it ended (informers never
// synced, and every create waited for admission that was never ready).
func (s *statusRecorder) CloseNotify() <-chan bool {
	if cn, ok := s.ResponseWriter.(http.CloseNotifier); ok { //nolint:staticcheck // the audit filter asks for it
		return cn.CloseNotify()
	}
	return nil
}

func (s *statusRecorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if h, ok := s.ResponseWriter.(http.Hijacker); ok {
		if s.status == 0 {
			s.status = http.StatusSwitchingProtocols
		}
		return h.Hijack()
	}
	return nil, nil, errors.New("connection cannot be hijacked")
}

// Unwrap lets http.ResponseController reach the real writer.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func (s *statusRecorder) code() int {
	if s.status == 0 {
		return http.StatusOK
	}
	return s.status
}

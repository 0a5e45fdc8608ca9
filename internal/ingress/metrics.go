package ingress

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics belong to one Controller, so tests and embedders do not share them.
type metrics struct {
	requests *prometheus.CounterVec
	latency  prometheus.Histogram
	syncs    prometheus.Counter
}

func newMetrics() *metrics {
	return &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "skiff_ingress_requests_total",
			Help: "HTTP requests served by the ingress controller, by status code.",
		}, []string{"code"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "skiff_ingress_request_duration_seconds",
			Help:    "Time from request to the end of the response, through the proxy.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 4, 10),
		}),
		syncs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "skiff_ingress_table_builds_total",
			Help: "Routing tables built and swapped in after configuration changes.",
		}),
	}
}

func (m *metrics) observe(status int, took time.Duration) {
	m.requests.WithLabelValues(strconv.Itoa(status)).Inc()
	m.latency.Observe(took.Seconds())
}

// Collectors returns the controller's Prometheus metrics for the caller to
// register.
func (c *Controller) Collectors() []prometheus.Collector {
	return []prometheus.Collector{c.metrics.requests, c.metrics.latency, c.metrics.syncs}
}

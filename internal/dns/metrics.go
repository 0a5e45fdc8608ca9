package dns

import (
	"time"

	mdns "github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
)

// metrics belong to one Server rather than to the process, so that tests and a
// process running several servers do not share counters.
type metrics struct {
	queries  *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	nxdomain prometheus.Counter
}

func newMetrics() *metrics {
	return &metrics{
		queries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "skiff_dns_queries_total",
			Help: "DNS queries answered, by transport, question type and response code.",
		}, []string{"proto", "type", "rcode"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "skiff_dns_request_duration_seconds",
			Help: "Time to answer a DNS query, by source of the answer (cluster or upstream).",
			// From tens of microseconds (cache) up to the forwarding timeout.
			Buckets: prometheus.ExponentialBuckets(0.00005, 4, 10),
		}, []string{"source"}),
		nxdomain: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "skiff_dns_nxdomain_total",
			Help: "DNS answers that said the name does not exist.",
		}),
	}
}

func (m *metrics) observe(proto string, qtype uint16, rcode int, source string, took time.Duration) {
	t, ok := mdns.TypeToString[qtype]
	if !ok {
		t = "other" // keeps label cardinality bounded whatever clients send
	}
	m.queries.WithLabelValues(proto, t, mdns.RcodeToString[rcode]).Inc()
	m.latency.WithLabelValues(source).Observe(took.Seconds())
	if rcode == mdns.RcodeNameError {
		m.nxdomain.Inc()
	}
}

// Collectors returns the server's Prometheus metrics for the caller to register.
func (s *Server) Collectors() []prometheus.Collector {
	return []prometheus.Collector{s.metrics.queries, s.metrics.latency, s.metrics.nxdomain}
}

package proxy

import "github.com/prometheus/client_golang/prometheus"

// metrics are per Proxier and exposed through Collectors, so several proxiers (in
// tests) do not fight over a global registry.
type metrics struct {
	duration prometheus.Histogram
	errors   prometheus.Counter
	lastSync prometheus.Gauge
}

func newMetrics() *metrics {
	return &metrics{
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "proxy_sync_duration_seconds",
			Help: "Time to compute and apply the service rules.", Buckets: prometheus.ExponentialBuckets(0.001, 2, 15)}),
		errors: prometheus.NewCounter(prometheus.CounterOpts{Name: "proxy_sync_errors_total",
			Help: "Syncs whose nftables transaction failed."}),
		lastSync: prometheus.NewGauge(prometheus.GaugeOpts{Name: "proxy_last_sync_timestamp_seconds",
			Help: "When the rules last matched the API."}),
	}
}

// Collectors returns the proxy's metrics for the caller to register.
func (p *Proxier) Collectors() []prometheus.Collector {
	return []prometheus.Collector{p.metrics.duration, p.metrics.errors, p.metrics.lastSync}
}

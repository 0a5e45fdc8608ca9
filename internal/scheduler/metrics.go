package scheduler

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the scheduler's Prometheus series. They are created per scheduler
// and exposed through Collectors, so tests and several schedulers in one process
// do not fight over a global registry.
type metrics struct {
	attempts    *prometheus.CounterVec
	attemptTime prometheus.Histogram
	e2eTime     prometheus.Histogram
	bindErrors  prometheus.Counter
	preemptions prometheus.Counter
	pending     *prometheus.GaugeVec
}

func newMetrics() *metrics {
	return &metrics{
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "scheduler_schedule_attempts_total",
			Help: "Scheduling attempts by result (scheduled, unschedulable, error)."}, []string{"result"}),
		attemptTime: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "scheduler_scheduling_attempt_duration_seconds",
			Help: "Time to decide where a pod goes.", Buckets: prometheus.ExponentialBuckets(0.00005, 2, 16)}),
		e2eTime: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "scheduler_pod_scheduling_duration_seconds",
			Help: "Time from first queueing to successful binding.", Buckets: prometheus.ExponentialBuckets(0.001, 2, 18)}),
		bindErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "scheduler_binding_errors_total",
			Help: "Failed pods/binding calls."}),
		preemptions: prometheus.NewCounter(prometheus.CounterOpts{Name: "scheduler_preemption_victims_total",
			Help: "Pods evicted by preemption."}),
		pending: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "scheduler_pending_pods",
			Help: "Pending pods by queue (active, backoff, unschedulable)."}, []string{"queue"}),
	}
}

// Collectors returns the scheduler's metrics for the caller to register.
func (s *Scheduler) Collectors() []prometheus.Collector {
	m := s.metrics
	return []prometheus.Collector{m.attempts, m.attemptTime, m.e2eTime, m.bindErrors, m.preemptions, m.pending}
}

func (m *metrics) observeAttempt(d decision, took time.Duration) {
	result := "scheduled"
	switch {
	case d.err != nil:
		result = "error"
	case d.node == "":
		result = "unschedulable"
	}
	m.attempts.WithLabelValues(result).Inc()
	m.attemptTime.Observe(took.Seconds())
}

func (m *metrics) observeBound(qp *QueuedPod) {
	m.e2eTime.Observe(time.Since(qp.Added).Seconds())
}

func (m *metrics) observeQueue(q *Queue) {
	a, b, u := q.Len()
	m.pending.WithLabelValues("active").Set(float64(a))
	m.pending.WithLabelValues("backoff").Set(float64(b))
	m.pending.WithLabelValues("unschedulable").Set(float64(u))
}

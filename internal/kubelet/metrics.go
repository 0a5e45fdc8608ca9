package kubelet

import (
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"

	"skiff/internal/kubelet/server"
)

// kubeletMetrics are the agent's Prometheus series, in a registry of its own so that
// several agents in one process (tests) do not collide.
type kubeletMetrics struct {
	reg        *prometheus.Registry
	podStart   prometheus.Histogram
	probes     *prometheus.CounterVec
	runtimeOps *prometheus.HistogramVec
	runtimeErr *prometheus.CounterVec
	evictions  *prometheus.CounterVec

	mu        sync.Mutex
	firstSeen map[types.UID]time.Time // pods seen but not yet running
}

func newKubeletMetrics() *kubeletMetrics {
	m := &kubeletMetrics{
		reg: prometheus.NewRegistry(),
		podStart: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "kubelet_pod_start_duration_seconds",
			Help:    "Time from the agent first seeing a pod to the pod running, image pulls included.",
			Buckets: []float64{0.5, 1, 2, 3, 4, 5, 6, 8, 10, 20, 30, 45, 60, 120, 180, 240, 300, 600}}),
		probes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "prober_probe_total",
			Help: "Probe runs by probe type (Liveness, Readiness, Startup) and result (successful, failed)."},
			[]string{"probe_type", "result"}),
		runtimeOps: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "kubelet_runtime_operations_duration_seconds",
			Help: "Duration of container runtime (CRI) calls by operation.", Buckets: prometheus.ExponentialBuckets(0.005, 2.5, 14)},
			[]string{"operation_type"}),
		runtimeErr: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kubelet_runtime_operations_errors_total",
			Help: "Failed container runtime (CRI) calls by operation."}, []string{"operation_type"}),
		evictions: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kubelet_evictions",
			Help: "Pods evicted by the agent, by the eviction signal that caused it."}, []string{"eviction_signal"}),
		firstSeen: map[types.UID]time.Time{},
	}
	m.reg.MustRegister(m.podStart, m.probes, m.runtimeOps, m.runtimeErr, m.evictions)
	return m
}

// serve adds GET /metrics to the agent's endpoint.
func (m *kubeletMetrics) serve(srv *server.Server) {
	srv.Handle("GET /metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}))
}

// probe counts one probe run (nil-safe: kubelets built in tests have no metrics).
func (m *kubeletMetrics) probe(kind probeKind, ok bool) {
	if m == nil {
		return
	}
	result := "failed"
	if ok {
		result = "successful"
	}
	m.probes.WithLabelValues(kind.String(), result).Inc()
}

// runtimeCall records one CRI call, named by its gRPC method (e.g.
// "/runtime.v1.RuntimeService/StartContainer" becomes "start_container").
func (m *kubeletMetrics) runtimeCall(method string, took time.Duration, err error) {
	op := operationName(method)
	m.runtimeOps.WithLabelValues(op).Observe(took.Seconds())
	if err != nil {
		m.runtimeErr.WithLabelValues(op).Inc()
	}
}

func operationName(method string) string {
	name := method[strings.LastIndex(method, "/")+1:]
	var b strings.Builder
	for i, r := range name {
		if unicode.IsUpper(r) {
			if i > 0 {
				b.WriteByte('_')
			}
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}

// watchPodStarts observes, from the pod informer, how long each pod takes from the
// agent first seeing it to running.
func (m *kubeletMetrics) watchPodStarts(inf cache.SharedIndexInformer) {
	_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { m.podSeen(o, time.Now()) },
		UpdateFunc: func(_, o any) { m.podSeen(o, time.Now()) },
		DeleteFunc: func(o any) {
			if t, ok := o.(cache.DeletedFinalStateUnknown); ok {
				o = t.Obj
			}
			if pod, ok := o.(*corev1.Pod); ok {
				m.mu.Lock()
				delete(m.firstSeen, pod.UID)
				m.mu.Unlock()
			}
		},
	})
}

func (m *kubeletMetrics) podSeen(o any, now time.Time) {
	pod, ok := o.(*corev1.Pod)
	if !ok {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	seen, tracked := m.firstSeen[pod.UID]
	switch {
	case pod.Status.Phase == corev1.PodPending && !tracked:
		m.firstSeen[pod.UID] = now
	case pod.Status.Phase != corev1.PodPending && tracked:
		if pod.Status.Phase == corev1.PodRunning {
			m.podStart.Observe(now.Sub(seen).Seconds())
		}
		delete(m.firstSeen, pod.UID)
	}
}

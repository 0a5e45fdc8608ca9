package kubelet

import (
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

func TestOperationName(t *testing.T) {
	for in, want := range map[string]string{
		"/runtime.v1.RuntimeService/StartContainer":      "start_container",
		"/runtime.v1.RuntimeService/ListPodSandboxStats": "list_pod_sandbox_stats",
		"/runtime.v1.ImageService/PullImage":             "pull_image",
		"Version":                                        "version",
	} {
		if got := operationName(in); got != want {
			t.Errorf("operationName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPodStartDurationFromFirstSightToRunning(t *testing.T) {
	m := newKubeletMetrics()
	pod := func(uid string, phase corev1.PodPhase) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{UID: typesUID(uid)}, Status: corev1.PodStatus{Phase: phase}}
	}
	t0 := time.Unix(100, 0)
	m.podSeen(pod("a", corev1.PodPending), t0)
	m.podSeen(pod("a", corev1.PodPending), t0.Add(time.Second)) // still pending: first sight counts
	m.podSeen(pod("a", corev1.PodRunning), t0.Add(3*time.Second))
	m.podSeen(pod("a", corev1.PodRunning), t0.Add(9*time.Second)) // once only
	m.podSeen(pod("b", corev1.PodRunning), t0)                    // already running when seen (agent restart)
	m.podSeen(pod("c", corev1.PodPending), t0)
	m.podSeen(pod("c", corev1.PodFailed), t0.Add(time.Second)) // never ran
	out := scrape(t, m)
	for _, want := range []string{"kubelet_pod_start_duration_seconds_count 1", "kubelet_pod_start_duration_seconds_sum 3"} {
		if !strings.Contains(out, want) {
			t.Errorf("metrics lack %q:\n%s", want, out)
		}
	}
	if len(m.firstSeen) != 0 {
		t.Errorf("pods still tracked: %v", m.firstSeen)
	}
}

func TestProbeAndRuntimeSeries(t *testing.T) {
	m := newKubeletMetrics()
	m.probe(probeLiveness, true)
	m.probe(probeLiveness, false)
	m.probe(probeReadiness, true)
	m.runtimeCall("/runtime.v1.RuntimeService/StopContainer", 20*time.Millisecond, nil)
	m.runtimeCall("/runtime.v1.RuntimeService/StopContainer", time.Second, errors.New("boom"))
	out := scrape(t, m)
	for _, want := range []string{
		`prober_probe_total{probe_type="Liveness",result="failed"} 1`,
		`prober_probe_total{probe_type="Liveness",result="successful"} 1`,
		`prober_probe_total{probe_type="Readiness",result="successful"} 1`,
		`kubelet_runtime_operations_duration_seconds_count{operation_type="stop_container"} 2`,
		`kubelet_runtime_operations_errors_total{operation_type="stop_container"} 1`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

func scrape(t *testing.T, m *kubeletMetrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	return rec.Body.String()
}

func typesUID(s string) types.UID { return types.UID(s) }

package kubelet

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/tools/record"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	critest "k8s.io/cri-api/pkg/apis/testing"
)

// TestProberLifecycle runs real probe goroutines against an HTTP server: readiness
// turns the run ready, a failing liveness probe condemns it with the Kubernetes
// event, and the workers stop when the run is gone.
func TestProberLifecycle(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	defer srv.Close()
	host, portStr, _ := net.SplitHostPort(srv.Listener.Addr().String())
	port, _ := strconv.Atoi(portStr)
	get := func(path string) corev1.ProbeHandler {
		return corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: path, Port: intstr.FromInt32(int32(port))}}
	}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", UID: "u1"}, Spec: corev1.PodSpec{
		Containers: []corev1.Container{{Name: "app",
			ReadinessProbe: &corev1.Probe{ProbeHandler: get("/ready"), PeriodSeconds: 1},
			LivenessProbe:  &corev1.Probe{ProbeHandler: get("/healthz"), PeriodSeconds: 1, FailureThreshold: 2},
		}}}}
	rec := record.NewFakeRecorder(10)
	k := &Kubelet{recorder: rec, workers: map[string]*podWorker{}, runtime: newRuntimeManager(critest.NewFakeRuntimeService(), critest.NewFakeImageService(), "n")}
	p := newProber(k)
	rt := &podRuntime{Containers: []runtimeContainer{{ID: "c1", Name: "app", State: runtimeapi.ContainerState_CONTAINER_RUNNING, StartedAt: time.Now()}}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	p.sync(ctx, pod, pod.UID, rt, host)
	if p.Ready("c1") {
		t.Fatal("ready before the readiness probe passed")
	}
	waitFor(t, func() bool { return p.Ready("c1") }, "readiness to pass")
	waitFor(t, func() bool { _, _, bad := p.Unhealthy("c1"); return bad }, "liveness to fail")
	msg, _, _ := p.Unhealthy("c1")
	if want := "Container app failed liveness probe, will be restarted"; msg != want {
		t.Fatalf("Killing message %q, want %q", msg, want)
	}
	if ev := <-rec.Events; !strings.Contains(ev, "Unhealthy Liveness probe failed: HTTP probe failed with statuscode: 500") {
		t.Fatalf("event %q", ev)
	}

	rt.Containers[0].State = runtimeapi.ContainerState_CONTAINER_EXITED
	p.sync(ctx, pod, pod.UID, rt, host)
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.workers) != 0 || len(p.results) != 0 {
		t.Fatalf("probes left after the run ended: %d workers, %d results", len(p.workers), len(p.results))
	}
}

func TestProberStartupGatesLiveness(t *testing.T) {
	closed := freePort(t)
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", UID: "u2"}, Spec: corev1.PodSpec{
		Containers: []corev1.Container{{Name: "app",
			StartupProbe:  &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(int32(closed))}}, PeriodSeconds: 1, FailureThreshold: 100},
			LivenessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(int32(closed))}}, PeriodSeconds: 1, FailureThreshold: 1},
		}}}}
	rec := record.NewFakeRecorder(100)
	k := &Kubelet{recorder: rec, workers: map[string]*podWorker{}, runtime: newRuntimeManager(critest.NewFakeRuntimeService(), critest.NewFakeImageService(), "n")}
	p := newProber(k)
	rt := &podRuntime{Containers: []runtimeContainer{{ID: "c2", Name: "app", State: runtimeapi.ContainerState_CONTAINER_RUNNING, StartedAt: time.Now()}}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p.sync(ctx, pod, pod.UID, rt, "127.0.0.1")
	time.Sleep(2500 * time.Millisecond)
	if _, _, bad := p.Unhealthy("c2"); bad || p.Started("c2") || p.Ready("c2") {
		t.Fatal("liveness ran before the startup probe passed, or the run counts as started")
	}
	for len(rec.Events) > 0 {
		if ev := <-rec.Events; !strings.Contains(ev, "Startup probe failed") {
			t.Fatalf("unexpected event %q", ev)
		}
	}
	p.forget(pod.UID)
}

func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestPlanRestartsProbeKilled: a run stopped for a failed liveness probe restarts
// under OnFailure even when it exited 0 on SIGTERM, and stays stopped under Never.
func TestPlanRestartsProbeKilled(t *testing.T) {
	killed := func() runtimeContainer {
		c := exited("a", 0, 0, "")
		c.ProbeKilled = true
		return c
	}
	tests := []struct {
		name      string
		policy    corev1.RestartPolicy
		c         runtimeContainer
		wantStart bool
	}{
		{"OnFailure restarts a probe-killed run that exited 0", corev1.RestartPolicyOnFailure, killed(), true},
		{"OnFailure leaves a clean exit", corev1.RestartPolicyOnFailure, exited("a", 0, 0, ""), false},
		{"Never leaves a probe-killed run", corev1.RestartPolicyNever, killed(), false},
		{"Always restarts it", corev1.RestartPolicyAlways, killed(), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bo := newBackoff(10*time.Second, 5*time.Minute, 10*time.Minute)
			p := planPod(testPod(tt.policy, nil, "a"), rtWith(tt.c), sbID, bo, t0.Add(2*time.Second))
			if got := len(p.Start) == 1; got != tt.wantStart {
				t.Fatalf("start %v, want a restart: %v", p.Start, tt.wantStart)
			}
		})
	}
}

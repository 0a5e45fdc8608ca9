package apiserver_test

import (
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/labels"
	certutil "k8s.io/client-go/util/cert"

	"skiff/test/e2e/framework"
)

// metricsAdapter is a small custom and external metrics API server, as a metrics
// adapter (prometheus-adapter, KEDA) would be: it answers discovery and the metric
// reads the HPA controller makes, from values the test sets.
type metricsAdapter struct {
	mu sync.Mutex
	// objects holds custom metrics by "resource/name/metric"; a read of name "*"
	// answers every object of the resource with that metric.
	objects map[string]string
	// series holds external metrics' series, each with its labels.
	series map[string][]externalSeries
}

type externalSeries struct {
	labels map[string]string
	value  string
}

func (a *metricsAdapter) set(key, value string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.objects[key] = value
}

func (a *metricsAdapter) setSeries(metric string, s ...externalSeries) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.series[metric] = s
}

const (
	customGV   = "custom.metrics.k8s.io/v1beta2"
	externalGV = "external.metrics.k8s.io/v1beta1"
)

func (a *metricsAdapter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	defer a.mu.Unlock()
	path := strings.TrimPrefix(r.URL.Path, "/apis/")
	reply := func(v any) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(v)
	}
	switch {
	case path == customGV:
		reply(map[string]any{"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": customGV, "resources": []any{
			map[string]any{"name": "services/requests_per_second", "namespaced": true, "kind": "MetricValueList", "verbs": []string{"get"}},
			map[string]any{"name": "pods/packets_per_second", "namespaced": true, "kind": "MetricValueList", "verbs": []string{"get"}}}})
	case path == externalGV:
		reply(map[string]any{"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": externalGV, "resources": []any{
			map[string]any{"name": "queue_messages_ready", "namespaced": true, "kind": "ExternalMetricValueList", "verbs": []string{"get"}}}})
	case strings.HasPrefix(path, customGV+"/namespaces/"):
		// namespaces/NS/RESOURCE/NAME/METRIC
		parts := strings.Split(strings.TrimPrefix(path, customGV+"/"), "/")
		if len(parts) != 5 {
			http.NotFound(w, r)
			return
		}
		items := []any{}
		for key, v := range a.objects {
			k := strings.Split(key, "/")
			if k[0] == parts[2] && (k[1] == parts[3] || parts[3] == "*") && k[2] == parts[4] {
				items = append(items, map[string]any{
					"describedObject": map[string]any{"kind": parts[2], "namespace": parts[1], "name": k[1]},
					"metric":          map[string]any{"name": parts[4]}, "timestamp": time.Now().UTC().Format(time.RFC3339), "value": v})
			}
		}
		if len(items) == 0 {
			http.NotFound(w, r)
			return
		}
		reply(map[string]any{"kind": "MetricValueList", "apiVersion": customGV, "metadata": map[string]any{}, "items": items})
	case strings.HasPrefix(path, externalGV+"/namespaces/"):
		// namespaces/NS/METRIC?labelSelector=...
		parts := strings.Split(strings.TrimPrefix(path, externalGV+"/"), "/")
		sel, err := labels.Parse(r.URL.Query().Get("labelSelector"))
		if len(parts) != 3 || err != nil {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		items := []any{}
		for _, s := range a.series[parts[2]] {
			if sel.Matches(labels.Set(s.labels)) {
				items = append(items, map[string]any{"metricName": parts[2], "metricLabels": s.labels,
					"timestamp": time.Now().UTC().Format(time.RFC3339), "value": s.value})
			}
		}
		reply(map[string]any{"kind": "ExternalMetricValueList", "apiVersion": externalGV, "metadata": map[string]any{}, "items": items})
	default:
		http.NotFound(w, r)
	}
}

// hostIPv4 is an address of this machine that an Endpoints object may name (the API
// refuses loopback ones): the adapter listens there, still reached only locally.
func hostIPv4(t *testing.T) string {
	addrs, err := net.InterfaceAddrs()
	if err == nil {
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil && ipn.IP.IsGlobalUnicast() {
				return ipn.IP.String()
			}
		}
	}
	framework.Require(t, false, fmt.Sprintf("a non-loopback IPv4 address on this machine (%v)", err))
	return ""
}

// startMetricsAdapter serves adapter over HTTPS on this machine, behind Service
// metrics-adapter in namespace n with a hand-written Endpoints, and registers it as
// custom.metrics.k8s.io/v1beta2 and external.metrics.k8s.io/v1beta1.
func startMetricsAdapter(t *testing.T, n string, adapter *metricsAdapter) {
	t.Helper()
	ip := hostIPv4(t)
	certPEM, keyPEM, err := certutil.GenerateSelfSignedCertKey("metrics-adapter."+n+".svc", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(adapter)
	srv.Listener = l
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	port := l.Addr().(*net.TCPAddr).Port
	caBundle := base64.StdEncoding.EncodeToString(certPEM)
	for _, name := range []string{"v1beta2.custom.metrics.k8s.io", "v1beta1.external.metrics.k8s.io"} {
		t.Cleanup(func() { _, _ = cluster.Kubectl("delete", "apiservice", name, "--ignore-not-found") })
	}
	kubectlApply(t, fmt.Sprintf(`apiVersion: v1
kind: Service
metadata: {name: metrics-adapter, namespace: %[1]s}
spec:
  ports: [{name: https, port: 443, targetPort: %[2]d}]
---
apiVersion: v1
kind: Endpoints
metadata: {name: metrics-adapter, namespace: %[1]s}
subsets:
- addresses: [{ip: %[3]s}]
  ports: [{name: https, port: %[2]d}]
---
apiVersion: apiregistration.k8s.io/v1
kind: APIService
metadata: {name: v1beta2.custom.metrics.k8s.io}
spec:
  group: custom.metrics.k8s.io
  version: v1beta2
  service: {namespace: %[1]s, name: metrics-adapter}
  caBundle: %[4]s
  groupPriorityMinimum: 100
  versionPriority: 200
---
apiVersion: apiregistration.k8s.io/v1
kind: APIService
metadata: {name: v1beta1.external.metrics.k8s.io}
spec:
  group: external.metrics.k8s.io
  version: v1beta1
  service: {namespace: %[1]s, name: metrics-adapter}
  caBundle: %[4]s
  groupPriorityMinimum: 100
  versionPriority: 100
`, n, port, ip, caBundle))
}

// runningPods waits for count pods matching selector and marks them running and
// ready (no kubelet does here), returning their names.
func runningPods(t *testing.T, n, selector string, count int) []string {
	t.Helper()
	var names []string
	framework.Eventually(t, 30*time.Second, func() error {
		out, err := cluster.Kubectl("-n", n, "get", "pods", "-l", selector, "-o", "jsonpath={.items[*].metadata.name}")
		names = strings.Fields(out)
		if err != nil || len(names) != count {
			return fmt.Errorf("pods %s: %q (%v), want %d", selector, out, err, count)
		}
		return nil
	})
	for _, pod := range names {
		cluster.MustKubectl(t, "-n", n, "patch", "pod", pod, "--subresource=status", "--type=merge", "-p",
			`{"status":{"phase":"Running","conditions":[{"type":"Ready","status":"True"}]}}`)
	}
	return names
}

func kubectlApply(t *testing.T, manifest string) {
	t.Helper()
	if out, err := cluster.KubectlStdin(manifest, "apply", "-f", "-"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
}

// TestHPAOnCustomAndExternalMetrics: HPAs on an External metric (a queue's length per
// replica, its series picked by a selector), an Object metric (a Service's requests
// per second per replica) and a Pods metric (packets per second of each pod) say
// which API is missing until a metrics adapter registers through APIServices; then
// they scale their Deployments through the scale subresource, kubectl shows the
// targets, and a shorter queue scales back in. With no nodes here, the pods the
// Pods metric averages are marked running by hand.
func TestHPAOnCustomAndExternalMetrics(t *testing.T) {
	n := ns(t, "hpa-custom")
	for _, d := range []string{"worker", "front"} {
		cluster.MustKubectl(t, "-n", n, "create", "deployment", d, "--image=skiff.local/toolbox:1", "--replicas=1")
	}
	cluster.MustKubectl(t, "-n", n, "create", "deployment", "web", "--image=skiff.local/toolbox:1", "--replicas=2")
	kubectlApply(t, `apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: worker, namespace: `+n+`}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: worker}
  minReplicas: 1
  maxReplicas: 10
  metrics:
  - type: External
    external:
      metric: {name: queue_messages_ready, selector: {matchLabels: {queue: jobs}}}
      target: {type: AverageValue, averageValue: "30"}
  behavior:
    scaleDown: {stabilizationWindowSeconds: 0}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: front, namespace: `+n+`}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: front}
  minReplicas: 1
  maxReplicas: 10
  metrics:
  - type: Object
    object:
      describedObject: {apiVersion: v1, kind: Service, name: front}
      metric: {name: requests_per_second}
      target: {type: AverageValue, averageValue: "100"}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: web, namespace: `+n+`}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  minReplicas: 1
  maxReplicas: 10
  metrics:
  - type: Pods
    pods:
      metric: {name: packets_per_second}
      target: {type: AverageValue, averageValue: "1k"}
`)
	active := func(hpa, want string) func() error {
		return func() error {
			out, err := cluster.Kubectl("-n", n, "get", "hpa", hpa, "-o",
				`jsonpath={range .status.conditions[?(@.type=="ScalingActive")]}{.status} {.reason}: {.message}{end}`)
			if err != nil || !strings.Contains(out, want) {
				return fmt.Errorf("hpa %s ScalingActive = %q (%v), want %q", hpa, out, err, want)
			}
			return nil
		}
	}
	framework.Eventually(t, 30*time.Second, active("worker", "False FailedGetExternalMetric: the HPA was unable to compute the replica count: "+
		"failed to get external metric value: unable to get external metric "+n+"/queue_messages_ready/queue=jobs: unable to fetch metrics from external metrics API: the server could not find the requested resource"))
	framework.Eventually(t, 30*time.Second, active("front", "False FailedGetObjectMetric: the HPA was unable to compute the replica count: "+
		"failed to get object metric value: unable to get metric requests_per_second: Service "+n+"/front: unable to fetch metrics from custom metrics API: no custom metrics API (custom.metrics.k8s.io) registered"))

	framework.Eventually(t, 30*time.Second, active("web", "False FailedGetPodsMetric: the HPA was unable to compute the replica count: "+
		"failed to get pods metric value: unable to get metric packets_per_second: unable to fetch metrics from custom metrics API: no custom metrics API (custom.metrics.k8s.io) registered"))

	adapter := &metricsAdapter{objects: map[string]string{"services/front/requests_per_second": "300"},
		series: map[string][]externalSeries{}}
	for _, pod := range runningPods(t, n, "app=web", 2) {
		adapter.set("pods/"+pod+"/packets_per_second", "1500")
	}
	adapter.setSeries("queue_messages_ready", externalSeries{map[string]string{"queue": "jobs"}, "120"},
		externalSeries{map[string]string{"queue": "other"}, "1000"})
	startMetricsAdapter(t, n, adapter)

	// 120 messages at 30 per replica ask for 4 workers; 300 requests per second at
	// 100 per replica ask for 3 front replicas.
	replicas := func(deploy, want string) func() error {
		return func() error {
			out, err := cluster.Kubectl("-n", n, "get", "deployment", deploy, "-o", "jsonpath={.spec.replicas}")
			if err != nil || out != want {
				return fmt.Errorf("deployment %s replicas = %q (%v), want %s", deploy, out, err, want)
			}
			return nil
		}
	}
	framework.Eventually(t, 60*time.Second, replicas("worker", "4"))
	framework.Eventually(t, 60*time.Second, replicas("front", "3"))
	// 1.5k packets per second on each of 2 pods against 1k asks for 3 web pods; the
	// third (pending, without a value) then counts as idle, which holds the count.
	framework.Eventually(t, 60*time.Second, replicas("web", "3"))
	framework.Eventually(t, 30*time.Second, func() error {
		out, err := cluster.Kubectl("-n", n, "get", "hpa")
		for _, row := range [][]string{{"worker", "Deployment/worker", "30/30", "(avg)", "1", "10", "4"},
			{"front", "Deployment/front", "100/100", "(avg)", "1", "10", "3"}, {"web", "Deployment/web", "1500/1k", "1", "10", "3"}} {
			if err != nil || !containsRow(out, row) {
				return fmt.Errorf("kubectl get hpa lacks %v (%v):\n%s", row, err, out)
			}
		}
		return nil
	})
	t.Logf("kubectl get hpa:\n%s", cluster.MustKubectl(t, "-n", n, "get", "hpa"))
	out := cluster.MustKubectl(t, "-n", n, "describe", "hpa", "worker")
	t.Logf("kubectl describe hpa worker:\n%s", out)
	for _, want := range []string{
		`"queue_messages_ready" (target average value):  30 / 30`,
		"ScalingActive   True    ValidMetricFound",
		"New size: 4; reason: external metric queue_messages_ready(queue=jobs) above target",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("kubectl describe hpa worker lacks %q:\n%s", want, out)
		}
	}

	// A shorter queue: 60 messages ask for 2 workers (no scale-down window here).
	adapter.setSeries("queue_messages_ready", externalSeries{map[string]string{"queue": "jobs"}, "60"})
	framework.Eventually(t, 60*time.Second, replicas("worker", "2"))
	if out := cluster.MustKubectl(t, "-n", n, "describe", "hpa", "worker"); !strings.Contains(out, "New size: 2; reason: All metrics below target") {
		t.Errorf("kubectl describe hpa worker lacks the scale-in:\n%s", out)
	}
}

package apiserver_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	metricsv1beta1 "k8s.io/metrics/pkg/apis/metrics/v1beta1"
	metricsclient "k8s.io/metrics/pkg/client/clientset/versioned"

	"skiff/internal/kubelet/stats"
	"skiff/internal/testserver"
)

// fakeStats serves fixed summaries per node and counts the calls.
type fakeStats struct {
	sums  map[string]*stats.Summary
	calls map[string]int
}

func (f *fakeStats) Summary(_ *http.Request, node string) (*stats.Summary, error) {
	f.calls[node]++
	s, ok := f.sums[node]
	if !ok {
		return nil, fmt.Errorf("node %s is unreachable", node)
	}
	return s, nil
}

func u64(v uint64) *uint64 { return &v }

func cpuMem(nanoCores, workingSet uint64) (*stats.CPUStats, *stats.MemoryStats) {
	now := metav1.NewTime(time.Now())
	return &stats.CPUStats{Time: now, UsageNanoCores: u64(nanoCores), Window: &metav1.Duration{Duration: 10 * time.Second}},
		&stats.MemoryStats{Time: now, WorkingSetBytes: u64(workingSet)}
}

func podStats(pod *corev1.Pod, containers map[string][2]uint64) stats.PodStats {
	ps := stats.PodStats{PodRef: stats.PodReference{Name: pod.Name, Namespace: pod.Namespace, UID: string(pod.UID)}}
	var total uint64
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for k := range containers {
			if !yield(k) {
				return
			}
		}
	}) {
		v := containers[name]
		c, m := cpuMem(v[0], v[1])
		ps.Containers = append(ps.Containers, stats.ContainerStats{Name: name, CPU: c, Memory: m})
		total += v[0]
	}
	ps.CPU, ps.Memory = cpuMem(total, 0)
	return ps
}

func metricsFixture(t *testing.T) (*testserver.Server, *fakeStats) {
	srv := testserver.Start(t)
	ctx := context.Background()
	for _, n := range []string{"n1", "n2", "down"} {
		node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: n, Labels: map[string]string{"zone": "z-" + n}}}
		if _, err := srv.Client.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	mk := func(ns, name, node string, containers ...string) *corev1.Pod {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{"app": name}},
			Spec: corev1.PodSpec{NodeName: node}}
		for _, c := range containers {
			p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: c, Image: "img"})
		}
		if _, err := srv.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
		out, err := srv.Client.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	web := mk("shop", "web", "n1", "app", "sidecar")
	db := mk("shop", "db", "n2", "db")
	fresh := mk("shop", "fresh", "n2", "c")
	other := mk("tools", "debug", "n1", "sh")
	n1cpu, n1mem := cpuMem(1_500_000_000, 2<<30)
	n2cpu, n2mem := cpuMem(250_000_000, 512<<20)
	freshStats := stats.PodStats{PodRef: stats.PodReference{Name: "fresh", Namespace: "shop", UID: string(fresh.UID)},
		Containers: []stats.ContainerStats{{Name: "c", CPU: &stats.CPUStats{}, Memory: &stats.MemoryStats{}}}, CPU: &stats.CPUStats{}}
	f := &fakeStats{calls: map[string]int{}, sums: map[string]*stats.Summary{
		"n1": {Node: stats.NodeStats{NodeName: "n1", CPU: n1cpu, Memory: n1mem}, Pods: []stats.PodStats{
			podStats(web, map[string][2]uint64{"app": {200_000_000, 100 << 20}, "sidecar": {5_000_000, 10 << 20}}),
			podStats(other, map[string][2]uint64{"sh": {1_000_000, 1 << 20}}),
		}},
		"n2": {Node: stats.NodeStats{NodeName: "n2", CPU: n2cpu, Memory: n2mem}, Pods: []stats.PodStats{
			podStats(db, map[string][2]uint64{"db": {700_000_000, 1 << 30}}), freshStats,
		}},
	}}
	srv.API.Stats = f
	return srv, f
}

func TestNodeMetrics(t *testing.T) {
	srv, _ := metricsFixture(t)
	mc := metricsclient.NewForConfigOrDie(srv.Config).MetricsV1beta1()
	ctx := context.Background()
	list, err := mc.NodeMetricses().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, m := range list.Items {
		got[m.Name] = fmt.Sprintf("cpu=%s mem=%s window=%s", m.Usage.Cpu(), m.Usage.Memory(), m.Window.Duration)
	}
	want := map[string]string{"n1": "cpu=1500m mem=2Gi window=10s", "n2": "cpu=250m mem=512Mi window=10s"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("node metrics = %v, want %v (the unreachable node left out)", got, want)
	}
	one, err := mc.NodeMetricses().Get(ctx, "n2", metav1.GetOptions{})
	if err != nil || one.Usage.Cpu().MilliValue() != 250 {
		t.Errorf("get n2 = %+v, %v", one, err)
	}
	if _, err := mc.NodeMetricses().Get(ctx, "down", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("get of a node without stats: %v, want NotFound", err)
	}
	sel, err := mc.NodeMetricses().List(ctx, metav1.ListOptions{LabelSelector: "zone=z-n1"})
	if err != nil || len(sel.Items) != 1 || sel.Items[0].Name != "n1" {
		t.Errorf("label-selected node metrics = %+v, %v", sel, err)
	}
}

func TestPodMetrics(t *testing.T) {
	srv, f := metricsFixture(t)
	mc := metricsclient.NewForConfigOrDie(srv.Config).MetricsV1beta1()
	ctx := context.Background()
	list, err := mc.PodMetricses("shop").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := podMetricsText(list.Items); got != "shop/db[db=700m/1Gi] shop/web[app=200m/100Mi sidecar=5m/10Mi]" {
		t.Errorf("pod metrics in shop = %s (the pod without a rate yet must be left out)", got)
	}
	all, err := mc.PodMetricses("").List(ctx, metav1.ListOptions{LabelSelector: "app in (web,debug)"})
	if err != nil {
		t.Fatal(err)
	}
	if got := podMetricsText(all.Items); got != "shop/web[app=200m/100Mi sidecar=5m/10Mi] tools/debug[sh=1m/1Mi]" {
		t.Errorf("pod metrics across namespaces = %s", got)
	}
	if _, err := mc.PodMetricses("shop").Get(ctx, "fresh", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("get of a pod without a rate: %v, want NotFound", err)
	}
	if _, err := mc.PodMetricses("shop").Get(ctx, "web", metav1.GetOptions{}); err != nil {
		t.Errorf("get web: %v", err)
	}
	// Answers are cached by the stats source, not here: every read asks it again.
	if f.calls["n1"] < 3 {
		t.Errorf("n1 asked %d times", f.calls["n1"])
	}
}

func podMetricsText(items []metricsv1beta1.PodMetrics) string {
	var out []string
	for _, m := range items {
		var cs []string
		for _, c := range m.Containers {
			cs = append(cs, fmt.Sprintf("%s=%s/%s", c.Name, c.Usage.Cpu(), c.Usage.Memory()))
		}
		out = append(out, fmt.Sprintf("%s/%s[%s]", m.Namespace, m.Name, strings.Join(cs, " ")))
	}
	slices.Sort(out)
	return strings.Join(out, " ")
}

func TestMetricsAPIDiscoveryAndReadOnly(t *testing.T) {
	srv, _ := metricsFixture(t)
	res, err := srv.Client.Discovery().ServerResourcesForGroupVersion("metrics.k8s.io/v1beta1")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range res.APIResources {
		got = append(got, fmt.Sprintf("%s %s namespaced=%v %v", r.Name, r.Kind, r.Namespaced, r.Verbs))
	}
	want := []string{"nodes NodeMetrics namespaced=false [get list]", "pods PodMetrics namespaced=true [get list]"}
	if !slices.Equal(got, want) {
		t.Errorf("metrics.k8s.io resources = %q, want %q", got, want)
	}
	groups, err := srv.Client.Discovery().ServerGroups()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, g := range groups.Groups {
		found = found || (g.Name == "metrics.k8s.io" && g.PreferredVersion.Version == "v1beta1")
	}
	if !found {
		t.Error("metrics.k8s.io missing from the API group list")
	}
	err = srv.Client.CoreV1().RESTClient().Post().AbsPath("/apis/metrics.k8s.io/v1beta1/nodes").
		Body([]byte(`{"apiVersion":"metrics.k8s.io/v1beta1","kind":"NodeMetrics","metadata":{"name":"x"}}`)).Do(context.Background()).Error()
	if !apierrors.IsMethodNotSupported(err) {
		t.Errorf("create NodeMetrics: %v, want MethodNotSupported", err)
	}
}

func TestMetricsRBAC(t *testing.T) {
	srv, _ := metricsFixture(t)
	ctx := context.Background()
	// A user with the view role in shop may read pod metrics there, and nowhere else.
	_, err := srv.Client.RbacV1().RoleBindings("shop").Create(ctx, &rbacBinding, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	as := func(user string, groups ...string) *rest.Config {
		c := rest.CopyConfig(srv.Config)
		c.Impersonate = rest.ImpersonationConfig{UserName: user, Groups: append(groups, "system:authenticated")}
		return c
	}
	viewer := metricsclient.NewForConfigOrDie(as("viewer")).MetricsV1beta1()
	if err := eventually(func() error { _, err := viewer.PodMetricses("shop").List(ctx, metav1.ListOptions{}); return err }); err != nil {
		t.Errorf("viewer listing pod metrics in shop: %v", err)
	}
	if _, err := viewer.PodMetricses("tools").List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("viewer listing pod metrics in tools: %v, want Forbidden", err)
	}
	if _, err := viewer.NodeMetricses().List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("viewer listing node metrics: %v, want Forbidden", err)
	}
}

var rbacBinding = rbacv1RoleBinding("viewer-view", "view", "viewer")

func eventually(f func() error) error {
	var err error
	for i := 0; i < 50; i++ {
		if err = f(); err == nil {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return err
}

func TestPrometheusMetrics(t *testing.T) {
	srv, _ := metricsFixture(t)
	ctx := context.Background()
	if _, err := srv.Client.CoreV1().Pods("shop").List(ctx, metav1.ListOptions{}); err != nil {
		t.Fatal(err)
	}
	body, err := srv.Client.CoreV1().RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
	if err != nil {
		t.Fatal(err)
	}
	text := string(body)
	for _, want := range []string{
		`apiserver_request_total{code="200",group="",resource="pods",subresource="",verb="LIST"}`,
		`apiserver_request_total{code="201",group="",resource="pods",subresource="",verb="POST"}`,
		`apiserver_request_duration_seconds_bucket{group="",resource="pods",subresource="",verb="LIST",le="60"}`,
		"go_memstats_heap_alloc_bytes ",
		"process_resident_memory_bytes ",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	get := func(cfg *rest.Config) error {
		_, err := kubernetes.NewForConfigOrDie(cfg).CoreV1().RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
		return err
	}
	plain := rest.CopyConfig(srv.Config)
	plain.Impersonate = rest.ImpersonationConfig{UserName: "alice", Groups: []string{"system:authenticated"}}
	if err := get(plain); !apierrors.IsForbidden(err) {
		t.Errorf("alice reading /metrics: %v, want Forbidden", err)
	}
	monitor := rest.CopyConfig(srv.Config)
	monitor.Impersonate = rest.ImpersonationConfig{UserName: "prometheus", Groups: []string{"system:monitoring", "system:authenticated"}}
	if err := eventually(func() error { return get(monitor) }); err != nil {
		t.Errorf("system:monitoring reading /metrics: %v", err)
	}
}

func rbacv1RoleBinding(name, role, user string) rbacv1.RoleBinding {
	return rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: user}}}
}

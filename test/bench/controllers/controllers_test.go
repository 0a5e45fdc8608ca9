// Package controllers benchmarks the controller manager end to end: a real `skiff
// server` process (API server and scheduler, its own controllers disabled), a `skiff
// simulate` process whose nodes mark bound pods Running and Ready, and the controller
// manager run in this process, the same set `skiff server` runs, so that every API
// request it makes passes through a counting round-tripper and its memory is this
// process's.
//
//	SKIFF_BIN=/tmp/x/skiff go test ./test/bench/controllers -run '^$' -bench . -benchtime 1x -timeout 30m
package controllers

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"skiff/internal/server"
	"skiff/test/e2e/framework"
)

// nodes is how many simulated nodes run: 10,000 pods at 110 a node need 91.
const nodes = 200

// BenchmarkDeployment5000 scales a Deployment from 0 to 5,000 Running and Ready
// replicas, then to 10,000 to measure the controller manager's memory with that many
// pods.
func BenchmarkDeployment5000(b *testing.B) {
	cfg, _, admin := startCluster(b)
	counter := &requestCounter{counts: map[string]int{}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	runManager(b, ctx, cfg, counter)
	time.Sleep(3 * time.Second) // informers synced, startup requests done
	counter.reset()

	load := uptime()
	t0 := time.Now()
	createDeployment(b, admin, 5000)
	waitReady(b, admin, 5000, t0)
	took := time.Since(t0)
	total, by := counter.snapshot()
	b.ReportMetric(took.Seconds(), "s-to-5000-ready")
	b.ReportMetric(float64(total), "api-requests")
	b.Logf("0 -> 5000 Running and Ready in %v with %d controller API requests (load before: %s, after: %s)",
		took.Round(100*time.Millisecond), total, load, uptime())
	b.Logf("requests by verb and resource: %s", by)
	checkPods(b, admin, 5000)

	counter.reset()
	t1 := time.Now()
	scale(b, admin, 10000)
	waitReady(b, admin, 10000, t1)
	took = time.Since(t1)
	total, _ = counter.snapshot()
	time.Sleep(5 * time.Second) // let status writes and events settle
	heap, rss, hwm := memory()
	writeHeapProfile(b)
	b.ReportMetric(heap, "heap-10k-MiB")
	b.ReportMetric(rss, "rss-10k-MiB")
	b.Logf("5000 -> 10000 in %v with %d API requests; with 10,000 pods: heap in use %.0f MiB, RSS %.0f MiB, peak RSS %.0f MiB (load %s)",
		took.Round(100*time.Millisecond), total, heap, rss, hwm, uptime())
}

// BenchmarkControllerManagerRSS10k runs `skiff controller-manager` as its own
// process and reads its resident memory once a Deployment's 10,000 pods are Running
// and Ready: the figure the issue asks for, without the benchmark's own code in it.
func BenchmarkControllerManagerRSS10k(b *testing.B) {
	_, kubeconfig, admin := startCluster(b)
	pid := startControllerManager(b, kubeconfig)
	time.Sleep(3 * time.Second)
	idle := rssOf(b, pid, "VmRSS:")
	t0 := time.Now()
	createDeployment(b, admin, 10000)
	waitReady(b, admin, 10000, t0)
	took := time.Since(t0)
	time.Sleep(5 * time.Second) // let status writes and events settle
	rss, hwm := rssOf(b, pid, "VmRSS:"), rssOf(b, pid, "VmHWM:")
	b.ReportMetric(rss, "rss-10k-MiB")
	b.ReportMetric(took.Seconds(), "s-to-10000-ready")
	b.Logf("skiff controller-manager: RSS %.0f MiB idle, %.0f MiB with 10,000 pods (peak %.0f MiB); 0 -> 10000 Running and Ready in %v (load %s)",
		idle, rss, hwm, took.Round(100*time.Millisecond), uptime())
}

// startControllerManager runs `skiff controller-manager` against the cluster and
// returns its pid.
func startControllerManager(b *testing.B, kubeconfig string) int {
	p, err := framework.StartSkiff(kubeconfig, filepath.Join(b.TempDir(), "controller-manager.log"),
		"controller-manager", "--kubeconfig", kubeconfig, "--leader-elect=false")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(p.Stop)
	return p.Pid()
}

// rssOf reads a size field (VmRSS:, VmHWM:) of process pid in MiB.
func rssOf(b *testing.B, pid int, field string) float64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, l := range strings.Split(string(data), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == field {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	return 0
}

// startCluster runs `skiff server` without its controllers and a simulator of nodes,
// and returns once the nodes are registered: the config and kubeconfig of the
// cluster, and a client for the benchmark's own requests.
func startCluster(b *testing.B) (*rest.Config, string, kubernetes.Interface) {
	if b.N > 1 {
		b.Skip("one pass is the measurement; use -benchtime 1x")
	}
	dir := b.TempDir()
	c, err := framework.StartServer(dir, "--disable-agent", "--disable-controllers")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		c.Stop()
		if b.Failed() {
			b.Logf("server log tail:\n%s", tail(c.Logs(), 3000))
		}
	})
	sim, err := c.StartSkiff(filepath.Join(dir, "simulate.log"), "simulate", "--kubeconfig", c.Kubeconfig,
		"--nodes", strconv.Itoa(nodes), "--workers", "64")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(sim.Stop)
	cfg, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig)
	if err != nil {
		b.Fatal(err)
	}
	admin := kubernetes.NewForConfigOrDie(fast(cfg))
	waitNodes(b, admin, nodes)
	return cfg, c.Kubeconfig, admin
}

// runManager runs the controllers `skiff controller-manager` runs (the set `skiff
// server` runs), with requests counted.
func runManager(b *testing.B, ctx context.Context, cfg *rest.Config, counter *requestCounter) {
	cc := rest.CopyConfig(cfg)
	cc.Wrap(func(rt http.RoundTripper) http.RoundTripper { return &countingTransport{rt: rt, c: counter} })
	go func() {
		err := server.RunControllerManager(ctx, cc, server.ControllerManagerOptions{ClusterCIDR: "10.42.0.0/16"})
		if err != nil && ctx.Err() == nil {
			b.Errorf("controller manager: %v", err)
		}
	}()
}

func createDeployment(b *testing.B, c kubernetes.Interface, replicas int32) {
	labels := map[string]string{"app": "bench"}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "bench"},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "skiff.local/toolbox:1",
					Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
						corev1.ResourceCPU: resource.MustParse("10m"), corev1.ResourceMemory: resource.MustParse("10Mi")}}}}},
			},
		},
	}
	if _, err := c.AppsV1().Deployments("default").Create(context.Background(), d, metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
}

func scale(b *testing.B, c kubernetes.Interface, replicas int32) {
	s, err := c.AppsV1().Deployments("default").GetScale(context.Background(), "bench", metav1.GetOptions{})
	if err != nil {
		b.Fatal(err)
	}
	s.Spec.Replicas = replicas
	if _, err := c.AppsV1().Deployments("default").UpdateScale(context.Background(), "bench", s, metav1.UpdateOptions{}); err != nil {
		b.Fatal(err)
	}
}

// waitReady polls the Deployment's status (one cheap GET a second, so the observer
// does not load the server) until want replicas are updated, ready and available.
func waitReady(b *testing.B, c kubernetes.Interface, want int32, start time.Time) {
	for last := time.Now(); ; time.Sleep(time.Second) {
		d, err := c.AppsV1().Deployments("default").Get(context.Background(), "bench", metav1.GetOptions{})
		if err != nil {
			b.Fatal(err)
		}
		s := d.Status
		if s.UpdatedReplicas == want && s.ReadyReplicas == want && s.AvailableReplicas == want && s.Replicas == want {
			return
		}
		if time.Since(last) > 10*time.Second {
			last = time.Now()
			fmt.Fprintf(os.Stderr, "bench: %v: replicas %d ready %d available %d\n",
				time.Since(start).Round(time.Second), s.Replicas, s.ReadyReplicas, s.AvailableReplicas)
		}
		if time.Since(start) > 15*time.Minute {
			b.Fatalf("not %d ready within 15 minutes: %+v", want, s)
		}
	}
}

// checkPods confirms the status with the pods themselves: want Running and Ready.
// It allows a minute: on a loaded machine a late heartbeat has the node lifecycle
// controller take a node's pods out of service until the node reports again.
func checkPods(b *testing.B, c kubernetes.Interface, want int) {
	var total, n int
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(2 * time.Second) {
		l, err := c.CoreV1().Pods("default").List(context.Background(), metav1.ListOptions{LabelSelector: "app=bench"})
		if err != nil {
			b.Fatal(err)
		}
		total, n = len(l.Items), 0
		for _, p := range l.Items {
			if p.Status.Phase == corev1.PodRunning && ready(&p) {
				n++
			}
		}
		if n == want && total == want {
			return
		}
	}
	b.Fatalf("%d pods, %d Running and Ready; want %d", total, n, want)
}

func ready(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func waitNodes(b *testing.B, c kubernetes.Interface, n int) {
	for deadline := time.Now().Add(5 * time.Minute); time.Now().Before(deadline); time.Sleep(time.Second) {
		l, err := c.CoreV1().Nodes().List(context.Background(), metav1.ListOptions{ResourceVersion: "0"})
		if err == nil && len(l.Items) >= n {
			return
		}
	}
	b.Fatalf("%d nodes not registered", n)
}

func fast(cfg *rest.Config) *rest.Config {
	c := rest.CopyConfig(cfg)
	c.QPS, c.Burst = 1000, 2000
	return c
}

// requestCounter counts API requests by verb and resource path.
type requestCounter struct {
	mu     sync.Mutex
	total  int
	counts map[string]int
}

func (r *requestCounter) add(req *http.Request) {
	key := req.Method + " " + resourceOf(req)
	if req.URL.Query().Get("watch") == "true" {
		key = "WATCH " + resourceOf(req)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.total++
	r.counts[key]++
}

func (r *requestCounter) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.total, r.counts = 0, map[string]int{}
}

// snapshot returns the total and the counts, largest first.
func (r *requestCounter) snapshot() (int, string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	keys := make([]string, 0, len(r.counts))
	for k := range r.counts {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return r.counts[keys[i]] > r.counts[keys[j]] })
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%d", k, r.counts[k])
	}
	return r.total, strings.Join(parts, ", ")
}

// resourceOf reduces /apis/apps/v1/namespaces/default/replicasets/x/status to
// "replicasets/status".
func resourceOf(req *http.Request) string {
	parts := strings.Split(strings.Trim(req.URL.Path, "/"), "/")
	if len(parts) >= 2 && parts[0] == "api" {
		parts = parts[2:]
	} else if len(parts) >= 3 {
		parts = parts[3:]
	}
	if len(parts) >= 2 && parts[0] == "namespaces" && len(parts) > 2 {
		parts = parts[2:]
	}
	switch len(parts) {
	case 0:
		return "?"
	case 3:
		return parts[0] + "/" + parts[2]
	default:
		return parts[0]
	}
}

type countingTransport struct {
	rt http.RoundTripper
	c  *requestCounter
}

func (t *countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	t.c.add(req)
	return t.rt.RoundTrip(req)
}

// memory returns this process's Go heap in use after a collection, its RSS and its
// peak RSS, in MiB.
func memory() (heap, rss, hwm float64) {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	heap = float64(ms.HeapInuse) / (1 << 20)
	data, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(data), "\n") {
		f := strings.Fields(l)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseFloat(f[1], 64)
		switch f[0] {
		case "VmRSS:":
			rss = kb / 1024
		case "VmHWM:":
			hwm = kb / 1024
		}
	}
	return heap, rss, hwm
}

// writeHeapProfile writes the heap to $BENCH_HEAPPROFILE when it is set, to see what
// the controller manager holds with 10,000 pods.
func writeHeapProfile(b *testing.B) {
	path := os.Getenv("BENCH_HEAPPROFILE")
	if path == "" {
		return
	}
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if err := pprof.WriteHeapProfile(f); err != nil {
		b.Fatal(err)
	}
}

func uptime() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Join(strings.Fields(string(data))[:3], " ")
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

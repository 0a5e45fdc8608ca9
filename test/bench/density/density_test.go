// Package density benchmarks pod start-up at density on one real node: `skiff
// server` with its own agent and containerd, pods created at once with their image
// already present, and the time from each create to the pod reported Running and
// Ready, as a client watching the API sees it.
//
//	make build
//	flock /tmp/skiff-e2e.lock go test ./test/bench/density -run '^$' -bench . -benchtime 1x -timeout 20m
//
// It needs what the node e2e tests need (root, containerd, runc, CNI plugins, nft)
// and prints p50/p99 create→Running and create→Ready, pods/s, the CPU the server
// and containerd used, and the load average. DENSITY_CPUPROFILE=file profiles the
// server (API server, controllers and the node's kubelet in one process).
// DENSITY_TRACE=1 also prints where the time went, step by step (create, sandbox,
// volumes, image, container create and start, status write, watch), from the
// server's debug log.
package density

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	"skiff/internal/images"
	"skiff/internal/kubelet/cri"
	"skiff/test/e2e/framework"
)

const nodeName = "bench-density"

// node is the server with its own node that every benchmark here shares.
var node framework.BenchNode

func TestMain(m *testing.M) {
	var args []string
	if prof := os.Getenv("DENSITY_CPUPROFILE"); prof != "" {
		args = append(args, "--cpuprofile", prof) // written when the server stops
	}
	if tracing() {
		os.Setenv("SKIFF_DEBUG", "1") // the server inherits it: its debug lines feed the breakdown
	}
	joinCPUGroup()
	code := framework.RunBenchNode(m, &node, "density", nodeName, "10.246.0.0/16", "10.98.0.0/16", args...)
	leaveCPUGroup()
	os.Exit(code)
}

func BenchmarkDensity50Pods(b *testing.B)  { density(b, 50) }
func BenchmarkDensity100Pods(b *testing.B) { density(b, 100) }

// density creates n pods at once in a fresh namespace and waits for all of them to
// be Running and Ready; one pass is the measurement.
func density(b *testing.B, n int) {
	if b.N > 1 {
		b.Skip("one pass is the measurement; use -benchtime 1x")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	ns := fmt.Sprintf("density-%d-%d", n, time.Now().UnixNano()%100000)
	if _, err := node.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
	defer deleteNamespace(b, ns)
	waitServiceAccount(b, ctx, ns)
	// The image is pulled once before the clock starts: the benchmark measures start-up
	// with the image present.
	warm(b, ctx, ns)

	w, err := node.Client.CoreV1().Pods(ns).Watch(ctx, metav1.ListOptions{LabelSelector: "bench=density"})
	if err != nil {
		b.Fatal(err)
	}
	defer w.Stop()
	load0, cpu0 := loadAvg(), serverCPU()
	node0, _ := nodeCPU()
	created := make([]time.Time, n)
	start := time.Now()
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			created[i] = time.Now()
			if _, err := node.Client.CoreV1().Pods(ns).Create(ctx, benchPod(i), metav1.CreateOptions{}); err != nil {
				b.Error(err)
			}
		}()
	}
	runningAt, readyAt := collect(b, ctx, w, n)
	wg.Wait()
	total := time.Since(start)
	cpu := serverCPU() - cpu0
	b.ReportMetric(cpu.Seconds(), "server-cpu-s")
	b.Logf("CPU used by skiff server and containerd meanwhile: %v", cpu.Round(10*time.Millisecond))
	if node1, ok := nodeCPU(); ok {
		perPod := (node1 - node0) / time.Duration(n)
		b.ReportMetric(float64(perPod.Milliseconds()), "node-cpu-ms/pod")
		b.Logf("CPU used by the whole node (server, containerd, shims, runc, CNI plugins, pods) meanwhile: %v, %v per pod",
			(node1 - node0).Round(10*time.Millisecond), perPod.Round(time.Millisecond))
	}
	report(b, n, since(created, runningAt), since(created, readyAt), total, load0)
	if tracing() {
		reportPhases(b, ns, created, runningAt)
	}
}

// since returns each pod's time from its create to at.
func since(created, at []time.Time) []time.Duration {
	d := make([]time.Duration, len(at))
	for i := range at {
		d[i] = at[i].Sub(created[i])
	}
	return d
}

// collect reads the watch until every pod was seen Running and Ready, and returns
// when each pod (by index) was first seen Running and Ready.
func collect(b *testing.B, ctx context.Context, w watch.Interface, n int) (running, ready []time.Time) {
	running, ready = make([]time.Time, n), make([]time.Time, n)
	seenRunning, seenReady := map[string]bool{}, map[string]bool{}
	tick := time.NewTicker(10 * time.Second)
	defer tick.Stop()
	for len(seenReady) < n || len(seenRunning) < n {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				b.Fatalf("watch ended: %d running, %d ready of %d", len(seenRunning), len(seenReady), n)
			}
			pod, ok := ev.Object.(*corev1.Pod)
			if !ok {
				continue
			}
			var i int
			fmt.Sscanf(pod.Name, "density-%d", &i)
			now := time.Now()
			if pod.Status.Phase == corev1.PodRunning && !seenRunning[pod.Name] {
				seenRunning[pod.Name] = true
				running[i] = now
			}
			if podReady(pod) && !seenReady[pod.Name] {
				seenReady[pod.Name] = true
				ready[i] = now
			}
		case <-tick.C:
			fmt.Fprintf(os.Stderr, "bench: %d running, %d ready of %d\n", len(seenRunning), len(seenReady), n)
		case <-ctx.Done():
			b.Fatalf("not all pods ready: %d running, %d ready of %d", len(seenRunning), len(seenReady), n)
		}
	}
	return running, ready
}

func report(b *testing.B, n int, running, ready []time.Duration, total time.Duration, load0 string) {
	slices.Sort(running)
	slices.Sort(ready)
	b.ReportMetric(pct(running, 0.5).Seconds(), "running-p50-s")
	b.ReportMetric(pct(running, 0.99).Seconds(), "running-p99-s")
	b.ReportMetric(pct(ready, 0.5).Seconds(), "ready-p50-s")
	b.ReportMetric(pct(ready, 0.99).Seconds(), "ready-p99-s")
	b.ReportMetric(float64(n)/total.Seconds(), "pods/s")
	r := func(d time.Duration) time.Duration { return d.Round(time.Millisecond) }
	b.Logf("%d pods: create→Running p50 %v p99 %v; create→Ready p50 %v p99 %v; all ready in %v (%.1f pods/s); load average before %s, after %s",
		n, r(pct(running, 0.5)), r(pct(running, 0.99)), r(pct(ready, 0.5)), r(pct(ready, 0.99)), r(total),
		float64(n)/total.Seconds(), load0, loadAvg())
}

func benchPod(i int) *corev1.Pod {
	zero := int64(0)
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("density-%d", i), Labels: map[string]string{"bench": "density"}},
		// Bound to the node directly: the benchmark measures the node, and a
		// pressure taint on a shared machine (DiskPressure) must not stop it.
		Spec: corev1.PodSpec{
			NodeName:                      nodeName,
			TerminationGracePeriodSeconds: &zero,
			Containers:                    []corev1.Container{{Name: "pause", Image: images.PauseRef, ImagePullPolicy: corev1.PullIfNotPresent}},
		},
	}
}

func podReady(pod *corev1.Pod) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// warm runs one pod to completion of its start so the image is on the node.
func warm(b *testing.B, ctx context.Context, ns string) {
	p := benchPod(0)
	p.Name, p.Labels = "warm", nil
	if _, err := node.Client.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		got, err := node.Client.CoreV1().Pods(ns).Get(ctx, p.Name, metav1.GetOptions{})
		if err == nil && podReady(got) {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	b.Fatalf("warm-up pod not ready within 2 minutes (is the image built in? see %s)", node.Cluster.LogPath)
}

func waitServiceAccount(b *testing.B, ctx context.Context, ns string) {
	for ctx.Err() == nil {
		if _, err := node.Client.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{}); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	b.Fatal("no default service account")
}

// deleteNamespace removes the benchmark's pods and waits until the node has
// removed their sandboxes too, so the next benchmark starts on an idle node (the
// API forgets a pod before the node has torn it down) and the server never stops
// mid-removal, which would leave the sandboxes' shims running.
func deleteNamespace(b *testing.B, ns string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	_ = node.Client.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{})
	rt, _, err := cri.Dial(ctx, filepath.Join(node.Cluster.Dir, "agent", "containerd", "containerd.sock"), 30*time.Second)
	if err != nil {
		b.Errorf("runtime of the node: %v", err)
		return
	}
	defer rt.Close()
	for ctx.Err() == nil {
		l, err := node.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		sbs, rerr := rt.Sandboxes(ctx, map[string]string{cri.LabelPodNamespace: ns})
		if err == nil && rerr == nil && len(l.Items) == 0 && len(sbs) == 0 {
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
	b.Error("pods not removed from the node within 5 minutes")
}

func loadAvg() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Join(strings.Fields(string(data))[:3], " ")
}

// Package apiserver benchmarks a real `skiff server` process through client-go.
//
//	go test -run '^$' -bench . -benchtime 1x ./test/bench/apiserver
package apiserver

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"skiff/test/e2e/framework"
)

// start runs `skiff server --disable-agent`, plus the flags in SKIFF_BENCH_ARGS
// (e.g. --profiling-address=127.0.0.1:6060 to profile a benchmark).
func start(b *testing.B) (*framework.Cluster, kubernetes.Interface) {
	b.Helper()
	c, err := framework.StartServer(b.TempDir(), append([]string{"--disable-agent"}, strings.Fields(os.Getenv("SKIFF_BENCH_ARGS"))...)...)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(c.Stop)
	cfg, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig)
	if err != nil {
		b.Fatal(err)
	}
	cfg.QPS, cfg.Burst = 100000, 100000
	cfg.ContentType = "application/vnd.kubernetes.protobuf"
	cfg.AcceptContentTypes = "application/vnd.kubernetes.protobuf"
	return c, kubernetes.NewForConfigOrDie(cfg)
}

func pod(name string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": "bench"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "c", Image: "skiff.local/toolbox:1",
			Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{"cpu": mustQ("100m"), "memory": mustQ("100Mi")}},
		}}},
	}
}

// createPods creates n pods with `clients` concurrent clients and returns each
// request's latency.
func createPods(b *testing.B, c kubernetes.Interface, prefix string, n, clients int) []time.Duration {
	b.Helper()
	lat := make([]time.Duration, n)
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for w := 0; w < clients; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < n; i += clients {
				t0 := time.Now()
				if _, err := c.CoreV1().Pods("default").Create(context.Background(), pod(fmt.Sprintf("%s-%d", prefix, i)), metav1.CreateOptions{}); err != nil {
					errs <- err
					return
				}
				lat[i] = time.Since(t0)
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		b.Fatal(err)
	}
	return lat
}

func percentile(d []time.Duration, p float64) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[int(float64(len(s)-1)*p)]
}

// BenchmarkCreate: pods created per second by 8 concurrent clients, and p99 latency.
func BenchmarkCreate(b *testing.B) {
	_, c := start(b)
	const n = 4000
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		lat := createPods(b, c, fmt.Sprintf("p%d", i), n, 8)
		b.ReportMetric(float64(n)/time.Since(t0).Seconds(), "objects/s")
		b.ReportMetric(float64(percentile(lat, 0.99).Microseconds())/1000, "p99-ms")
		b.ReportMetric(float64(percentile(lat, 0.50).Microseconds())/1000, "p50-ms")
	}
}

// BenchmarkCreateQuota: BenchmarkCreate's load with and without a ResourceQuota on the
// namespace, so every create is charged to the quota's status (an extra etcd write,
// serialized per namespace) before it is stored.
func BenchmarkCreateQuota(b *testing.B) {
	for _, on := range []bool{false, true} {
		b.Run(fmt.Sprintf("quota=%v", on), func(b *testing.B) {
			_, c := start(b)
			if on {
				q := &corev1.ResourceQuota{ObjectMeta: metav1.ObjectMeta{Name: "bench"}, Spec: corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{
					"pods": mustQ("1000000"), "requests.cpu": mustQ("1000000"), "requests.memory": mustQ("1000Ti")}}}
				if _, err := c.CoreV1().ResourceQuotas("default").Create(context.Background(), q, metav1.CreateOptions{}); err != nil {
					b.Fatal(err)
				}
			}
			const n = 4000
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				t0 := time.Now()
				lat := createPods(b, c, fmt.Sprintf("p%d", i), n, 8)
				b.ReportMetric(float64(n)/time.Since(t0).Seconds(), "objects/s")
				b.ReportMetric(float64(percentile(lat, 0.99).Microseconds())/1000, "p99-ms")
				b.ReportMetric(float64(percentile(lat, 0.50).Microseconds())/1000, "p50-ms")
			}
			if on {
				b.StopTimer()
				q, err := c.CoreV1().ResourceQuotas("default").Get(context.Background(), "bench", metav1.GetOptions{})
				if err != nil {
					b.Fatal(err)
				}
				if used := q.Status.Used["pods"]; used.Value() != int64(n*b.N) {
					b.Fatalf("quota counted %s pods, want %d", used.String(), n*b.N)
				}
			}
		})
	}
}

// BenchmarkList10kPods: listing 10,000 pods from the watch cache, at once and in
// pages of 500, and the server's memory idle and with the pods.
func BenchmarkList10kPods(b *testing.B) {
	cl, c := start(b)
	time.Sleep(2 * time.Second)
	idle := rssMB(b, cl)
	createPods(b, c, "l", 10000, 8)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		l, err := c.CoreV1().Pods("default").List(context.Background(), metav1.ListOptions{ResourceVersion: "0"})
		if err != nil || len(l.Items) != 10000 {
			b.Fatalf("list: %v (%d items)", err, len(l.Items))
		}
		b.ReportMetric(float64(time.Since(t0).Microseconds())/1000, "list-ms")
		// As kubectl lists: pages of 500, the first a consistent read.
		t0, n := time.Now(), 0
		for opts := (metav1.ListOptions{Limit: 500}); ; {
			l, err := c.CoreV1().Pods("default").List(context.Background(), opts)
			if err != nil {
				b.Fatal(err)
			}
			n += len(l.Items)
			if opts.Continue = l.Continue; opts.Continue == "" {
				break
			}
		}
		if n != 10000 {
			b.Fatalf("pages held %d pods", n)
		}
		b.ReportMetric(float64(time.Since(t0).Microseconds())/1000, "list-pages-ms")
		t0 = time.Now()
		if n := tablePages(b, c); n != 10000 {
			b.Fatalf("table pages held %d rows", n)
		}
		b.ReportMetric(float64(time.Since(t0).Microseconds())/1000, "table-pages-ms")
	}
	b.StopTimer()
	b.ReportMetric(idle, "rss-idle-MB")
	b.ReportMetric(rssMB(b, cl), "rss-10k-pods-MB")
}

// tablePages lists the pods as `kubectl get pods` does, as tables in JSON in
// pages of 500, and returns how many rows they held.
func tablePages(b *testing.B, c kubernetes.Interface) int {
	n := 0
	for cont := ""; ; {
		data, err := c.CoreV1().RESTClient().Get().Namespace("default").Resource("pods").
			Param("limit", "500").Param("continue", cont).
			SetHeader("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io").
			DoRaw(context.Background())
		var t metav1.Table
		if err == nil {
			err = json.Unmarshal(data, &t)
		}
		if err != nil {
			b.Fatal(err)
		}
		n += len(t.Rows)
		if cont = t.Continue; cont == "" {
			return n
		}
	}
}

// BenchmarkWatchFanout: 100 watchers each receive every one of 1,000 pod events.
func BenchmarkWatchFanout(b *testing.B) {
	_, c := start(b)
	const watchers, events = 100, 1000
	for i := 0; i < b.N; i++ {
		var ws []watch.Interface
		for w := 0; w < watchers; w++ {
			wi, err := c.CoreV1().Pods("default").Watch(context.Background(), metav1.ListOptions{ResourceVersion: "0", LabelSelector: "app=bench"})
			if err != nil {
				b.Fatal(err)
			}
			ws = append(ws, wi)
		}
		var wg sync.WaitGroup
		t0 := time.Now()
		for _, wi := range ws {
			wg.Add(1)
			go func(wi watch.Interface) {
				defer wg.Done()
				defer wi.Stop()
				for got := 0; got < events; {
					select {
					case _, ok := <-wi.ResultChan():
						if !ok {
							return
						}
						got++
					case <-time.After(60 * time.Second):
						return
					}
				}
			}(wi)
		}
		createPods(b, c, fmt.Sprintf("w%d", i), events, 8)
		wg.Wait()
		d := time.Since(t0)
		b.ReportMetric(float64(watchers*events)/d.Seconds(), "deliveries/s")
		b.ReportMetric(float64(d.Milliseconds()), "all-delivered-ms")
	}
}

func rssMB(b *testing.B, c *framework.Cluster) float64 { return procStatusMB(b, c.PID(), "VmRSS") }

// procStatusMB reads a kB field of /proc/PID/status (VmRSS, RssAnon, RssFile).
func procStatusMB(b *testing.B, pid int, field string) float64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, l := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(l, field+":") {
			kb, _ := strconv.ParseFloat(strings.Fields(l)[1], 64)
			return kb / 1024
		}
	}
	b.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}

// procCPU is the user and system CPU time a process has used (clock ticks of 10 ms).
func procCPU(b *testing.B, pid int) time.Duration {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	// Fields after the command name, which is in parentheses and may hold spaces.
	f := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+2:]))
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

func mustQ(s string) resource.Quantity { return resource.MustParse(s) }

// Package scale benchmarks a `skiff server` process holding a large cluster:
// `skiff simulate` nodes (heartbeating, marking their pods Running) and pods
// created through the API, then the server idle, and `kubectl get pods -A`.
//
//	flock /tmp/skiff-e2e.lock go test -run '^$' -bench . -benchtime 1x -timeout 2h ./test/bench/scale
//
// SKIFF_SCALE_NODES and SKIFF_SCALE_PODS change the size (default 5,000 and
// 150,000); SKIFF_BENCH_ARGS adds server flags. SKIFF_SCALE_PROFILE=DIR writes
// into DIR the server's CPU profile of the idle window, its heap profile after
// it, and CPU profiles of server and kubectl for a second `kubectl get pods -A`.
package scale

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"skiff/test/e2e/framework"
)

// idleWindow is how long the server is watched at rest.
const idleWindow = 30 * time.Second

func BenchmarkScale(b *testing.B) {
	if b.N > 1 {
		b.Skip("one pass is the measurement; use -benchtime 1x")
	}
	nodes, pods := envInt("SKIFF_SCALE_NODES", 5000), envInt("SKIFF_SCALE_PODS", 150000)
	// The collector's trace (one line a cycle, in the server's log) is how the
	// GC's CPU and the live heap are read.
	b.Setenv("GODEBUG", "gctrace=1")
	args := append([]string{"--disable-agent"}, strings.Fields(os.Getenv("SKIFF_BENCH_ARGS"))...)
	prof := newProfiler(b)
	if prof != nil {
		args = append(args, "--profiling-address", prof.addr)
	}
	srv, err := framework.StartServer(b.TempDir(), args...)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(srv.Stop)
	sim, err := srv.StartSkiff(filepath.Join(b.TempDir(), "simulate.log"), "simulate", "--kubeconfig", srv.Kubeconfig, "--nodes", strconv.Itoa(nodes), "--workers", "64")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(sim.Stop)
	cfg, err := clientcmd.BuildConfigFromFlags("", srv.Kubeconfig)
	if err != nil {
		b.Fatal(err)
	}
	cfg.QPS, cfg.Burst = 100000, 100000
	cfg.ContentType = "application/vnd.kubernetes.protobuf"
	c := kubernetes.NewForConfigOrDie(cfg)
	ctx := context.Background()
	waitFor(b, "nodes registered", func() (bool, string) {
		l, err := c.CoreV1().Nodes().List(ctx, metav1.ListOptions{ResourceVersion: "0"})
		if err != nil {
			return false, err.Error()
		}
		return len(l.Items) >= nodes, fmt.Sprintf("%d nodes", len(l.Items))
	})
	t0 := time.Now()
	createPods(b, c, pods)
	b.Logf("%d pods created in %v", pods, time.Since(t0).Round(time.Second))
	waitFor(b, "pods bound", func() (bool, string) {
		l, err := c.CoreV1().Pods("").List(ctx, metav1.ListOptions{ResourceVersion: "0", FieldSelector: "spec.nodeName=", Limit: 1})
		return err == nil && len(l.Items) == 0, "some pods unbound"
	})
	b.Logf("%d pods bound after %v", pods, time.Since(t0).Round(time.Second))
	// The idle window starts once the simulated kubelets have written every
	// pod's status, not while they still are.
	waitFor(b, "pods running", func() (bool, string) {
		l, err := c.CoreV1().Pods("").List(ctx, metav1.ListOptions{ResourceVersion: "0", FieldSelector: "status.phase!=Running", Limit: 1})
		return err == nil && len(l.Items) == 0, "some pods not running"
	})
	b.Logf("%d pods running after %v", pods, time.Since(t0).Round(time.Second))

	time.Sleep(10 * time.Second) // the last status writes settle
	logAt := fileSize(b, srv.LogPath)
	cpu0, w0 := cpuTime(b, srv.PID()), time.Now()
	if prof != nil {
		prof.cpu("server-idle", idleWindow)
		prof.heap("server-heap")
	} else {
		time.Sleep(idleWindow)
	}
	cpu, window := cpuTime(b, srv.PID())-cpu0, time.Since(w0)
	gcCPU, heapMB := gcTrace(b, srv.LogPath, logAt)
	b.ReportMetric(rssMB(b, srv.PID()), "server-rss-MB")
	// The part of it that is files mapped in: etcd's database, mostly.
	b.ReportMetric(statusMB(b, srv.PID(), "RssFile:"), "server-rss-file-MB")
	b.ReportMetric(heapMB, "live-heap-MB")
	b.ReportMetric(cpu.Seconds()/window.Seconds(), "idle-cores")
	if cpu > 0 {
		b.ReportMetric(100*gcCPU.Seconds()/cpu.Seconds(), "idle-gc-%")
	}
	b.ReportMetric(rssMB(b, sim.Pid()), "simulate-rss-MB")

	took := getPods(b, srv.Kubeconfig, pods)
	b.ReportMetric(took.Seconds(), "get-pods-A-s")
	b.ReportMetric(rssMB(b, srv.PID()), "server-rss-after-get-MB")
	// kubectl sends at most 5 requests a second after a burst of 10 (client-go's
	// default, which it keeps for all but discovery), so its pages of 500 take
	// at least pods/2500 seconds whatever the server does; in one request the
	// time is the server's and kubectl's work.
	b.ReportMetric(getPods(b, srv.Kubeconfig, pods, "--chunk-size=0").Seconds(), "get-pods-A-one-request-s")
	if prof != nil {
		prof.getPods(srv.Kubeconfig, took+2*time.Second)
	}
}

// getPods times `kubectl get pods -A` with args and checks it printed every pod.
func getPods(b *testing.B, kubeconfig string, pods int, args ...string) time.Duration {
	t0 := time.Now()
	out, err := exec.Command("kubectl", append([]string{"--kubeconfig", kubeconfig, "get", "pods", "-A", "--no-headers"}, args...)...).Output()
	if err != nil {
		b.Fatalf("kubectl get pods -A %v: %v", args, err)
	}
	took := time.Since(t0)
	if n := strings.Count(string(out), "\n"); n != pods {
		b.Fatalf("kubectl get pods -A %v printed %d pods, want %d", args, n, pods)
	}
	return took
}

func createPods(b *testing.B, c kubernetes.Interface, n int) {
	const creators, namespaces = 256, 50
	for i := range namespaces {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("scale-%d", i)}}
		if _, err := c.CoreV1().Namespaces().Create(context.Background(), ns, metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, creators)
	for w := range creators {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += creators {
				p := &corev1.Pod{
					ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("p-%d", i), Labels: map[string]string{"app": fmt.Sprintf("a%d", i%100)}},
					Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "skiff.local/toolbox:1",
						Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{"cpu": resource.MustParse("10m"), "memory": resource.MustParse("16Mi")}}}}},
				}
				// Pod admission waits for the namespace's default ServiceAccount;
				// retry until the controller has made it.
				for try := 0; ; try++ {
					_, err := c.CoreV1().Pods(fmt.Sprintf("scale-%d", i%namespaces)).Create(context.Background(), p, metav1.CreateOptions{})
					// AlreadyExists: an earlier try that failed for the client (a
					// timeout on a busy machine) was stored after all.
					if err == nil || (try > 0 && apierrors.IsAlreadyExists(err)) {
						break
					}
					if try == 30 {
						errs <- err
						return
					}
					time.Sleep(time.Second)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		b.Fatal(err)
	}
}

func waitFor(b *testing.B, what string, done func() (bool, string)) {
	start := time.Now()
	for {
		ok, state := done()
		if ok {
			return
		}
		if time.Since(start) > time.Hour {
			b.Fatalf("%s: not within an hour (%s)", what, state)
		}
		fmt.Fprintf(os.Stderr, "bench: waiting for %s after %v: %s\n", what, time.Since(start).Round(time.Second), state)
		time.Sleep(10 * time.Second)
	}
}

// gcLine is one gctrace line: the CPU milliseconds of its phases and the heap
// sizes in MB (at start, at end, live).
var gcLine = regexp.MustCompile(`^gc \d+ @[\d.]+s \d+%: [\d.+]+ ms clock, ([\d.+/]+) ms cpu, (\d+)->(\d+)->(\d+) MB`)

// gcTrace sums the CPU of the collections logged after offset and returns the
// live heap after the last one (before offset if none came after: an idle
// server may not collect at all).
func gcTrace(b *testing.B, path string, offset int64) (time.Duration, float64) {
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	var cpu time.Duration
	var live float64
	var at int64
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		at += int64(len(sc.Bytes())) + 1
		m := gcLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		live, _ = strconv.ParseFloat(m[4], 64)
		if at <= offset {
			continue
		}
		for _, part := range strings.FieldsFunc(m[1], func(r rune) bool { return r == '+' || r == '/' }) {
			ms, _ := strconv.ParseFloat(part, 64)
			cpu += time.Duration(ms * float64(time.Millisecond))
		}
	}
	return cpu, live
}

func fileSize(b *testing.B, path string) int64 {
	st, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	return st.Size()
}

// cpuTime is a process's user and system CPU so far.
func cpuTime(b *testing.B, pid int) time.Duration {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	// Fields after the command name (which may hold spaces) start at state.
	f := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+2:]))
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * time.Second / 100 // USER_HZ
}

func rssMB(b *testing.B, pid int) float64 { return statusMB(b, pid, "VmRSS:") }

// statusMB reads a size field (in kB) of /proc/PID/status, in MB.
func statusMB(b *testing.B, pid int, field string) float64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, l := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(l, field); ok {
			kb, _ := strconv.ParseFloat(strings.Fields(rest)[0], 64)
			return kb / 1024
		}
	}
	return 0
}

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

// Package scheduler benchmarks the scheduler end to end: a real in-process API
// server on etcd, `skiff simulate` nodes and the scheduler, with pods created
// through the API and bindings observed through a watch.
//
//	go test ./test/bench/scheduler -run '^$' -bench . -benchtime 1x -timeout 30m
//
// With SKIFF_BIN set to a skiff binary the scheduler runs as `skiff scheduler` in
// a process of its own, and its peak RSS and CPU time are reported alone
// (SCHEDULER_CPUPROFILE=file also profiles it); otherwise it runs in
// the test process (one CPU profile covers everything) and the RSS reported is the
// whole process's.
package scheduler

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"

	"skiff/internal/controllers/manager"
	"skiff/internal/scheduler"
	"skiff/internal/simulate"
	"skiff/internal/testserver"
	"skiff/test/e2e/framework"
)

// creators is how many goroutines create pods: each create waits for etcd's
// fsync, so creation stays ahead of the scheduler only with many in flight
// (64 held it to ~1,000 creates/s).
const creators = 256

type benchCase struct {
	nodes, pods int
	// constrained gives every pod required anti-affinity and a topology spread
	// constraint, the expensive path.
	constrained bool
	// kubelets makes the simulated nodes heartbeat and mark their pods Running,
	// as real kubelets would. Without it the nodes are bare API objects, as in
	// kube-scheduler's scheduler_perf, so only the scheduler's work is measured.
	kubelets bool
}

func BenchmarkSchedulingBasic1000Nodes(b *testing.B) {
	run(b, benchCase{nodes: 1000, pods: 10000})
}

func BenchmarkSchedulingBasic5000Nodes(b *testing.B) {
	run(b, benchCase{nodes: 5000, pods: 10000})
}

func BenchmarkSchedulingConstrained5000Nodes(b *testing.B) {
	run(b, benchCase{nodes: 5000, pods: 10000, constrained: true})
}

// The same as SchedulingBasic5000Nodes with every node's simulated kubelet
// renewing its Lease every 10 s (500 writes/s) and reporting each pod Running.
func BenchmarkSchedulingBasic5000NodesWithKubelets(b *testing.B) {
	run(b, benchCase{nodes: 5000, pods: 10000, kubelets: true})
}

// run measures one pass however large b.N is: a pass builds a cluster and takes
// seconds to minutes, so repeating it says nothing new.
func run(b *testing.B, bc benchCase) {
	if b.N > 1 {
		b.Skip("one pass is the measurement; use -benchtime 1x")
	}
	srv := testserver.Start(b)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	startSimulator(b, ctx, srv.Config, bc)
	schedRSS := startScheduler(b, ctx, srv)
	waitNodes(b, ctx, srv.Client, bc.nodes)

	// No controller runs here to create it, and pod admission waits for a
	// namespace's default ServiceAccount.
	if _, err := srv.Client.CoreV1().ServiceAccounts("default").Create(ctx,
		&v1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
	bound, progress := watchBound(b, ctx, srv.Client, bc.pods)
	cpu0 := cpuTime("/proc/self/stat")
	start := time.Now()
	createPods(b, ctx, srv.Config, bc)
	created := time.Since(start)
	waitBound(b, bound, progress, start)
	took := time.Since(start)
	rate := float64(bc.pods) / took.Seconds()
	b.ReportMetric(rate, "pods/s")
	// What this process spent a pod (everything but a separate scheduler): on a
	// busy machine it moves much less than the rate does.
	b.ReportMetric(float64((cpuTime("/proc/self/stat")-cpu0).Microseconds())/float64(bc.pods), "process-cpu-µs/pod")
	b.ReportMetric(float64(bc.pods)/created.Seconds(), "creates/s")
	what := "process peak RSS (API server, etcd, simulator and scheduler together)"
	rss := peakRSS("/proc/self/status")
	if schedRSS != nil {
		var cpu time.Duration
		rss, cpu = schedRSS()
		what = fmt.Sprintf("scheduler process CPU %v (%.0f µs a pod), peak RSS", cpu.Round(time.Millisecond),
			float64(cpu.Microseconds())/float64(bc.pods))
		b.ReportMetric(cpu.Seconds(), "scheduler-cpu-s")
	}
	b.ReportMetric(float64(rss)/(1<<20), "peakRSS-MiB")
	b.Logf("%d nodes, %d pods (constrained=%v, kubelets=%v): created in %v (%.0f/s), all bound in %v: %.0f pods/s; %s %d MiB",
		bc.nodes, bc.pods, bc.constrained, bc.kubelets, created.Round(time.Millisecond), float64(bc.pods)/created.Seconds(),
		took.Round(time.Millisecond), rate, what, rss>>20)
}

// waitBound waits for every pod to be bound, printing progress so a stall shows.
func waitBound(b *testing.B, bound <-chan struct{}, progress func() int, start time.Time) {
	tick := time.NewTicker(10 * time.Second)
	defer tick.Stop()
	for {
		select {
		case <-bound:
			return
		case <-tick.C:
			fmt.Fprintf(os.Stderr, "bench: %d pods bound after %v\n", progress(), time.Since(start).Round(time.Second))
			if time.Since(start) > 15*time.Minute {
				b.Fatal("pods not all bound within 15 minutes")
			}
		}
	}
}

// fastConfig is the client configuration of the components here: `skiff
// scheduler`'s (protobuf for every request, bindings included), without its rate limit.
func fastConfig(cfg *rest.Config) *rest.Config {
	c := manager.ClientConfig(cfg)
	c.QPS, c.Burst = 20000, 40000
	return c
}

func startSimulator(b *testing.B, ctx context.Context, cfg *rest.Config, bc benchCase) {
	opts, err := simulate.ParseFlags([]string{"--nodes", strconv.Itoa(bc.nodes), "--workers", "64",
		"--bare=" + strconv.FormatBool(!bc.kubelets)})
	if err != nil {
		b.Fatal(err)
	}
	go func() {
		if err := simulate.Run(ctx, fastConfig(cfg), opts); err != nil && ctx.Err() == nil {
			b.Errorf("simulate: %v", err)
		}
	}()
}

// startScheduler starts the scheduler, as its own process when SKIFF_BIN names a
// skiff binary; it then returns a function reading that process's peak RSS and
// the CPU time it has used.
func startScheduler(b *testing.B, ctx context.Context, srv *testserver.Server) func() (int64, time.Duration) {
	if os.Getenv("SKIFF_BIN") != "" {
		args := []string{"scheduler", "--kubeconfig", srv.Kubeconfig(), "--leader-elect=false"}
		if prof := os.Getenv("SCHEDULER_CPUPROFILE"); prof != "" {
			args = append(args, "--cpuprofile", prof)
		}
		p, err := framework.StartSkiff(srv.Kubeconfig(), filepath.Join(b.TempDir(), "scheduler.log"), args...)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(p.Stop) // SIGTERM, so that a CPU profile is written out
		proc := fmt.Sprintf("/proc/%d/", p.Pid())
		return func() (int64, time.Duration) { return peakRSS(proc + "status"), cpuTime(proc + "stat") }
	}
	cfg := srv.Config
	client := kubernetes.NewForConfigOrDie(fastConfig(cfg))
	events := kubernetes.NewForConfigOrDie(fastConfig(cfg))
	inf := informers.NewSharedInformerFactory(client, 0)
	bcast := record.NewBroadcaster(record.WithContext(ctx))
	bcast.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: events.CoreV1().Events("")})
	rec := bcast.NewRecorder(scheme.Scheme, v1.EventSource{Component: scheduler.DefaultSchedulerName})
	s, err := scheduler.New(client, inf, rec, scheduler.Config{})
	if err != nil {
		b.Fatal(err)
	}
	inf.Start(ctx.Done())
	go s.Run(ctx)
	return nil
}

func waitNodes(b *testing.B, ctx context.Context, c kubernetes.Interface, n int) {
	deadline := time.Now().Add(10 * time.Minute)
	for time.Now().Before(deadline) {
		l, err := c.CoreV1().Nodes().List(ctx, metav1.ListOptions{ResourceVersion: "0"})
		if err == nil && len(l.Items) >= n {
			time.Sleep(2 * time.Second) // let the scheduler's informer catch up
			return
		}
		time.Sleep(time.Second)
	}
	b.Fatalf("%d nodes not registered", n)
}

// watchBound closes the returned channel once want pods have a node. It uses an
// informer rather than a bare watch so that a watch the server ends (a slow
// consumer, a timeout) is resumed instead of silently losing bindings.
func watchBound(b *testing.B, ctx context.Context, c kubernetes.Interface, want int) (<-chan struct{}, func() int) {
	done := make(chan struct{})
	var mu sync.Mutex
	seen := map[string]bool{}
	count := func(obj any) {
		p, ok := obj.(*v1.Pod)
		if !ok || p.Spec.NodeName == "" {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if !seen[p.Name] {
			if seen[p.Name] = true; len(seen) == want {
				close(done)
			}
		}
	}
	// Only bound pods are sent, so the measuring watch costs one event a pod.
	inf := informers.NewSharedInformerFactoryWithOptions(c, 0, informers.WithNamespace("default"),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.FieldSelector = "spec.nodeName!=" })).Core().V1().Pods().Informer()
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: count, UpdateFunc: func(_, obj any) { count(obj) }}); err != nil {
		b.Fatal(err)
	}
	go inf.Run(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
		b.Fatal("pod informer did not sync")
	}
	return done, func() int { mu.Lock(); defer mu.Unlock(); return len(seen) }
}

func createPods(b *testing.B, ctx context.Context, cfg *rest.Config, bc benchCase) {
	client := kubernetes.NewForConfigOrDie(fastConfig(cfg))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range creators {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1)) - 1; i < bc.pods; i = int(next.Add(1)) - 1 {
				if _, err := client.CoreV1().Pods("default").Create(ctx, benchPod(i, bc.constrained), metav1.CreateOptions{}); err != nil {
					b.Errorf("create pod %d: %v", i, err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func benchPod(i int, constrained bool) *v1.Pod {
	group := fmt.Sprintf("g%d", i%1000)
	p := &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("pod-%05d", i), Labels: map[string]string{"group": group}},
		Spec: v1.PodSpec{Containers: []v1.Container{{Name: "c", Image: "skiff.local/pause:1",
			Resources: v1.ResourceRequirements{Requests: v1.ResourceList{
				v1.ResourceCPU: resource.MustParse("100m"), v1.ResourceMemory: resource.MustParse("100Mi")}}}}},
	}
	if !constrained {
		return p
	}
	sel := &metav1.LabelSelector{MatchLabels: map[string]string{"group": group}}
	p.Spec.Affinity = &v1.Affinity{PodAntiAffinity: &v1.PodAntiAffinity{
		RequiredDuringSchedulingIgnoredDuringExecution: []v1.PodAffinityTerm{{LabelSelector: sel, TopologyKey: v1.LabelHostname}}}}
	p.Spec.TopologySpreadConstraints = []v1.TopologySpreadConstraint{{MaxSkew: 1, TopologyKey: v1.LabelHostname,
		WhenUnsatisfiable: v1.DoNotSchedule, LabelSelector: sel}}
	return p
}

// cpuTime reads user plus system time from a /proc/PID/stat file (in clock ticks
// of 10ms, Linux's USER_HZ).
func cpuTime(stat string) time.Duration {
	data, err := os.ReadFile(stat)
	if err != nil {
		return 0
	}
	// The command name may hold spaces; the fields after it are plain.
	fields := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+1:]))
	if len(fields) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(fields[11], 10, 64)
	stime, _ := strconv.ParseInt(fields[12], 10, 64)
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

// peakRSS reads VmHWM (bytes) from a /proc/PID/status file.
func peakRSS(status string) int64 {
	data, err := os.ReadFile(status)
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

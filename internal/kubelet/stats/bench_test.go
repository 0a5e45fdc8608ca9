package stats

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"
)

// BenchmarkBuild is the agent-side cost of turning one round of samples into the
// summary, for a node with 110 pods (Kubernetes' default pod limit) of two
// containers each; per-pod cost is reported as ns/pod.
func BenchmarkBuild(b *testing.B) {
	const pods = 110
	t0 := time.Unix(0, 0)
	prev := map[string]ContainerSample{}
	var cur []ContainerSample
	for p := range pods {
		ref := PodReference{Name: fmt.Sprint("pod-", p), Namespace: "default", UID: fmt.Sprint("uid-", p)}
		for c := range 2 {
			id := fmt.Sprintf("%d-%d", p, c)
			prev[id] = ContainerSample{ID: id, Pod: ref, Name: fmt.Sprint("c", c), Time: t0, CPUNanos: 1e9}
			cur = append(cur, ContainerSample{ID: id, Pod: ref, Name: fmt.Sprint("c", c), Time: t0.Add(10 * time.Second), CPUNanos: 3e9, WorkingSet: 64 << 20})
		}
	}
	node := &NodeSample{Time: t0.Add(10 * time.Second), CPUNanos: 1e12, MemoryCapacity: 8 << 30}
	b.ReportAllocs()
	for b.Loop() {
		Build("n", t0, &NodeSample{Time: t0}, node, prev, cur)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/pods, "ns/pod")
}

// BenchmarkNodeSource reads the machine's counters from cgroupfs and /proc, as every
// sample does once.
func BenchmarkNodeSource(b *testing.B) {
	if _, err := os.Stat("/sys/fs/cgroup/cpuacct/cpuacct.usage"); err != nil {
		b.Skip("no cgroup v1 cpuacct hierarchy")
	}
	src := NodeSource{CgroupRoot: "/sys/fs/cgroup", ProcRoot: "/proc", FsPath: os.TempDir()}
	for b.Loop() {
		if _, err := src.Node(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
}

package stats

import (
	"context"
	"log/slog"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ContainerSample is one container's cumulative counters at one instant.
type ContainerSample struct {
	ID   string // runtime container ID: a restarted container is a new series
	Pod  PodReference
	Name string
	// StartTime is when the container was created (zero if the runtime did not say).
	StartTime time.Time
	Time      time.Time
	// CPUNanos is the cumulative CPU time used, in nanoseconds.
	CPUNanos   uint64
	WorkingSet uint64
	Usage      uint64
}

// NodeSample is the machine's counters at one instant.
type NodeSample struct {
	Time       time.Time
	CPUNanos   uint64
	WorkingSet uint64
	Usage      uint64
	// MemoryCapacity is the machine's memory; available = capacity - working set.
	MemoryCapacity uint64
	FsAvailable    uint64
	FsCapacity     uint64
	InodesFree     uint64
	Inodes         uint64
	MaxPID         int64
	Procs          int64
}

// Source reads the counters: the container runtime for containers, the kernel for
// the node.
type Source interface {
	Containers(ctx context.Context) ([]ContainerSample, error)
	Node(ctx context.Context) (NodeSample, error)
}

// Collector samples a Source on a timer and keeps the latest Summary, whose CPU
// rates come from the last two samples.
type Collector struct {
	src      Source
	nodeName string
	started  time.Time
	interval time.Duration

	mu       sync.Mutex
	prevNode *NodeSample
	prev     map[string]ContainerSample
	latest   *Summary
	onSample []func(*Summary)
}

// NewCollector samples src every interval once Run starts.
func NewCollector(src Source, nodeName string, interval time.Duration) *Collector {
	return &Collector{src: src, nodeName: nodeName, started: time.Now(), interval: interval}
}

// OnSample registers f to run after every sample (the eviction manager); call before Run.
func (c *Collector) OnSample(f func(*Summary)) { c.onSample = append(c.onSample, f) }

// Latest is the newest summary, nil before the first sample.
func (c *Collector) Latest() *Summary {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.latest
}

// Run samples at once, again after a second (so rates exist soon after the agent
// starts), then every interval until ctx ends.
func (c *Collector) Run(ctx context.Context) {
	delay := time.Second
	for {
		if err := c.Sample(ctx); err != nil && ctx.Err() == nil {
			slog.Warn("sampling container stats failed", "err", err)
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		delay = c.interval
	}
}

// Sample reads the source once and updates Latest.
func (c *Collector) Sample(ctx context.Context) error {
	node, err := c.src.Node(ctx)
	if err != nil {
		return err
	}
	cs, err := c.src.Containers(ctx)
	if err != nil {
		return err
	}
	c.mu.Lock()
	sum := Build(c.nodeName, c.started, c.prevNode, &node, c.prev, cs)
	c.prevNode = &node
	c.prev = make(map[string]ContainerSample, len(cs))
	for _, s := range cs {
		c.prev[s.ID] = s
	}
	c.latest = sum
	c.mu.Unlock()
	for _, f := range c.onSample {
		f(sum)
	}
	return nil
}

// Build turns two rounds of samples into a Summary. prev may be empty (first round):
// then no CPU rates are given. Pods are listed in the order their first container
// appears in cur.
func Build(nodeName string, started time.Time, prevNode, node *NodeSample, prev map[string]ContainerSample, cur []ContainerSample) *Summary {
	sum := &Summary{Node: NodeStats{NodeName: nodeName, StartTime: metav1.NewTime(started)}}
	if node != nil {
		sum.Node.CPU = cpuStats(prevNode != nil, prevSample(prevNode), nodeCPU(*node))
		avail := node.MemoryCapacity - min(node.WorkingSet, node.MemoryCapacity)
		sum.Node.Memory = &MemoryStats{Time: metav1.NewTime(node.Time), AvailableBytes: &avail,
			UsageBytes: ptr(node.Usage), WorkingSetBytes: ptr(node.WorkingSet)}
		sum.Node.Fs = &FsStats{Time: metav1.NewTime(node.Time), AvailableBytes: ptr(node.FsAvailable),
			CapacityBytes: ptr(node.FsCapacity), InodesFree: ptr(node.InodesFree), Inodes: ptr(node.Inodes)}
		sum.Node.Rlimit = &RlimitStats{Time: metav1.NewTime(node.Time), MaxPID: ptr(node.MaxPID), NumOfRunningProcesses: ptr(node.Procs)}
	}
	index := map[string]int{}
	for _, s := range cur {
		i, ok := index[s.Pod.UID]
		if !ok {
			i = len(sum.Pods)
			index[s.Pod.UID] = i
			sum.Pods = append(sum.Pods, PodStats{PodRef: s.Pod})
		}
		p, had := prev[s.ID]
		cs := ContainerStats{Name: s.Name, StartTime: metav1.NewTime(s.StartTime),
			CPU:    cpuStats(had, cpuPoint{p.Time, p.CPUNanos}, cpuPoint{s.Time, s.CPUNanos}),
			Memory: &MemoryStats{Time: metav1.NewTime(s.Time), UsageBytes: ptr(s.Usage), WorkingSetBytes: ptr(s.WorkingSet)}}
		pod := &sum.Pods[i]
		pod.Containers = append(pod.Containers, cs)
		if pod.StartTime.IsZero() || (!s.StartTime.IsZero() && s.StartTime.Before(pod.StartTime.Time)) {
			pod.StartTime = cs.StartTime
		}
	}
	for i := range sum.Pods {
		sumPod(&sum.Pods[i])
	}
	return sum
}

// sumPod totals a pod's containers. The pod has a CPU rate only when every
// container has one, so a pod is never under-reported while a container is new.
func sumPod(p *PodStats) {
	var cpu, cum, ws, usage uint64
	rated := true
	var t metav1.Time
	var window *metav1.Duration
	for _, c := range p.Containers {
		t = c.CPU.Time
		cum += deref(c.CPU.UsageCoreNanoSeconds)
		if c.CPU.UsageNanoCores == nil {
			rated = false
		} else {
			cpu += *c.CPU.UsageNanoCores
			window = c.CPU.Window
		}
		ws += deref(c.Memory.WorkingSetBytes)
		usage += deref(c.Memory.UsageBytes)
	}
	p.CPU = &CPUStats{Time: t, UsageCoreNanoSeconds: &cum}
	if rated {
		p.CPU.UsageNanoCores, p.CPU.Window = &cpu, window
	}
	p.Memory = &MemoryStats{Time: t, WorkingSetBytes: &ws, UsageBytes: &usage}
}

type cpuPoint struct {
	t     time.Time
	nanos uint64
}

// nodeCPU is the node's CPU counter as a rate input.
func nodeCPU(n NodeSample) cpuPoint { return cpuPoint{n.Time, n.CPUNanos} }

func prevSample(n *NodeSample) cpuPoint {
	if n == nil {
		return cpuPoint{}
	}
	return nodeCPU(*n)
}

// cpuStats gives the cumulative counter and, with a usable earlier point, the rate
// in nano-cores: CPU nanoseconds used per second of wall time.
func cpuStats(havePrev bool, prev, cur cpuPoint) *CPUStats {
	st := &CPUStats{Time: metav1.NewTime(cur.t), UsageCoreNanoSeconds: ptr(cur.nanos)}
	if r, ok := Rate(prev.nanos, cur.nanos, cur.t.Sub(prev.t)); havePrev && ok {
		st.UsageNanoCores = &r
		st.Window = &metav1.Duration{Duration: cur.t.Sub(prev.t)}
	}
	return st
}

// Rate is the nano-core rate between two cumulative readings dt apart; false when
// there is no meaningful rate (no time passed, or the counter went back: a reset).
func Rate(prev, cur uint64, dt time.Duration) (uint64, bool) {
	if dt <= 0 || cur < prev {
		return 0, false
	}
	return uint64(float64(cur-prev) / dt.Seconds()), true
}

func ptr[T any](v T) *T { return &v }

func deref(p *uint64) uint64 {
	if p == nil {
		return 0
	}
	return *p
}

package stats

import (
	"context"
	"testing"
	"time"
)

func TestRate(t *testing.T) {
	tests := []struct {
		name      string
		prev, cur uint64
		dt        time.Duration
		want      uint64
		ok        bool
	}{
		{"half a core", 0, 500_000_000, time.Second, 500_000_000, true},
		{"two cores over 10s", 1_000, 20_000_001_000, 10 * time.Second, 2_000_000_000, true},
		{"idle", 42, 42, time.Second, 0, true},
		{"counter reset", 100, 10, time.Second, 0, false},
		{"no time passed", 0, 10, 0, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := Rate(tt.prev, tt.cur, tt.dt)
			if got != tt.want || ok != tt.ok {
				t.Errorf("Rate(%d, %d, %v) = %d, %v; want %d, %v", tt.prev, tt.cur, tt.dt, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestBuildSumsPodsAndRates(t *testing.T) {
	t0 := time.Unix(1000, 0)
	t1 := t0.Add(10 * time.Second)
	web := PodReference{Name: "web", Namespace: "default", UID: "u1"}
	db := PodReference{Name: "db", Namespace: "default", UID: "u2"}
	prev := map[string]ContainerSample{
		"a": {ID: "a", Pod: web, Name: "app", Time: t0, CPUNanos: 1_000_000_000},
		"b": {ID: "b", Pod: web, Name: "sidecar", Time: t0, CPUNanos: 0},
	}
	cur := []ContainerSample{
		{ID: "a", Pod: web, Name: "app", Time: t1, CPUNanos: 3_000_000_000, WorkingSet: 100 << 20},
		{ID: "b", Pod: web, Name: "sidecar", Time: t1, CPUNanos: 1_000_000_000, WorkingSet: 10 << 20},
		{ID: "c", Pod: db, Name: "db", Time: t1, CPUNanos: 5_000_000_000, WorkingSet: 1 << 30},
	}
	prevNode := &NodeSample{Time: t0, CPUNanos: 0}
	node := &NodeSample{Time: t1, CPUNanos: 15_000_000_000, WorkingSet: 2 << 30, MemoryCapacity: 8 << 30, MaxPID: 100, Procs: 40}
	s := Build("n1", t0, prevNode, node, prev, cur)

	if got := *s.Node.CPU.UsageNanoCores; got != 1_500_000_000 {
		t.Errorf("node cpu = %d nano-cores, want 1.5 cores", got)
	}
	if got := *s.Node.Memory.AvailableBytes; got != 6<<30 {
		t.Errorf("node memory available = %d, want 6Gi", got)
	}
	if len(s.Pods) != 2 || s.Pods[0].PodRef != web || s.Pods[1].PodRef != db {
		t.Fatalf("pods = %+v", s.Pods)
	}
	w := s.Pods[0]
	if got := *w.CPU.UsageNanoCores; got != 300_000_000 {
		t.Errorf("web cpu = %d, want 300m (200m + 100m)", got)
	}
	if got := *w.Memory.WorkingSetBytes; got != 110<<20 {
		t.Errorf("web working set = %d, want 110Mi", got)
	}
	if w.CPU.Window == nil || w.CPU.Window.Duration != 10*time.Second {
		t.Errorf("web window = %v, want 10s", w.CPU.Window)
	}
	// db's container was not in the previous round: no rate yet, but memory is known.
	if d := s.Pods[1]; d.CPU.UsageNanoCores != nil || *d.Memory.WorkingSetBytes != 1<<30 {
		t.Errorf("db = cpu %v, memory %d; want no cpu rate and 1Gi", d.CPU.UsageNanoCores, *d.Memory.WorkingSetBytes)
	}
}

func TestWorkingSet(t *testing.T) {
	if got := WorkingSet(100, 30); got != 70 {
		t.Errorf("WorkingSet(100, 30) = %d", got)
	}
	if got := WorkingSet(30, 100); got != 0 {
		t.Errorf("WorkingSet(30, 100) = %d, want 0", got)
	}
}

// fakeSource counts up by a fixed amount per call.
type fakeSource struct{ n uint64 }

func (f *fakeSource) Containers(context.Context) ([]ContainerSample, error) {
	f.n++
	return []ContainerSample{{ID: "a", Pod: PodReference{UID: "u"}, Name: "c", Time: time.Unix(int64(f.n), 0), CPUNanos: f.n * 250_000_000}}, nil
}

func (f *fakeSource) Node(context.Context) (NodeSample, error) {
	return NodeSample{Time: time.Unix(int64(f.n+1), 0), CPUNanos: (f.n + 1) * 1_000_000_000}, nil
}

func TestCollectorRatesFromSecondSample(t *testing.T) {
	c := NewCollector(&fakeSource{}, "n", time.Second)
	var seen int
	c.OnSample(func(*Summary) { seen++ })
	if err := c.Sample(context.Background()); err != nil {
		t.Fatal(err)
	}
	if c.Latest().Pods[0].CPU.UsageNanoCores != nil {
		t.Fatal("a rate after one sample")
	}
	if err := c.Sample(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := c.Latest().Pods[0].CPU.UsageNanoCores; got == nil || *got != 250_000_000 {
		t.Fatalf("rate after two samples = %v, want 250m", got)
	}
	if seen != 2 {
		t.Errorf("OnSample ran %d times, want 2", seen)
	}
}

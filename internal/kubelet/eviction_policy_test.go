package kubelet

import (
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"skiff/internal/kubelet/stats"
)

func TestParseEvictionHard(t *testing.T) {
	tests := []struct {
		in   string
		want string // thresholds joined by ",", or "error"
	}{
		{DefaultEvictionHard, "memory.available<100Mi,nodefs.available<10%,nodefs.inodesFree<5%"},
		{"memory.available<1Gi, pid.available<500", "memory.available<1Gi,pid.available<500"},
		{"", ""},
		{"memory.available>1Gi", "error"},
		{"cpu.available<1", "error"},
		{"nodefs.available<120%", "error"},
		{"memory.available<lots", "error"},
		{"memory.available<1Gi,memory.available<2Gi", "error"},
	}
	for _, tt := range tests {
		ts, err := ParseEvictionHard(tt.in)
		got := "error"
		if err == nil {
			var parts []string
			for _, x := range ts {
				parts = append(parts, x.String())
			}
			got = strings.Join(parts, ",")
		}
		if got != tt.want {
			t.Errorf("ParseEvictionHard(%q) = %q (err %v), want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestThresholdsMet(t *testing.T) {
	ts, _ := ParseEvictionHard("memory.available<100Mi,nodefs.available<10%,pid.available<1000")
	tests := []struct {
		name string
		obs  map[string]observation
		want []string
	}{
		{"plenty", map[string]observation{SignalMemoryAvailable: {4 << 30, 8 << 30}, SignalNodeFsAvailable: {50, 100}, SignalPIDAvailable: {30000, 32768}}, nil},
		{"low memory", map[string]observation{SignalMemoryAvailable: {50 << 20, 8 << 30}}, []string{SignalMemoryAvailable}},
		{"exactly at the threshold is not below it", map[string]observation{SignalMemoryAvailable: {100 << 20, 8 << 30}}, nil},
		{"disk under 10%", map[string]observation{SignalNodeFsAvailable: {9, 100}}, []string{SignalNodeFsAvailable}},
		{"few pids", map[string]observation{SignalPIDAvailable: {999, 32768}}, []string{SignalPIDAvailable}},
		{"signal not observed", map[string]observation{}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, m := range thresholdsMet(ts, tt.obs) {
				got = append(got, m.Signal)
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("met = %v, want %v", got, tt.want)
			}
		})
	}
}

func evictPod(name string, memReq, memLim string, prio int32) *corev1.Pod {
	c := corev1.Container{Name: "c"}
	if memReq != "" {
		c.Resources.Requests = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse(memReq)}
	}
	if memLim != "" {
		c.Resources.Limits = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse(memLim)}
		if memReq == memLim {
			c.Resources.Requests[corev1.ResourceCPU] = resource.MustParse("100m")
			c.Resources.Limits[corev1.ResourceCPU] = resource.MustParse("100m")
		}
	}
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", UID: types.UID("uid-" + name)},
		Spec: corev1.PodSpec{Containers: []corev1.Container{c}, Priority: ptr.To(prio)}}
}

func TestRankForMemoryEviction(t *testing.T) {
	const mi = 1 << 20
	guaranteed := evictPod("guaranteed", "500Mi", "500Mi", 0)
	burstSmallOver := evictPod("burst-small", "100Mi", "", 0)
	burstBigOver := evictPod("burst-big", "100Mi", "", 0)
	bestEffort := evictPod("besteffort", "", "", 0)
	bestEffortHigh := evictPod("besteffort-important", "", "", 1000)
	critical := evictPod("critical", "", "", systemCritical)
	done := evictPod("done", "", "", 0)
	done.Status.Phase = corev1.PodSucceeded

	tests := []struct {
		name  string
		cands []evictionCandidate
		want  []string
	}{
		{"QoS order, then usage over request",
			[]evictionCandidate{{guaranteed, 400 * mi}, {burstSmallOver, 150 * mi}, {burstBigOver, 900 * mi}, {bestEffort, 10 * mi}},
			[]string{"besteffort", "burst-big", "burst-small", "guaranteed"}},
		{"lower priority first within a class",
			[]evictionCandidate{{bestEffortHigh, 1000 * mi}, {bestEffort, 1 * mi}},
			[]string{"besteffort", "besteffort-important"}},
		{"critical and finished pods are never picked",
			[]evictionCandidate{{critical, 2000 * mi}, {done, 2000 * mi}, {guaranteed, 1 * mi}},
			[]string{"guaranteed"}},
		{"nothing to evict", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, c := range rankForMemoryEviction(tt.cands) {
				got = append(got, c.Pod.Name)
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("order = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestEvictionMessage(t *testing.T) {
	pod := evictPod("hog", "64Mi", "", 0)
	ws := uint64(300 << 20)
	ps := &stats.PodStats{Containers: []stats.ContainerStats{{Name: "c", Memory: &stats.MemoryStats{WorkingSetBytes: &ws}}}}
	ts, _ := ParseEvictionHard("memory.available<100Mi")
	got := evictionMessage(ts[0], observation{available: 50 << 20, capacity: 1 << 30}, pod, ps)
	want := "The node was low on resource: memory. Threshold quantity: 100Mi, available: 50Mi. Container c was using 300Mi, request is 64Mi, has larger consumption of memory. "
	if got != want {
		t.Errorf("message =\n%q\nwant\n%q", got, want)
	}
}

func TestObserveSignals(t *testing.T) {
	u := func(v uint64) *uint64 { return &v }
	i := func(v int64) *int64 { return &v }
	s := &stats.Summary{Node: stats.NodeStats{
		Memory: &stats.MemoryStats{AvailableBytes: u(3 << 30), WorkingSetBytes: u(1 << 30)},
		Fs:     &stats.FsStats{AvailableBytes: u(10), CapacityBytes: u(100), InodesFree: u(5), Inodes: u(50)},
		Rlimit: &stats.RlimitStats{MaxPID: i(1000), NumOfRunningProcesses: i(400)},
	}}
	obs := observe(s)
	want := map[string]observation{
		SignalMemoryAvailable: {3 << 30, 4 << 30}, SignalNodeFsAvailable: {10, 100},
		SignalNodeFsInodes: {5, 50}, SignalPIDAvailable: {600, 1000},
	}
	for k, v := range want {
		if obs[k] != v {
			t.Errorf("%s = %+v, want %+v", k, obs[k], v)
		}
	}
}

func TestUpdatePressureHoldsForTheTransitionPeriod(t *testing.T) {
	mem, _ := ParseEvictionHard("memory.available<1Mi")
	pid, _ := ParseEvictionHard("pid.available<1")
	lastMet := map[corev1.NodeConditionType]time.Time{}
	pressure := map[corev1.NodeConditionType]bool{}
	t0 := time.Unix(1000, 0)
	steps := []struct {
		name string
		at   time.Duration
		met  []EvictionThreshold
		want map[corev1.NodeConditionType]bool
	}{
		{"nothing met", 0, nil, map[corev1.NodeConditionType]bool{}},
		{"memory met turns MemoryPressure on", time.Second, mem, map[corev1.NodeConditionType]bool{corev1.NodeMemoryPressure: true}},
		{"still on within the transition period", 30 * time.Second, nil, map[corev1.NodeConditionType]bool{}},
		{"pids met as well", 40 * time.Second, pid, map[corev1.NodeConditionType]bool{corev1.NodePIDPressure: true}},
		{"memory off once the period has passed", 62 * time.Second, nil, map[corev1.NodeConditionType]bool{corev1.NodeMemoryPressure: false}},
		{"pids off later", 101 * time.Second, nil, map[corev1.NodeConditionType]bool{corev1.NodePIDPressure: false}},
	}
	for _, s := range steps {
		got := updatePressure(lastMet, pressure, s.met, t0.Add(s.at), time.Minute)
		if fmt.Sprint(got) != fmt.Sprint(s.want) {
			t.Errorf("%s: changed = %v, want %v", s.name, got, s.want)
		}
	}
}

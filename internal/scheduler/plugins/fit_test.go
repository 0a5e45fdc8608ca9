package plugins

import (
	"testing"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/utils/ptr"

	fw "skiff/internal/scheduler/framework"
)

func withInit(p *v1.Pod, cpu string, sidecar bool) *v1.Pod {
	c := v1.Container{Name: "init", Resources: v1.ResourceRequirements{Requests: v1.ResourceList{v1.ResourceCPU: resource.MustParse(cpu)}}}
	if sidecar {
		c.RestartPolicy = ptr.To(v1.ContainerRestartPolicyAlways)
	}
	p.Spec.InitContainers = append(p.Spec.InitContainers, c)
	return p
}

func TestNodeResourcesFitFilter(t *testing.T) {
	full := node("full", "2", "2Gi")
	full.Status.Allocatable[v1.ResourcePods] = resource.MustParse("1")
	gpu := node("gpu", "4", "4Gi")
	gpu.Status.Allocatable["nvidia.com/gpu"] = resource.MustParse("2")
	snap := snapshot{
		nodeInfo(node("small", "1", "1Gi"), pod("x", "500m", "512Mi")),
		nodeInfo(full, pod("y", "", "")),
		nodeInfo(gpu),
	}
	tests := []struct {
		name string
		pod  *v1.Pod
		want map[string]verdict
	}{
		{"fits everywhere but the full node", pod("p", "100m", "100Mi"), map[string]verdict{
			"small": fits, "full": reject(fw.Unschedulable, ReasonTooManyPods), "gpu": fits}},
		{"every short resource is reported", pod("p", "1", "1Gi"), map[string]verdict{
			"small": reject(fw.Unschedulable, "Insufficient cpu", "Insufficient memory"),
			"full":  reject(fw.Unschedulable, ReasonTooManyPods), "gpu": fits}},
		{"init container peak counts", withInit(pod("p", "100m", ""), "600m", false), map[string]verdict{
			"small": reject(fw.Unschedulable, "Insufficient cpu"), "full": reject(fw.Unschedulable, ReasonTooManyPods), "gpu": fits}},
		{"sidecar adds to containers", withInit(pod("p", "300m", ""), "300m", true), map[string]verdict{
			"small": reject(fw.Unschedulable, "Insufficient cpu"), "full": reject(fw.Unschedulable, ReasonTooManyPods), "gpu": fits}},
		{"extended resource", func() *v1.Pod {
			p := pod("p", "", "")
			p.Spec.Containers[0].Resources.Requests["nvidia.com/gpu"] = resource.MustParse("1")
			return p
		}(), map[string]verdict{
			"small": reject(fw.Unschedulable, "Insufficient nvidia.com/gpu"),
			"full":  reject(fw.Unschedulable, ReasonTooManyPods, "Insufficient nvidia.com/gpu"), "gpu": fits}},
		{"overhead counts", func() *v1.Pod {
			p := pod("p", "400m", "")
			p.Spec.Overhead = v1.ResourceList{v1.ResourceCPU: resource.MustParse("200m")}
			return p
		}(), map[string]verdict{
			"small": reject(fw.Unschedulable, "Insufficient cpu"), "full": reject(fw.Unschedulable, ReasonTooManyPods), "gpu": fits}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			diff(t, tt.want, runFilter(t, &NodeResourcesFit{}, tt.pod, snap))
		})
	}
}

func TestPodRequests(t *testing.T) {
	tests := []struct {
		name    string
		pod     *v1.Pod
		wantCPU int64
	}{
		{"containers add up", func() *v1.Pod {
			p := pod("p", "100m", "")
			p.Spec.Containers = append(p.Spec.Containers, p.Spec.Containers[0])
			return p
		}(), 200},
		{"init runs alone: max wins", withInit(pod("p", "100m", ""), "500m", false), 500},
		{"init next to earlier sidecar", withInit(withInit(pod("p", "100m", ""), "200m", true), "500m", false), 700},
		{"sidecar after init only adds", withInit(withInit(pod("p", "100m", ""), "500m", false), "200m", true), 500},
		// In-place resizes: until the kubelet has applied a smaller size, the node
		// still holds the larger one; a larger size holds at once.
		{"resize down in flight holds the allocated size", resized(pod("p", "100m", ""), "500m", ""), 500},
		{"resize down applied", resized(pod("p", "100m", ""), "100m", ""), 100},
		{"resize up holds the new size", resized(pod("p", "800m", ""), "200m", ""), 800},
		{"an infeasible resize holds only what was allocated", resized(pod("p", "8", ""), "200m", v1.PodReasonInfeasible), 200},
		{"a deferred resize holds the larger size", resized(pod("p", "8", ""), "200m", v1.PodReasonDeferred), 8000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := fw.PodRequests(tt.pod, false)
			diff(t, tt.wantCPU, r.MilliCPU)
		})
	}
}

// resized gives p's container the cpu the kubelet allocated and applied, and a
// PodResizePending condition when pending is set.
func resized(p *v1.Pod, allocated string, pending string) *v1.Pod {
	q := resource.MustParse(allocated)
	p.Status.ContainerStatuses = []v1.ContainerStatus{{Name: p.Spec.Containers[0].Name,
		AllocatedResources: v1.ResourceList{v1.ResourceCPU: q},
		Resources:          &v1.ResourceRequirements{Requests: v1.ResourceList{v1.ResourceCPU: q}}}}
	if pending != "" {
		p.Status.Conditions = append(p.Status.Conditions, v1.PodCondition{Type: v1.PodResizePending, Status: v1.ConditionTrue, Reason: pending})
	}
	return p
}

func TestNonZeroRequests(t *testing.T) {
	r := fw.PodRequests(pod("p", "", ""), true)
	diff(t, []int64{fw.DefaultMilliCPURequest, fw.DefaultMemoryRequest}, []int64{r.MilliCPU, r.Memory})
	r = fw.PodRequests(pod("p", "300m", "1Gi"), true)
	diff(t, []int64{300, 1 << 30}, []int64{r.MilliCPU, r.Memory})
}

// A pod resized down in place frees room on its node only once the kubelet has
// applied the smaller size.
func TestNodeResourcesFitSeesInPlaceResizes(t *testing.T) {
	inFlight := nodeInfo(node("in-flight", "1", "1Gi"), resized(pod("x", "200m", ""), "800m", ""))
	applied := nodeInfo(node("applied", "1", "1Gi"), resized(pod("y", "200m", ""), "200m", ""))
	diff(t, map[string]verdict{"in-flight": reject(fw.Unschedulable, "Insufficient cpu"), "applied": fits},
		runFilter(t, &NodeResourcesFit{}, pod("p", "500m", ""), snapshot{inFlight, applied}))
}

func TestNodeResourcesFitScore(t *testing.T) {
	empty := nodeInfo(node("empty", "4", "4Gi"))
	half := nodeInfo(node("half", "4", "4Gi"), pod("x", "2", "2Gi"))
	pi := fw.NewPodInfo(pod("p", "1", "1Gi"))
	tests := []struct {
		strategy Strategy
		want     []int64
	}{
		{LeastAllocated, []int64{75, 25}},
		{MostAllocated, []int64{25, 75}},
	}
	for _, tt := range tests {
		t.Run(string(tt.strategy), func(t *testing.T) {
			f := &NodeResourcesFit{Strategy: tt.strategy}
			diff(t, tt.want, []int64{f.Score(nil, pi, empty), f.Score(nil, pi, half)})
		})
	}
}

func TestBalancedAllocation(t *testing.T) {
	balanced := nodeInfo(node("balanced", "4", "4Gi"))
	skewed := nodeInfo(node("skewed", "4", "4Gi"), pod("x", "3", "100Mi"))
	pi := fw.NewPodInfo(pod("p", "1", "1Gi"))
	got := []int64{BalancedAllocation{}.Score(nil, pi, balanced), BalancedAllocation{}.Score(nil, pi, skewed)}
	if got[0] != 100 || got[1] >= got[0] {
		t.Errorf("scores %v: want balanced node at 100 and skewed node lower", got)
	}
}

func TestNodePorts(t *testing.T) {
	withPort := func(name, ip string, port int32) *v1.Pod {
		p := pod(name, "", "")
		p.Spec.Containers[0].Ports = []v1.ContainerPort{{HostIP: ip, HostPort: port, ContainerPort: 80}}
		return p
	}
	snap := snapshot{
		nodeInfo(node("any", "1", "1Gi"), withPort("x", "", 8080)),
		nodeInfo(node("ip", "1", "1Gi"), withPort("y", "10.0.0.1", 8080)),
		nodeInfo(node("free", "1", "1Gi")),
	}
	taken := reject(fw.Unschedulable, ReasonNodePorts)
	tests := []struct {
		name string
		pod  *v1.Pod
		want map[string]verdict
	}{
		{"wildcard clashes with all", withPort("p", "", 8080), map[string]verdict{"any": taken, "ip": taken, "free": fits}},
		{"other IP on same port", withPort("p", "10.0.0.2", 8080), map[string]verdict{"any": taken, "ip": fits, "free": fits}},
		{"other port", withPort("p", "", 9090), map[string]verdict{"any": fits, "ip": fits, "free": fits}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { diff(t, tt.want, runFilter(t, NodePorts{}, tt.pod, snap)) })
	}
}

func TestImageLocality(t *testing.T) {
	with := node("with", "1", "1Gi")
	with.Status.Images = []v1.ContainerImage{{Names: []string{"big:1"}, SizeBytes: 500 << 20}}
	snap := snapshot{nodeInfo(with), nodeInfo(node("without", "1", "1Gi"))}
	p := pod("p", "", "")
	p.Spec.Containers[0].Image = "big:1"
	pi := fw.NewPodInfo(p)
	l := &ImageLocality{}
	state := fw.NewCycleState()
	if st := l.PreScore(state, pi, snap, snap); !st.IsSuccess() {
		t.Fatalf("PreScore: %v", st)
	}
	got := []int64{l.Score(state, pi, snap[0]), l.Score(state, pi, snap[1])}
	if got[0] <= 0 || got[1] != 0 {
		t.Errorf("scores %v: want a positive score only for the node holding the image", got)
	}
}

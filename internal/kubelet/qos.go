package kubelet

import (
	"path"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"skiff/internal/resources"
)

// allContainers is every container whose resources count toward the pod: init
// containers (sidecars included) and app containers.
func allContainers(pod *corev1.Pod) []corev1.Container {
	out := make([]corev1.Container, 0, len(pod.Spec.InitContainers)+len(pod.Spec.Containers))
	out = append(out, pod.Spec.InitContainers...)
	return append(out, pod.Spec.Containers...)
}

// qosClass is the pod's QoS class, computed as the API server computes it.
func qosClass(pod *corev1.Pod) corev1.PodQOSClass { return resources.QOSClass(pod) }

// podCgroupParent is the pod's cgroup under the node's prefix, laid out by QoS class so
// that an operator can see (and later the eviction manager can cap) each class.
func podCgroupParent(prefix string, pod *corev1.Pod) string {
	leaf := "pod" + string(pod.UID)
	switch qosClass(pod) {
	case corev1.PodQOSBurstable:
		return path.Join(prefix, "burstable", leaf)
	case corev1.PodQOSBestEffort:
		return path.Join(prefix, "besteffort", leaf)
	}
	return path.Join(prefix, leaf)
}

const (
	minShares     = 2
	sharesPerCPU  = 1024
	quotaPeriodUs = 100000
	minQuotaUs    = 1000
)

// milliToShares converts a cpu request to cgroup v1 cpu.shares.
func milliToShares(milli int64) int64 {
	if milli <= 0 {
		return minShares
	}
	return max(milli*sharesPerCPU/1000, minShares)
}

// milliToQuota converts a cpu limit to a CFS quota over quotaPeriodUs.
func milliToQuota(milli int64) int64 {
	if milli <= 0 {
		return 0
	}
	return max(milli*quotaPeriodUs/1000, minQuotaUs)
}

// request returns a container's request for r, falling back to the limit as the API
// defaults it.
func request(c *corev1.Container, r corev1.ResourceName) resource.Quantity {
	if q, ok := c.Resources.Requests[r]; ok {
		return q
	}
	return c.Resources.Limits[r]
}

// containerResources maps a container's requests and limits to CRI linux resources.
// memCapacity scales the OOM score of Burstable containers by their memory request.
func containerResources(pod *corev1.Pod, c *corev1.Container, memCapacity int64) *runtimeapi.LinuxContainerResources {
	cpuReq := request(c, corev1.ResourceCPU)
	r := &runtimeapi.LinuxContainerResources{CpuShares: milliToShares(cpuReq.MilliValue())}
	if lim, ok := c.Resources.Limits[corev1.ResourceCPU]; ok && !lim.IsZero() {
		r.CpuPeriod, r.CpuQuota = quotaPeriodUs, milliToQuota(lim.MilliValue())
	}
	if lim, ok := c.Resources.Limits[corev1.ResourceMemory]; ok && !lim.IsZero() {
		r.MemoryLimitInBytes = lim.Value()
	}
	memReq := request(c, corev1.ResourceMemory)
	r.OomScoreAdj = oomScoreAdj(qosClass(pod), memReq.Value(), memCapacity)
	return r
}

// oomScoreAdj makes the kernel kill BestEffort first and Guaranteed last; Burstable
// containers rank by how much of the machine they asked for. (With
// restrict_oom_score_adj the runtime clamps values below its own.)
func oomScoreAdj(q corev1.PodQOSClass, memRequest, memCapacity int64) int64 {
	switch q {
	case corev1.PodQOSGuaranteed:
		return -997
	case corev1.PodQOSBestEffort:
		return 1000
	}
	if memCapacity <= 0 {
		return 999
	}
	adj := 1000 - (1000*memRequest)/memCapacity
	return min(max(adj, 2), 999)
}

// podLimits are the pod-level cgroup values: the sum over app containers, or the
// largest init container if that is more (init containers run one at a time). A limit
// is 0 unless every container sets one.
type podLimits struct {
	CPUShares   int64
	CPUQuota    int64
	MemoryLimit int64
}

func podCgroupLimits(pod *corev1.Pod) podLimits {
	sum := func(cs []corev1.Container, r corev1.ResourceName, limits bool) (total, largest int64, all bool) {
		all = true
		for i := range cs {
			var q resource.Quantity
			var ok bool
			if limits {
				q, ok = cs[i].Resources.Limits[r]
			} else {
				q, ok = request(&cs[i], r), true
			}
			if !ok || q.IsZero() {
				all = false
				continue
			}
			v := q.Value()
			if r == corev1.ResourceCPU {
				v = q.MilliValue()
			}
			total += v
			largest = max(largest, v)
		}
		return total, largest, all
	}
	pick := func(r corev1.ResourceName, limits bool) (int64, bool) {
		app, _, allApp := sum(pod.Spec.Containers, r, limits)
		_, initMax, allInit := sum(pod.Spec.InitContainers, r, limits)
		return max(app, initMax), allApp && allInit
	}
	var l podLimits
	cpuReq, _ := pick(corev1.ResourceCPU, false)
	l.CPUShares = milliToShares(cpuReq)
	if cpuLim, all := pick(corev1.ResourceCPU, true); all {
		l.CPUQuota = milliToQuota(cpuLim)
	}
	if memLim, all := pick(corev1.ResourceMemory, true); all {
		l.MemoryLimit = memLim
	}
	return l
}

package framework

import (
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	resourcehelper "k8s.io/component-helpers/resource"
)

// Defaults used for scoring pods that request nothing, so that a node full of
// "free" pods does not look empty to the spreading scores.
const (
	DefaultMilliCPURequest int64 = 100               // 0.1 core
	DefaultMemoryRequest   int64 = 200 * 1024 * 1024 // 200 MiB
)

// Resource is a compact sum of requests or allocatable capacity. Scalar holds
// extended resources (nvidia.com/gpu, hugepages-*) by name.
type Resource struct {
	MilliCPU         int64
	Memory           int64
	EphemeralStorage int64
	AllowedPods      int64
	Scalar           map[v1.ResourceName]int64
}

// Add adds every resource of list to r.
func (r *Resource) Add(list v1.ResourceList) {
	for name, q := range list {
		r.addOne(name, q.MilliValue(), q.Value())
	}
}

func (r *Resource) addOne(name v1.ResourceName, milli, val int64) {
	switch name {
	case v1.ResourceCPU:
		r.MilliCPU += milli
	case v1.ResourceMemory:
		r.Memory += val
	case v1.ResourceEphemeralStorage:
		r.EphemeralStorage += val
	case v1.ResourcePods:
		r.AllowedPods += val
	default:
		if isScalar(name) {
			if r.Scalar == nil {
				r.Scalar = map[v1.ResourceName]int64{}
			}
			r.Scalar[name] += val
		}
	}
}

// isScalar reports whether name is a resource the scheduler counts beyond the
// built-in four: extended resources (a domain prefix) and hugepages.
func isScalar(name v1.ResourceName) bool {
	s := string(name)
	for i := 0; i < len(s); i++ {
		if s[i] == '/' {
			return true
		}
	}
	return len(s) > 10 && s[:10] == "hugepages-"
}

// AddResource adds o to r.
func (r *Resource) AddResource(o *Resource) {
	r.MilliCPU += o.MilliCPU
	r.Memory += o.Memory
	r.EphemeralStorage += o.EphemeralStorage
	r.AllowedPods += o.AllowedPods
	for k, v := range o.Scalar {
		if r.Scalar == nil {
			r.Scalar = map[v1.ResourceName]int64{}
		}
		r.Scalar[k] += v
	}
}

// SubResource subtracts o from r.
func (r *Resource) SubResource(o *Resource) {
	r.MilliCPU -= o.MilliCPU
	r.Memory -= o.Memory
	r.EphemeralStorage -= o.EphemeralStorage
	r.AllowedPods -= o.AllowedPods
	for k, v := range o.Scalar {
		if r.Scalar != nil {
			r.Scalar[k] -= v
		}
	}
}

// Clone returns a deep copy.
func (r Resource) Clone() Resource {
	if r.Scalar != nil {
		m := make(map[v1.ResourceName]int64, len(r.Scalar))
		for k, v := range r.Scalar {
			m[k] = v
		}
		r.Scalar = m
	}
	return r
}

// PodRequests computes what a pod asks of a node the way Kubernetes counts it (with
// component-helpers' PodRequests): regular containers and restartable init
// containers (sidecars) run together and add up; each classic init container runs
// alone, next to the sidecars started before it, so the pod needs the larger of the
// two; pod-level requests replace the container sum when set; overhead comes on top.
// A pod being resized in place holds the larger of what its spec asks and what the
// kubelet allocated or applied (status), so a node is not overcommitted while the
// resize is in flight; an infeasible resize holds only what was allocated.
// nonZero applies the scoring defaults to containers that request no cpu/memory.
func PodRequests(pod *v1.Pod, nonZero bool) Resource {
	opts := resourcehelper.PodResourcesOptions{UseStatusResources: true}
	reqs := resourcehelper.PodRequests(pod, opts)
	if nonZero {
		opts.NonMissingContainerRequests = nonMissingRequests(reqs, resourcehelper.IsPodLevelRequestsSet(pod))
		reqs = resourcehelper.PodRequests(pod, opts)
	}
	var sum Resource
	sum.Add(reqs)
	return sum
}

// nonMissingRequests are the scoring defaults for containers without a cpu or memory
// request; with pod-level requests, only for what the pod level leaves unset.
func nonMissingRequests(podRequests v1.ResourceList, podLevel bool) v1.ResourceList {
	out := v1.ResourceList{}
	if _, ok := podRequests[v1.ResourceCPU]; !podLevel || !ok {
		out[v1.ResourceCPU] = *resource.NewMilliQuantity(DefaultMilliCPURequest, resource.DecimalSI)
	}
	if _, ok := podRequests[v1.ResourceMemory]; !podLevel || !ok {
		out[v1.ResourceMemory] = *resource.NewQuantity(DefaultMemoryRequest, resource.BinarySI)
	}
	return out
}

package framework

import (
	v1 "k8s.io/api/core/v1"
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

// max keeps, per resource, the larger of r and o.
func (r *Resource) max(o *Resource) {
	r.MilliCPU = max(r.MilliCPU, o.MilliCPU)
	r.Memory = max(r.Memory, o.Memory)
	r.EphemeralStorage = max(r.EphemeralStorage, o.EphemeralStorage)
	for k, v := range o.Scalar {
		if r.Scalar == nil {
			r.Scalar = map[v1.ResourceName]int64{}
		}
		r.Scalar[k] = max(r.Scalar[k], v)
	}
}

// PodRequests computes what a pod asks of a node the way Kubernetes counts it:
// regular containers and restartable init containers (sidecars) run together and
// add up; each classic init container runs alone, next to the sidecars started
// before it, so the pod needs the larger of the two; pod overhead comes on top.
// Pod-level resources (spec.resources) replace the container sum when set.
// nonZero applies the scoring defaults to containers that request no cpu/memory.
func PodRequests(pod *v1.Pod, nonZero bool) Resource {
	var sum, sidecars, initPeak Resource
	for i := range pod.Spec.Containers {
		sum.AddResource(containerRequests(&pod.Spec.Containers[i], nonZero))
	}
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		req := containerRequests(c, nonZero)
		if c.RestartPolicy != nil && *c.RestartPolicy == v1.ContainerRestartPolicyAlways {
			sum.AddResource(req)
			sidecars.AddResource(req)
			initPeak.max(&sidecars)
			continue
		}
		peak := sidecars.Clone()
		peak.AddResource(req)
		initPeak.max(&peak)
	}
	sum.max(&initPeak)
	if pr := pod.Spec.Resources; pr != nil && len(pr.Requests) > 0 {
		podLevel := Resource{}
		podLevel.Add(pr.Requests)
		if _, ok := pr.Requests[v1.ResourceCPU]; ok {
			sum.MilliCPU = podLevel.MilliCPU
		}
		if _, ok := pr.Requests[v1.ResourceMemory]; ok {
			sum.Memory = podLevel.Memory
		}
	}
	if pod.Spec.Overhead != nil {
		sum.Add(pod.Spec.Overhead)
	}
	return sum
}

func containerRequests(c *v1.Container, nonZero bool) *Resource {
	r := &Resource{}
	r.Add(c.Resources.Requests)
	if nonZero {
		if _, ok := c.Resources.Requests[v1.ResourceCPU]; !ok || r.MilliCPU == 0 {
			r.MilliCPU = DefaultMilliCPURequest
		}
		if _, ok := c.Resources.Requests[v1.ResourceMemory]; !ok || r.Memory == 0 {
			r.Memory = DefaultMemoryRequest
		}
	}
	return r
}

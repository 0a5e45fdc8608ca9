package vpa

import (
	"math"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// Aggregate is one container's usage history across the pods a VPA covers.
type Aggregate struct {
	CPU, Memory       *Histogram
	FirstSample, Last time.Time
	Samples           int
}

func NewAggregate() *Aggregate {
	return &Aggregate{CPU: NewHistogram(CPUBuckets, DefaultHalfLife), Memory: NewHistogram(MemoryBuckets, DefaultHalfLife)}
}

// minCPUSampleWeight keeps samples of containers that request (almost) no CPU in
// the picture: upstream weighs CPU samples by the container's request.
const minCPUSampleWeight = 0.1

// AddSample records one observation: CPU in cores, memory (working set) in bytes,
// and the container's CPU request in cores at the time.
func (a *Aggregate) AddSample(cpuCores, memBytes, cpuRequest float64, t time.Time) {
	a.CPU.Add(cpuCores, max(cpuRequest, minCPUSampleWeight), t)
	a.Memory.Add(memBytes, 1, t)
	if a.FirstSample.IsZero() || t.Before(a.FirstSample) {
		a.FirstSample = t
	}
	if t.After(a.Last) {
		a.Last = t
	}
	a.Samples++
}

// Estimation constants, upstream's: the target is the 90th percentile, the bounds the
// 50th and 95th, each with a 15% safety margin; a pod never gets less than 25
// millicores and 250 MiB in total.
const (
	targetPercentile = 0.9
	lowerPercentile  = 0.5
	upperPercentile  = 0.95
	safetyMargin     = 0.15
	podMinCPU        = 0.025
	podMinMemory     = 250 * 1024 * 1024
)

// confidence grows with history: the days it spans, or the samples taken as if one a
// minute over a day, whichever is less.
func (a *Aggregate) confidence() float64 {
	days := a.Last.Sub(a.FirstSample).Hours() / 24
	return min(days, float64(a.Samples)/(60*24))
}

// Estimate returns the raw recommendation for one container of a pod with
// containers containers (the pod minimum is shared among them). The lower bound
// widens while confidence is low, the upper bound even more, so that a young VPA
// does not evict pods over a few samples.
func (a *Aggregate) Estimate(containers int) ContainerRecommendation {
	containers = max(containers, 1)
	minCPU, minMem := podMinCPU/float64(containers), podMinMemory/float64(containers)
	conf := a.confidence()
	est := func(h *Histogram, p, floor float64, scale func(float64) float64) float64 {
		return max(scale(h.Percentile(p)*(1+safetyMargin)), floor)
	}
	same := func(v float64) float64 { return v }
	lowerScale := func(v float64) float64 {
		if conf <= 0 {
			return 0
		}
		return v * math.Pow(1+0.001/conf, -2)
	}
	upperScale := func(v float64) float64 {
		if conf <= 0 {
			return math.Inf(1)
		}
		return v * (1 + 1/conf)
	}
	list := func(cpu, mem float64) corev1.ResourceList {
		return corev1.ResourceList{corev1.ResourceCPU: cpuQuantity(cpu), corev1.ResourceMemory: memQuantity(mem)}
	}
	target := list(est(a.CPU, targetPercentile, minCPU, same), est(a.Memory, targetPercentile, minMem, same))
	return ContainerRecommendation{
		Target:     target,
		LowerBound: list(est(a.CPU, lowerPercentile, minCPU, lowerScale), est(a.Memory, lowerPercentile, minMem, lowerScale)),
		UpperBound: list(min(est(a.CPU, upperPercentile, minCPU, upperScale), CPUBuckets.Max), min(est(a.Memory, upperPercentile, minMem, upperScale), MemoryBuckets.Max)),
	}
}

// cpuQuantity rounds cores up to whole millicores, memory to whole MiB above 1 GiB
// and KiB below: values a person can read in `kubectl get vpa`.
func cpuQuantity(cores float64) resource.Quantity {
	return *resource.NewMilliQuantity(int64(math.Ceil(cores*1000)), resource.DecimalSI)
}

func memQuantity(b float64) resource.Quantity {
	unit := 1024.0
	if b >= 1<<30 {
		unit = 1 << 20
	}
	return *resource.NewQuantity(int64(math.Ceil(b/unit)*unit), resource.BinarySI)
}

// PolicyFor is the container's policy: the one naming it, else the "*" one.
func PolicyFor(rp *ResourcePolicy, container string) *ContainerPolicy {
	if rp == nil {
		return nil
	}
	var def *ContainerPolicy
	for i := range rp.ContainerPolicies {
		p := &rp.ContainerPolicies[i]
		switch p.ContainerName {
		case container:
			return p
		case "*":
			def = p
		}
	}
	return def
}

// controlled lists the resources a policy lets the VPA set (both by default).
func controlled(p *ContainerPolicy) []corev1.ResourceName {
	if p == nil || p.ControlledResources == nil {
		return []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory}
	}
	return *p.ControlledResources
}

// ApplyPolicy turns a raw estimate into what the VPA publishes: uncappedTarget is
// the estimate, target and bounds are clamped into [minAllowed, maxAllowed], and only
// controlled resources appear. ok is false for a container whose policy mode is Off.
func ApplyPolicy(raw ContainerRecommendation, p *ContainerPolicy) (ContainerRecommendation, bool) {
	if p != nil && p.Mode != nil && *p.Mode == "Off" {
		return ContainerRecommendation{}, false
	}
	keep := controlled(p)
	pick := func(l corev1.ResourceList, clamp bool) corev1.ResourceList {
		out := corev1.ResourceList{}
		for _, r := range keep {
			q, ok := l[r]
			if !ok {
				continue
			}
			if clamp && p != nil {
				if lo, ok := p.MinAllowed[r]; ok && q.Cmp(lo) < 0 {
					q = lo
				}
				if hi, ok := p.MaxAllowed[r]; ok && q.Cmp(hi) > 0 {
					q = hi
				}
			}
			out[r] = q.DeepCopy()
		}
		return out
	}
	return ContainerRecommendation{ContainerName: raw.ContainerName, Target: pick(raw.Target, true),
		LowerBound: pick(raw.LowerBound, true), UpperBound: pick(raw.UpperBound, true), UncappedTarget: pick(raw.Target, false)}, true
}

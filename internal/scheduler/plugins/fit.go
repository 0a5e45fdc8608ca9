package plugins

import fw "skiff/internal/scheduler/framework"

// ReasonTooManyPods is reported when a node is at its pods capacity.
const ReasonTooManyPods = "Too many pods"

// Strategy names how NodeResourcesFit scores nodes.
type Strategy string

const (
	// LeastAllocated prefers emptier nodes, spreading load (the default profile).
	LeastAllocated Strategy = "LeastAllocated"
	// MostAllocated prefers fuller nodes, packing pods onto few (the bin-pack profile).
	MostAllocated Strategy = "MostAllocated"
)

// NodeResourcesFit rejects nodes without room for the pod's requests and scores the
// rest by cpu and memory allocation according to its strategy.
type NodeResourcesFit struct {
	Strategy Strategy
}

// Name implements fw.Plugin.
func (*NodeResourcesFit) Name() string { return NodeResourcesFitName }

// Filter implements fw.FilterPlugin. It reports every resource that is short, not
// just the first, so the message tells the whole story.
func (*NodeResourcesFit) Filter(_ *fw.CycleState, pod *fw.PodInfo, n *fw.NodeInfo) *fw.Status {
	var reasons []string
	if int64(len(n.Pods))+1 > n.Allocatable.AllowedPods {
		reasons = append(reasons, ReasonTooManyPods)
	}
	want, have, free := &pod.Requests, &n.Requested, &n.Allocatable
	if want.MilliCPU > 0 && have.MilliCPU+want.MilliCPU > free.MilliCPU {
		reasons = append(reasons, "Insufficient cpu")
	}
	if want.Memory > 0 && have.Memory+want.Memory > free.Memory {
		reasons = append(reasons, "Insufficient memory")
	}
	if want.EphemeralStorage > 0 && have.EphemeralStorage+want.EphemeralStorage > free.EphemeralStorage {
		reasons = append(reasons, "Insufficient ephemeral-storage")
	}
	for name, q := range want.Scalar {
		if q > 0 && have.Scalar[name]+q > free.Scalar[name] {
			reasons = append(reasons, "Insufficient "+string(name))
		}
	}
	if len(reasons) == 0 {
		return nil
	}
	return unschedulable(reasons...)
}

// Score implements fw.ScorePlugin, weighing cpu and memory equally.
func (f *NodeResourcesFit) Score(_ *fw.CycleState, pod *fw.PodInfo, n *fw.NodeInfo) int64 {
	cpu := f.resourceScore(n.NonZeroRequested.MilliCPU+pod.NonZeroRequests.MilliCPU, n.Allocatable.MilliCPU)
	mem := f.resourceScore(n.NonZeroRequested.Memory+pod.NonZeroRequests.Memory, n.Allocatable.Memory)
	return (cpu + mem) / 2
}

func (f *NodeResourcesFit) resourceScore(requested, capacity int64) int64 {
	if capacity == 0 {
		return 0
	}
	requested = min(requested, capacity)
	if f.Strategy == MostAllocated {
		return requested * fw.MaxScore / capacity
	}
	return (capacity - requested) * fw.MaxScore / capacity
}

// BalancedAllocation prefers nodes whose cpu and memory would be used in similar
// proportions, so neither is stranded.
type BalancedAllocation struct{}

// Name implements fw.Plugin.
func (BalancedAllocation) Name() string { return BalancedAllocationName }

// Score implements fw.ScorePlugin. With two resources the standard deviation of the
// fractions is half their difference.
func (BalancedAllocation) Score(_ *fw.CycleState, pod *fw.PodInfo, n *fw.NodeInfo) int64 {
	cpu := fraction(n.NonZeroRequested.MilliCPU+pod.NonZeroRequests.MilliCPU, n.Allocatable.MilliCPU)
	mem := fraction(n.NonZeroRequested.Memory+pod.NonZeroRequests.Memory, n.Allocatable.Memory)
	std := cpu - mem
	if std < 0 {
		std = -std
	}
	std /= 2
	return int64((1 - std) * float64(fw.MaxScore))
}

func fraction(requested, capacity int64) float64 {
	if capacity == 0 {
		return 1
	}
	return min(float64(requested)/float64(capacity), 1)
}

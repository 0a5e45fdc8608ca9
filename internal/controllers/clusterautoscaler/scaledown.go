package clusterautoscaler

import (
	"context"
	"fmt"

	v1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"skiff/internal/nodepool"
	"skiff/internal/scheduler"
	fw "skiff/internal/scheduler/framework"
)

const (
	// SafeToEvictAnnotation is the real autoscaler's per-pod override.
	SafeToEvictAnnotation = "cluster-autoscaler.kubernetes.io/safe-to-evict"
	// utilizationThreshold: a node below it in both CPU and memory is unneeded.
	utilizationThreshold = 0.5
)

// Candidate is a node that could be removed now, with the pods to evict from it.
type Candidate struct {
	Node string
	Pool string
	Pods []*v1.Pod
}

// PlanScaleDown lists the pool nodes that are under half requested in CPU and
// memory and whose pods all fit on the other nodes (asked of the scheduler's
// filters, with the moved pods added as it goes so two candidates do not count on
// the same room). A pool never drops below its min. Blocked maps the nodes that are
// under-used but must stay to why.
func PlanScaleDown(ctx context.Context, fc *scheduler.FitChecker, c Cluster) (cands []Candidate, blocked map[string]string) {
	blocked = map[string]string{}
	snap := newSnapshot(c.Nodes)
	removable := map[string]int{}
	for _, p := range c.Pools {
		removable[p.Name] = c.Desired[p.Name] - p.Min
	}
	gone, receivers := map[string]bool{}, map[string]bool{}
	budgets := newBudgets(c.PDBs)
	for _, ni := range c.Nodes {
		if ni.Node.Spec.Unschedulable || markedForDeletion(ni.Node) {
			gone[ni.Name()] = true
		}
	}
	for _, ni := range c.Nodes {
		pool, ok := ni.Node.Labels[nodepool.Label]
		if !ok || gone[ni.Name()] || !underUsed(ni) {
			continue
		}
		if receivers[ni.Name()] {
			blocked[ni.Name()] = "takes the pods of a node being removed"
			continue
		}
		if removable[pool] <= 0 {
			blocked[ni.Name()] = "pool is at its minimum size"
			continue
		}
		pods, why := podsToMove(ni)
		if why == "" {
			// A pod its budget will not let go keeps the node: planning its move
			// anyway would reserve room on other nodes and hold them back too.
			why = budgets.check(pods)
		}
		if why == "" {
			gone[ni.Name()] = true
			if why = moveAll(ctx, fc, snap, pods, gone, receivers); why != "" {
				delete(gone, ni.Name())
			}
		}
		if why != "" {
			blocked[ni.Name()] = why
			continue
		}
		removable[pool]--
		budgets.take(pods)
		cands = append(cands, Candidate{Node: ni.Name(), Pool: pool, Pods: pods})
	}
	return cands, blocked
}

func markedForDeletion(n *v1.Node) bool {
	for _, t := range n.Spec.Taints {
		if t.Key == nodepool.ToBeDeletedTaint {
			return true
		}
	}
	return n.DeletionTimestamp != nil
}

// underUsed: requested CPU and memory are both under the threshold of allocatable.
func underUsed(ni *fw.NodeInfo) bool {
	frac := func(req, alloc int64) float64 {
		if alloc == 0 {
			return 1
		}
		return float64(req) / float64(alloc)
	}
	return frac(ni.Requested.MilliCPU, ni.Allocatable.MilliCPU) < utilizationThreshold &&
		frac(ni.Requested.Memory, ni.Allocatable.Memory) < utilizationThreshold
}

// podsToMove returns the pods a drain must evict (DaemonSet and mirror pods stay
// with the node), or why one of them cannot go.
func podsToMove(ni *fw.NodeInfo) ([]*v1.Pod, string) {
	var out []*v1.Pod
	for _, pi := range ni.Pods {
		p := pi.Pod
		if p.DeletionTimestamp != nil || isDaemon(p) {
			continue
		}
		if _, mirror := p.Annotations[v1.MirrorPodAnnotationKey]; mirror {
			continue
		}
		switch p.Annotations[SafeToEvictAnnotation] {
		case "false":
			return nil, "pod " + p.Namespace + "/" + p.Name + " is annotated safe-to-evict=false"
		case "true":
		default:
			if hasLocalStorage(p) {
				return nil, "pod " + p.Namespace + "/" + p.Name + " has local storage"
			}
		}
		out = append(out, p)
	}
	return out, ""
}

func isDaemon(p *v1.Pod) bool {
	ref := metav1.GetControllerOf(p)
	return ref != nil && ref.Kind == "DaemonSet"
}

func hasLocalStorage(p *v1.Pod) bool {
	for _, v := range p.Spec.Volumes {
		if v.EmptyDir != nil || v.HostPath != nil {
			return true
		}
	}
	return false
}

// moveAll places every pod on a node not in gone, first-fit, and keeps the
// placements; if one pod has nowhere to go, the placements are undone.
// Nodes that take pods are added to receivers: they cannot go in the same plan.
func moveAll(ctx context.Context, fc *scheduler.FitChecker, snap *snapshot, pods []*v1.Pod, gone, receivers map[string]bool) string {
	type placement struct {
		pod *v1.Pod
		ni  *fw.NodeInfo
		// first: this placement made ni a receiver.
		first bool
	}
	var done []placement
	undo := func() {
		for _, pl := range done {
			pl.ni.RemovePod(pl.pod.UID)
		}
		for _, pl := range done {
			if pl.first {
				delete(receivers, pl.ni.Name())
			}
		}
	}
	for _, p := range pods {
		moved := p.DeepCopy()
		moved.Spec.NodeName = ""
		pi := fw.NewPodInfo(moved)
		state, st := fc.PreFilter(ctx, pi, snap)
		var target *fw.NodeInfo
		for _, ni := range snap.nodes {
			if st.IsSuccess() && !gone[ni.Name()] && fc.Filter(state, pi, ni).IsSuccess() {
				target = ni
				break
			}
		}
		if target == nil {
			undo()
			return "pod " + p.Namespace + "/" + p.Name + " cannot move to another node"
		}
		target.AddPod(pi)
		done = append(done, placement{moved, target, !receivers[target.Name()]})
		receivers[target.Name()] = true
	}
	return ""
}

// budgets are the disruptions each PodDisruptionBudget still allows in this plan.
type budgets struct {
	pdbs []*policyv1.PodDisruptionBudget
	sels []labels.Selector
	left []int32
}

func newBudgets(pdbs []*policyv1.PodDisruptionBudget) *budgets {
	b := &budgets{}
	for _, p := range pdbs {
		sel, err := metav1.LabelSelectorAsSelector(p.Spec.Selector)
		if err != nil || p.Spec.Selector == nil {
			continue
		}
		b.pdbs, b.sels, b.left = append(b.pdbs, p), append(b.sels, sel), append(b.left, p.Status.DisruptionsAllowed)
	}
	return b
}

// covering lists the budgets that cover pod.
func (b *budgets) covering(pod *v1.Pod) []int {
	var out []int
	for i, p := range b.pdbs {
		if p.Namespace == pod.Namespace && b.sels[i].Matches(labels.Set(pod.Labels)) {
			out = append(out, i)
		}
	}
	return out
}

// check says why the pods cannot all be evicted, or "".
func (b *budgets) check(pods []*v1.Pod) string {
	need := make([]int32, len(b.pdbs))
	for _, p := range pods {
		for _, i := range b.covering(p) {
			if need[i]++; need[i] > b.left[i] {
				return fmt.Sprintf("pod %s/%s is protected by PodDisruptionBudget %s (%d disruptions allowed)",
					p.Namespace, p.Name, b.pdbs[i].Name, b.pdbs[i].Status.DisruptionsAllowed)
			}
		}
	}
	return ""
}

// take spends the budgets of pods planned for eviction.
func (b *budgets) take(pods []*v1.Pod) {
	for _, p := range pods {
		for _, i := range b.covering(p) {
			b.left[i]--
		}
	}
}

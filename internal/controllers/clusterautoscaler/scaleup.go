package clusterautoscaler

import (
	"context"
	"fmt"
	policyv1 "k8s.io/api/policy/v1"
	"sort"
	"strings"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"skiff/internal/nodepool"
	"skiff/internal/scheduler"
	fw "skiff/internal/scheduler/framework"
)

// Cluster is what a decision looks at. The decision adds pods to the NodeInfos as it
// simulates placements, so callers build fresh ones for every decision.
type Cluster struct {
	Nodes   []*fw.NodeInfo
	Pools   []nodepool.Pool
	Desired map[string]int
	// PDBs limit which pods a scale-down may plan to evict.
	PDBs []*policyv1.PodDisruptionBudget
}

// ScaleUp is the chosen resize of one pool.
type ScaleUp struct {
	Pool     string
	From, To int
	// Pods are the pending pods the new nodes take.
	Pods []*v1.Pod
	// Waste is the mean unused share of CPU and memory on the new nodes.
	Waste float64
}

// UpPlan is a scale-up decision: at most one pool is resized, in one step.
type UpPlan struct {
	ScaleUp *ScaleUp
	// NoFit holds, for pending pods no pool can help, why not.
	NoFit map[types.UID]string
}

// group is pods of one controller: they share a spec, so one PreFilter serves them
// all, and a node that rejected one rejects the next (nodes only fill up), which
// makes first-fit linear rather than pods × nodes.
type group struct {
	state    *fw.CycleState
	rejected *fw.Status
	cursor   int
}

type grouper struct {
	ctx    context.Context
	fc     *scheduler.FitChecker
	snap   fw.Snapshot
	groups map[types.UID]*group
}

func groupKey(p *v1.Pod) types.UID {
	if ref := metav1.GetControllerOf(p); ref != nil {
		return ref.UID
	}
	return p.UID
}

func (g *grouper) of(pi *fw.PodInfo) *group {
	k := groupKey(pi.Pod)
	gr := g.groups[k]
	if gr == nil {
		gr = &group{}
		gr.state, gr.rejected = g.fc.PreFilter(g.ctx, pi, g.snap)
		g.groups[k] = gr
	}
	return gr
}

// firstFit places pi on the first of nodes that fits, starting at the group's cursor,
// and returns it (nil if none fits).
func (g *grouper) firstFit(gr *group, pi *fw.PodInfo, nodes []*fw.NodeInfo) *fw.NodeInfo {
	if !gr.rejected.IsSuccess() {
		return nil
	}
	for ; gr.cursor < len(nodes); gr.cursor++ {
		ni := nodes[gr.cursor]
		if g.fc.Filter(gr.state, pi, ni).IsSuccess() {
			g.fc.AddPod(gr.state, pi, pi, ni)
			ni.AddPod(pi)
			return ni
		}
	}
	return nil
}

// PlanScaleUp decides which pool to grow, and by how many nodes, so that the pending
// pods fit. Pods that fit a node that exists or is already coming (desired above the
// registered count) need nothing. For the rest, each pool's template node is checked
// with the scheduler's filters and the pods are bin-packed first-fit onto as many
// template nodes as they need, capped at the pool's max; the pool that wastes the
// least CPU and memory wins.
func PlanScaleUp(ctx context.Context, fc *scheduler.FitChecker, c Cluster, pending []*v1.Pod) UpPlan {
	nodes := append([]*fw.NodeInfo(nil), c.Nodes...)
	registered := map[string]int{}
	for _, ni := range c.Nodes {
		if p, ok := ni.Node.Labels[nodepool.Label]; ok {
			registered[p]++
		}
	}
	for _, p := range c.Pools {
		for i := registered[p.Name]; i < c.Desired[p.Name]; i++ {
			nodes = append(nodes, fw.NewNodeInfo(p.Template(fmt.Sprintf("%s-upcoming-%d", p.Name, i))))
		}
	}
	g := &grouper{ctx: ctx, fc: fc, snap: newSnapshot(nodes), groups: map[types.UID]*group{}}
	var rest []*fw.PodInfo
	for _, p := range pending {
		pi := fw.NewPodInfo(p)
		if g.firstFit(g.of(pi), pi, nodes) == nil {
			rest = append(rest, pi)
		}
	}
	plan := UpPlan{NoFit: map[types.UID]string{}}
	if len(rest) == 0 {
		return plan
	}
	reasons := make([]map[string]int, len(rest))
	for i := range reasons {
		reasons[i] = map[string]int{}
	}
	var best *ScaleUp
	for _, p := range c.Pools {
		opt := packPool(g, p, c.Desired[p.Name], rest, reasons)
		if opt != nil && (best == nil || better(opt, best)) {
			best = opt
		}
	}
	plan.ScaleUp = best
	helped := map[types.UID]bool{}
	if best != nil {
		for _, p := range best.Pods {
			helped[p.UID] = true
		}
	}
	for i, pi := range rest {
		if !helped[pi.Pod.UID] && len(reasons[i]) > 0 {
			plan.NoFit[pi.Pod.UID] = noFitMessage(reasons[i])
		}
	}
	return plan
}

// better prefers less waste, then more pods helped, then the name, so the choice
// is stable.
func better(a, b *ScaleUp) bool {
	if a.Waste != b.Waste {
		return a.Waste < b.Waste
	}
	if len(a.Pods) != len(b.Pods) {
		return len(a.Pods) > len(b.Pods)
	}
	return a.Pool < b.Pool
}

// packPool bin-packs pods onto new template nodes of pool p, first-fit, and
// returns the option (nil if it helps no pod). Why a pod cannot use the pool is
// counted into reasons.
func packPool(g *grouper, p nodepool.Pool, desired int, pods []*fw.PodInfo, reasons []map[string]int) *ScaleUp {
	room := p.Max - desired
	empty := fw.NewNodeInfo(p.Template(p.Name + "-template"))
	templateFit := map[types.UID]*fw.Status{}
	cursors := map[types.UID]int{}
	var fresh []*fw.NodeInfo
	opt := &ScaleUp{Pool: p.Name, From: desired}
	for i, pi := range pods {
		gr := g.of(pi)
		if !gr.rejected.IsSuccess() {
			addReasons(reasons[i], gr.rejected)
			continue
		}
		k := groupKey(pi.Pod)
		st, seen := templateFit[k]
		if !seen {
			st = g.fc.Filter(gr.state, pi, empty)
			templateFit[k] = st
		}
		if !st.IsSuccess() {
			addReasons(reasons[i], st)
			continue
		}
		placed := false
		for c := cursors[k]; c < len(fresh) && !placed; c++ {
			if g.fc.Filter(gr.state, pi, fresh[c]).IsSuccess() {
				fresh[c].AddPod(pi)
				placed = true
			} else {
				cursors[k] = c + 1
			}
		}
		if !placed && len(fresh) < room {
			ni := fw.NewNodeInfo(p.Template(fmt.Sprintf("%s-new-%d", p.Name, len(fresh))))
			ni.AddPod(pi)
			fresh = append(fresh, ni)
			placed = true
		}
		if !placed {
			reasons[i]["max node group size reached"]++
			continue
		}
		opt.Pods = append(opt.Pods, pi.Pod)
	}
	if len(fresh) == 0 {
		return nil
	}
	opt.To = desired + len(fresh)
	opt.Waste = waste(fresh)
	return opt
}

func addReasons(into map[string]int, st *fw.Status) {
	for _, r := range st.Reasons {
		into[r]++
	}
}

// waste is the mean of the unused CPU and memory shares over nodes.
func waste(nodes []*fw.NodeInfo) float64 {
	var cpu, mem, allocCPU, allocMem float64
	for _, ni := range nodes {
		cpu += float64(ni.Requested.MilliCPU)
		mem += float64(ni.Requested.Memory)
		allocCPU += float64(ni.Allocatable.MilliCPU)
		allocMem += float64(ni.Allocatable.Memory)
	}
	return (1 - cpu/allocCPU + 1 - mem/allocMem) / 2
}

// noFitMessage reads like the real autoscaler's: how many pools gave each reason.
func noFitMessage(reasons map[string]int) string {
	parts := make([]string, 0, len(reasons))
	for r, n := range reasons {
		parts = append(parts, fmt.Sprintf("%d %s", n, r))
	}
	sort.Strings(parts)
	return "pod didn't fit any node pool: " + strings.Join(parts, ", ")
}

package scheduler

import (
	"context"
	"fmt"
	"sort"

	v1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	fw "skiff/internal/scheduler/framework"
)

// Reasons of the preemption summary.
const (
	reasonNoVictims  = "No preemption victims found for incoming pod"
	reasonNotHelpful = "Preemption is not helpful for scheduling"
	// minCandidates and candidatePercent bound how many nodes preemption evaluates
	// fully once it has found that many workable ones: a few hundred good options
	// are as good as all of them on a big cluster.
	minCandidates    = 100
	candidatePercent = 10
)

// preemption is a decision to evict victims on node so the pod fits there.
type preemption struct {
	node    string
	victims []*v1.Pod
	message string
}

// candidate is one node where evicting victims would make the pod fit.
type candidate struct {
	node       string
	victims    []*fw.PodInfo
	violations int
}

func preemptionNotHelpful(n int) string {
	return "preemption: " + availabilityMessage(n, map[string]int{reasonNotHelpful: n}, "")
}

// preempt looks for the node where evicting the fewest, lowest-priority pods makes
// the pod fit. Nodes that failed for reasons eviction cannot fix (labels, taints)
// are not tried.
func (s *Scheduler) preempt(_ context.Context, state *fw.CycleState, pi *fw.PodInfo, nodes []*fw.NodeInfo,
	statuses map[string]*fw.Status, nominated map[string][]*fw.PodInfo) *preemption {
	if p := pi.Pod.Spec.PreemptionPolicy; p != nil && *p == v1.PreemptNever {
		return &preemption{message: "preemption: not eligible due to preemptionPolicy=Never."}
	}
	if s.victimsTerminating(pi) {
		return &preemption{message: "preemption: not eligible due to a terminating pod on the nominated node."}
	}
	pdbs := s.listPDBs()
	reasons := map[string]int{}
	var cands []candidate
	limit := max(minCandidates, len(nodes)*candidatePercent/100)
	for _, ni := range nodes {
		if st := statuses[ni.Name()]; st == nil || st.Code != fw.Unschedulable {
			reasons[reasonNotHelpful]++
			continue
		}
		if len(cands) >= limit {
			continue
		}
		if c, ok := s.selectVictims(state, pi, ni, pdbs, nominated); ok {
			cands = append(cands, c)
		} else {
			reasons[reasonNoVictims]++
		}
	}
	if len(cands) == 0 {
		return &preemption{message: "preemption: " + availabilityMessage(len(nodes), reasons, "")}
	}
	best := pickCandidate(cands)
	victims := make([]*v1.Pod, len(best.victims))
	for i, v := range best.victims {
		victims[i] = v.Pod
	}
	return &preemption{node: best.node, victims: victims,
		message: fmt.Sprintf("preemption: nominated node %s, evicting %d pod(s).", best.node, len(victims))}
}

// victimsTerminating holds a preemptor back while pods on its nominated node are
// still terminating: room is being made for it already, and preempting again would
// evict more than needed.
func (s *Scheduler) victimsTerminating(pi *fw.PodInfo) bool {
	ni := s.cache.Get(pi.Pod.Status.NominatedNodeName)
	if ni == nil {
		return false
	}
	for _, p := range ni.Pods {
		if p.Pod.DeletionTimestamp != nil && fw.Priority(p.Pod) < fw.Priority(pi.Pod) {
			return true
		}
	}
	return false
}

// selectVictims removes every lower-priority pod from a copy of the node; if the
// pod then fits, it puts back as many as it can, most important first, and PDB-
// protected pods before the others, so the victims are the fewest and least
// important pods whose eviction is needed.
func (s *Scheduler) selectVictims(state *fw.CycleState, pi *fw.PodInfo, ni *fw.NodeInfo, pdbs []pdbAllowance,
	nominated map[string][]*fw.PodInfo) (candidate, bool) {
	prio := fw.Priority(pi.Pod)
	clone, cstate := ni.Clone(), state.Clone()
	var lower []*fw.PodInfo
	for _, p := range ni.Pods {
		if fw.Priority(p.Pod) < prio && p.Pod.DeletionTimestamp == nil {
			lower = append(lower, p)
			clone.RemovePod(p.Pod.UID)
			s.prof.removePod(cstate, pi, p, clone)
		}
	}
	if len(lower) == 0 || !s.filterNode(cstate, pi, clone, nominated).IsSuccess() {
		return candidate{}, false
	}
	sort.SliceStable(lower, func(i, j int) bool { return moreImportant(lower[i].Pod, lower[j].Pod) })
	protected, free := splitByPDB(lower, pdbs)
	c := candidate{node: ni.Name()}
	reprieve := func(p *fw.PodInfo) bool {
		clone.AddPod(p)
		s.prof.addPod(cstate, pi, p, clone)
		if s.filterNode(cstate, pi, clone, nominated).IsSuccess() {
			return true
		}
		clone.RemovePod(p.Pod.UID)
		s.prof.removePod(cstate, pi, p, clone)
		c.victims = append(c.victims, p)
		return false
	}
	for _, p := range protected {
		if !reprieve(p) {
			c.violations++
		}
	}
	for _, p := range free {
		reprieve(p)
	}
	return c, true
}

// moreImportant orders pods by priority, then by age (older first).
func moreImportant(a, b *v1.Pod) bool {
	if pa, pb := fw.Priority(a), fw.Priority(b); pa != pb {
		return pa > pb
	}
	return startTime(a).Before(startTime(b))
}

func startTime(p *v1.Pod) *metav1.Time {
	if p.Status.StartTime != nil {
		return p.Status.StartTime
	}
	return &p.CreationTimestamp
}

// pickCandidate prefers, in order: fewest PDB violations, the lowest priority
// among the most important victims, the lowest sum of victim priorities, the
// fewest victims.
func pickCandidate(cands []candidate) candidate {
	best := cands[0]
	for _, c := range cands[1:] {
		if candidateLess(c, best) {
			best = c
		}
	}
	return best
}

func candidateLess(a, b candidate) bool {
	if a.violations != b.violations {
		return a.violations < b.violations
	}
	if ha, hb := highestPriority(a.victims), highestPriority(b.victims); ha != hb {
		return ha < hb
	}
	if sa, sb := sumPriority(a.victims), sumPriority(b.victims); sa != sb {
		return sa < sb
	}
	return len(a.victims) < len(b.victims)
}

func highestPriority(ps []*fw.PodInfo) int32 {
	var h int32 = -1 << 31
	for _, p := range ps {
		h = max(h, fw.Priority(p.Pod))
	}
	return h
}

// sumPriority shifts priorities to be non-negative first, so that more victims
// never look cheaper than fewer.
func sumPriority(ps []*fw.PodInfo) int64 {
	var sum int64
	for _, p := range ps {
		sum += int64(fw.Priority(p.Pod)) + (1 << 31) + 1
	}
	return sum
}

// pdbAllowance is a PDB with its selector compiled and the disruptions it allows.
type pdbAllowance struct {
	namespace string
	selector  labels.Selector
	allowed   int32
}

func (s *Scheduler) listPDBs() []pdbAllowance {
	if s.pdbLister == nil {
		return nil
	}
	list, err := s.pdbLister.List(labels.Everything())
	if err != nil {
		return nil
	}
	return compilePDBs(list)
}

func compilePDBs(list []*policyv1.PodDisruptionBudget) []pdbAllowance {
	out := make([]pdbAllowance, 0, len(list))
	for _, p := range list {
		sel, err := metav1.LabelSelectorAsSelector(p.Spec.Selector)
		if err != nil || sel.Empty() {
			continue
		}
		out = append(out, pdbAllowance{namespace: p.Namespace, selector: sel, allowed: p.Status.DisruptionsAllowed})
	}
	return out
}

// splitByPDB separates pods whose eviction would exceed a PDB's allowance, counting
// each eviction against the PDBs it falls under.
func splitByPDB(pods []*fw.PodInfo, pdbs []pdbAllowance) (protected, free []*fw.PodInfo) {
	allowed := make([]int32, len(pdbs))
	for i := range pdbs {
		allowed[i] = pdbs[i].allowed
	}
	for _, p := range pods {
		violates := false
		for i := range pdbs {
			if pdbs[i].namespace != p.Pod.Namespace || !pdbs[i].selector.Matches(labels.Set(p.Pod.Labels)) {
				continue
			}
			if allowed[i]--; allowed[i] < 0 {
				violates = true
			}
		}
		if violates {
			protected = append(protected, p)
		} else {
			free = append(free, p)
		}
	}
	return protected, free
}

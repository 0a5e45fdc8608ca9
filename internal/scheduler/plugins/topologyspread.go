package plugins

import (
	"context"
	"math"
	"slices"

	v1 "k8s.io/api/core/v1"

	fw "skiff/internal/scheduler/framework"
)

// Reasons of the topology spread filter.
const (
	ReasonTopologySpread        = "node(s) didn't match pod topology spread constraints"
	ReasonTopologySpreadMissing = "node(s) didn't match pod topology spread constraints (missing required label)"
	topologySpreadFilter        = PodTopologySpreadName + "/filter"
	topologySpreadScore         = PodTopologySpreadName + "/score"
)

// PodTopologySpread keeps matching pods within maxSkew of each other across the
// domains of a topology key (DoNotSchedule), and prefers the emptier domains for
// ScheduleAnyway constraints. A pod with no constraints of its own is scored with
// the system defaults (see defaultspread.go) when DefaultSelector is set.
type PodTopologySpread struct {
	DefaultSelector SelectorFunc
}

// Name implements fw.Plugin.
func (PodTopologySpread) Name() string { return PodTopologySpreadName }

// constraint is a topology spread constraint with its selector compiled.
type constraint struct {
	maxSkew       int64
	minDomains    int64
	key           string
	selector      fw.LabelMatcher
	honorAffinity bool
	honorTaints   bool
}

// spreadState holds, per constraint, the matching pod count of each domain that has
// any, the number of eligible domains, and the smallest count, which is what skew
// is measured against.
type spreadState struct {
	constraints []constraint
	counts      []map[string]int64
	domains     []int
	minCount    []int64
	// self is 1 where the incoming pod matches constraint i's selector itself.
	self []int64
}

func (s *spreadState) Clone() fw.StateData {
	c := &spreadState{constraints: s.constraints, domains: s.domains, minCount: slices.Clone(s.minCount), self: s.self}
	for _, m := range s.counts {
		n := make(map[string]int64, len(m))
		for k, v := range m {
			n[k] = v
		}
		c.counts = append(c.counts, n)
	}
	return c
}

func buildConstraints(pod *v1.Pod, action v1.UnsatisfiableConstraintAction) ([]constraint, error) {
	var out []constraint
	for _, c := range pod.Spec.TopologySpreadConstraints {
		if c.WhenUnsatisfiable != action {
			continue
		}
		sel, err := fw.SelectorWithKeys(c.LabelSelector, pod, c.MatchLabelKeys, nil)
		if err != nil {
			return nil, err
		}
		cc := constraint{maxSkew: int64(c.MaxSkew), minDomains: 1, key: c.TopologyKey, selector: fw.NewLabelMatcher(sel),
			honorAffinity: c.NodeAffinityPolicy == nil || *c.NodeAffinityPolicy == v1.NodeInclusionPolicyHonor,
			honorTaints:   c.NodeTaintsPolicy != nil && *c.NodeTaintsPolicy == v1.NodeInclusionPolicyHonor}
		if c.MinDomains != nil {
			cc.minDomains = int64(*c.MinDomains)
		}
		out = append(out, cc)
	}
	return out, nil
}

// eligible reports whether node's pods count towards the constraints: it must carry
// every topology key and pass the node inclusion policies.
func eligible(cs []constraint, pod *v1.Pod, node *v1.Node) bool {
	for i := range cs {
		if !eligibleFor(&cs[i], pod, node) {
			return false
		}
	}
	return true
}

// eligibleFor is eligible for one constraint.
func eligibleFor(c *constraint, pod *v1.Pod, node *v1.Node) bool {
	if _, ok := node.Labels[c.key]; !ok {
		return false
	}
	if c.honorAffinity && !fw.MatchesRequiredNodeAffinity(pod, node) {
		return false
	}
	return !c.honorTaints || fw.FirstUntolerated(node.Spec.Taints, pod.Spec.Tolerations,
		v1.TaintEffectNoSchedule, v1.TaintEffectNoExecute) == nil
}

// countMatching counts pods on n that constraint c selects: same namespace, not
// terminating, labels matching.
func countMatching(c *constraint, ns string, n *fw.NodeInfo) int64 {
	var count int64
	for _, p := range n.Pods {
		if p.Pod.Namespace == ns && p.Pod.DeletionTimestamp == nil && c.selector.Matches(p.Pod.Labels) {
			count++
		}
	}
	return count
}

// countDomains counts matching pods per domain, keeping only domains that have
// some, and the number of eligible domains per constraint. Zero entries are left
// out because with a hostname key they would mean a map entry per node per cycle.
// With requireAll a node counts only if it is eligible for every constraint (the
// user's constraints); without, each constraint counts the nodes eligible for it
// (the system defaults, whose zone key many clusters lack).
func countDomains(cs []constraint, pod *v1.Pod, snap fw.Snapshot, requireAll bool) ([]map[string]int64, []int) {
	if idx := snap.Index(); idx != nil && indexableConstraints(cs) {
		return indexedDomains(cs, pod, snap, idx, requireAll)
	}
	return scanDomains(cs, pod, snap.List(), requireAll)
}

// scanDomains is countDomains walking every pod of every node.
func scanDomains(cs []constraint, pod *v1.Pod, nodes []*fw.NodeInfo, requireAll bool) ([]map[string]int64, []int) {
	counts := newCounts(len(cs))
	domains := eligibleDomains(cs, pod, nodes, requireAll, func(i int, n *fw.NodeInfo, v string) {
		if c := countMatching(&cs[i], pod.Namespace, n); c > 0 {
			counts[i][v] += c
		}
	})
	return counts, domains
}

func newCounts(n int) []map[string]int64 {
	counts := make([]map[string]int64, n)
	for i := range counts {
		counts[i] = map[string]int64{}
	}
	return counts
}

// eligibleDomains returns the number of eligible domains per constraint, calling
// each (if not nil) for every node eligible for constraint i with its domain v.
func eligibleDomains(cs []constraint, pod *v1.Pod, nodes []*fw.NodeInfo, requireAll bool,
	each func(i int, n *fw.NodeInfo, v string)) []int {
	domains := make([]int, len(cs))
	values := make([]map[string]struct{}, len(cs))
	for i := range cs {
		if cs[i].key != v1.LabelHostname {
			values[i] = map[string]struct{}{}
		}
	}
	for _, n := range nodes {
		if requireAll && !eligible(cs, pod, n.Node) {
			continue
		}
		for i := range cs {
			if !requireAll && !eligibleFor(&cs[i], pod, n.Node) {
				continue
			}
			v := n.Node.Labels[cs[i].key]
			if values[i] != nil {
				values[i][v] = struct{}{}
			} else {
				domains[i]++ // hostnames are unique: one domain per node
			}
			if each != nil {
				each(i, n, v)
			}
		}
	}
	for i := range values {
		if values[i] != nil {
			domains[i] = len(values[i])
		}
	}
	return domains
}

// PreFilter implements fw.PreFilterPlugin.
func (PodTopologySpread) PreFilter(_ context.Context, state *fw.CycleState, pod *fw.PodInfo, snap fw.Snapshot) *fw.Status {
	cs, err := buildConstraints(pod.Pod, v1.DoNotSchedule)
	if err != nil {
		return unresolvable(err.Error())
	}
	if len(cs) == 0 {
		return fw.NewStatus(fw.Skip)
	}
	counts, domains := countDomains(cs, pod.Pod, snap, true)
	s := &spreadState{constraints: cs, counts: counts, domains: domains, minCount: make([]int64, len(cs)),
		self: make([]int64, len(cs))}
	for i := range cs {
		s.updateMin(i)
		if cs[i].selector.Matches(pod.Pod.Labels) {
			s.self[i] = 1
		}
	}
	state.Write(topologySpreadFilter, s)
	return nil
}

// updateMin recomputes the global minimum of constraint i. With fewer domains than
// minDomains the minimum is zero, which forces pods into new domains.
func (s *spreadState) updateMin(i int) {
	m := s.counts[i]
	if int64(s.domains[i]) < s.constraints[i].minDomains || len(m) < s.domains[i] {
		s.minCount[i] = 0 // some eligible domain has no matching pod
		return
	}
	lo := int64(math.MaxInt64)
	for _, v := range m {
		lo = min(lo, v)
	}
	s.minCount[i] = lo
}

// Filter implements fw.FilterPlugin.
func (PodTopologySpread) Filter(state *fw.CycleState, _ *fw.PodInfo, n *fw.NodeInfo) *fw.Status {
	s, _ := state.Read(topologySpreadFilter).(*spreadState)
	if s == nil {
		return nil
	}
	for i := range s.constraints {
		c := &s.constraints[i]
		v, ok := n.Label(c.key)
		if !ok {
			return unresolvable(ReasonTopologySpreadMissing)
		}
		if s.counts[i][v]+s.self[i]-s.minCount[i] > c.maxSkew {
			return unschedulable(ReasonTopologySpread)
		}
	}
	return nil
}

// AddPod implements fw.PodAddRemover.
func (p PodTopologySpread) AddPod(state *fw.CycleState, pod, added *fw.PodInfo, n *fw.NodeInfo) {
	p.update(state, pod, added, n, 1)
}

// RemovePod implements fw.PodAddRemover.
func (p PodTopologySpread) RemovePod(state *fw.CycleState, pod, removed *fw.PodInfo, n *fw.NodeInfo) {
	p.update(state, pod, removed, n, -1)
}

func (PodTopologySpread) update(state *fw.CycleState, pod, other *fw.PodInfo, n *fw.NodeInfo, delta int64) {
	s, _ := state.Read(topologySpreadFilter).(*spreadState)
	if s == nil || other.Pod.Namespace != pod.Pod.Namespace || !eligible(s.constraints, pod.Pod, n.Node) {
		return
	}
	for i := range s.constraints {
		c := &s.constraints[i]
		if c.selector.Matches(other.Pod.Labels) {
			s.counts[i][n.Node.Labels[c.key]] += delta
			s.updateMin(i)
		}
	}
}

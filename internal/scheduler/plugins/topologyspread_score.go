package plugins

import (
	"math"

	v1 "k8s.io/api/core/v1"

	fw "skiff/internal/scheduler/framework"
)

type spreadScoreState struct {
	constraints []constraint
	counts      []map[string]int64
	weights     []float64
	// systemDefaulted: the constraints are the system defaults, so a node missing
	// a topology key is not penalised; that constraint just does not apply to it.
	systemDefaulted bool
}

func (s *spreadScoreState) Clone() fw.StateData { return s }

// PreScore counts matching pods per domain for the ScheduleAnyway constraints.
// Constraints over more domains weigh less per pod (log), so a zone constraint is
// not drowned by a hostname one.
func (p PodTopologySpread) PreScore(state *fw.CycleState, pod *fw.PodInfo, snap fw.Snapshot, _ []*fw.NodeInfo) *fw.Status {
	cs, err := buildConstraints(pod.Pod, v1.ScheduleAnyway)
	if err != nil {
		return fw.NewStatus(fw.Skip)
	}
	defaulted := false
	if len(pod.Pod.Spec.TopologySpreadConstraints) == 0 && p.DefaultSelector != nil {
		if sel := p.DefaultSelector(pod.Pod); sel != nil && !sel.Empty() {
			cs, defaulted = defaultConstraints(sel), true
		}
	}
	if len(cs) == 0 {
		return fw.NewStatus(fw.Skip)
	}
	counts, domains := countDomains(cs, pod.Pod, snap, !defaulted)
	s := &spreadScoreState{constraints: cs, counts: counts, systemDefaulted: defaulted}
	for i := range cs {
		s.weights = append(s.weights, math.Log(float64(domains[i]+2)))
	}
	state.Write(topologySpreadScore, s)
	return nil
}

// Score implements fw.ScorePlugin: lower is better until Normalize flips it. Nodes
// missing a topology key get -1 and end at the bottom.
func (PodTopologySpread) Score(state *fw.CycleState, _ *fw.PodInfo, n *fw.NodeInfo) int64 {
	s, _ := state.Read(topologySpreadScore).(*spreadScoreState)
	if s == nil {
		return 0
	}
	var sum float64
	for i := range s.constraints {
		v, ok := n.Node.Labels[s.constraints[i].key]
		if !ok && s.systemDefaulted {
			continue
		}
		if !ok {
			return -1
		}
		sum += float64(s.counts[i][v]+s.constraints[i].maxSkew-1) * s.weights[i]
	}
	return int64(math.Round(sum * 100))
}

// Normalize implements fw.ScoreNormalizer.
func (PodTopologySpread) Normalize(state *fw.CycleState, _ *fw.PodInfo, scores []int64) {
	if state.Read(topologySpreadScore) == nil {
		return
	}
	var lo, hi int64 = math.MaxInt64, 0
	for _, s := range scores {
		if s >= 0 {
			lo, hi = min(lo, s), max(hi, s)
		}
	}
	for i, s := range scores {
		switch {
		case s < 0:
			scores[i] = 0
		case hi == lo:
			scores[i] = fw.MaxScore
		default:
			scores[i] = fw.MaxScore * (hi - s) / (hi - lo)
		}
	}
}

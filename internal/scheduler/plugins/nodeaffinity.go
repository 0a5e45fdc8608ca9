package plugins

import (
	fw "skiff/internal/scheduler/framework"
)

// ReasonNodeAffinity is reported when nodeSelector or required node affinity fails.
const ReasonNodeAffinity = "node(s) didn't match Pod's node affinity/selector"

// NodeAffinity enforces nodeSelector and required node affinity, and scores the
// preferred terms by the sum of the weights a node matches.
type NodeAffinity struct{}

// Name implements fw.Plugin.
func (NodeAffinity) Name() string { return NodeAffinityName }

// Filter implements fw.FilterPlugin.
func (NodeAffinity) Filter(_ *fw.CycleState, pod *fw.PodInfo, n *fw.NodeInfo) *fw.Status {
	if fw.MatchesRequiredNodeAffinity(pod.Pod, n.Node) {
		return nil
	}
	return unresolvable(ReasonNodeAffinity)
}

// PreScore skips scoring for pods without preferred terms, the common case.
func (NodeAffinity) PreScore(_ *fw.CycleState, pod *fw.PodInfo, _ fw.Snapshot, _ []*fw.NodeInfo) *fw.Status {
	a := pod.Pod.Spec.Affinity
	if a == nil || a.NodeAffinity == nil || len(a.NodeAffinity.PreferredDuringSchedulingIgnoredDuringExecution) == 0 {
		return fw.NewStatus(fw.Skip)
	}
	return nil
}

// Score implements fw.ScorePlugin.
func (NodeAffinity) Score(_ *fw.CycleState, pod *fw.PodInfo, n *fw.NodeInfo) int64 {
	var sum int64
	for _, p := range pod.Pod.Spec.Affinity.NodeAffinity.PreferredDuringSchedulingIgnoredDuringExecution {
		if p.Weight != 0 && fw.MatchNodeSelectorTerm(n.Node, &p.Preference) {
			sum += int64(p.Weight)
		}
	}
	return sum
}

// Normalize implements fw.ScoreNormalizer.
func (NodeAffinity) Normalize(_ *fw.CycleState, _ *fw.PodInfo, scores []int64) {
	normalizeMax(scores)
}

package plugins

import (
	"k8s.io/component-helpers/scheduling/corev1/nodeaffinity"

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

const preferredNodeAffinityState = "NodeAffinity/preferred"

type preferredTerms struct {
	*nodeaffinity.PreferredSchedulingTerms
}

// Clone implements fw.StateData: the compiled terms are never changed.
func (p preferredTerms) Clone() fw.StateData { return p }

// PreScore compiles the preferred terms once per cycle, and skips scoring for pods
// without them, the common case (or with terms that do not parse: validation
// refuses those, so they score nothing, as in Kubernetes).
func (NodeAffinity) PreScore(state *fw.CycleState, pod *fw.PodInfo, _ fw.Snapshot, _ []*fw.NodeInfo) *fw.Status {
	a := pod.Pod.Spec.Affinity
	if a == nil || a.NodeAffinity == nil || len(a.NodeAffinity.PreferredDuringSchedulingIgnoredDuringExecution) == 0 {
		return fw.NewStatus(fw.Skip)
	}
	terms, err := nodeaffinity.NewPreferredSchedulingTerms(a.NodeAffinity.PreferredDuringSchedulingIgnoredDuringExecution)
	if err != nil {
		return fw.NewStatus(fw.Skip)
	}
	state.Write(preferredNodeAffinityState, preferredTerms{terms})
	return nil
}

// Score implements fw.ScorePlugin: the sum of the weights of the terms node matches.
func (NodeAffinity) Score(state *fw.CycleState, _ *fw.PodInfo, n *fw.NodeInfo) int64 {
	terms, ok := state.Read(preferredNodeAffinityState).(preferredTerms)
	if !ok {
		return 0
	}
	return terms.Score(n.Node)
}

// Normalize implements fw.ScoreNormalizer.
func (NodeAffinity) Normalize(_ *fw.CycleState, _ *fw.PodInfo, scores []int64) {
	normalizeMax(scores)
}

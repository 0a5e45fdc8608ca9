package plugins

import (
	"slices"

	fw "skiff/internal/scheduler/framework"
)

type affinityScoreState struct {
	scores pairCounts
	// keys are the topology keys in scores: Score looks up the node's value of
	// each rather than walking every pair, which with hostname terms would be a
	// pair per node.
	keys []string
}

// newAffinityScoreState wraps scores once they are complete.
func newAffinityScoreState(scores pairCounts) *affinityScoreState {
	s := &affinityScoreState{scores: scores}
	for pair := range scores {
		if !slices.Contains(s.keys, pair.key) {
			s.keys = append(s.keys, pair.key)
		}
	}
	return s
}

func (s *affinityScoreState) Clone() fw.StateData { return s }

// PreScore sums, per topology domain, the weights of preferred terms in both
// directions and of existing pods' required affinity towards the newcomer.
func (p *InterPodAffinity) PreScore(state *fw.CycleState, pod *fw.PodInfo, snap fw.Snapshot, _ []*fw.NodeInfo) *fw.Status {
	hasOwn := len(pod.PreferredAffinityTerms)+len(pod.PreferredAntiAffinityTerms) > 0
	if idx := snap.Index(); idx != nil {
		return p.indexedPreScore(state, pod, snap, idx, hasOwn)
	}
	nodes := snap.HavePodsWithAffinity()
	if hasOwn {
		nodes = snap.List()
	}
	if len(nodes) == 0 {
		return fw.NewStatus(fw.Skip)
	}
	s := &affinityScoreState{scores: pairCounts{}}
	for _, n := range nodes {
		pods := n.PodsWithAffinity
		if hasOwn {
			pods = n.Pods
		}
		for _, ex := range pods {
			p.scoreExisting(s.scores, pod, ex, n)
		}
	}
	if len(s.scores) == 0 {
		return fw.NewStatus(fw.Skip)
	}
	state.Write(interPodAffinityScore, newAffinityScoreState(s.scores))
	return nil
}

func (p *InterPodAffinity) scoreExisting(scores pairCounts, pod, ex *fw.PodInfo, n *fw.NodeInfo) {
	p.scoreOwn(scores, pod, ex, n)
	add := func(t *fw.AffinityTerm, target *fw.PodInfo, w int64) {
		if v, ok := n.Node.Labels[t.TopologyKey]; ok && t.Matches(target.Pod, p.NamespaceLabels) {
			scores[topologyPair{t.TopologyKey, v}] += w
		}
	}
	for i := range ex.RequiredAffinityTerms {
		add(&ex.RequiredAffinityTerms[i], pod, hardPodAffinityWeight)
	}
	for i := range ex.PreferredAffinityTerms {
		add(&ex.PreferredAffinityTerms[i].AffinityTerm, pod, int64(ex.PreferredAffinityTerms[i].Weight))
	}
	for i := range ex.PreferredAntiAffinityTerms {
		add(&ex.PreferredAntiAffinityTerms[i].AffinityTerm, pod, -int64(ex.PreferredAntiAffinityTerms[i].Weight))
	}
}

// scoreOwn adds the weights of the newcomer's preferred terms that ex matches.
func (p *InterPodAffinity) scoreOwn(scores pairCounts, pod, ex *fw.PodInfo, n *fw.NodeInfo) {
	add := func(t *fw.AffinityTerm, w int64) {
		if v, ok := n.Node.Labels[t.TopologyKey]; ok && t.Matches(ex.Pod, p.NamespaceLabels) {
			scores[topologyPair{t.TopologyKey, v}] += w
		}
	}
	for i := range pod.PreferredAffinityTerms {
		add(&pod.PreferredAffinityTerms[i].AffinityTerm, int64(pod.PreferredAffinityTerms[i].Weight))
	}
	for i := range pod.PreferredAntiAffinityTerms {
		add(&pod.PreferredAntiAffinityTerms[i].AffinityTerm, -int64(pod.PreferredAntiAffinityTerms[i].Weight))
	}
}

// Score implements fw.ScorePlugin.
func (p *InterPodAffinity) Score(state *fw.CycleState, _ *fw.PodInfo, n *fw.NodeInfo) int64 {
	s, _ := state.Read(interPodAffinityScore).(*affinityScoreState)
	if s == nil {
		return 0
	}
	var sum int64
	for _, key := range s.keys {
		if v, ok := n.Label(key); ok {
			sum += s.scores[topologyPair{key, v}]
		}
	}
	return sum
}

// Normalize implements fw.ScoreNormalizer.
func (p *InterPodAffinity) Normalize(_ *fw.CycleState, _ *fw.PodInfo, scores []int64) {
	normalizeMinMax(scores)
}

package plugins

import (
	fw "skiff/internal/scheduler/framework"
)

// The index-backed halves of the inter-pod affinity PreFilter and PreScore. Each
// computes exactly what the per-pod scans in interpodaffinity.go compute, from
// the snapshot's PodIndex: existing pods' terms once per distinct term, and the
// newcomer's own terms from the pods its selectors name.

// indexedExistingAnti counts, per topology domain, the existing pods whose
// required anti-affinity matches the newcomer.
func (p *InterPodAffinity) indexedExistingAnti(s *affinityState, pod *fw.PodInfo, idx *fw.PodIndex) {
	idx.MatchingTerms(fw.TermRequiredAnti, pod.Pod, p.NamespaceLabels, func(it *fw.IndexedTerm) {
		addTermNodes(s.existingAnti, it, 1)
	})
}

// addTermNodes adds w per carrier of it to the domain of each node it runs on.
func addTermNodes(counts pairCounts, it *fw.IndexedTerm, w int64) {
	key := it.Term.TopologyKey
	for ni, c := range it.Nodes {
		if ni.Node == nil {
			continue
		}
		if v, ok := ni.Node.Labels[key]; ok {
			counts[topologyPair{key, v}] += w * c
		}
	}
}

// indexedOwn counts the pods matching the newcomer's own required terms, as
// countOwn does for every pod; it returns false, having counted nothing, when a
// selector is one the index cannot answer.
func (p *InterPodAffinity) indexedOwn(s *affinityState, pod *fw.PodInfo, idx *fw.PodIndex) bool {
	if !p.indexable(pod.RequiredAffinityTerms) || !p.indexable(pod.RequiredAntiAffinityTerms) {
		return false
	}
	if terms := pod.RequiredAffinityTerms; len(terms) > 0 {
		// A pod must match every term; the first term names the candidates.
		idx.TermMatchingPods(&terms[0], p.NamespaceLabels, func(ex *fw.PodInfo, n *fw.NodeInfo) {
			if !p.matchesAll(terms[1:], ex) {
				return
			}
			for i := range terms {
				if v, ok := n.Node.Labels[terms[i].TopologyKey]; ok {
					s.affinity[topologyPair{terms[i].TopologyKey, v}]++
				}
			}
		})
	}
	for i := range pod.RequiredAntiAffinityTerms {
		t := &pod.RequiredAntiAffinityTerms[i]
		idx.TermMatchingPods(t, p.NamespaceLabels, func(_ *fw.PodInfo, n *fw.NodeInfo) {
			if v, ok := n.Node.Labels[t.TopologyKey]; ok {
				s.anti[topologyPair{t.TopologyKey, v}]++
			}
		})
	}
	return true
}

func (p *InterPodAffinity) indexable(terms []fw.AffinityTerm) bool {
	for i := range terms {
		if !terms[i].Indexable() {
			return false
		}
	}
	return true
}

// indexedPreScore is PreScore from the index: the newcomer's preferred terms
// from the pods they select (or a scan when a selector is not indexable), and
// existing pods' required affinity and preferred terms once per distinct term.
func (p *InterPodAffinity) indexedPreScore(state *fw.CycleState, pod *fw.PodInfo, snap fw.Snapshot,
	idx *fw.PodIndex, hasOwn bool) *fw.Status {
	s := &affinityScoreState{scores: pairCounts{}}
	if hasOwn && !p.indexedScoreOwn(s.scores, pod, idx) {
		for _, n := range snap.List() {
			for _, ex := range n.Pods {
				p.scoreOwn(s.scores, pod, ex, n)
			}
		}
	}
	existing := func(kind fw.TermKind, sign int64) {
		idx.MatchingTerms(kind, pod.Pod, p.NamespaceLabels, func(it *fw.IndexedTerm) {
			w := int64(it.Weight)
			if kind == fw.TermRequiredAffinity {
				w = hardPodAffinityWeight
			}
			addTermNodes(s.scores, it, sign*w)
		})
	}
	existing(fw.TermRequiredAffinity, 1)
	existing(fw.TermPreferredAffinity, 1)
	existing(fw.TermPreferredAnti, -1)
	if len(s.scores) == 0 {
		return fw.NewStatus(fw.Skip)
	}
	state.Write(interPodAffinityScore, newAffinityScoreState(s.scores))
	return nil
}

// indexedScoreOwn adds the newcomer's preferred terms; false (nothing added)
// when one of their selectors is not indexable.
func (p *InterPodAffinity) indexedScoreOwn(scores pairCounts, pod *fw.PodInfo, idx *fw.PodIndex) bool {
	for i := range pod.PreferredAffinityTerms {
		if !pod.PreferredAffinityTerms[i].Indexable() {
			return false
		}
	}
	for i := range pod.PreferredAntiAffinityTerms {
		if !pod.PreferredAntiAffinityTerms[i].Indexable() {
			return false
		}
	}
	add := func(t *fw.AffinityTerm, w int64) {
		idx.TermMatchingPods(t, p.NamespaceLabels, func(_ *fw.PodInfo, n *fw.NodeInfo) {
			if v, ok := n.Node.Labels[t.TopologyKey]; ok {
				scores[topologyPair{t.TopologyKey, v}] += w
			}
		})
	}
	for i := range pod.PreferredAffinityTerms {
		add(&pod.PreferredAffinityTerms[i].AffinityTerm, int64(pod.PreferredAffinityTerms[i].Weight))
	}
	for i := range pod.PreferredAntiAffinityTerms {
		add(&pod.PreferredAntiAffinityTerms[i].AffinityTerm, -int64(pod.PreferredAntiAffinityTerms[i].Weight))
	}
	return true
}

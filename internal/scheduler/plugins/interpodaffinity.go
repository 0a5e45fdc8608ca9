package plugins

import (
	"context"
	"maps"
	"slices"

	fw "skiff/internal/scheduler/framework"
)

// Reasons of the inter-pod affinity filter.
const (
	ReasonAffinity         = "node(s) didn't match pod affinity rules"
	ReasonAntiAffinity     = "node(s) didn't match pod anti-affinity rules"
	ReasonExistingAntiAff  = "node(s) didn't satisfy existing pods anti-affinity rules"
	hardPodAffinityWeight  = 1
	interPodAffinityFilter = InterPodAffinityName + "/filter"
	interPodAffinityScore  = InterPodAffinityName + "/score"
)

// InterPodAffinity enforces required pod affinity and anti-affinity, in both
// directions: the newcomer's own terms, and existing pods' anti-affinity terms that
// the newcomer matches. Preferred terms (both directions) feed its score.
type InterPodAffinity struct {
	NamespaceLabels fw.NamespaceLabels
}

// Name implements fw.Plugin.
func (*InterPodAffinity) Name() string { return InterPodAffinityName }

// topologyPair is one topology domain: a label key and its value on a node.
type topologyPair struct{ key, value string }

type pairCounts map[topologyPair]int64

// affinityState counts, per topology domain, the pods that matter to the newcomer.
type affinityState struct {
	existingAnti pairCounts // existing pods whose required anti-affinity matches the newcomer
	affinity     pairCounts // existing pods matching all the newcomer's affinity terms
	anti         pairCounts // existing pods matching one of the newcomer's anti-affinity terms
	antiKeys     []string   // the topology keys in existingAnti
}

func (s *affinityState) Clone() fw.StateData {
	return &affinityState{existingAnti: maps.Clone(s.existingAnti), affinity: maps.Clone(s.affinity), anti: maps.Clone(s.anti),
		antiKeys: slices.Clone(s.antiKeys)}
}

// PreFilter implements fw.PreFilterPlugin.
func (p *InterPodAffinity) PreFilter(_ context.Context, state *fw.CycleState, pod *fw.PodInfo, snap fw.Snapshot) *fw.Status {
	if pod.ParseError != nil {
		return unresolvable(pod.ParseError.Error())
	}
	hasOwn := len(pod.RequiredAffinityTerms)+len(pod.RequiredAntiAffinityTerms) > 0
	idx := snap.Index()
	var withAnti []*fw.NodeInfo
	if idx == nil {
		withAnti = snap.HavePodsWithRequiredAntiAffinity()
	}
	if !hasOwn && len(withAnti) == 0 && (idx == nil || !idx.HasLiveTerms(fw.TermRequiredAnti)) {
		return fw.NewStatus(fw.Skip)
	}
	s := &affinityState{existingAnti: pairCounts{}, affinity: pairCounts{}, anti: pairCounts{}}
	if idx != nil {
		p.indexedExistingAnti(s, pod, idx)
	} else {
		for _, n := range withAnti {
			for _, ex := range n.PodsWithRequiredAntiAffinity {
				p.countExistingAnti(s, pod, ex, n, 1)
			}
		}
	}
	if hasOwn && (idx == nil || !p.indexedOwn(s, pod, idx)) {
		for _, n := range snap.List() {
			for _, ex := range n.Pods {
				p.countOwn(s, pod, ex, n, 1)
			}
		}
	}
	for pair := range s.existingAnti {
		s.noteAntiKey(pair.key)
	}
	state.Write(interPodAffinityFilter, s)
	return nil
}

// noteAntiKey remembers a topology key of existingAnti, so Filter looks up the
// node's value for each key instead of walking every pair.
func (s *affinityState) noteAntiKey(key string) {
	if !slices.Contains(s.antiKeys, key) {
		s.antiKeys = append(s.antiKeys, key)
	}
}

func (p *InterPodAffinity) countExistingAnti(s *affinityState, pod, ex *fw.PodInfo, n *fw.NodeInfo, delta int64) {
	for i := range ex.RequiredAntiAffinityTerms {
		t := &ex.RequiredAntiAffinityTerms[i]
		if v, ok := n.Node.Labels[t.TopologyKey]; ok && t.Matches(pod.Pod, p.NamespaceLabels) {
			s.existingAnti[topologyPair{t.TopologyKey, v}] += delta
			s.noteAntiKey(t.TopologyKey)
		}
	}
}

func (p *InterPodAffinity) countOwn(s *affinityState, pod, ex *fw.PodInfo, n *fw.NodeInfo, delta int64) {
	if len(pod.RequiredAffinityTerms) > 0 && p.matchesAll(pod.RequiredAffinityTerms, ex) {
		for i := range pod.RequiredAffinityTerms {
			if v, ok := n.Node.Labels[pod.RequiredAffinityTerms[i].TopologyKey]; ok {
				s.affinity[topologyPair{pod.RequiredAffinityTerms[i].TopologyKey, v}] += delta
			}
		}
	}
	for i := range pod.RequiredAntiAffinityTerms {
		t := &pod.RequiredAntiAffinityTerms[i]
		if v, ok := n.Node.Labels[t.TopologyKey]; ok && t.Matches(ex.Pod, p.NamespaceLabels) {
			s.anti[topologyPair{t.TopologyKey, v}] += delta
		}
	}
}

func (p *InterPodAffinity) matchesAll(terms []fw.AffinityTerm, ex *fw.PodInfo) bool {
	for i := range terms {
		if !terms[i].Matches(ex.Pod, p.NamespaceLabels) {
			return false
		}
	}
	return true
}

// AddPod implements fw.PodAddRemover.
func (p *InterPodAffinity) AddPod(state *fw.CycleState, pod, added *fw.PodInfo, n *fw.NodeInfo) {
	p.update(state, pod, added, n, 1)
}

// RemovePod implements fw.PodAddRemover.
func (p *InterPodAffinity) RemovePod(state *fw.CycleState, pod, removed *fw.PodInfo, n *fw.NodeInfo) {
	p.update(state, pod, removed, n, -1)
}

func (p *InterPodAffinity) update(state *fw.CycleState, pod, ex *fw.PodInfo, n *fw.NodeInfo, delta int64) {
	s, _ := state.Read(interPodAffinityFilter).(*affinityState)
	if s == nil {
		return
	}
	p.countExistingAnti(s, pod, ex, n, delta)
	p.countOwn(s, pod, ex, n, delta)
}

// Filter implements fw.FilterPlugin.
func (p *InterPodAffinity) Filter(state *fw.CycleState, pod *fw.PodInfo, n *fw.NodeInfo) *fw.Status {
	s, _ := state.Read(interPodAffinityFilter).(*affinityState)
	if s == nil {
		return nil
	}
	// The pod's own terms are checked first: when replicas repel each other, the
	// user wrote the term on the newcomer too, and that is the reason to show.
	if !p.affinityOK(s, pod, n) {
		return unresolvable(ReasonAffinity)
	}
	for i := range pod.RequiredAntiAffinityTerms {
		key := pod.RequiredAntiAffinityTerms[i].TopologyKey
		if v, ok := n.Label(key); ok && s.anti[topologyPair{key, v}] > 0 {
			return unschedulable(ReasonAntiAffinity)
		}
	}
	for _, key := range s.antiKeys {
		if v, ok := n.Label(key); ok && s.existingAnti[topologyPair{key, v}] > 0 {
			return unschedulable(ReasonExistingAntiAff)
		}
	}
	return nil
}

// affinityOK requires, for every affinity term, a matching pod in the node's domain.
// The first pod of a group that matches its own terms may go anywhere that has the
// topology keys, or no group could ever start.
func (p *InterPodAffinity) affinityOK(s *affinityState, pod *fw.PodInfo, n *fw.NodeInfo) bool {
	terms := pod.RequiredAffinityTerms
	ok := true
	for i := range terms {
		v, has := n.Label(terms[i].TopologyKey)
		if !has {
			return false
		}
		if s.affinity[topologyPair{terms[i].TopologyKey, v}] <= 0 {
			ok = false
		}
	}
	if ok {
		return true
	}
	return len(s.affinity) == 0 && p.matchesAll(terms, pod)
}

package framework

import (
	"slices"
	"strings"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// PodIndex keeps, incrementally, what the affinity and spread PreFilters would
// otherwise find by walking every pod in the cluster for every incoming pod:
//   - pods by namespace and by (namespace, label key, value), so a selector made
//     of equalities (what matchLabels produces) is answered from its rarest label;
//   - the distinct affinity terms existing pods carry, with how many carriers run
//     on each node, so the symmetric checks test each distinct term once rather
//     than once per pod;
//   - how many nodes carry each label key, each (key, value), and each
//     combination of keys a pod spreads over, for counting topology domains
//     (domains.go).
//
// The cache updates it on every pod and node change, under its lock. Nodes are
// referenced by their NodeInfo; a NodeInfo whose Node is nil (the node object was
// deleted while pods remained) is skipped by every query, as snapshots skip it.
type PodIndex struct {
	byNS    map[string]podSet
	byLabel map[nsLabel]podSet
	terms   [numTermKinds]map[termKey]*IndexedTerm
	// probes files each term under the first equality of its selector: only a
	// pod with that label can match it. Terms without one are in unprobed.
	probes   [numTermKinds]map[labelPair]termSet
	unprobed [numTermKinds]termSet
	nodes    nodeLabels
}

type podSet map[*PodInfo]*NodeInfo

type nsLabel struct{ ns, key, value string }

type labelPair struct{ key, value string }

type termSet map[*IndexedTerm]struct{}

// TermKind says which list of a pod an indexed term came from.
type TermKind uint8

// The kinds of affinity terms the index keeps.
const (
	TermRequiredAffinity TermKind = iota
	TermRequiredAnti
	TermPreferredAffinity
	TermPreferredAnti
	numTermKinds
)

type termKey struct {
	weight int32
	key    string
}

// IndexedTerm is one distinct affinity term (same kind, weight, namespaces,
// selectors and topology key) of the existing pods.
type IndexedTerm struct {
	// Term is the first carrier's copy; all carriers' copies behave the same.
	Term   AffinityTerm
	Weight int32
	// Nodes counts the carriers (pods, times the term's repetitions) per node.
	Nodes map[*NodeInfo]int64
}

// NewPodIndex returns an empty index.
func NewPodIndex() *PodIndex {
	x := &PodIndex{byNS: map[string]podSet{}, byLabel: map[nsLabel]podSet{},
		nodes: newNodeLabels()}
	for i := range x.terms {
		x.terms[i] = map[termKey]*IndexedTerm{}
		x.probes[i] = map[labelPair]termSet{}
		x.unprobed[i] = termSet{}
	}
	return x
}

// BuildPodIndex indexes the given nodes and their pods (for tests and one-off
// snapshots).
func BuildPodIndex(nodes []*NodeInfo) *PodIndex {
	x := NewPodIndex()
	for _, ni := range nodes {
		if ni.Node != nil {
			x.AddNode(ni.Node)
		}
		for _, pi := range ni.Pods {
			x.AddPod(pi, ni)
		}
	}
	return x
}

// AddPod indexes pi as running on ni.
func (x *PodIndex) AddPod(pi *PodInfo, ni *NodeInfo) {
	pod := pi.Pod
	addToSet(x.byNS, pod.Namespace, pi, ni)
	for k, v := range pod.Labels {
		addToSet(x.byLabel, nsLabel{pod.Namespace, k, v}, pi, ni)
	}
	pi.eachTerm(func(kind TermKind, t *AffinityTerm, w int32) {
		k := termKey{w, t.indexKey()}
		it := x.terms[kind][k]
		if it == nil {
			it = &IndexedTerm{Term: *t, Weight: w, Nodes: map[*NodeInfo]int64{}}
			x.terms[kind][k] = it
			x.fileTerm(kind, it, true)
		}
		it.Nodes[ni]++
	})
}

// RemovePod undoes AddPod(pi, ni); pi must be the PodInfo that was added.
func (x *PodIndex) RemovePod(pi *PodInfo, ni *NodeInfo) {
	pod := pi.Pod
	removeFromSet(x.byNS, pod.Namespace, pi)
	for k, v := range pod.Labels {
		removeFromSet(x.byLabel, nsLabel{pod.Namespace, k, v}, pi)
	}
	pi.eachTerm(func(kind TermKind, t *AffinityTerm, w int32) {
		k := termKey{w, t.indexKey()}
		it := x.terms[kind][k]
		if it == nil {
			return
		}
		if it.Nodes[ni]--; it.Nodes[ni] <= 0 {
			delete(it.Nodes, ni)
		}
		if len(it.Nodes) == 0 {
			delete(x.terms[kind], k)
			x.fileTerm(kind, it, false)
		}
	})
}

func addToSet[K comparable](m map[K]podSet, k K, pi *PodInfo, ni *NodeInfo) {
	s := m[k]
	if s == nil {
		s = podSet{}
		m[k] = s
	}
	s[pi] = ni
}

func removeFromSet[K comparable](m map[K]podSet, k K, pi *PodInfo) {
	if s := m[k]; s != nil {
		delete(s, pi)
		if len(s) == 0 {
			delete(m, k)
		}
	}
}

// eachTerm calls fn for every affinity term of pi, with its kind and weight
// (zero for required terms).
func (pi *PodInfo) eachTerm(fn func(TermKind, *AffinityTerm, int32)) {
	for i := range pi.RequiredAffinityTerms {
		fn(TermRequiredAffinity, &pi.RequiredAffinityTerms[i], 0)
	}
	for i := range pi.RequiredAntiAffinityTerms {
		fn(TermRequiredAnti, &pi.RequiredAntiAffinityTerms[i], 0)
	}
	for i := range pi.PreferredAffinityTerms {
		fn(TermPreferredAffinity, &pi.PreferredAffinityTerms[i].AffinityTerm, pi.PreferredAffinityTerms[i].Weight)
	}
	for i := range pi.PreferredAntiAffinityTerms {
		fn(TermPreferredAnti, &pi.PreferredAntiAffinityTerms[i].AffinityTerm, pi.PreferredAntiAffinityTerms[i].Weight)
	}
}

// fileTerm adds (or removes) it to its probe bucket.
func (x *PodIndex) fileTerm(kind TermKind, it *IndexedTerm, add bool) {
	set := x.unprobed[kind]
	if m := &it.Term.match; m.fast && len(m.equal) > 0 {
		p := labelPair{m.equal[0][0], m.equal[0][1]}
		if set = x.probes[kind][p]; set == nil {
			set = termSet{}
			x.probes[kind][p] = set
		}
		if !add && len(set) == 1 {
			delete(x.probes[kind], p)
		}
	}
	if add {
		set[it] = struct{}{}
	} else {
		delete(set, it)
	}
}

// MatchingTerms calls fn for every distinct term of the given kind that pod
// falls under. Only the terms filed under one of pod's labels, and those filed
// under none, are tested.
func (x *PodIndex) MatchingTerms(kind TermKind, pod *v1.Pod, nsLabels NamespaceLabels, fn func(*IndexedTerm)) {
	if len(x.terms[kind]) == 0 {
		return
	}
	test := func(set termSet) {
		for it := range set {
			if it.Term.Matches(pod, nsLabels) {
				fn(it)
			}
		}
	}
	for k, v := range pod.Labels {
		test(x.probes[kind][labelPair{k, v}])
	}
	test(x.unprobed[kind])
}

// HasLiveTerms reports whether a pod on a node of the snapshot (one whose Node
// is known) carries a term of the given kind.
func (x *PodIndex) HasLiveTerms(kind TermKind) bool {
	for _, it := range x.terms[kind] {
		for ni := range it.Nodes {
			if ni.Node != nil {
				return true
			}
		}
	}
	return false
}

// MatchingPods calls fn for every pod in namespace ns whose labels m matches, with
// its node, and returns true; it returns false without calling fn when m is not a
// selector the index can answer (anything but equalities), and the caller must
// scan instead.
func (x *PodIndex) MatchingPods(ns string, m *LabelMatcher, fn func(*PodInfo, *NodeInfo)) bool {
	if !m.fast {
		return false
	}
	x.matchIn(ns, m, fn)
	return true
}

// TermMatchingPods is MatchingPods for an affinity term: every namespace the term
// covers, narrowed by its selector.
func (x *PodIndex) TermMatchingPods(t *AffinityTerm, nsLabels NamespaceLabels, fn func(*PodInfo, *NodeInfo)) bool {
	if !t.match.fast {
		return false
	}
	if t.NamespaceSelector == nil {
		for ns := range t.Namespaces {
			x.matchIn(ns, &t.match, fn)
		}
		return true
	}
	for ns := range x.byNS {
		if t.coversNamespace(ns, nsLabels) {
			x.matchIn(ns, &t.match, fn)
		}
	}
	return true
}

// matchIn walks the smallest of the sets m's equalities name and checks the rest.
func (x *PodIndex) matchIn(ns string, m *LabelMatcher, fn func(*PodInfo, *NodeInfo)) {
	set := x.byNS[ns]
	for _, kv := range m.equal {
		s := x.byLabel[nsLabel{ns, kv[0], kv[1]}]
		if len(s) < len(set) {
			set = s
		}
		if len(set) == 0 {
			return
		}
	}
	for pi, ni := range set {
		if ni.Node != nil && m.Matches(pi.Pod.Labels) {
			fn(pi, ni)
		}
	}
}

// indexKey identifies the term's behaviour: two terms with the same key match
// the same pods over the same topology key.
func (t *AffinityTerm) indexKey() string {
	var b strings.Builder
	b.WriteString(t.TopologyKey)
	b.WriteByte(0)
	nss := make([]string, 0, len(t.Namespaces))
	for ns := range t.Namespaces {
		nss = append(nss, ns)
	}
	slices.Sort(nss)
	for _, ns := range nss {
		b.WriteString(ns)
		b.WriteByte(',')
	}
	b.WriteByte(0)
	writeSelectorKey(&b, t.NamespaceSelector)
	b.WriteByte(0)
	writeSelectorKey(&b, t.Selector)
	return b.String()
}

// writeSelectorKey writes a selector's canonical text, telling apart nil, the
// selector that matches everything and the one that matches nothing (whose texts
// are both empty).
func writeSelectorKey(b *strings.Builder, s labels.Selector) {
	switch {
	case s == nil:
		b.WriteByte('-')
	case s.Empty():
		b.WriteByte('*')
	default:
		b.WriteByte('=')
		b.WriteString(s.String())
	}
}

// Indexable reports whether PodIndex.TermMatchingPods can answer t.
func (t *AffinityTerm) Indexable() bool { return t.match.fast }

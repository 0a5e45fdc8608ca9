package framework

import (
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
)

// PodInfo is a pod with everything the plugins would otherwise recompute on every
// node: its requests and its parsed affinity terms. It is built once per pod.
type PodInfo struct {
	Pod                        *v1.Pod
	Requests                   Resource // as Kubernetes counts them, for the fit filter
	NonZeroRequests            Resource // with defaults for empty cpu/memory, for scores
	RequiredAffinityTerms      []AffinityTerm
	RequiredAntiAffinityTerms  []AffinityTerm
	PreferredAffinityTerms     []WeightedAffinityTerm
	PreferredAntiAffinityTerms []WeightedAffinityTerm
	HostPorts                  []HostPort
	// ParseError keeps a bad selector in an affinity term: such a pod cannot be
	// scheduled, and the user should hear why.
	ParseError error
}

// HostPort is one hostPort a pod claims on its node.
type HostPort struct {
	IP       string
	Protocol v1.Protocol
	Port     int32
}

// AffinityTerm is a pod (anti-)affinity term with its selectors compiled.
type AffinityTerm struct {
	Namespaces        map[string]struct{}
	NamespaceSelector labels.Selector // nil: only Namespaces; Everything(): all
	Selector          labels.Selector
	TopologyKey       string
	match             LabelMatcher // Selector prepared; zero in hand-built terms
}

// WeightedAffinityTerm is a preferred term.
type WeightedAffinityTerm struct {
	AffinityTerm
	Weight int32
}

// NamespaceLabels returns the labels of a namespace (nil if unknown); affinity terms
// with a namespaceSelector need them.
type NamespaceLabels func(ns string) labels.Set

// Matches reports whether pod falls under the term.
func (t *AffinityTerm) Matches(pod *v1.Pod, nsLabels NamespaceLabels) bool {
	if !t.coversNamespace(pod.Namespace, nsLabels) {
		return false
	}
	if t.match.sel != nil {
		return t.match.Matches(pod.Labels)
	}
	return t.Selector.Matches(labels.Set(pod.Labels))
}

// coversNamespace reports whether pods in namespace ns fall under the term's
// namespaces or namespaceSelector.
func (t *AffinityTerm) coversNamespace(ns string, nsLabels NamespaceLabels) bool {
	if _, ok := t.Namespaces[ns]; ok {
		return true
	}
	if t.NamespaceSelector == nil {
		return false
	}
	return t.NamespaceSelector.Empty() || (nsLabels != nil && t.NamespaceSelector.Matches(nsLabels(ns)))
}

// NewPodInfo precomputes pod's requests and affinity terms.
func NewPodInfo(pod *v1.Pod) *PodInfo {
	pi := &PodInfo{
		Pod:             pod,
		Requests:        PodRequests(pod, false),
		NonZeroRequests: PodRequests(pod, true),
		HostPorts:       hostPorts(pod),
	}
	aff := pod.Spec.Affinity
	if aff == nil {
		return pi
	}
	if pa := aff.PodAffinity; pa != nil {
		pi.RequiredAffinityTerms = pi.terms(pa.RequiredDuringSchedulingIgnoredDuringExecution)
		pi.PreferredAffinityTerms = pi.weighted(pa.PreferredDuringSchedulingIgnoredDuringExecution)
	}
	if pa := aff.PodAntiAffinity; pa != nil {
		pi.RequiredAntiAffinityTerms = pi.terms(pa.RequiredDuringSchedulingIgnoredDuringExecution)
		pi.PreferredAntiAffinityTerms = pi.weighted(pa.PreferredDuringSchedulingIgnoredDuringExecution)
	}
	return pi
}

func (pi *PodInfo) terms(in []v1.PodAffinityTerm) []AffinityTerm {
	out := make([]AffinityTerm, 0, len(in))
	for i := range in {
		t, err := newAffinityTerm(pi.Pod, &in[i])
		if err != nil {
			pi.ParseError = err
			continue
		}
		out = append(out, t)
	}
	return out
}

func (pi *PodInfo) weighted(in []v1.WeightedPodAffinityTerm) []WeightedAffinityTerm {
	out := make([]WeightedAffinityTerm, 0, len(in))
	for i := range in {
		t, err := newAffinityTerm(pi.Pod, &in[i].PodAffinityTerm)
		if err != nil {
			pi.ParseError = err
			continue
		}
		out = append(out, WeightedAffinityTerm{AffinityTerm: t, Weight: in[i].Weight})
	}
	return out
}

func newAffinityTerm(pod *v1.Pod, t *v1.PodAffinityTerm) (AffinityTerm, error) {
	sel, err := SelectorWithKeys(t.LabelSelector, pod, t.MatchLabelKeys, t.MismatchLabelKeys)
	if err != nil {
		return AffinityTerm{}, err
	}
	term := AffinityTerm{Selector: sel, TopologyKey: t.TopologyKey, Namespaces: map[string]struct{}{}, match: NewLabelMatcher(sel)}
	for _, ns := range t.Namespaces {
		term.Namespaces[ns] = struct{}{}
	}
	if t.NamespaceSelector != nil {
		if term.NamespaceSelector, err = metav1.LabelSelectorAsSelector(t.NamespaceSelector); err != nil {
			return AffinityTerm{}, err
		}
	}
	if len(t.Namespaces) == 0 && t.NamespaceSelector == nil {
		term.Namespaces[pod.Namespace] = struct{}{}
	}
	return term, nil
}

// SelectorWithKeys compiles a label selector and narrows it with matchLabelKeys
// (same value as the pod) and mismatchLabelKeys (a different value), the way
// affinity terms and topology spread constraints use them. A nil selector matches
// nothing, as in Kubernetes.
func SelectorWithKeys(ls *metav1.LabelSelector, pod *v1.Pod, match, mismatch []string) (labels.Selector, error) {
	if ls == nil {
		return labels.Nothing(), nil
	}
	sel, err := metav1.LabelSelectorAsSelector(ls)
	if err != nil {
		return nil, err
	}
	for _, k := range match {
		if v, ok := pod.Labels[k]; ok {
			r, err := labels.NewRequirement(k, selection.In, []string{v})
			if err != nil {
				return nil, err
			}
			sel = sel.Add(*r)
		}
	}
	for _, k := range mismatch {
		if v, ok := pod.Labels[k]; ok {
			r, err := labels.NewRequirement(k, selection.NotIn, []string{v})
			if err != nil {
				return nil, err
			}
			sel = sel.Add(*r)
		}
	}
	return sel, nil
}

func hostPorts(pod *v1.Pod) []HostPort {
	var out []HostPort
	add := func(cs []v1.Container) {
		for i := range cs {
			for _, p := range cs[i].Ports {
				if p.HostPort <= 0 {
					continue
				}
				proto := p.Protocol
				if proto == "" {
					proto = v1.ProtocolTCP
				}
				out = append(out, HostPort{IP: p.HostIP, Protocol: proto, Port: p.HostPort})
			}
		}
	}
	add(pod.Spec.InitContainers)
	add(pod.Spec.Containers)
	return out
}

// Priority returns the pod's priority (0 when unset).
func Priority(pod *v1.Pod) int32 {
	if pod.Spec.Priority != nil {
		return *pod.Spec.Priority
	}
	return 0
}

package plugins

import (
	v1 "k8s.io/api/core/v1"

	fw "skiff/internal/scheduler/framework"
)

// The index-backed countDomains: matching pods come from the snapshot's PodIndex
// instead of a walk over every pod, and the number of domains from its node label
// counts when eligibility is only a matter of carrying the topology key. The
// results equal scanDomains'.

// indexableConstraints reports whether every constraint's selector can be
// answered by the index.
func indexableConstraints(cs []constraint) bool {
	for i := range cs {
		if !cs[i].selector.Indexable() {
			return false
		}
	}
	return true
}

func indexedDomains(cs []constraint, pod *v1.Pod, snap fw.Snapshot, idx *fw.PodIndex,
	requireAll bool) ([]map[string]int64, []int) {
	counts := newCounts(len(cs))
	for i := range cs {
		c := &cs[i]
		idx.MatchingPods(pod.Namespace, &c.selector, func(ex *fw.PodInfo, n *fw.NodeInfo) {
			if ex.Pod.DeletionTimestamp != nil {
				return
			}
			if requireAll && !eligible(cs, pod, n.Node) || !requireAll && !eligibleFor(c, pod, n.Node) {
				return
			}
			counts[i][n.Node.Labels[c.key]]++
		})
	}
	domains, ok := indexedDomainCount(cs, pod, idx, requireAll)
	if !ok {
		domains = eligibleDomains(cs, pod, snap.List(), requireAll, nil)
	}
	return counts, domains
}

// indexedDomainCount counts eligible domains from the node label counts. It
// cannot (ok false) when a node inclusion policy must look at each node, or when
// the index follows too many key combinations.
func indexedDomainCount(cs []constraint, pod *v1.Pod, idx *fw.PodIndex, requireAll bool) ([]int, bool) {
	nodeAffinity := hasRequiredNodeAffinity(pod)
	keys := make([]string, len(cs))
	for i := range cs {
		if cs[i].honorTaints || cs[i].honorAffinity && nodeAffinity {
			return nil, false
		}
		keys[i] = cs[i].key
	}
	domains := make([]int, len(cs))
	for i := range cs {
		// With requireAll a node counts only if it carries every key.
		among := keys[i : i+1]
		if requireAll {
			among = keys
		}
		nodes, values, ok := idx.Domains(among, cs[i].key)
		if !ok {
			return nil, false
		}
		if cs[i].key == v1.LabelHostname {
			domains[i] = nodes // as eligibleDomains: one domain per node
		} else {
			domains[i] = values
		}
	}
	return domains, true
}

// hasRequiredNodeAffinity reports whether the pod restricts nodes by nodeSelector
// or required node affinity; without, every node passes fw.MatchesRequiredNodeAffinity.
func hasRequiredNodeAffinity(pod *v1.Pod) bool {
	if len(pod.Spec.NodeSelector) > 0 {
		return true
	}
	a := pod.Spec.Affinity
	return a != nil && a.NodeAffinity != nil && a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution != nil
}

package framework

import (
	v1 "k8s.io/api/core/v1"
	corev1helpers "k8s.io/component-helpers/scheduling/corev1"
	"k8s.io/component-helpers/scheduling/corev1/nodeaffinity"
	"k8s.io/klog/v2"
)

// Node selectors and tolerations are matched by k8s.io/component-helpers and
// k8s.io/api, the code kube-scheduler and the kubelet use, so the scheduler, the
// DaemonSet controller and the taint manager cannot disagree on a rule.

// MatchNodeSelectorTerms reports whether node matches any of terms (terms are ORed,
// the expressions and fields inside one term ANDed). A term with nothing in it
// matches nothing, and a term that does not parse matches nothing, as in Kubernetes.
func MatchNodeSelectorTerms(node *v1.Node, terms []v1.NodeSelectorTerm) bool {
	ok, err := corev1helpers.MatchNodeSelectorTerms(node, &v1.NodeSelector{NodeSelectorTerms: terms})
	return err == nil && ok
}

// MatchesRequiredNodeAffinity reports whether node satisfies the pod's nodeSelector
// and its required node affinity; topology spread and the node affinity filter both
// need it.
func MatchesRequiredNodeAffinity(pod *v1.Pod, node *v1.Node) bool {
	ok, err := nodeaffinity.GetRequiredNodeAffinity(pod).Match(node)
	return err == nil && ok
}

// enableComparisonOperators is off: the API accepts only Equal and Exists
// tolerations (Kubernetes' Lt/Gt are behind an alpha gate).
const enableComparisonOperators = false

// Tolerated reports whether any toleration tolerates taint.
func Tolerated(tols []v1.Toleration, taint *v1.Taint) bool {
	return corev1helpers.TolerationsTolerateTaint(klog.Background(), tols, taint, enableComparisonOperators)
}

// FirstUntolerated returns the first taint with one of effects that tols do not
// tolerate, or nil.
func FirstUntolerated(taints []v1.Taint, tols []v1.Toleration, effects ...v1.TaintEffect) *v1.Taint {
	for i := range taints {
		t := &taints[i]
		if !containsEffect(effects, t.Effect) {
			continue
		}
		if !Tolerated(tols, t) {
			return t
		}
	}
	return nil
}

func containsEffect(list []v1.TaintEffect, e v1.TaintEffect) bool {
	for _, x := range list {
		if x == e {
			return true
		}
	}
	return false
}

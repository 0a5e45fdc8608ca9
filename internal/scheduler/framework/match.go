package framework

import (
	"strconv"

	v1 "k8s.io/api/core/v1"
)

// MatchNodeSelectorTerms reports whether node matches any of terms (terms are ORed,
// the expressions and fields inside one term ANDed). A term with nothing in it
// matches nothing, as in Kubernetes.
func MatchNodeSelectorTerms(node *v1.Node, terms []v1.NodeSelectorTerm) bool {
	for i := range terms {
		if MatchNodeSelectorTerm(node, &terms[i]) {
			return true
		}
	}
	return false
}

// MatchNodeSelectorTerm matches one term against node's labels and metadata.name.
func MatchNodeSelectorTerm(node *v1.Node, t *v1.NodeSelectorTerm) bool {
	if len(t.MatchExpressions) == 0 && len(t.MatchFields) == 0 {
		return false
	}
	for i := range t.MatchExpressions {
		e := &t.MatchExpressions[i]
		v, ok := node.Labels[e.Key]
		if !matchRequirement(e.Operator, e.Values, v, ok) {
			return false
		}
	}
	for i := range t.MatchFields {
		e := &t.MatchFields[i]
		// metadata.name is the only field Kubernetes supports here.
		if e.Key != "metadata.name" || !matchRequirement(e.Operator, e.Values, node.Name, true) {
			return false
		}
	}
	return true
}

func matchRequirement(op v1.NodeSelectorOperator, values []string, v string, present bool) bool {
	switch op {
	case v1.NodeSelectorOpIn:
		return present && contains(values, v)
	case v1.NodeSelectorOpNotIn:
		return !present || !contains(values, v)
	case v1.NodeSelectorOpExists:
		return present
	case v1.NodeSelectorOpDoesNotExist:
		return !present
	case v1.NodeSelectorOpGt, v1.NodeSelectorOpLt:
		if !present || len(values) != 1 {
			return false
		}
		have, err1 := strconv.ParseInt(v, 10, 64)
		want, err2 := strconv.ParseInt(values[0], 10, 64)
		if err1 != nil || err2 != nil {
			return false
		}
		if op == v1.NodeSelectorOpGt {
			return have > want
		}
		return have < want
	}
	return false
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// MatchesRequiredNodeAffinity reports whether node satisfies the pod's nodeSelector
// and its required node affinity; topology spread and the node affinity filter both
// need it.
func MatchesRequiredNodeAffinity(pod *v1.Pod, node *v1.Node) bool {
	for k, v := range pod.Spec.NodeSelector {
		if lv, ok := node.Labels[k]; !ok || lv != v {
			return false
		}
	}
	a := pod.Spec.Affinity
	if a == nil || a.NodeAffinity == nil || a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil {
		return true
	}
	return MatchNodeSelectorTerms(node, a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms)
}

// Tolerates reports whether toleration t tolerates taint.
func Tolerates(t *v1.Toleration, taint *v1.Taint) bool {
	if t.Effect != "" && t.Effect != taint.Effect {
		return false
	}
	switch t.Operator {
	case v1.TolerationOpExists:
		// An empty key with Exists tolerates every taint.
		return t.Key == "" || t.Key == taint.Key
	case v1.TolerationOpEqual, "":
		return t.Key == taint.Key && t.Value == taint.Value
	}
	return false
}

// Tolerated reports whether any toleration tolerates taint.
func Tolerated(tols []v1.Toleration, taint *v1.Taint) bool {
	for i := range tols {
		if Tolerates(&tols[i], taint) {
			return true
		}
	}
	return false
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

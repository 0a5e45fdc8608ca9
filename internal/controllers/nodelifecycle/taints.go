package nodelifecycle

import (
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2"
)

// conditionTaints maps a node condition in a given status to the taint that keeps new
// pods off (and, for readiness, running pods away from) the node.
var conditionTaints = []struct {
	cond   corev1.NodeConditionType
	status corev1.ConditionStatus
	key    string
}{
	{corev1.NodeReady, corev1.ConditionFalse, corev1.TaintNodeNotReady},
	{corev1.NodeReady, corev1.ConditionUnknown, corev1.TaintNodeUnreachable},
	{corev1.NodeMemoryPressure, corev1.ConditionTrue, corev1.TaintNodeMemoryPressure},
	{corev1.NodeDiskPressure, corev1.ConditionTrue, corev1.TaintNodeDiskPressure},
	{corev1.NodePIDPressure, corev1.ConditionTrue, corev1.TaintNodePIDPressure},
	{corev1.NodeNetworkUnavailable, corev1.ConditionTrue, corev1.TaintNodeNetworkUnavailable},
}

// managed reports taints this controller owns; it leaves every other taint alone.
func managed(t corev1.Taint) bool {
	switch t.Key {
	case corev1.TaintNodeUnschedulable:
		return t.Effect == corev1.TaintEffectNoSchedule
	case corev1.TaintNodeNotReady, corev1.TaintNodeUnreachable:
		return t.Effect == corev1.TaintEffectNoSchedule || t.Effect == corev1.TaintEffectNoExecute
	}
	for _, ct := range conditionTaints {
		if ct.key == t.Key {
			return t.Effect == corev1.TaintEffectNoSchedule
		}
	}
	return false
}

// DesiredTaints is what the node's conditions and spec call for: NoSchedule for every
// bad condition, and NoExecute as well when the node is not ready or unreachable, which
// is what evicts its pods.
func DesiredTaints(n *corev1.Node) []corev1.Taint {
	var out []corev1.Taint
	for _, ct := range conditionTaints {
		c := condition(n, ct.cond)
		if c == nil || c.Status != ct.status {
			continue
		}
		out = append(out, corev1.Taint{Key: ct.key, Effect: corev1.TaintEffectNoSchedule})
		if ct.cond == corev1.NodeReady {
			out = append(out, corev1.Taint{Key: ct.key, Effect: corev1.TaintEffectNoExecute})
		}
	}
	if n.Spec.Unschedulable {
		out = append(out, corev1.Taint{Key: corev1.TaintNodeUnschedulable, Effect: corev1.TaintEffectNoSchedule})
	}
	return out
}

// ReconcileTaints returns the node's taints with the managed ones replaced by want,
// keeping the TimeAdded of taints that stay, and whether anything changed.
func ReconcileTaints(cur, want []corev1.Taint, now time.Time) ([]corev1.Taint, bool) {
	has := func(list []corev1.Taint, t corev1.Taint) bool {
		for _, x := range list {
			if x.Key == t.Key && x.Effect == t.Effect {
				return true
			}
		}
		return false
	}
	var out []corev1.Taint
	changed := false
	for _, t := range cur {
		if managed(t) && !has(want, t) {
			changed = true
			continue
		}
		out = append(out, t)
	}
	for _, t := range want {
		if !has(cur, t) {
			added := metav1.NewTime(now)
			t.TimeAdded = &added
			out = append(out, t)
			changed = true
		}
	}
	return out, changed
}

// EvictionTime is when a pod must leave a node with the given NoExecute taints: never
// (zero time, false) if it tolerates them all without limit, now if one is not
// tolerated, otherwise the earliest taint's time plus the shortest tolerationSeconds.
func EvictionTime(tols []corev1.Toleration, taints []corev1.Taint, now time.Time) (time.Time, bool) {
	if len(taints) == 0 {
		return time.Time{}, false
	}
	limit := int64(-1)
	since := now
	for _, t := range taints {
		if t.TimeAdded != nil && t.TimeAdded.Time.Before(since) {
			since = t.TimeAdded.Time
		}
		tolerated := false
		for _, tol := range tols {
			if !tol.ToleratesTaint(klog.Background(), &t, false) { // Lt/Gt: alpha, refused by the API
				continue
			}
			tolerated = true
			if s := tol.TolerationSeconds; s != nil && (limit < 0 || *s < limit) {
				limit = max(*s, 0)
			}
		}
		if !tolerated {
			return now, true
		}
	}
	if limit < 0 {
		return time.Time{}, false
	}
	return since.Add(time.Duration(limit) * time.Second), true
}

func noExecuteTaints(n *corev1.Node) []corev1.Taint {
	var out []corev1.Taint
	for _, t := range n.Spec.Taints {
		if t.Effect == corev1.TaintEffectNoExecute {
			out = append(out, t)
		}
	}
	return out
}

func condition(n *corev1.Node, t corev1.NodeConditionType) *corev1.NodeCondition {
	for i := range n.Status.Conditions {
		if n.Status.Conditions[i].Type == t {
			return &n.Status.Conditions[i]
		}
	}
	return nil
}

package plugins

import (
	"fmt"

	v1 "k8s.io/api/core/v1"

	fw "skiff/internal/scheduler/framework"
)

// TaintToleration keeps pods off nodes with NoSchedule/NoExecute taints they do not
// tolerate, and prefers nodes with fewer untolerated PreferNoSchedule taints.
type TaintToleration struct{}

// Name implements fw.Plugin.
func (TaintToleration) Name() string { return TaintTolerationName }

// Filter implements fw.FilterPlugin.
func (TaintToleration) Filter(_ *fw.CycleState, pod *fw.PodInfo, n *fw.NodeInfo) *fw.Status {
	t := fw.FirstUntolerated(n.Node.Spec.Taints, pod.Pod.Spec.Tolerations,
		v1.TaintEffectNoSchedule, v1.TaintEffectNoExecute)
	if t == nil {
		return nil
	}
	return unresolvable(fmt.Sprintf("node(s) had untolerated taint {%s: %s}", t.Key, t.Value))
}

// Score counts untolerated PreferNoSchedule taints; Normalize turns "fewer" into
// "higher".
func (TaintToleration) Score(_ *fw.CycleState, pod *fw.PodInfo, n *fw.NodeInfo) int64 {
	var count int64
	for i := range n.Node.Spec.Taints {
		t := &n.Node.Spec.Taints[i]
		if t.Effect == v1.TaintEffectPreferNoSchedule && !fw.Tolerated(pod.Pod.Spec.Tolerations, t) {
			count++
		}
	}
	return count
}

// Normalize implements fw.ScoreNormalizer.
func (TaintToleration) Normalize(_ *fw.CycleState, _ *fw.PodInfo, scores []int64) {
	normalizeReverse(scores)
}

package plugins

import (
	v1 "k8s.io/api/core/v1"

	fw "skiff/internal/scheduler/framework"
)

// ReasonNodeUnschedulable is reported for cordoned nodes.
const ReasonNodeUnschedulable = "node(s) were unschedulable"

// NodeUnschedulable rejects cordoned nodes (spec.unschedulable) unless the pod
// tolerates the taint that cordoning stands for.
type NodeUnschedulable struct{}

// Name implements fw.Plugin.
func (NodeUnschedulable) Name() string { return NodeUnschedulableName }

var cordonTaint = v1.Taint{Key: v1.TaintNodeUnschedulable, Effect: v1.TaintEffectNoSchedule}

// Filter implements fw.FilterPlugin.
func (NodeUnschedulable) Filter(_ *fw.CycleState, pod *fw.PodInfo, n *fw.NodeInfo) *fw.Status {
	if !n.Node.Spec.Unschedulable || fw.Tolerated(pod.Pod.Spec.Tolerations, &cordonTaint) {
		return nil
	}
	return unresolvable(ReasonNodeUnschedulable)
}

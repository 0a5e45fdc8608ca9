package plugins

import fw "skiff/internal/scheduler/framework"

// ReasonNodeName is reported when a pod names a different node.
const ReasonNodeName = "node(s) didn't match the requested node name"

// NodeName keeps a pod that already names a node off every other node.
type NodeName struct{}

// Name implements fw.Plugin.
func (NodeName) Name() string { return NodeNameName }

// Filter implements fw.FilterPlugin.
func (NodeName) Filter(_ *fw.CycleState, pod *fw.PodInfo, n *fw.NodeInfo) *fw.Status {
	if want := pod.Pod.Spec.NodeName; want == "" || want == n.Node.Name {
		return nil
	}
	return unresolvable(ReasonNodeName)
}

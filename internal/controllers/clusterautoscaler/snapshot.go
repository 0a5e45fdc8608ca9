package clusterautoscaler

import (
	v1 "k8s.io/api/core/v1"

	fw "skiff/internal/scheduler/framework"
)

// snapshot is the fw.Snapshot the scheduler's plugins read during a decision: the
// real nodes plus the ones the decision imagines. It has no pod index, so plugins
// walk the pods themselves.
type snapshot struct {
	nodes  []*fw.NodeInfo
	byName map[string]*fw.NodeInfo
}

func newSnapshot(nodes []*fw.NodeInfo) *snapshot {
	s := &snapshot{byName: make(map[string]*fw.NodeInfo, len(nodes))}
	for _, ni := range nodes {
		s.add(ni)
	}
	return s
}

func (s *snapshot) add(ni *fw.NodeInfo) {
	s.nodes = append(s.nodes, ni)
	s.byName[ni.Name()] = ni
}

func (s *snapshot) List() []*fw.NodeInfo         { return s.nodes }
func (s *snapshot) Get(name string) *fw.NodeInfo { return s.byName[name] }
func (s *snapshot) Index() *fw.PodIndex          { return nil }
func (s *snapshot) ImageNodeCount(string) int    { return 0 }
func (s *snapshot) HavePodsWithAffinity() []*fw.NodeInfo {
	return s.filter(func(ni *fw.NodeInfo) bool { return len(ni.PodsWithAffinity) > 0 })
}

func (s *snapshot) HavePodsWithRequiredAntiAffinity() []*fw.NodeInfo {
	return s.filter(func(ni *fw.NodeInfo) bool { return len(ni.PodsWithRequiredAntiAffinity) > 0 })
}

func (s *snapshot) filter(keep func(*fw.NodeInfo) bool) []*fw.NodeInfo {
	var out []*fw.NodeInfo
	for _, ni := range s.nodes {
		if keep(ni) {
			out = append(out, ni)
		}
	}
	return out
}

// NodeInfos builds the scheduler's view of nodes with the pods bound to them
// (finished pods hold no resources).
func NodeInfos(nodes []*v1.Node, pods []*v1.Pod) []*fw.NodeInfo {
	byName := make(map[string]*fw.NodeInfo, len(nodes))
	out := make([]*fw.NodeInfo, 0, len(nodes))
	for _, n := range nodes {
		ni := fw.NewNodeInfo(n)
		byName[n.Name] = ni
		out = append(out, ni)
	}
	for _, p := range pods {
		if ni := byName[p.Spec.NodeName]; ni != nil && p.Status.Phase != v1.PodSucceeded && p.Status.Phase != v1.PodFailed {
			ni.AddPod(fw.NewPodInfo(p))
		}
	}
	return out
}

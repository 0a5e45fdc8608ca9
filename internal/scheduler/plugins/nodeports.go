package plugins

import (
	fw "skiff/internal/scheduler/framework"
)

// ReasonNodePorts is reported when a requested hostPort is taken.
const ReasonNodePorts = "node(s) didn't have free ports for the requested pod ports"

// NodePorts rejects nodes where another pod holds one of the pod's hostPorts.
type NodePorts struct{}

// Name implements fw.Plugin.
func (NodePorts) Name() string { return NodePortsName }

// Filter implements fw.FilterPlugin.
func (NodePorts) Filter(_ *fw.CycleState, pod *fw.PodInfo, n *fw.NodeInfo) *fw.Status {
	for _, want := range pod.HostPorts {
		if portTaken(n.UsedPorts, want) {
			return unschedulable(ReasonNodePorts)
		}
	}
	return nil
}

// portTaken treats an empty or 0.0.0.0 host IP as every address, so it clashes with
// any IP on the same port and protocol.
func portTaken(used map[fw.HostPort]int, want fw.HostPort) bool {
	if len(used) == 0 {
		return false
	}
	for p := range used {
		if p.Port != want.Port || p.Protocol != want.Protocol {
			continue
		}
		if anyIP(p.IP) || anyIP(want.IP) || p.IP == want.IP {
			return true
		}
	}
	return false
}

func anyIP(ip string) bool { return ip == "" || ip == "0.0.0.0" || ip == "::" }

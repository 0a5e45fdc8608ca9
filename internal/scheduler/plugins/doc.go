// Package plugins holds the scheduler's filter and score plugins, one small file
// each. Reason strings are the ones users of Kubernetes already know from
// `kubectl describe pod`, since scripts and people grep for them.
package plugins

import fw "skiff/internal/scheduler/framework"

// Names of the plugins, used in configuration and explanations.
const (
	NodeUnschedulableName  = "NodeUnschedulable"
	NodeNameName           = "NodeName"
	NodeResourcesFitName   = "NodeResourcesFit"
	BalancedAllocationName = "NodeResourcesBalancedAllocation"
	NodeAffinityName       = "NodeAffinity"
	TaintTolerationName    = "TaintToleration"
	NodePortsName          = "NodePorts"
	InterPodAffinityName   = "InterPodAffinity"
	PodTopologySpreadName  = "PodTopologySpread"
	VolumeBindingName      = "VolumeBinding"
	ImageLocalityName      = "ImageLocality"
)

// unschedulable and unresolvable are shorthands for the two rejection codes.
func unschedulable(reasons ...string) *fw.Status {
	return fw.NewStatus(fw.Unschedulable, reasons...)
}

func unresolvable(reasons ...string) *fw.Status {
	return fw.NewStatus(fw.UnschedulableAndUnresolvable, reasons...)
}

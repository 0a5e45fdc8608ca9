// Package stats samples the node's and its pods' CPU and memory use, the input of
// `kubectl top` (through the API server's metrics.k8s.io) and of the eviction manager.
// The document it serves keeps the field names of the kubelet's summary API
// (/stats/summary), trimmed to what skiff fills, so a reader who knows that API
// recognises it.
package stats

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Summary is the answer of /stats/summary.
type Summary struct {
	Node NodeStats  `json:"node"`
	Pods []PodStats `json:"pods"`
}

// NodeStats is the whole machine as the root cgroup and the kernel see it.
type NodeStats struct {
	NodeName  string       `json:"nodeName"`
	StartTime metav1.Time  `json:"startTime"`
	CPU       *CPUStats    `json:"cpu,omitempty"`
	Memory    *MemoryStats `json:"memory,omitempty"`
	// Fs is the filesystem holding the agent's data directory (nodefs).
	Fs     *FsStats     `json:"fs,omitempty"`
	Rlimit *RlimitStats `json:"rlimit,omitempty"`
}

// PodReference names a pod.
type PodReference struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
	UID       string `json:"uid"`
}

// PodStats sums a pod's running containers.
type PodStats struct {
	PodRef     PodReference     `json:"podRef"`
	StartTime  metav1.Time      `json:"startTime"`
	Containers []ContainerStats `json:"containers"`
	CPU        *CPUStats        `json:"cpu,omitempty"`
	Memory     *MemoryStats     `json:"memory,omitempty"`
}

// ContainerStats is one running container.
type ContainerStats struct {
	Name      string       `json:"name"`
	StartTime metav1.Time  `json:"startTime"`
	CPU       *CPUStats    `json:"cpu,omitempty"`
	Memory    *MemoryStats `json:"memory,omitempty"`
}

// CPUStats: UsageNanoCores is the rate between the last two samples, so it is absent
// until a container has been sampled twice.
type CPUStats struct {
	Time metav1.Time `json:"time"`
	// Window is the interval the rate was measured over (a skiff addition: the
	// metrics API reports it as the sample's window).
	Window               *metav1.Duration `json:"window,omitempty"`
	UsageNanoCores       *uint64          `json:"usageNanoCores,omitempty"`
	UsageCoreNanoSeconds *uint64          `json:"usageCoreNanoSeconds,omitempty"`
}

// MemoryStats: the working set (usage minus inactive file cache) is what the kernel
// cannot easily reclaim, and what limits and eviction are judged by.
type MemoryStats struct {
	Time            metav1.Time `json:"time"`
	AvailableBytes  *uint64     `json:"availableBytes,omitempty"`
	UsageBytes      *uint64     `json:"usageBytes,omitempty"`
	WorkingSetBytes *uint64     `json:"workingSetBytes,omitempty"`
}

// FsStats describes a filesystem.
type FsStats struct {
	Time           metav1.Time `json:"time"`
	AvailableBytes *uint64     `json:"availableBytes,omitempty"`
	CapacityBytes  *uint64     `json:"capacityBytes,omitempty"`
	InodesFree     *uint64     `json:"inodesFree,omitempty"`
	Inodes         *uint64     `json:"inodes,omitempty"`
}

// RlimitStats counts processes against the kernel's limit.
type RlimitStats struct {
	Time                  metav1.Time `json:"time"`
	MaxPID                *int64      `json:"maxpid,omitempty"`
	NumOfRunningProcesses *int64      `json:"curproc,omitempty"`
}

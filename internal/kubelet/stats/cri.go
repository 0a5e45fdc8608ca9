package stats

import (
	"context"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Label keys the agent puts on every container (see package cri; repeated here so
// this package does not depend on the agent's CRI client).
const (
	labelPodName      = "io.kubernetes.pod.name"
	labelPodNamespace = "io.kubernetes.pod.namespace"
	labelPodUID       = "io.kubernetes.pod.uid"
)

// CRISource reads container counters from the runtime's ListContainerStats, which
// containerd fills from each container's cgroup.
type CRISource struct {
	Runtime runtimeapi.RuntimeServiceClient
	// Selector limits the containers to this agent's (several agents may share a
	// runtime).
	Selector map[string]string
	// NodeSource reads the machine's counters.
	NodeSource
}

// Containers samples every running container of this agent.
func (s CRISource) Containers(ctx context.Context) ([]ContainerSample, error) {
	running := &runtimeapi.ContainerStateValue{State: runtimeapi.ContainerState_CONTAINER_RUNNING}
	list, err := s.Runtime.ListContainers(ctx, &runtimeapi.ListContainersRequest{
		Filter: &runtimeapi.ContainerFilter{State: running, LabelSelector: s.Selector}})
	if err != nil {
		return nil, err
	}
	created := make(map[string]int64, len(list.Containers))
	for _, c := range list.Containers {
		created[c.Id] = c.CreatedAt
	}
	resp, err := s.Runtime.ListContainerStats(ctx, &runtimeapi.ListContainerStatsRequest{
		Filter: &runtimeapi.ContainerStatsFilter{LabelSelector: s.Selector}})
	if err != nil {
		return nil, err
	}
	now := time.Now()
	out := make([]ContainerSample, 0, len(resp.Stats))
	for _, st := range resp.Stats {
		if st.Attributes == nil || st.Cpu == nil || st.Memory == nil {
			continue
		}
		at, ok := created[st.Attributes.Id]
		if !ok {
			continue // exited since the list, or not running: no cgroup to read
		}
		out = append(out, fromCRI(st, at, now))
	}
	return out, nil
}

// fromCRI converts one runtime answer; now stands in for a missing timestamp.
func fromCRI(st *runtimeapi.ContainerStats, createdAt int64, now time.Time) ContainerSample {
	l := st.Attributes.Labels
	s := ContainerSample{
		ID:   st.Attributes.Id,
		Pod:  PodReference{Name: l[labelPodName], Namespace: l[labelPodNamespace], UID: l[labelPodUID]},
		Time: now,
	}
	if md := st.Attributes.Metadata; md != nil {
		s.Name = md.Name
	}
	if createdAt > 0 {
		s.StartTime = time.Unix(0, createdAt)
	}
	if st.Cpu.Timestamp > 0 {
		s.Time = time.Unix(0, st.Cpu.Timestamp)
	}
	if v := st.Cpu.UsageCoreNanoSeconds; v != nil {
		s.CPUNanos = v.Value
	}
	if v := st.Memory.WorkingSetBytes; v != nil {
		s.WorkingSet = v.Value
	}
	if v := st.Memory.UsageBytes; v != nil {
		s.Usage = v.Value
	}
	return s
}

package clusterautoscaler

import (
	"fmt"
	"sort"
	"strings"
	"time"

	v1 "k8s.io/api/core/v1"

	"skiff/internal/nodepool"
)

// status is one scan's summary, written to kube-system/cluster-autoscaler-status in
// the real autoscaler's plain-text shape.
type status struct {
	time       time.Time
	pools      []nodepool.Pool
	desired    map[string]int
	nodes      []*v1.Node
	pending    int
	scaleUp    string
	candidates []string
	blocked    map[string]string
}

func (s status) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Cluster-autoscaler status at %s:\n", s.time.UTC().Format(time.RFC3339))
	ready, registered := readyCount(s.nodes, "")
	fmt.Fprintf(&b, "Cluster-wide:\n  Health:      Healthy (ready=%d registered=%d)\n", ready, registered)
	up := s.scaleUp
	if up == "" {
		up = "NoActivity"
	}
	fmt.Fprintf(&b, "  ScaleUp:     %s (unschedulable pods=%d)\n", up, s.pending)
	down := "NoCandidates"
	if len(s.candidates) > 0 {
		down = "CandidatesPresent (candidates=" + strings.Join(s.candidates, ",") + ")"
	}
	fmt.Fprintf(&b, "  ScaleDown:   %s\n\nNodeGroups:\n", down)
	for _, p := range s.pools {
		ready, registered := readyCount(s.nodes, p.Name)
		fmt.Fprintf(&b, "  Name:        %s\n  Health:      Healthy (ready=%d registered=%d cloudProviderTarget=%d (minSize=%d, maxSize=%d))\n",
			p.Name, ready, registered, s.desired[p.Name], p.Min, p.Max)
	}
	if len(s.blocked) > 0 {
		names := make([]string, 0, len(s.blocked))
		for n := range s.blocked {
			names = append(names, n)
		}
		sort.Strings(names)
		b.WriteString("\nNodes kept:\n")
		for _, n := range names {
			fmt.Fprintf(&b, "  %s: %s\n", n, s.blocked[n])
		}
	}
	return b.String()
}

// readyCount counts the nodes of pool (all nodes when pool is "").
func readyCount(nodes []*v1.Node, pool string) (ready, registered int) {
	for _, n := range nodes {
		if pool != "" && n.Labels[nodepool.Label] != pool {
			continue
		}
		registered++
		for _, c := range n.Status.Conditions {
			if c.Type == v1.NodeReady && c.Status == v1.ConditionTrue {
				ready++
			}
		}
	}
	return ready, registered
}

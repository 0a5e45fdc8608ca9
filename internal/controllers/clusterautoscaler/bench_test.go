package clusterautoscaler

import (
	"context"
	"fmt"
	"testing"

	v1 "k8s.io/api/core/v1"

	"skiff/internal/nodepool"
	"skiff/internal/scheduler"
)

// BenchmarkPlanScaleUp is one scale-up decision over 5,000 full nodes (8 pods of one
// cpu each) and 10,000 pending pods from 20 Deployments, with three pools to choose
// from. Building the NodeInfos (done per scan by the controller too) is timed apart.
func BenchmarkPlanScaleUp(b *testing.B) {
	pools := []nodepool.Pool{pool("small", "2", "4Gi", 0, 10000), pool("big", "8", "32Gi", 0, 10000),
		pool("huge", "32", "256Gi", 0, 10000)}
	var nodes []*v1.Node
	var bound []*v1.Pod
	for i := range 5000 {
		n := pools[1].Template(fmt.Sprintf("big-%d", i))
		nodes = append(nodes, n)
		for _, p := range pods(fmt.Sprintf("full-%d", i), 8, "1", "1Gi") {
			p.Spec.NodeName = n.Name
			bound = append(bound, p)
		}
	}
	var pending []*v1.Pod
	for d := range 20 {
		pending = append(pending, pods(fmt.Sprintf("deploy-%d", d), 500, "500m", "512Mi")...)
	}
	fc := scheduler.NewFitChecker()
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		c := Cluster{Nodes: NodeInfos(nodes, bound), Pools: pools, Desired: map[string]int{"big": 5000}}
		b.StartTimer()
		plan := PlanScaleUp(context.Background(), fc, c, pending)
		if plan.ScaleUp == nil || len(plan.ScaleUp.Pods) != len(pending) {
			b.Fatalf("plan %+v", plan.ScaleUp)
		}
	}
}

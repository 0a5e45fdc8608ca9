package clusterautoscaler

import (
	"context"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"skiff/internal/nodepool"
	"skiff/internal/scheduler"
)

// PlanCapacity answers "how many nodes of which pool do these pods need": starting
// from every pool at its min, it takes the autoscaler's own scale-up decisions
// (least waste, the scheduler's filters) one after another until every pod fits or
// no pool can take the rest. noFit says why each pod left over fits nowhere.
func PlanCapacity(ctx context.Context, fc *scheduler.FitChecker, pools []nodepool.Pool, pods []*v1.Pod) (desired map[string]int, noFit map[types.UID]string) {
	desired = map[string]int{}
	steps := 0
	for _, p := range pools {
		desired[p.Name] = p.Min
		steps += p.Max - p.Min
	}
	// Each step grows one pool by at least one node, so this many steps always end it.
	for range steps + 1 {
		plan := PlanScaleUp(ctx, fc, Cluster{Pools: pools, Desired: desired}, pods)
		if plan.ScaleUp == nil {
			return desired, plan.NoFit
		}
		desired[plan.ScaleUp.Pool] = plan.ScaleUp.To
	}
	return desired, nil
}

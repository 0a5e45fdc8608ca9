package scheduler

import (
	"context"

	fw "skiff/internal/scheduler/framework"
)

// FitChecker runs the default profile's PreFilter and Filter plugins outside a
// scheduling cycle, so the cluster autoscaler asks the scheduler's own rules whether
// a pod would fit a node, including nodes that do not exist yet. It has no listers:
// namespace selectors of affinity terms match no namespace labels and claims are not
// read, so pods with bound volumes are judged on their other constraints.
type FitChecker struct{ prof *profile }

// NewFitChecker returns a checker with the default profile.
func NewFitChecker() *FitChecker { return &FitChecker{prof: newProfile(&Config{}, listers{})} }

// PreFilter prepares a pod's state over snap; a rejection means no node can fit it.
func (f *FitChecker) PreFilter(ctx context.Context, pi *fw.PodInfo, snap fw.Snapshot) (*fw.CycleState, *fw.Status) {
	state := fw.NewCycleState()
	return state, f.prof.preFilter(ctx, state, pi, snap)
}

// Filter reports whether pi fits ni; a rejection names the failing plugin's reasons.
func (f *FitChecker) Filter(state *fw.CycleState, pi *fw.PodInfo, ni *fw.NodeInfo) *fw.Status {
	return f.prof.filter(state, pi, ni)
}

// AddPod tells the state that added now runs on ni, so checks between pods of one
// batch (anti-affinity, spreading) see it.
func (f *FitChecker) AddPod(state *fw.CycleState, pi, added *fw.PodInfo, ni *fw.NodeInfo) {
	f.prof.addPod(state, pi, added, ni)
}

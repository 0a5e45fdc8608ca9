package simulate

import (
	"testing"

	v1 "k8s.io/api/core/v1"
)

func TestMarkReady(t *testing.T) {
	cond := func(s v1.ConditionStatus) []v1.PodCondition {
		return []v1.PodCondition{{Type: v1.PodScheduled, Status: v1.ConditionTrue},
			{Type: v1.PodReady, Status: s}, {Type: v1.ContainersReady, Status: s}}
	}
	for _, tc := range []struct {
		name    string
		phase   v1.PodPhase
		conds   []v1.PodCondition
		ready   bool
		changed bool
	}{
		{"ready already", v1.PodRunning, cond(v1.ConditionTrue), true, false},
		{"marked not ready by the node controller", v1.PodRunning, cond(v1.ConditionFalse), false, true},
		{"container not ready", v1.PodRunning, cond(v1.ConditionTrue), false, true},
		{"finished pod stays as it is", v1.PodSucceeded, cond(v1.ConditionFalse), false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pod := &v1.Pod{Status: v1.PodStatus{Phase: tc.phase, Conditions: tc.conds,
				ContainerStatuses: []v1.ContainerStatus{{Name: "c", Ready: tc.ready}}}}
			if got := markReady(pod); got != tc.changed {
				t.Fatalf("markReady = %v; want %v", got, tc.changed)
			}
			if !tc.changed {
				return
			}
			for _, c := range pod.Status.Conditions {
				if c.Status != v1.ConditionTrue {
					t.Errorf("condition %s is %s after markReady", c.Type, c.Status)
				}
			}
			if !pod.Status.ContainerStatuses[0].Ready {
				t.Error("container not ready after markReady")
			}
		})
	}
}

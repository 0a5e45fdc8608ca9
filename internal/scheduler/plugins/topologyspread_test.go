package plugins

import (
	"testing"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	fw "skiff/internal/scheduler/framework"
)

func spread(p *v1.Pod, key string, skew int32, when v1.UnsatisfiableConstraintAction, mutate ...func(*v1.TopologySpreadConstraint)) *v1.Pod {
	c := v1.TopologySpreadConstraint{MaxSkew: skew, TopologyKey: key, WhenUnsatisfiable: when,
		LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": p.Labels["app"]}}}
	for _, m := range mutate {
		m(&c)
	}
	p.Spec.TopologySpreadConstraints = append(p.Spec.TopologySpreadConstraints, c)
	return p
}

func TestPodTopologySpreadFilter(t *testing.T) {
	const zone = v1.LabelTopologyZone
	web := func(n string) *v1.Pod { return pod(n, "", "", "app", "web") }
	// z1 holds two web pods, z2 one, z3 none; node d has no zone label.
	snap := snapshot{
		nodeInfo(node("a", "1", "1Gi", zone, "z1"), web("w1"), web("w2")),
		nodeInfo(node("b", "1", "1Gi", zone, "z2"), web("w3")),
		nodeInfo(node("c", "1", "1Gi", zone, "z3", "disk", "hdd")),
		nodeInfo(node("d", "1", "1Gi")),
	}
	skewed := reject(fw.Unschedulable, ReasonTopologySpread)
	missing := reject(fw.UnschedulableAndUnresolvable, ReasonTopologySpreadMissing)
	tests := []struct {
		name string
		pod  *v1.Pod
		want map[string]verdict
	}{
		{"maxSkew 1 sends the pod to the emptiest zone", spread(web("new"), zone, 1, v1.DoNotSchedule),
			map[string]verdict{"a": skewed, "b": skewed, "c": fits, "d": missing}},
		{"maxSkew 2 allows the middle zone", spread(web("new"), zone, 2, v1.DoNotSchedule),
			map[string]verdict{"a": skewed, "b": fits, "c": fits, "d": missing}},
		{"ScheduleAnyway does not filter", spread(web("new"), zone, 1, v1.ScheduleAnyway),
			map[string]verdict{"a": fits, "b": fits, "c": fits, "d": fits}},
		{"nodeAffinityPolicy Honor drops z3 from the domains", func() *v1.Pod {
			p := spread(web("new"), zone, 1, v1.DoNotSchedule)
			p.Spec.Affinity = required(expr("disk", v1.NodeSelectorOpDoesNotExist))
			return p
		}(), map[string]verdict{"a": skewed, "b": fits, "c": fits, "d": missing}},
		{"nodeAffinityPolicy Ignore keeps z3", func() *v1.Pod {
			p := spread(web("new"), zone, 1, v1.DoNotSchedule, func(c *v1.TopologySpreadConstraint) {
				c.NodeAffinityPolicy = ptr.To(v1.NodeInclusionPolicyIgnore)
			})
			p.Spec.Affinity = required(expr("disk", v1.NodeSelectorOpDoesNotExist))
			return p
		}(), map[string]verdict{"a": skewed, "b": skewed, "c": fits, "d": missing}},
		{"minDomains above the domain count forces min 0", spread(web("new"), zone, 2, v1.DoNotSchedule, func(c *v1.TopologySpreadConstraint) {
			c.MinDomains = ptr.To[int32](5)
		}), map[string]verdict{"a": skewed, "b": fits, "c": fits, "d": missing}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { diff(t, tt.want, runFilter(t, PodTopologySpread{}, tt.pod, snap)) })
	}
}

func TestPodTopologySpreadScore(t *testing.T) {
	web := func(n string) *v1.Pod { return pod(n, "", "", "app", "web") }
	snap := snapshot{
		nodeInfo(node("a", "1", "1Gi"), web("w1"), web("w2")),
		nodeInfo(node("b", "1", "1Gi"), web("w3")),
		nodeInfo(node("c", "1", "1Gi")),
	}
	p := fw.NewPodInfo(spread(web("new"), v1.LabelHostname, 1, v1.ScheduleAnyway))
	pl := PodTopologySpread{}
	state := fw.NewCycleState()
	pl.PreScore(state, p, snap, snap)
	scores := []int64{pl.Score(state, p, snap[0]), pl.Score(state, p, snap[1]), pl.Score(state, p, snap[2])}
	pl.Normalize(state, p, scores)
	diff(t, []int64{0, 50, 100}, scores)
}

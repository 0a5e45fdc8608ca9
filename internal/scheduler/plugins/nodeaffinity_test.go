package plugins

import (
	"testing"

	v1 "k8s.io/api/core/v1"

	fw "skiff/internal/scheduler/framework"
)

func required(terms ...v1.NodeSelectorTerm) *v1.Affinity {
	return &v1.Affinity{NodeAffinity: &v1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &v1.NodeSelector{NodeSelectorTerms: terms}}}
}

func expr(key string, op v1.NodeSelectorOperator, values ...string) v1.NodeSelectorTerm {
	return v1.NodeSelectorTerm{MatchExpressions: []v1.NodeSelectorRequirement{{Key: key, Operator: op, Values: values}}}
}

func TestNodeAffinityFilter(t *testing.T) {
	snap := snapshot{
		nodeInfo(node("a", "1", "1Gi", "example", "true", "disk", "ssd", "cores", "8")),
		nodeInfo(node("b", "1", "1Gi", "disk", "hdd", "cores", "2")),
	}
	no := reject(fw.UnschedulableAndUnresolvable, ReasonNodeAffinity)
	tests := []struct {
		name   string
		mutate func(*v1.Pod)
		want   map[string]verdict
	}{
		{"no constraints", func(*v1.Pod) {}, map[string]verdict{"a": fits, "b": fits}},
		{"nodeSelector", func(p *v1.Pod) { p.Spec.NodeSelector = map[string]string{"disk": "ssd"} }, map[string]verdict{"a": fits, "b": no}},
		{"In", func(p *v1.Pod) { p.Spec.Affinity = required(expr("example", v1.NodeSelectorOpIn, "true")) }, map[string]verdict{"a": fits, "b": no}},
		{"NotIn", func(p *v1.Pod) { p.Spec.Affinity = required(expr("disk", v1.NodeSelectorOpNotIn, "ssd")) }, map[string]verdict{"a": no, "b": fits}},
		{"Exists", func(p *v1.Pod) { p.Spec.Affinity = required(expr("example", v1.NodeSelectorOpExists)) }, map[string]verdict{"a": fits, "b": no}},
		{"DoesNotExist", func(p *v1.Pod) { p.Spec.Affinity = required(expr("example", v1.NodeSelectorOpDoesNotExist)) }, map[string]verdict{"a": no, "b": fits}},
		{"Gt", func(p *v1.Pod) { p.Spec.Affinity = required(expr("cores", v1.NodeSelectorOpGt, "4")) }, map[string]verdict{"a": fits, "b": no}},
		{"Lt", func(p *v1.Pod) { p.Spec.Affinity = required(expr("cores", v1.NodeSelectorOpLt, "4")) }, map[string]verdict{"a": no, "b": fits}},
		{"terms are ORed", func(p *v1.Pod) {
			p.Spec.Affinity = required(expr("disk", v1.NodeSelectorOpIn, "nvme"), expr("cores", v1.NodeSelectorOpIn, "2"))
		}, map[string]verdict{"a": no, "b": fits}},
		{"matchFields metadata.name", func(p *v1.Pod) {
			p.Spec.Affinity = required(v1.NodeSelectorTerm{MatchFields: []v1.NodeSelectorRequirement{{Key: "metadata.name", Operator: v1.NodeSelectorOpIn, Values: []string{"b"}}}})
		}, map[string]verdict{"a": no, "b": fits}},
		{"empty term matches nothing", func(p *v1.Pod) { p.Spec.Affinity = required(v1.NodeSelectorTerm{}) }, map[string]verdict{"a": no, "b": no}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := pod("p", "", "")
			tt.mutate(p)
			diff(t, tt.want, runFilter(t, NodeAffinity{}, p, snap))
		})
	}
}

func TestNodeAffinityScore(t *testing.T) {
	a := nodeInfo(node("a", "1", "1Gi", "zone", "z1"))
	b := nodeInfo(node("b", "1", "1Gi", "zone", "z2"))
	p := pod("p", "", "")
	p.Spec.Affinity = &v1.Affinity{NodeAffinity: &v1.NodeAffinity{PreferredDuringSchedulingIgnoredDuringExecution: []v1.PreferredSchedulingTerm{
		{Weight: 10, Preference: expr("zone", v1.NodeSelectorOpIn, "z2")},
		{Weight: 5, Preference: expr("zone", v1.NodeSelectorOpExists)},
	}}}
	pi := fw.NewPodInfo(p)
	state := fw.NewCycleState()
	if s := (NodeAffinity{}).PreScore(state, pi, nil, nil); s != nil {
		t.Fatalf("PreScore: %v", s)
	}
	scores := []int64{NodeAffinity{}.Score(state, pi, a), NodeAffinity{}.Score(state, pi, b)}
	NodeAffinity{}.Normalize(nil, pi, scores)
	diff(t, []int64{33, 100}, scores)
}

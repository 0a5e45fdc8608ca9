package framework

import (
	"testing"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestTolerated(t *testing.T) {
	noExec := &v1.Taint{Key: "k", Value: "v", Effect: v1.TaintEffectNoExecute}
	tests := []struct {
		name string
		tols []v1.Toleration
		want bool
	}{
		{"none", nil, false},
		{"exists with no key tolerates everything", []v1.Toleration{{Operator: v1.TolerationOpExists}}, true},
		{"exists on the key", []v1.Toleration{{Key: "k", Operator: v1.TolerationOpExists}}, true},
		{"empty operator means Equal", []v1.Toleration{{Key: "k", Value: "v"}}, true},
		{"Equal, other value", []v1.Toleration{{Key: "k", Operator: v1.TolerationOpEqual, Value: "w"}}, false},
		{"other effect", []v1.Toleration{{Key: "k", Operator: v1.TolerationOpExists, Effect: v1.TaintEffectNoSchedule}}, false},
		{"other key", []v1.Toleration{{Key: "j", Operator: v1.TolerationOpExists}}, false},
		{"Gt is not enabled", []v1.Toleration{{Key: "k", Operator: v1.TolerationOpGt, Value: "1"}}, false},
	}
	for _, tt := range tests {
		if got := Tolerated(tt.tols, noExec); got != tt.want {
			t.Errorf("%s: Tolerated = %v, want %v", tt.name, got, tt.want)
		}
	}
	taints := []v1.Taint{{Key: "soft", Effect: v1.TaintEffectPreferNoSchedule}, *noExec}
	if got := FirstUntolerated(taints, nil, v1.TaintEffectNoSchedule, v1.TaintEffectNoExecute); got == nil || got.Key != "k" {
		t.Errorf("FirstUntolerated = %v, want the NoExecute taint", got)
	}
}

func TestMatchesRequiredNodeAffinity(t *testing.T) {
	node := &v1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1", Labels: map[string]string{"zone": "a", "cores": "8"}}}
	req := func(terms ...v1.NodeSelectorTerm) *v1.Affinity {
		return &v1.Affinity{NodeAffinity: &v1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &v1.NodeSelector{NodeSelectorTerms: terms}}}
	}
	expr := func(key string, op v1.NodeSelectorOperator, vals ...string) v1.NodeSelectorTerm {
		return v1.NodeSelectorTerm{MatchExpressions: []v1.NodeSelectorRequirement{{Key: key, Operator: op, Values: vals}}}
	}
	tests := []struct {
		name     string
		selector map[string]string
		affinity *v1.Affinity
		want     bool
	}{
		{"nothing required", nil, nil, true},
		{"nodeSelector matches", map[string]string{"zone": "a"}, nil, true},
		{"nodeSelector misses", map[string]string{"zone": "b"}, nil, false},
		{"In", nil, req(expr("zone", v1.NodeSelectorOpIn, "a", "b")), true},
		{"NotIn", nil, req(expr("zone", v1.NodeSelectorOpNotIn, "a")), false},
		{"DoesNotExist", nil, req(expr("gpu", v1.NodeSelectorOpDoesNotExist)), true},
		{"Lt", nil, req(expr("cores", v1.NodeSelectorOpLt, "16")), true},
		{"terms are ORed", nil, req(expr("zone", v1.NodeSelectorOpIn, "b"), expr("cores", v1.NodeSelectorOpGt, "4")), true},
		{"an empty term matches nothing", nil, req(v1.NodeSelectorTerm{}), false},
		{"a bad value matches nothing", nil, req(expr("cores", v1.NodeSelectorOpGt, "many")), false},
		{"matchFields on the name", nil, req(v1.NodeSelectorTerm{MatchFields: []v1.NodeSelectorRequirement{
			{Key: "metadata.name", Operator: v1.NodeSelectorOpIn, Values: []string{"n1"}}}}), true},
		{"selector and affinity are ANDed", map[string]string{"zone": "b"}, req(expr("zone", v1.NodeSelectorOpExists)), false},
	}
	for _, tt := range tests {
		pod := &v1.Pod{Spec: v1.PodSpec{NodeSelector: tt.selector, Affinity: tt.affinity}}
		if got := MatchesRequiredNodeAffinity(pod, node); got != tt.want {
			t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
		}
	}
}

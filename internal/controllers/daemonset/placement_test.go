package daemonset

import (
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func node(name string, labels map[string]string, taints ...corev1.Taint) *corev1.Node {
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}, Spec: corev1.NodeSpec{Taints: taints}}
}

func TestPlacement(t *testing.T) {
	gpu := corev1.PodTemplateSpec{Spec: corev1.PodSpec{NodeSelector: map[string]string{"gpu": "yes"}}}
	plain := corev1.PodTemplateSpec{}
	affinity := corev1.PodTemplateSpec{Spec: corev1.PodSpec{Affinity: &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
		RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{
			{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "zone", Operator: corev1.NodeSelectorOpIn, Values: []string{"a"}}}}}}}}}}
	byName := corev1.PodTemplateSpec{Spec: corev1.PodSpec{Affinity: &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
		RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{
			{MatchFields: []corev1.NodeSelectorRequirement{{Key: "metadata.name", Operator: corev1.NodeSelectorOpIn, Values: []string{"n1"}}}}}}}}}}
	bigger := corev1.PodTemplateSpec{Spec: corev1.PodSpec{Affinity: &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
		RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{
			{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "cores", Operator: corev1.NodeSelectorOpGt, Values: []string{"4"}}}}}}}}}}
	tolerant := corev1.PodTemplateSpec{Spec: corev1.PodSpec{Tolerations: []corev1.Toleration{{Key: "dedicated", Value: "db"}}}}
	tests := []struct {
		name      string
		node      *corev1.Node
		tmpl      corev1.PodTemplateSpec
		run, keep bool
	}{
		{"plain node", node("n", nil), plain, true, true},
		{"selector matches", node("n", map[string]string{"gpu": "yes"}), gpu, true, true},
		{"selector misses", node("n", nil), gpu, false, false},
		{"affinity matches", node("n", map[string]string{"zone": "a"}), affinity, true, true},
		{"affinity misses", node("n", map[string]string{"zone": "b"}), affinity, false, false},
		{"cordoned node still gets its daemon", node("n", nil, corev1.Taint{Key: corev1.TaintNodeUnschedulable, Effect: corev1.TaintEffectNoSchedule}), plain, true, true},
		{"not-ready node keeps its daemon", node("n", nil, corev1.Taint{Key: corev1.TaintNodeNotReady, Effect: corev1.TaintEffectNoExecute}), plain, true, true},
		{"NoSchedule taint: none new, keep old", node("n", nil, corev1.Taint{Key: "dedicated", Value: "db", Effect: corev1.TaintEffectNoSchedule}), plain, false, true},
		{"matchFields on the node's name", node("n1", nil), byName, true, true},
		{"matchFields on another name", node("n2", nil), byName, false, false},
		{"Gt compares numbers", node("n", map[string]string{"cores": "16"}), bigger, true, true},
		{"Gt below", node("n", map[string]string{"cores": "2"}), bigger, false, false},
		{"Equal toleration (empty operator) tolerates", node("n", nil, corev1.Taint{Key: "dedicated", Value: "db", Effect: corev1.TaintEffectNoExecute}), tolerant, true, true},
		{"Equal toleration, other value", node("n", nil, corev1.Taint{Key: "dedicated", Value: "web", Effect: corev1.TaintEffectNoExecute}), tolerant, false, false},
		{"NoExecute taint evicts", node("n", nil, corev1.Taint{Key: "dedicated", Effect: corev1.TaintEffectNoExecute}), plain, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			run, keep := placement(tt.node, &tt.tmpl)
			if run != tt.run || keep != tt.keep {
				t.Errorf("run %v keep %v, want %v %v", run, keep, tt.run, tt.keep)
			}
		})
	}
}

func dsPod(name, node, hash string, ready bool) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{appsv1.DefaultDaemonSetUniqueLabelKey: hash}}}
	p.Spec.NodeName = node
	p.Status.Phase = corev1.PodRunning
	if ready {
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
	}
	return p
}

func TestRollingPlan(t *testing.T) {
	nodes := []*corev1.Node{node("a", nil), node("b", nil), node("c", nil)}
	one := intstr.FromInt32(1)
	ds := &appsv1.DaemonSet{Spec: appsv1.DaemonSetSpec{UpdateStrategy: appsv1.DaemonSetUpdateStrategy{
		Type: appsv1.RollingUpdateDaemonSetStrategyType, RollingUpdate: &appsv1.RollingUpdateDaemonSet{MaxUnavailable: &one}}}}
	now := metav1.NewTime(time.Now())
	byNode := map[string][]*corev1.Pod{"a": {dsPod("a1", "a", "old", true)}, "b": {dsPod("b1", "b", "old", true)}, "c": {dsPod("c1", "c", "old", true)}}
	if p := rollingPlan(ds, nodes, byNode, "new", now); len(p.delete) != 1 || len(p.create) != 0 {
		t.Errorf("maxUnavailable 1: delete %d create %d, want 1 0", len(p.delete), len(p.create))
	}
	// One node is already down to no daemon: nothing more may go.
	delete(byNode, "a")
	if p := rollingPlan(ds, nodes, byNode, "new", now); len(p.delete) != 0 {
		t.Errorf("with one node unavailable, deleted %d more", len(p.delete))
	}
	zero, surge := intstr.FromInt32(0), intstr.FromInt32(1)
	// Node a surged already; with maxSurge 1, b waits until a's old pod is gone.
	ds.Spec.UpdateStrategy.RollingUpdate = &appsv1.RollingUpdateDaemonSet{MaxUnavailable: &zero, MaxSurge: &surge}
	byNode = map[string][]*corev1.Pod{"a": {dsPod("a1", "a", "old", true), dsPod("a2", "a", "new", true)}, "b": {dsPod("b1", "b", "old", true)}}
	p := rollingPlan(ds, nodes[:2], byNode, "new", now)
	if len(p.delete) != 1 || p.delete[0].Name != "a1" || len(p.create) != 0 {
		t.Errorf("surge 1: delete %d create %v; want a1 deleted, nothing surged", len(p.delete), p.create)
	}
	delete(byNode, "a")
	byNode["a"] = []*corev1.Pod{dsPod("a2", "a", "new", true)}
	if p := rollingPlan(ds, nodes[:2], byNode, "new", now); len(p.delete) != 0 || len(p.create) != 1 || p.create[0] != "b" {
		t.Errorf("surge 1 after a: delete %d create %v; want b surged", len(p.delete), p.create)
	}
}

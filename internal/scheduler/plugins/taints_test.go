package plugins

import (
	"testing"

	v1 "k8s.io/api/core/v1"

	fw "skiff/internal/scheduler/framework"
)

func tainted(name string, taints ...v1.Taint) *fw.NodeInfo {
	n := node(name, "1", "1Gi")
	n.Spec.Taints = taints
	return nodeInfo(n)
}

func TestTaintTolerationFilter(t *testing.T) {
	gpu := v1.Taint{Key: "gpu", Value: "true", Effect: v1.TaintEffectNoSchedule}
	exec := v1.Taint{Key: "dedicated", Value: "db", Effect: v1.TaintEffectNoExecute}
	soft := v1.Taint{Key: "spot", Value: "yes", Effect: v1.TaintEffectPreferNoSchedule}
	example := v1.Taint{Key: "example-node", Value: "x", Effect: v1.TaintEffectNoSchedule}
	snap := snapshot{tainted("gpu", gpu), tainted("exec", exec), tainted("soft", soft), tainted("example", example), tainted("plain")}
	all := func(v verdict) map[string]verdict {
		return map[string]verdict{"gpu": v, "exec": v, "soft": fits, "example": v, "plain": fits}
	}
	tests := []struct {
		name string
		tols []v1.Toleration
		want map[string]verdict
	}{
		{"no tolerations", nil, map[string]verdict{
			"gpu":     reject(fw.UnschedulableAndUnresolvable, "node(s) had untolerated taint {gpu: true}"),
			"exec":    reject(fw.UnschedulableAndUnresolvable, "node(s) had untolerated taint {dedicated: db}"),
			"soft":    fits,
			"example": reject(fw.UnschedulableAndUnresolvable, "node(s) had untolerated taint {example-node: x}"),
			"plain":   fits}},
		{"empty key Exists tolerates all", []v1.Toleration{{Operator: v1.TolerationOpExists}}, all(fits)},
		{"Exists by key, the seed's example", []v1.Toleration{{Key: "example-node", Operator: v1.TolerationOpExists, Effect: v1.TaintEffectNoSchedule}},
			map[string]verdict{
				"gpu":  reject(fw.UnschedulableAndUnresolvable, "node(s) had untolerated taint {gpu: true}"),
				"exec": reject(fw.UnschedulableAndUnresolvable, "node(s) had untolerated taint {dedicated: db}"),
				"soft": fits, "example": fits, "plain": fits}},
		{"Equal needs the value", []v1.Toleration{{Key: "gpu", Operator: v1.TolerationOpEqual, Value: "false"}},
			map[string]verdict{
				"gpu":     reject(fw.UnschedulableAndUnresolvable, "node(s) had untolerated taint {gpu: true}"),
				"exec":    reject(fw.UnschedulableAndUnresolvable, "node(s) had untolerated taint {dedicated: db}"),
				"soft":    fits,
				"example": reject(fw.UnschedulableAndUnresolvable, "node(s) had untolerated taint {example-node: x}"),
				"plain":   fits}},
		{"effect must match", []v1.Toleration{{Key: "dedicated", Operator: v1.TolerationOpExists, Effect: v1.TaintEffectNoSchedule}},
			map[string]verdict{
				"gpu":     reject(fw.UnschedulableAndUnresolvable, "node(s) had untolerated taint {gpu: true}"),
				"exec":    reject(fw.UnschedulableAndUnresolvable, "node(s) had untolerated taint {dedicated: db}"),
				"soft":    fits,
				"example": reject(fw.UnschedulableAndUnresolvable, "node(s) had untolerated taint {example-node: x}"),
				"plain":   fits}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := pod("p", "", "")
			p.Spec.Tolerations = tt.tols
			diff(t, tt.want, runFilter(t, TaintToleration{}, p, snap))
		})
	}
}

func TestTaintTolerationScore(t *testing.T) {
	soft := v1.Taint{Key: "spot", Value: "yes", Effect: v1.TaintEffectPreferNoSchedule}
	soft2 := v1.Taint{Key: "old", Effect: v1.TaintEffectPreferNoSchedule}
	nodes := []*fw.NodeInfo{tainted("none"), tainted("one", soft), tainted("two", soft, soft2)}
	pi := fw.NewPodInfo(pod("p", "", ""))
	var scores []int64
	for _, n := range nodes {
		scores = append(scores, TaintToleration{}.Score(nil, pi, n))
	}
	TaintToleration{}.Normalize(nil, pi, scores)
	diff(t, []int64{100, 50, 0}, scores)
}

func TestNodeUnschedulable(t *testing.T) {
	cordoned := node("cordoned", "1", "1Gi")
	cordoned.Spec.Unschedulable = true
	snap := snapshot{nodeInfo(cordoned), nodeInfo(node("ok", "1", "1Gi"))}
	p := pod("p", "", "")
	diff(t, map[string]verdict{"cordoned": reject(fw.UnschedulableAndUnresolvable, ReasonNodeUnschedulable), "ok": fits},
		runFilter(t, NodeUnschedulable{}, p, snap))
	p.Spec.Tolerations = []v1.Toleration{{Key: v1.TaintNodeUnschedulable, Operator: v1.TolerationOpExists}}
	diff(t, map[string]verdict{"cordoned": fits, "ok": fits}, runFilter(t, NodeUnschedulable{}, p, snap))
}

func TestNodeName(t *testing.T) {
	snap := snapshot{nodeInfo(node("a", "1", "1Gi")), nodeInfo(node("b", "1", "1Gi"))}
	p := pod("p", "", "")
	diff(t, map[string]verdict{"a": fits, "b": fits}, runFilter(t, NodeName{}, p, snap))
	p.Spec.NodeName = "b"
	diff(t, map[string]verdict{"a": reject(fw.UnschedulableAndUnresolvable, ReasonNodeName), "b": fits}, runFilter(t, NodeName{}, p, snap))
}

package clusterautoscaler

import (
	"context"
	"fmt"
	"strings"
	"testing"

	v1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"skiff/internal/nodepool"
	"skiff/internal/scheduler"
)

func pool(name, cpu, mem string, min, max int, taints ...v1.Taint) nodepool.Pool {
	return nodepool.Pool{Name: name, Min: min, Max: max, Taints: taints, Capacity: v1.ResourceList{
		v1.ResourceCPU: resource.MustParse(cpu), v1.ResourceMemory: resource.MustParse(mem),
		v1.ResourcePods: resource.MustParse("110")}}
}

// pods returns n pods of one ReplicaSet named owner, each requesting cpu and mem.
func pods(owner string, n int, cpu, mem string) []*v1.Pod {
	var out []*v1.Pod
	for i := range n {
		out = append(out, &v1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s-%d", owner, i), Namespace: "default",
				UID: types.UID(fmt.Sprintf("%s-%d", owner, i)), OwnerReferences: []metav1.OwnerReference{{
					APIVersion: "apps/v1", Kind: "ReplicaSet", Name: owner, UID: types.UID(owner), Controller: ptrTrue()}}},
			Spec: v1.PodSpec{Containers: []v1.Container{{Name: "c", Resources: v1.ResourceRequirements{Requests: v1.ResourceList{
				v1.ResourceCPU: resource.MustParse(cpu), v1.ResourceMemory: resource.MustParse(mem)}}}}},
		})
	}
	return out
}

func ptrTrue() *bool { b := true; return &b }

// poolNodes returns n registered nodes of p, each running the given pods in turn.
func poolNodes(p nodepool.Pool, n int) []*v1.Node {
	var out []*v1.Node
	for i := range n {
		out = append(out, p.Template(fmt.Sprintf("%s-%d", p.Name, i)))
	}
	return out
}

func TestPlanScaleUp(t *testing.T) {
	small, big := pool("small", "2", "4Gi", 0, 10), pool("big", "8", "32Gi", 0, 20)
	tainted := pool("gpu", "2", "4Gi", 0, 10, v1.Taint{Key: "gpu", Effect: v1.TaintEffectNoSchedule})
	for _, tc := range []struct {
		name    string
		pools   []nodepool.Pool
		desired map[string]int
		nodes   []*v1.Node
		pending []*v1.Pod
		want    string // pool from->to, or ""
		noFit   string // a pod's NotTriggerScaleUp reason
	}{
		{name: "least waste picks small", pools: []nodepool.Pool{small, big}, pending: pods("a", 120, "100m", "128Mi"), want: "small 0->6"},
		{name: "memory heavy picks big", pools: []nodepool.Pool{small, big}, pending: pods("a", 16, "100m", "2Gi"), want: "big 0->1"},
		{name: "only big fits", pools: []nodepool.Pool{small, big}, pending: pods("a", 3, "3", "1Gi"), want: "big 0->2"},
		{name: "capped at max", pools: []nodepool.Pool{pool("small", "1", "4Gi", 0, 3)}, pending: pods("a", 5, "1", "1Gi"),
			want: "small 0->3", noFit: "pod didn't fit any node pool: 1 max node group size reached"},
		{name: "upcoming nodes count", pools: []nodepool.Pool{small}, desired: map[string]int{"small": 2},
			pending: pods("a", 40, "100m", "128Mi"), want: ""},
		{name: "registered nodes with room", pools: []nodepool.Pool{small}, desired: map[string]int{"small": 1},
			nodes: poolNodes(small, 1), pending: pods("a", 30, "100m", "128Mi"), want: "small 1->2"},
		{name: "too big for every pool", pools: []nodepool.Pool{small, tainted}, pending: pods("a", 1, "4", "1Gi"),
			noFit: "pod didn't fit any node pool: 1 Insufficient cpu, 1 node(s) had untolerated taint {gpu: }"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			desired := map[string]int{}
			for k, v := range tc.desired {
				desired[k] = v
			}
			c := Cluster{Nodes: NodeInfos(tc.nodes, nil), Pools: tc.pools, Desired: desired}
			plan := PlanScaleUp(context.Background(), scheduler.NewFitChecker(), c, tc.pending)
			got := ""
			if plan.ScaleUp != nil {
				got = fmt.Sprintf("%s %d->%d", plan.ScaleUp.Pool, plan.ScaleUp.From, plan.ScaleUp.To)
			}
			if got != tc.want {
				t.Errorf("scale-up %q, want %q", got, tc.want)
			}
			if tc.noFit != "" {
				found := false
				for _, r := range plan.NoFit {
					found = found || r == tc.noFit
				}
				if !found {
					t.Errorf("no-fit reasons %v, want %q", plan.NoFit, tc.noFit)
				}
			}
		})
	}
}

func TestPlanScaleDown(t *testing.T) {
	small := pool("small", "2", "4Gi", 0, 10)
	atMin := pool("small", "2", "4Gi", 2, 10)
	on := func(node string, ps []*v1.Pod, edit func(*v1.Pod)) []*v1.Pod {
		for _, p := range ps {
			p.Spec.NodeName = node
			if edit != nil {
				edit(p)
			}
		}
		return ps
	}
	emptyDir := func(p *v1.Pod) {
		p.Spec.Volumes = []v1.Volume{{Name: "v", VolumeSource: v1.VolumeSource{EmptyDir: &v1.EmptyDirVolumeSource{}}}}
	}
	annotate := func(v string, then func(*v1.Pod)) func(*v1.Pod) {
		return func(p *v1.Pod) {
			p.Annotations = map[string]string{SafeToEvictAnnotation: v}
			if then != nil {
				then(p)
			}
		}
	}
	for _, tc := range []struct {
		name    string
		pool    nodepool.Pool
		pods    []*v1.Pod
		pdbs    []*policyv1.PodDisruptionBudget
		want    string // candidate nodes
		blocked string // small-1's reason
	}{
		{name: "empty and light nodes go, busy stays", pool: small,
			pods: append(on("small-0", pods("a", 3, "400m", "1Gi"), nil), on("small-1", pods("b", 1, "100m", "128Mi"), nil)...),
			want: "small-1,small-2"},
		{name: "moved pods fill the next node", pool: small,
			pods: append(append(on("small-0", pods("a", 3, "300m", "600Mi"), nil), on("small-1", pods("b", 3, "300m", "600Mi"), nil)...),
				on("small-2", pods("c", 3, "300m", "600Mi"), nil)...),
			want: "small-0"},
		{name: "safe-to-evict false blocks", pool: small, pods: on("small-1", pods("b", 1, "100m", "128Mi"), annotate("false", nil)),
			want: "small-0,small-2", blocked: "pod default/b-0 is annotated safe-to-evict=false"},
		{name: "local storage blocks", pool: small, pods: on("small-1", pods("b", 1, "100m", "128Mi"), emptyDir),
			want: "small-0,small-2", blocked: "pod default/b-0 has local storage"},
		{name: "safe-to-evict true overrides local storage", pool: small,
			pods: on("small-1", pods("b", 1, "100m", "128Mi"), annotate("true", emptyDir)), want: "small-0,small-1"},
		{name: "never below min", pool: atMin, want: "small-0", blocked: "pool is at its minimum size"},
		// The guard's budget allows no eviction: its node stays, and planning the
		// guard's move anyway must not hold small-2 back as the guard's receiver.
		{name: "a PDB keeps the node and nothing else", pool: small,
			pods: append(on("small-1", pods("guard", 1, "100m", "128Mi"), labelled("guard")), on("small-2", pods("b", 1, "100m", "128Mi"), nil)...),
			pdbs: []*policyv1.PodDisruptionBudget{guardPDB(0)},
			want: "small-0,small-2", blocked: "pod default/guard-0 is protected by PodDisruptionBudget guard (0 disruptions allowed)"},
		{name: "a PDB that allows one", pool: small,
			pods: on("small-1", pods("guard", 1, "100m", "128Mi"), labelled("guard")),
			pdbs: []*policyv1.PodDisruptionBudget{guardPDB(1)}, want: "small-0,small-1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Cluster{Nodes: NodeInfos(poolNodes(tc.pool, 3), tc.pods), Pools: []nodepool.Pool{tc.pool},
				Desired: map[string]int{"small": 3}, PDBs: tc.pdbs}
			cands, blocked := PlanScaleDown(context.Background(), scheduler.NewFitChecker(), c)
			var names []string
			for _, c := range cands {
				names = append(names, c.Node)
			}
			if got := strings.Join(names, ","); got != tc.want {
				t.Errorf("candidates %q, want %q (blocked %v)", got, tc.want, blocked)
			}
			if tc.blocked != "" && blocked["small-1"] != tc.blocked && blocked["small-2"] != tc.blocked {
				t.Errorf("blocked %v, want %q", blocked, tc.blocked)
			}
		})
	}
}

func labelled(app string) func(*v1.Pod) {
	return func(p *v1.Pod) { p.Labels = map[string]string{"app": app} }
}

func guardPDB(allowed int32) *policyv1.PodDisruptionBudget {
	return &policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Name: "guard", Namespace: "default"},
		Spec:   policyv1.PodDisruptionBudgetSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "guard"}}},
		Status: policyv1.PodDisruptionBudgetStatus{DisruptionsAllowed: allowed}}
}

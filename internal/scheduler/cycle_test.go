package scheduler

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	policylisters "k8s.io/client-go/listers/policy/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"

	fw "skiff/internal/scheduler/framework"
)

// offline builds a scheduler with no API behind it, to test decisions.
func offline(cfg Config, nodes []*v1.Node, pods []*v1.Pod) *Scheduler {
	s := &Scheduler{cfg: cfg, cache: NewCache(), queue: NewQueue(time.Now), workers: 2,
		rand: rand.New(rand.NewPCG(1, 2)), now: time.Now}
	if s.cfg.SchedulerName == "" {
		s.cfg.SchedulerName = DefaultSchedulerName
	}
	s.prof = newProfile(&s.cfg, listers{})
	for _, n := range nodes {
		s.cache.AddNode(n)
	}
	for _, p := range pods {
		s.cache.AddPod(p)
	}
	return s
}

func tnode(name, cpu string) *v1.Node {
	return &v1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{v1.LabelHostname: name}},
		Status: v1.NodeStatus{Allocatable: v1.ResourceList{v1.ResourceCPU: resource.MustParse(cpu),
			v1.ResourceMemory: resource.MustParse("8Gi"), v1.ResourcePods: resource.MustParse("110")}}}
}

func tpod(name, cpu string, prio int32, node string) *v1.Pod {
	return &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID(name), Labels: map[string]string{"app": name}},
		Spec: v1.PodSpec{NodeName: node, Priority: ptr.To(prio), Containers: []v1.Container{{Name: "c",
			Resources: v1.ResourceRequirements{Requests: v1.ResourceList{v1.ResourceCPU: resource.MustParse(cpu)}}}}},
	}
}

func TestDecidePlacesAndAssumes(t *testing.T) {
	s := offline(Config{}, []*v1.Node{tnode("a", "1"), tnode("b", "2")}, []*v1.Pod{tpod("x", "900m", 0, "a")})
	d := s.decide(context.Background(), fw.NewPodInfo(tpod("p", "500m", 0, "")))
	if d.node != "b" {
		t.Fatalf("node = %q (%v), want b", d.node, d.fitErr)
	}
	// The assumed pod counts at once: a second pod of 1.6 cpu no longer fits b.
	d = s.decide(context.Background(), fw.NewPodInfo(tpod("q", "1600m", 0, "")))
	if d.fitErr == nil {
		t.Fatalf("second pod placed on %q, want unschedulable", d.node)
	}
}

func TestPreemption(t *testing.T) {
	nodes := []*v1.Node{tnode("a", "2"), tnode("b", "2"), tnode("c", "2")}
	pods := []*v1.Pod{
		tpod("a-mid", "1500m", 500, "a"),
		tpod("b-low1", "700m", 10, "b"), tpod("b-low2", "700m", 10, "b"),
		tpod("c-low", "1500m", 10, "c"),
	}
	tests := []struct {
		name        string
		pdbs        []*policyv1.PodDisruptionBudget
		pod         *v1.Pod
		wantNode    string
		wantVictims []string
		wantMsg     string
	}{
		{"fewest, lowest-priority victims", nil, tpod("p", "1500m", 1000, ""), "c", []string{"c-low"}, ""},
		{"a PDB steers preemption to other victims",
			[]*policyv1.PodDisruptionBudget{pdb("c-low")}, tpod("p", "1500m", 1000, ""), "b", []string{"b-low1", "b-low2"}, ""},
		{"no lower-priority pods", nil, tpod("p", "1500m", 5, ""), "", nil,
			"0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod."},
		{"preemptionPolicy Never", nil, func() *v1.Pod {
			p := tpod("p", "1500m", 1000, "")
			p.Spec.PreemptionPolicy = ptr.To(v1.PreemptNever)
			return p
		}(), "", nil, "0/3 nodes are available: 3 Insufficient cpu. preemption: not eligible due to preemptionPolicy=Never."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := offline(Config{}, nodes, pods)
			idx := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
			for _, p := range tt.pdbs {
				_ = idx.Add(p)
			}
			s.pdbLister = policylisters.NewPodDisruptionBudgetLister(idx)
			d := s.decide(context.Background(), fw.NewPodInfo(tt.pod))
			if d.fitErr == nil {
				t.Fatalf("placed on %s without preemption", d.node)
			}
			if tt.wantMsg != "" && d.fitErr.Error() != tt.wantMsg {
				t.Errorf("message\n got %q\nwant %q", d.fitErr.Error(), tt.wantMsg)
			}
			var node string
			var victims []string
			if d.preemption != nil {
				node = d.preemption.node
				for _, v := range d.preemption.victims {
					victims = append(victims, v.Name)
				}
			}
			if node != tt.wantNode || strings.Join(victims, ",") != strings.Join(tt.wantVictims, ",") {
				t.Errorf("preempt on %q evicting %v, want %q evicting %v", node, victims, tt.wantNode, tt.wantVictims)
			}
		})
	}
}

func pdb(app string) *policyv1.PodDisruptionBudget {
	return &policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Name: app, Namespace: "default"},
		Spec: policyv1.PodDisruptionBudgetSpec{MinAvailable: ptr.To(intstr.FromInt32(1)),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": app}}},
		Status: policyv1.PodDisruptionBudgetStatus{DisruptionsAllowed: 0}}
}

func TestExplain(t *testing.T) {
	gpu := tnode("gpu", "8")
	gpu.Spec.Taints = []v1.Taint{{Key: "gpu", Value: "true", Effect: v1.TaintEffectNoSchedule}}
	got, err := Explain(Config{}, tpod("p", "4", 0, ""), []*v1.Node{tnode("a", "2"), gpu}, nil, Storage{})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"0/2 nodes are available: 1 Insufficient cpu, 1 node(s) had untolerated taint {gpu: true}.",
		"a: Insufficient cpu (NodeResourcesFit)",
		"gpu: node(s) had untolerated taint {gpu: true} (TaintToleration)",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("explanation lacks %q:\n%s", want, got)
		}
	}
}

// TestExplainUnboundClaim: a pod whose claim of an Immediate class is not bound
// fits nowhere, and the explanation says so instead of "fits".
func TestExplainUnboundClaim(t *testing.T) {
	pod := tpod("p", "1", 0, "")
	pod.Spec.Volumes = []v1.Volume{{Name: "data", VolumeSource: v1.VolumeSource{
		PersistentVolumeClaim: &v1.PersistentVolumeClaimVolumeSource{ClaimName: "data"}}}}
	immediate := storagev1.VolumeBindingImmediate
	claim := &v1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "data", Namespace: pod.Namespace},
		Spec: v1.PersistentVolumeClaimSpec{StorageClassName: ptr.To("slow")}}
	class := &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "slow"}, VolumeBindingMode: &immediate}
	for _, tt := range []struct {
		name    string
		storage Storage
		want    string
	}{
		{"unbound claim", Storage{Claims: []*v1.PersistentVolumeClaim{claim}, Classes: []*storagev1.StorageClass{class}},
			"pod has unbound immediate PersistentVolumeClaims"},
		{"missing claim", Storage{}, `persistentvolumeclaim "data" not found`},
	} {
		got, err := Explain(Config{}, pod, []*v1.Node{tnode("a", "2")}, nil, tt.storage)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(got, tt.want) || strings.Contains(got, "fits") {
			t.Errorf("%s: explanation lacks %q or says fits:\n%s", tt.name, tt.want, got)
		}
	}
}

// BenchmarkDecide measures the scheduling cycle alone (no API server): filter,
// score and assume, on 5,000 nodes, without and with anti-affinity and spread.
func BenchmarkDecide(b *testing.B) {
	for _, constrained := range []bool{false, true} {
		b.Run(fmt.Sprintf("5000nodes/constrained=%v", constrained), func(b *testing.B) {
			var nodes []*v1.Node
			for i := range 5000 {
				nodes = append(nodes, tnode(fmt.Sprintf("n%d", i), "32"))
			}
			s := offline(Config{}, nodes, nil)
			pods := make([]*fw.PodInfo, b.N)
			for i := range pods {
				p := tpod(fmt.Sprintf("p%d", i), "100m", 0, "")
				p.Labels["group"] = fmt.Sprintf("g%d", i%1000)
				if constrained {
					sel := &metav1.LabelSelector{MatchLabels: map[string]string{"group": p.Labels["group"]}}
					p.Spec.Affinity = &v1.Affinity{PodAntiAffinity: &v1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []v1.PodAffinityTerm{
						{LabelSelector: sel, TopologyKey: v1.LabelHostname}}}}
					p.Spec.TopologySpreadConstraints = []v1.TopologySpreadConstraint{{MaxSkew: 1, TopologyKey: v1.LabelHostname,
						WhenUnsatisfiable: v1.DoNotSchedule, LabelSelector: sel}}
				}
				pods[i] = fw.NewPodInfo(p)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				if d := s.decide(context.Background(), pods[i]); d.node == "" {
					b.Fatalf("pod %d unschedulable: %v", i, d.fitErr)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pods/s")
		})
	}
}

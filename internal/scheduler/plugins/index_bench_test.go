package plugins

import (
	"context"
	"fmt"
	"testing"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	fw "skiff/internal/scheduler/framework"
)

// indexedSnapshot is a snapshot with an index built once, as the cache keeps it.
type indexedSnapshot struct {
	snapshot
	idx *fw.PodIndex
}

func (s indexedSnapshot) Index() *fw.PodIndex { return s.idx }

// groupPod is a pod of group g that repels its group per host, required and
// preferred, and spreads it over hosts: the constrained scheduler benchmark's
// pods plus a preferred term.
func groupPod(name string, g int) *v1.Pod {
	group := fmt.Sprintf("g%d", g)
	p := pod(name, "100m", "100Mi", "group", group)
	term := v1.PodAffinityTerm{TopologyKey: v1.LabelHostname,
		LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"group": group}}}
	p.Spec.Affinity = &v1.Affinity{PodAntiAffinity: &v1.PodAntiAffinity{
		RequiredDuringSchedulingIgnoredDuringExecution:  []v1.PodAffinityTerm{term},
		PreferredDuringSchedulingIgnoredDuringExecution: []v1.WeightedPodAffinityTerm{{Weight: 50, PodAffinityTerm: term}},
	}}
	p.Spec.TopologySpreadConstraints = []v1.TopologySpreadConstraint{{MaxSkew: 1, TopologyKey: v1.LabelHostname,
		WhenUnsatisfiable: v1.DoNotSchedule, LabelSelector: term.LabelSelector}}
	return p
}

// BenchmarkConstrainedPrepare measures one pod's PreFilter and PreScore of both
// plugins (the per-pod preparation, before any node is filtered) on 5,000 nodes
// holding 10,000 pods of 1,000 groups, walking the pods and from the index.
func BenchmarkConstrainedPrepare(b *testing.B) {
	const nodes, pods, groups = 5000, 10000, 1000
	snap := make(snapshot, nodes)
	for i := range snap {
		snap[i] = fw.NewNodeInfo(node(fmt.Sprintf("n%d", i), "32", "256Gi"))
	}
	for i := range pods {
		p := groupPod(fmt.Sprintf("p%d", i), i%groups)
		n := snap[(i*7919)%nodes]
		p.Spec.NodeName = n.Name()
		n.AddPod(fw.NewPodInfo(p))
	}
	ipa, spread := &InterPodAffinity{}, PodTopologySpread{}
	for _, c := range []struct {
		name string
		snap fw.Snapshot
	}{{"scan", scanSnapshot{snap}}, {"index", indexedSnapshot{snap, fw.BuildPodIndex(snap)}}} {
		b.Run(c.name, func(b *testing.B) {
			pi := fw.NewPodInfo(groupPod("new", 7))
			for b.Loop() {
				st := fw.NewCycleState()
				ipa.PreFilter(context.Background(), st, pi, c.snap)
				spread.PreFilter(context.Background(), st, pi, c.snap)
				ipa.PreScore(st, pi, c.snap, nil)
				spread.PreScore(st, pi, c.snap, nil)
			}
		})
	}
}

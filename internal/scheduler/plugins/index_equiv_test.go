package plugins

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/utils/ptr"

	fw "skiff/internal/scheduler/framework"
)

// scanSnapshot is a snapshot without an index: plugins walk every pod.
type scanSnapshot struct{ snapshot }

func (scanSnapshot) Index() *fw.PodIndex { return nil }

// nsLabels gives the random clusters' namespaces labels for namespaceSelector.
func nsLabels(ns string) labels.Set {
	switch ns {
	case "default":
		return labels.Set{"env": "prod"}
	case "team":
		return labels.Set{"env": "dev", "team": "a"}
	}
	return nil
}

// gen builds random clusters and pods from small vocabularies, so that terms,
// selectors and domains collide often.
type gen struct{ r *rand.Rand }

func (g gen) pick(s ...string) string { return s[g.r.IntN(len(s))] }

func (g gen) node(i int) *v1.Node {
	n := node(fmt.Sprintf("n%d", i), "4", "8Gi")
	if g.r.IntN(10) == 0 {
		delete(n.Labels, v1.LabelHostname)
	}
	if g.r.IntN(5) > 0 {
		n.Labels[v1.LabelTopologyZone] = g.pick("z1", "z2", "z3")
	}
	if g.r.IntN(3) == 0 {
		n.Labels["disk"] = g.pick("ssd", "hdd")
	}
	if g.r.IntN(6) == 0 {
		n.Spec.Taints = []v1.Taint{{Key: "dedicated", Value: "x", Effect: v1.TaintEffectNoSchedule}}
	}
	return n
}

func (g gen) selector() *metav1.LabelSelector {
	switch g.r.IntN(8) {
	case 0:
		return nil
	case 1:
		return &metav1.LabelSelector{}
	case 2:
		return &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
			{Key: "app", Operator: metav1.LabelSelectorOpIn, Values: []string{"a", "b"}}}}
	case 3:
		return &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
			{Key: "tier", Operator: metav1.LabelSelectorOpExists}}}
	case 4:
		return &metav1.LabelSelector{MatchLabels: map[string]string{"app": g.pick("a", "b"), "tier": g.pick("x", "y")}}
	case 5:
		return &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
			{Key: "app", Operator: metav1.LabelSelectorOpIn, Values: []string{g.pick("a", "c")}}}}
	}
	return &metav1.LabelSelector{MatchLabels: map[string]string{"app": g.pick("a", "b", "c")}}
}

func (g gen) term() v1.PodAffinityTerm {
	t := v1.PodAffinityTerm{LabelSelector: g.selector(), TopologyKey: g.pick(v1.LabelHostname, v1.LabelTopologyZone, "disk")}
	switch g.r.IntN(6) {
	case 0:
		t.Namespaces = []string{g.pick("default", "team", "other")}
	case 1:
		t.NamespaceSelector = &metav1.LabelSelector{}
	case 2:
		t.NamespaceSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"env": g.pick("prod", "dev")}}
	case 3:
		t.MatchLabelKeys = []string{"tier"}
	}
	return t
}

func (g gen) terms(max int) []v1.PodAffinityTerm {
	var out []v1.PodAffinityTerm
	for range g.r.IntN(max + 1) {
		out = append(out, g.term())
	}
	return out
}

func (g gen) weighted(max int) []v1.WeightedPodAffinityTerm {
	var out []v1.WeightedPodAffinityTerm
	for range g.r.IntN(max + 1) {
		out = append(out, v1.WeightedPodAffinityTerm{Weight: int32(1 + g.r.IntN(100)), PodAffinityTerm: g.term()})
	}
	return out
}

func (g gen) pod(name string) *v1.Pod {
	p := pod(name, "", "", "app", g.pick("a", "b", "c"))
	p.Namespace = g.pick("default", "default", "team", "other")
	if g.r.IntN(2) == 0 {
		p.Labels["tier"] = g.pick("x", "y")
	}
	if g.r.IntN(8) == 0 {
		p.DeletionTimestamp = &metav1.Time{}
	}
	if g.r.IntN(3) > 0 {
		p.Spec.Affinity = &v1.Affinity{
			PodAffinity:     &v1.PodAffinity{RequiredDuringSchedulingIgnoredDuringExecution: g.terms(1), PreferredDuringSchedulingIgnoredDuringExecution: g.weighted(2)},
			PodAntiAffinity: &v1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: g.terms(2), PreferredDuringSchedulingIgnoredDuringExecution: g.weighted(2)},
		}
	}
	return p
}

// incoming adds what only the pod being scheduled uses: spread constraints and
// node restrictions.
func (g gen) incoming(name string) *v1.Pod {
	p := g.pod(name)
	p.DeletionTimestamp = nil
	if g.r.IntN(4) == 0 {
		p.Spec.NodeSelector = map[string]string{"disk": "ssd"}
	}
	if g.r.IntN(4) == 0 {
		p.Spec.Tolerations = []v1.Toleration{{Key: "dedicated", Operator: v1.TolerationOpExists}}
	}
	for range g.r.IntN(3) {
		when := v1.DoNotSchedule
		if g.r.IntN(2) == 0 {
			when = v1.ScheduleAnyway
		}
		c := v1.TopologySpreadConstraint{MaxSkew: int32(1 + g.r.IntN(2)), WhenUnsatisfiable: when,
			TopologyKey: g.pick(v1.LabelHostname, v1.LabelTopologyZone), LabelSelector: g.selector()}
		if g.r.IntN(3) == 0 {
			c.NodeAffinityPolicy = ptr.To(v1.NodeInclusionPolicyIgnore)
		}
		if g.r.IntN(3) == 0 {
			c.NodeTaintsPolicy = ptr.To(v1.NodeInclusionPolicyHonor)
		}
		if g.r.IntN(3) == 0 {
			c.MinDomains = ptr.To(int32(1 + g.r.IntN(4)))
		}
		if g.r.IntN(3) == 0 {
			c.MatchLabelKeys = []string{"tier"}
		}
		p.Spec.TopologySpreadConstraints = append(p.Spec.TopologySpreadConstraints, c)
	}
	return p
}

func (g gen) cluster() snapshot {
	var snap snapshot
	for i := range 2 + g.r.IntN(12) {
		ni := fw.NewNodeInfo(g.node(i))
		for j := range g.r.IntN(6) {
			p := g.pod(fmt.Sprintf("p%d-%d", i, j))
			p.Spec.NodeName = ni.Name()
			ni.AddPod(fw.NewPodInfo(p))
		}
		snap = append(snap, ni)
	}
	return snap
}

// TestIndexEquivalence checks, on random clusters, that every PreFilter and
// PreScore state built from the index equals the one built by walking the pods.
func TestIndexEquivalence(t *testing.T) {
	g := gen{rand.New(rand.NewPCG(1, 2))}
	ipa := &InterPodAffinity{NamespaceLabels: nsLabels}
	defaults := PodTopologySpread{DefaultSelector: func(p *v1.Pod) labels.Selector {
		sel, _ := metav1.LabelSelectorAsSelector(g.selector())
		if sel == nil {
			return labels.Nothing()
		}
		return sel
	}}
	indexed := 0
	for iter := range 3000 {
		snap := g.cluster()
		pi := fw.NewPodInfo(g.incoming(fmt.Sprintf("new%d", iter)))
		if pi.ParseError != nil {
			continue
		}
		type result struct {
			PreFilter, PreScore          fw.Code
			Existing, Affinity, Anti     pairCounts
			Scores                       pairCounts
			SpreadCounts, SpreadScoreCnt []map[string]int64
			Domains                      []int
			MinCount                     []int64
			Weights                      []float64
			DefaultCounts                []map[string]int64
		}
		run := func(s fw.Snapshot) result {
			var r result
			st := fw.NewCycleState()
			r.PreFilter = code(ipa.PreFilter(context.Background(), st, pi, s))
			if a, _ := st.Read(interPodAffinityFilter).(*affinityState); a != nil {
				r.Existing, r.Affinity, r.Anti = a.existingAnti, a.affinity, a.anti
			}
			r.PreScore = code(ipa.PreScore(st, pi, s, nil))
			if a, _ := st.Read(interPodAffinityScore).(*affinityScoreState); a != nil {
				r.Scores = a.scores
				checkScoreByKeys(t, ipa, st, pi, snap, a.scores)
			}
			PodTopologySpread{}.PreFilter(context.Background(), st, pi, s)
			if sp, _ := st.Read(topologySpreadFilter).(*spreadState); sp != nil {
				r.SpreadCounts, r.Domains, r.MinCount = sp.counts, sp.domains, sp.minCount
			}
			PodTopologySpread{}.PreScore(st, pi, s, nil)
			if sp, _ := st.Read(topologySpreadScore).(*spreadScoreState); sp != nil {
				r.SpreadScoreCnt, r.Weights = sp.counts, sp.weights
			}
			st = fw.NewCycleState()
			bare := *pi.Pod
			bare.Spec.TopologySpreadConstraints = nil
			defaults.PreScore(st, fw.NewPodInfo(&bare), s, nil)
			if sp, _ := st.Read(topologySpreadScore).(*spreadScoreState); sp != nil {
				r.DefaultCounts = sp.counts
			}
			return r
		}
		g.r = rand.New(rand.NewPCG(uint64(iter), 7)) // the default selector draws the same in both runs
		want := run(scanSnapshot{snap})
		g.r = rand.New(rand.NewPCG(uint64(iter), 7))
		got := run(snap)
		g.r = rand.New(rand.NewPCG(uint64(iter), 99))
		if d := cmp.Diff(want, got); d != "" {
			t.Fatalf("iteration %d: index differs from scan (-scan +index):\n%s", iter, d)
		}
		if got.Existing != nil && len(got.Existing)+len(got.Anti)+len(got.Affinity) > 0 {
			indexed++
		}
	}
	if indexed < 100 {
		t.Fatalf("only %d iterations counted any pod; the generator is too sparse", indexed)
	}
}

func code(st *fw.Status) fw.Code {
	if st == nil {
		return fw.Success
	}
	return st.Code
}

// checkScoreByKeys compares Score, which looks up each topology key's value on
// the node, with the sum over every pair whose key and value the node carries.
func checkScoreByKeys(t *testing.T, pl *InterPodAffinity, st *fw.CycleState, pi *fw.PodInfo, snap snapshot, scores pairCounts) {
	t.Helper()
	for _, n := range snap {
		var want int64
		for pair, w := range scores {
			if v, ok := n.Node.Labels[pair.key]; ok && v == pair.value {
				want += w
			}
		}
		if got := pl.Score(st, pi, n); got != want {
			t.Fatalf("Score(%s) = %d, want %d (scores %v)", n.Name(), got, want, scores)
		}
	}
}

package scheduler

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	fw "skiff/internal/scheduler/framework"
)

// scanView is the cache without its index: the plugins walk every pod.
type scanView struct{ *Cache }

func (scanView) Index() *fw.PodIndex { return nil }

// outcome runs every PreFilter, Filter and Score of the profile for pi and
// describes the result per node.
func outcome(s *Scheduler, snap fw.Snapshot, pi *fw.PodInfo) string {
	state := fw.NewCycleState()
	if st := s.prof.preFilter(context.Background(), state, pi, snap); st != nil {
		return "prefilter: " + st.Message()
	}
	var b strings.Builder
	var feasible []*fw.NodeInfo
	for _, ni := range snap.List() {
		var why []string
		for _, st := range s.prof.filterAll(state, pi, ni) {
			why = append(why, st.Reasons...)
		}
		if len(why) == 0 {
			feasible = append(feasible, ni)
		}
		fmt.Fprintf(&b, "%s: %v\n", ni.Name(), why)
	}
	if len(feasible) > 0 {
		fmt.Fprintf(&b, "scores %v\n", s.score(state, pi, snap, feasible))
	}
	return b.String()
}

type cacheFuzz struct{ r *rand.Rand }

func (f cacheFuzz) pick(s ...string) string { return s[f.r.IntN(len(s))] }

func (f cacheFuzz) node() *v1.Node {
	name := fmt.Sprintf("n%d", f.r.IntN(8))
	n := tnode(name, "100")
	if f.r.IntN(3) > 0 {
		n.Labels[v1.LabelTopologyZone] = f.pick("z1", "z2")
	}
	if f.r.IntN(8) == 0 {
		delete(n.Labels, v1.LabelHostname)
	}
	return n
}

func (f cacheFuzz) selector() *metav1.LabelSelector {
	if f.r.IntN(4) == 0 {
		return &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
			{Key: "app", Operator: metav1.LabelSelectorOpIn, Values: []string{"a", "b"}}}}
	}
	return &metav1.LabelSelector{MatchLabels: map[string]string{"app": f.pick("a", "b", "c")}}
}

func (f cacheFuzz) term() v1.PodAffinityTerm {
	return v1.PodAffinityTerm{TopologyKey: f.pick(v1.LabelHostname, v1.LabelTopologyZone), LabelSelector: f.selector()}
}

func (f cacheFuzz) pod(uid int, node string) *v1.Pod {
	p := tpod(fmt.Sprintf("p%d", uid), "10m", 0, node)
	p.Labels["app"] = f.pick("a", "b", "c")
	if f.r.IntN(3) == 0 {
		p.Namespace = "other"
	}
	switch f.r.IntN(4) {
	case 0:
		p.Spec.Affinity = &v1.Affinity{PodAntiAffinity: &v1.PodAntiAffinity{
			RequiredDuringSchedulingIgnoredDuringExecution: []v1.PodAffinityTerm{f.term()}}}
	case 1:
		p.Spec.Affinity = &v1.Affinity{PodAffinity: &v1.PodAffinity{
			RequiredDuringSchedulingIgnoredDuringExecution:  []v1.PodAffinityTerm{f.term()},
			PreferredDuringSchedulingIgnoredDuringExecution: []v1.WeightedPodAffinityTerm{{Weight: 5, PodAffinityTerm: f.term()}}}}
	}
	for range f.r.IntN(3) {
		p.Spec.TopologySpreadConstraints = append(p.Spec.TopologySpreadConstraints, v1.TopologySpreadConstraint{MaxSkew: 1,
			TopologyKey:       f.pick(v1.LabelHostname, v1.LabelTopologyZone),
			WhenUnsatisfiable: v1.UnsatisfiableConstraintAction(f.pick(string(v1.DoNotSchedule), string(v1.ScheduleAnyway))),
			LabelSelector:     f.selector()})
	}
	return p
}

// TestCacheIndexFollowsChanges applies random node and pod changes to the cache
// (adds, label updates, deletions with pods left behind, assume, forget, expiry)
// and checks after each that every plugin decides the same from the index as
// from walking the pods.
func TestCacheIndexFollowsChanges(t *testing.T) {
	f := cacheFuzz{rand.New(rand.NewPCG(3, 4))}
	s := offline(Config{}, nil, nil)
	c := s.cache
	now := time.Now()
	nodeName := func() string { return fmt.Sprintf("n%d", f.r.IntN(8)) }
	ops := map[string]int{}
	for step := range 4000 {
		op := f.r.IntN(8)
		switch op {
		case 0:
			c.AddNode(f.node())
		case 1:
			c.RemoveNode(nodeName())
		case 2, 3: // add or update a bound pod
			c.AddPod(f.pod(f.r.IntN(40), nodeName()))
		case 4:
			c.RemovePod(types.UID(fmt.Sprintf("p%d", f.r.IntN(40))))
		case 5:
			uid := 40 + f.r.IntN(10)
			if !c.IsAssumed(types.UID(fmt.Sprintf("p%d", uid))) {
				c.Lock()
				c.Assume(fw.NewPodInfo(f.pod(uid, "")), nodeName())
				c.Unlock()
			}
		case 6:
			c.Forget(types.UID(fmt.Sprintf("p%d", 40+f.r.IntN(10))))
		case 7:
			c.FinishBinding(types.UID(fmt.Sprintf("p%d", 40+f.r.IntN(10))), now)
			c.Expire(now.Add(time.Duration(f.r.IntN(2)) * time.Hour))
		}
		ops[fmt.Sprint(op)]++
		pi := fw.NewPodInfo(f.pod(100+step, ""))
		c.Lock()
		want, got := outcome(s, scanView{c}, pi), outcome(s, c, pi)
		c.Unlock()
		if d := cmp.Diff(want, got); d != "" {
			t.Fatalf("step %d (op %d): index differs from scan (-scan +index):\n%s", step, op, d)
		}
	}
	t.Logf("ops: %v, pods at the end: %d", ops, c.PodCount())
}

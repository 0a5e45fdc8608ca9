package plugins

import (
	"testing"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	fw "skiff/internal/scheduler/framework"
)

func podTerm(key, app string) v1.PodAffinityTerm {
	return v1.PodAffinityTerm{TopologyKey: key, LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": app}}}
}

func withAnti(p *v1.Pod, terms ...v1.PodAffinityTerm) *v1.Pod {
	p.Spec.Affinity = &v1.Affinity{PodAntiAffinity: &v1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: terms}}
	return p
}

func withAff(p *v1.Pod, terms ...v1.PodAffinityTerm) *v1.Pod {
	p.Spec.Affinity = &v1.Affinity{PodAffinity: &v1.PodAffinity{RequiredDuringSchedulingIgnoredDuringExecution: terms}}
	return p
}

func TestInterPodAffinityFilter(t *testing.T) {
	const host, zone = v1.LabelHostname, v1.LabelTopologyZone
	mk := func(pods ...*v1.Pod) snapshot {
		return snapshot{
			nodeInfo(node("a", "1", "1Gi", zone, "z1"), pods...),
			nodeInfo(node("b", "1", "1Gi", zone, "z1")),
			nodeInfo(node("c", "1", "1Gi", zone, "z2")),
		}
	}
	anti := reject(fw.Unschedulable, ReasonAntiAffinity)
	existing := reject(fw.Unschedulable, ReasonExistingAntiAff)
	aff := reject(fw.UnschedulableAndUnresolvable, ReasonAffinity)
	tests := []struct {
		name string
		snap snapshot
		pod  *v1.Pod
		want map[string]verdict
	}{
		{"anti-affinity by hostname spreads replicas", mk(pod("web-0", "", "", "app", "web")),
			withAnti(pod("web-1", "", "", "app", "web"), podTerm(host, "web")),
			map[string]verdict{"a": anti, "b": fits, "c": fits}},
		{"anti-affinity by zone", mk(pod("web-0", "", "", "app", "web")),
			withAnti(pod("web-1", "", "", "app", "web"), podTerm(zone, "web")),
			map[string]verdict{"a": anti, "b": anti, "c": fits}},
		{"symmetric: existing pod's anti-affinity blocks newcomer", mk(withAnti(pod("db", "", "", "app", "db"), podTerm(zone, "web"))),
			pod("web", "", "", "app", "web"),
			map[string]verdict{"a": existing, "b": existing, "c": fits}},
		{"affinity to a zone with the pod", mk(pod("cache", "", "", "app", "cache")),
			withAff(pod("web", "", "", "app", "web"), podTerm(zone, "cache")),
			map[string]verdict{"a": fits, "b": fits, "c": aff}},
		{"affinity with no match anywhere fails", mk(),
			withAff(pod("web", "", "", "app", "web"), podTerm(zone, "cache")),
			map[string]verdict{"a": aff, "b": aff, "c": aff}},
		{"first pod of a self-affine group may go anywhere", mk(),
			withAff(pod("web", "", "", "app", "web"), podTerm(zone, "web")),
			map[string]verdict{"a": fits, "b": fits, "c": fits}},
		{"other namespaces do not count", mk(func() *v1.Pod { p := pod("web-0", "", "", "app", "web"); p.Namespace = "other"; return p }()),
			withAnti(pod("web-1", "", "", "app", "web"), podTerm(host, "web")),
			map[string]verdict{"a": fits, "b": fits, "c": fits}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { diff(t, tt.want, runFilter(t, &InterPodAffinity{}, tt.pod, tt.snap)) })
	}
}

func TestInterPodAffinityAddRemove(t *testing.T) {
	web0 := pod("web-0", "", "", "app", "web")
	snap := snapshot{nodeInfo(node("a", "1", "1Gi"), web0), nodeInfo(node("b", "1", "1Gi"))}
	p := fw.NewPodInfo(withAnti(pod("web-1", "", "", "app", "web"), podTerm(v1.LabelHostname, "web")))
	pl := &InterPodAffinity{}
	state := fw.NewCycleState()
	pl.PreFilter(t.Context(), state, p, snap)
	if pl.Filter(state, p, snap[0]).IsSuccess() {
		t.Fatal("node a should be blocked before removing web-0")
	}
	pl.RemovePod(state, p, fw.NewPodInfo(web0), snap[0])
	if st := pl.Filter(state, p, snap[0]); !st.IsSuccess() {
		t.Errorf("after removing web-0, node a: %v", st.Reasons)
	}
}

func TestInterPodAffinityScore(t *testing.T) {
	snap := snapshot{
		nodeInfo(node("a", "1", "1Gi"), pod("cache", "", "", "app", "cache")),
		nodeInfo(node("b", "1", "1Gi"), pod("noisy", "", "", "app", "noisy")),
		nodeInfo(node("c", "1", "1Gi")),
	}
	p := pod("web", "", "", "app", "web")
	p.Spec.Affinity = &v1.Affinity{
		PodAffinity: &v1.PodAffinity{PreferredDuringSchedulingIgnoredDuringExecution: []v1.WeightedPodAffinityTerm{
			{Weight: 10, PodAffinityTerm: podTerm(v1.LabelHostname, "cache")}}},
		PodAntiAffinity: &v1.PodAntiAffinity{PreferredDuringSchedulingIgnoredDuringExecution: []v1.WeightedPodAffinityTerm{
			{Weight: 10, PodAffinityTerm: podTerm(v1.LabelHostname, "noisy")}}},
	}
	pi := fw.NewPodInfo(p)
	pl := &InterPodAffinity{}
	state := fw.NewCycleState()
	pl.PreScore(state, pi, snap, snap)
	scores := []int64{pl.Score(state, pi, snap[0]), pl.Score(state, pi, snap[1]), pl.Score(state, pi, snap[2])}
	pl.Normalize(state, pi, scores)
	diff(t, []int64{100, 0, 50}, scores)
}

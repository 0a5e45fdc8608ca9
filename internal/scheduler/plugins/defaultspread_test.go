package plugins

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	appslisters "k8s.io/client-go/listers/apps/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"

	fw "skiff/internal/scheduler/framework"
)

func TestDefaultSpreadScore(t *testing.T) {
	web := func(n string) *v1.Pod { return pod(n, "", "", "app", "web") }
	// No node has a zone label: the zone default must not penalise any of them.
	snap := snapshot{
		nodeInfo(node("a", "1", "1Gi"), web("w1"), web("w2")),
		nodeInfo(node("b", "1", "1Gi"), web("w3")),
		nodeInfo(node("c", "1", "1Gi")),
	}
	byApp := func(*v1.Pod) labels.Selector { return labels.SelectorFromSet(labels.Set{"app": "web"}) }
	none := func(*v1.Pod) labels.Selector { return labels.Everything() }
	tests := []struct {
		name     string
		selector SelectorFunc
		pod      *v1.Pod
		want     []int64 // nil: the plugin skips scoring
	}{
		{"workload pods spread over hosts", byApp, web("new"), []int64{0, 50, 100}},
		{"no defaulting without a selector source", nil, web("new"), nil},
		{"a pod of no workload is not spread", none, web("new"), nil},
		{"the pod's own constraints replace the defaults", byApp,
			spread(web("new"), v1.LabelTopologyZone, 1, v1.ScheduleAnyway), []int64{0, 0, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pl := PodTopologySpread{DefaultSelector: tt.selector}
			p := fw.NewPodInfo(tt.pod)
			state := fw.NewCycleState()
			if st := pl.PreScore(state, p, snap, snap); st.IsSkip() {
				diff(t, tt.want, []int64(nil))
				return
			}
			scores := []int64{pl.Score(state, p, snap[0]), pl.Score(state, p, snap[1]), pl.Score(state, p, snap[2])}
			pl.Normalize(state, p, scores)
			diff(t, tt.want, scores)
		})
	}
}

func TestWorkloadSelectors(t *testing.T) {
	idx := func(objs ...any) cache.Indexer {
		i := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
		for _, o := range objs {
			_ = i.Add(o)
		}
		return i
	}
	om := func(name string) metav1.ObjectMeta { return metav1.ObjectMeta{Name: name, Namespace: "default"} }
	w := WorkloadSelectors{
		Services: corelisters.NewServiceLister(idx(
			&v1.Service{ObjectMeta: om("web"), Spec: v1.ServiceSpec{Selector: map[string]string{"app": "web"}}},
			&v1.Service{ObjectMeta: om("db"), Spec: v1.ServiceSpec{Selector: map[string]string{"app": "db"}}},
			&v1.Service{ObjectMeta: om("headless")})),
		ReplicaSets: appslisters.NewReplicaSetLister(idx(&appsv1.ReplicaSet{ObjectMeta: om("web-1"),
			Spec: appsv1.ReplicaSetSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"hash": "1"}}}})),
		StatefulSets: appslisters.NewStatefulSetLister(idx()),
		RCs:          corelisters.NewReplicationControllerLister(idx()),
	}
	owned := func(kind, name string, kv ...string) *v1.Pod {
		p := pod("p", "", "", kv...)
		p.OwnerReferences = []metav1.OwnerReference{{Kind: kind, Name: name, Controller: func() *bool { b := true; return &b }()}}
		return p
	}
	tests := []struct {
		name string
		pod  *v1.Pod
		want string
	}{
		{"service and replica set selectors merge", owned("ReplicaSet", "web-1", "app", "web", "hash", "1"), "app=web,hash=1"},
		{"service only", pod("p", "", "", "app", "web"), "app=web"},
		{"unknown owner, no service", owned("ReplicaSet", "gone", "app", "x"), ""},
		{"nothing selects the pod", pod("p", "", "", "app", "other"), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { diff(t, tt.want, w.Selector(tt.pod).String()) })
	}
}

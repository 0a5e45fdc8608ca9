package endpointslice

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func svc() *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns", UID: "svc-uid"},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "web"}, ClusterIP: "10.43.0.10",
			Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080)}}},
	}
}

func pod(i int, ready bool) *corev1.Pod {
	st := corev1.ConditionFalse
	if ready {
		st = corev1.ConditionTrue
	}
	name := fmt.Sprintf("p%03d", i)
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", UID: types.UID(name)},
		Spec:       corev1.PodSpec{NodeName: "n1"},
		Status: corev1.PodStatus{PodIP: fmt.Sprintf("10.0.%d.%d", i/250, i%250+1),
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: st}}},
	}
}

func pods(n int) []*corev1.Pod {
	var out []*corev1.Pod
	for i := range n {
		out = append(out, pod(i, true))
	}
	return out
}

// apply turns a plan into the slices that would exist afterwards.
func apply(t *testing.T, have []*discoveryv1.EndpointSlice, p plan) []*discoveryv1.EndpointSlice {
	t.Helper()
	byName := map[string]*discoveryv1.EndpointSlice{}
	for _, s := range have {
		byName[s.Name] = s
	}
	for _, s := range p.del {
		delete(byName, s.Name)
	}
	for _, s := range p.update {
		byName[s.Name] = s
	}
	for i, s := range p.create {
		s = s.DeepCopy()
		s.Name = fmt.Sprintf("%snew%d-%d", s.GenerateName, len(byName), i)
		byName[s.Name] = s
	}
	var out []*discoveryv1.EndpointSlice
	for _, s := range byName {
		out = append(out, s)
	}
	return out
}

func count(slices []*discoveryv1.EndpointSlice) (total, biggest int) {
	for _, s := range slices {
		total += len(s.Endpoints)
		biggest = max(biggest, len(s.Endpoints))
	}
	return total, biggest
}

func TestReconcileChunksAndIsStable(t *testing.T) {
	s := svc()
	p := Reconcile(s, nil, Desired(s, pods(250)), MaxEndpointsPerSlice)
	if len(p.create) != 3 || len(p.update)+len(p.del) != 0 {
		t.Fatalf("plan: %d creates, %d updates, %d deletes; want 3 creates", len(p.create), len(p.update), len(p.del))
	}
	have := apply(t, nil, p)
	if total, biggest := count(have); total != 250 || biggest > MaxEndpointsPerSlice {
		t.Fatalf("%d endpoints, biggest slice %d", total, biggest)
	}
	for _, sl := range have {
		if sl.Labels[discoveryv1.LabelServiceName] != "web" || sl.Labels[discoveryv1.LabelManagedBy] != ControllerName {
			t.Errorf("labels %v", sl.Labels)
		}
		if len(sl.OwnerReferences) != 1 || sl.OwnerReferences[0].UID != "svc-uid" {
			t.Errorf("owner references %v", sl.OwnerReferences)
		}
	}
	// Nothing changed: nothing to write.
	if p := Reconcile(s, have, Desired(s, pods(250)), MaxEndpointsPerSlice); len(p.create)+len(p.update)+len(p.del) != 0 {
		t.Errorf("unchanged input rewrote slices: %+v", p)
	}
	// One pod turns unready: one slice changes.
	ps := pods(250)
	ps[42] = pod(42, false)
	p = Reconcile(s, have, Desired(s, ps), MaxEndpointsPerSlice)
	if len(p.update) != 1 || len(p.create)+len(p.del) != 0 {
		t.Errorf("one pod change: %d creates, %d updates, %d deletes; want 1 update", len(p.create), len(p.update), len(p.del))
	}
}

func TestReconcileKeepsOnePlaceholderWhenEmpty(t *testing.T) {
	s := svc()
	p := Reconcile(s, nil, Desired(s, nil), MaxEndpointsPerSlice)
	if len(p.create) != 1 || len(p.create[0].Endpoints) != 0 {
		t.Fatalf("want one empty slice, got %+v", p)
	}
	have := apply(t, nil, p)
	// The placeholder is reused for the first endpoints rather than replaced.
	p = Reconcile(s, have, Desired(s, pods(1)), MaxEndpointsPerSlice)
	if len(p.update) != 1 || len(p.create)+len(p.del) != 0 {
		t.Errorf("plan %d/%d/%d, want the placeholder updated", len(p.create), len(p.update), len(p.del))
	}
}

func TestDesiredConditions(t *testing.T) {
	terminating := pod(1, true)
	terminating.DeletionTimestamp = &metav1.Time{}
	tests := []struct {
		name    string
		pod     *corev1.Pod
		publish bool
		want    [3]bool // ready, serving, terminating
	}{
		{"ready", pod(0, true), false, [3]bool{true, true, false}},
		{"not ready", pod(0, false), false, [3]bool{false, false, false}},
		{"terminating but still serving", terminating, false, [3]bool{false, true, true}},
		{"publishNotReadyAddresses", pod(0, false), true, [3]bool{true, false, false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := svc()
			s.Spec.PublishNotReadyAddresses = tt.publish
			groups := Desired(s, []*corev1.Pod{tt.pod})
			if len(groups) != 1 {
				t.Fatalf("%d groups", len(groups))
			}
			for _, g := range groups {
				c := g.endpoints[0].Conditions
				got := [3]bool{*c.Ready, *c.Serving, *c.Terminating}
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("ready/serving/terminating (-want +got):\n%s", diff)
				}
				if *g.ports[0].Port != 8080 {
					t.Errorf("port %d, want the target port", *g.ports[0].Port)
				}
			}
		})
	}
}

func TestTrackerWaitsForOwnWrites(t *testing.T) {
	tr := newTracker()
	tr.record("ns/web", "web-abc", 10)
	tr.record("ns/web", "web-old", -1)
	slice := func(name, rv string) *discoveryv1.EndpointSlice {
		return &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Name: name, ResourceVersion: rv}}
	}
	if !tr.stale("ns/web", []*discoveryv1.EndpointSlice{slice("web-abc", "9")}) {
		t.Error("cached slice older than our write: want stale")
	}
	tr.record("ns/web", "web-old", -1)
	if !tr.stale("ns/web", []*discoveryv1.EndpointSlice{slice("web-abc", "9"), slice("web-old", "3")}) {
		t.Error("deleted slice still in cache: want stale")
	}
	if tr.stale("ns/web", []*discoveryv1.EndpointSlice{slice("web-abc", "11")}) {
		t.Error("cache caught up: want fresh")
	}
	if tr.stale("ns/web", nil) {
		t.Error("writes seen once are forgotten")
	}
}

package controller

import (
	"context"
	"errors"
	"slices"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/tools/cache"
)

func TestUnwrap(t *testing.T) {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"}}
	for _, tc := range []struct {
		name string
		obj  any
		ok   bool
	}{
		{"object", pod, true},
		{"tombstone", cache.DeletedFinalStateUnknown{Key: "ns/p", Obj: pod}, true},
		{"other type", &corev1.Node{}, false},
		{"tombstone of other type", cache.DeletedFinalStateUnknown{Obj: &corev1.Node{}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := Unwrap[*corev1.Pod](tc.obj)
			if ok != tc.ok || (ok && got != pod) {
				t.Fatalf("Unwrap = %v, %v; want ok=%v", got, ok, tc.ok)
			}
		})
	}
}

type fakeLister map[string]*corev1.Pod

func (f fakeLister) Get(name string) (*corev1.Pod, error) {
	if name == "broken" {
		return nil, errors.New("broken")
	}
	if p, ok := f[name]; ok {
		return p, nil
	}
	return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "pods"}, name)
}

func TestGet(t *testing.T) {
	pods := map[string]fakeLister{"ns": {"p": &corev1.Pod{}}}
	lister := func(ns string) fakeLister { return pods[ns] }
	for _, tc := range []struct {
		key          string
		found, isErr bool
	}{
		{"ns/p", true, false},
		{"ns/gone", false, false},
		{"other/p", false, false},
		{"a/b/c", false, false},
		{"ns/broken", false, true},
	} {
		t.Run(tc.key, func(t *testing.T) {
			_, found, err := Get(tc.key, lister)
			if found != tc.found || (err != nil) != tc.isErr {
				t.Fatalf("Get(%q) = found %v, err %v; want found %v, error %v", tc.key, found, err, tc.found, tc.isErr)
			}
		})
	}
}

func TestControllerKey(t *testing.T) {
	ref := func(kind string) []metav1.OwnerReference {
		return []metav1.OwnerReference{{Kind: kind, Name: "owner", Controller: new(true)}}
	}
	for _, tc := range []struct {
		name string
		refs []metav1.OwnerReference
		want string
	}{
		{"controlled by kind", ref("ReplicaSet"), "ns/owner"},
		{"controlled by other kind", ref("Job"), ""},
		{"owner but not controller", []metav1.OwnerReference{{Kind: "ReplicaSet", Name: "owner"}}, ""},
		{"orphan", nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "p", OwnerReferences: tc.refs}}
			got, ok := ControllerKey(pod, "ReplicaSet")
			if got != tc.want || ok != (tc.want != "") {
				t.Fatalf("ControllerKey = %q, %v; want %q", got, ok, tc.want)
			}
		})
	}
}

func TestEnqueueSelecting(t *testing.T) {
	rs := func(name string, sel *metav1.LabelSelector) *appsv1.ReplicaSet {
		return &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name}, Spec: appsv1.ReplicaSetSpec{Selector: sel}}
	}
	owners := []*appsv1.ReplicaSet{
		rs("match", &metav1.LabelSelector{MatchLabels: map[string]string{"app": "a"}}),
		rs("other", &metav1.LabelSelector{MatchLabels: map[string]string{"app": "b"}}),
		rs("empty", &metav1.LabelSelector{}),
		rs("invalid", &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "app", Operator: "Bad"}}}),
	}
	c := New("test", func(context.Context, string) error { return nil }, 1)
	defer c.Queue.ShutDown()
	EnqueueSelecting(c, owners, func(r *appsv1.ReplicaSet) *metav1.LabelSelector { return r.Spec.Selector }, labels.Set{"app": "a"})
	var got []string
	for c.Queue.Len() > 0 {
		k, _ := c.Queue.Get()
		got = append(got, k)
		c.Queue.Done(k)
	}
	if !slices.Equal(got, []string{"ns/match"}) {
		t.Fatalf("enqueued %v; want [ns/match]", got)
	}
}

func TestEachHandlers(t *testing.T) {
	for _, tc := range []struct {
		name    string
		handler func(func(any)) cache.ResourceEventHandler
		want    []any
	}{
		{"Each", Each, []any{1, 3, 4}},
		{"EachOldAndNew", EachOldAndNew, []any{1, 2, 3, 4}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var seen []any
			h := tc.handler(func(obj any) { seen = append(seen, obj) })
			h.OnAdd(1, false)
			h.OnUpdate(2, 3)
			h.OnDelete(4)
			if !slices.Equal(seen, tc.want) {
				t.Fatalf("calls %v; want %v", seen, tc.want)
			}
		})
	}
}

func TestEnqueueOwnerOrAdopters(t *testing.T) {
	owners := []*appsv1.ReplicaSet{
		{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "adopter"},
			Spec: appsv1.ReplicaSetSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "a"}}}},
	}
	list := func(string) ([]*appsv1.ReplicaSet, error) { return owners, nil }
	ref := func(kind string) []metav1.OwnerReference {
		return []metav1.OwnerReference{{Kind: kind, Name: "owner", Controller: new(true)}}
	}
	for _, tc := range []struct {
		name string
		refs []metav1.OwnerReference
		want []string
	}{
		{"controlled by kind wakes its controller", ref("ReplicaSet"), []string{"ns/owner"}},
		{"controlled by another kind wakes nobody", ref("Job"), nil},
		{"orphan wakes the owners that select it", nil, []string{"ns/adopter"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := New("test", func(context.Context, string) error { return nil }, 1)
			defer c.Queue.ShutDown()
			pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "p", Labels: map[string]string{"app": "a"}, OwnerReferences: tc.refs}}
			EnqueueOwnerOrAdopters(c, pod, "ReplicaSet", list, func(r *appsv1.ReplicaSet) *metav1.LabelSelector { return r.Spec.Selector })
			var got []string
			for c.Queue.Len() > 0 {
				k, _ := c.Queue.Get()
				got = append(got, k)
				c.Queue.Done(k)
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("enqueued %v; want %v", got, tc.want)
			}
		})
	}
}

func TestStripManagedFields(t *testing.T) {
	for _, tc := range []struct {
		name string
		obj  any
	}{
		{"pod with managed fields", &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p",
			ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "m", Operation: metav1.ManagedFieldsOperationUpdate}}}}},
		{"pod without", &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"}}},
		{"tombstone passes through", cache.DeletedFinalStateUnknown{Key: "ns/p"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := StripManagedFields(tc.obj)
			if err != nil {
				t.Fatal(err)
			}
			if p, ok := got.(*corev1.Pod); ok && (p.ManagedFields != nil || p.Name != "p") {
				t.Fatalf("after strip: %+v", p.ObjectMeta)
			}
			if _, ok := tc.obj.(cache.DeletedFinalStateUnknown); ok && got != tc.obj {
				t.Fatalf("tombstone changed: %v", got)
			}
		})
	}
}

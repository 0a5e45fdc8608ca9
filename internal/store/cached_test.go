package store

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	clientscheme "k8s.io/client-go/kubernetes/scheme"
)

// TestEncodedCacheServesWatchesAndReads: the cache keeps objects encoded and
// decodes them on demand, hot or cold. A watch resumed from an old revision gets
// every change since, with the previous object where its filter needs it (a
// ConfigMap leaving the selection arrives as Deleted), and reads see the newest
// data of objects pushed out of the hot set.
func TestEncodedCacheServesWatchesAndReads(t *testing.T) {
	e := startTestEtcd(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s := New(e.Client, clientscheme.Scheme)
	r := s.Register(schema.GroupResource{Resource: "configmaps"}, corev1.SchemeGroupVersion)
	go s.Run(ctx)
	<-s.Ready()
	first, err := r.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "a", Namespace: "ns", Labels: map[string]string{"keep": "yes"}}, Data: map[string]string{"v": "0"}}, 0)
	if err != nil {
		t.Fatal(err)
	}
	from := resourceVersion(t, first)
	// More writes than the hot set holds, so "a" is read back from its bytes.
	for i := range hotSize + 10 {
		if _, err := r.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("b%d", i), Namespace: "ns"}}, 0); err != nil {
			t.Fatal(err)
		}
	}
	cur := first.DeepCopyObject().(*corev1.ConfigMap)
	cur.Data["v"] = "1"
	cur.Labels = nil // leaves the selection
	updated, err := r.Update(ctx, cur, from)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Delete(ctx, "ns", "b0", 0); err != nil {
		t.Fatal(err)
	}
	rev, err := s.currentRevision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.waitFor(ctx, rev); err != nil {
		t.Fatal(err)
	}

	keep := func(obj runtime.Object) bool { return obj.(*corev1.ConfigMap).Labels["keep"] == "yes" }
	w, err := r.Watch(ctx, WatchOptions{ResourceVersion: fmt.Sprint(from), Filter: keep})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	if got := slices.Collect(w.Backlog()); len(got) != 1 || got[0].Type != watch.Deleted || got[0].Prev.(*corev1.ConfigMap).Name != "a" {
		t.Fatalf("filtered resumed watch: %s, want a single Deleted for a", describe(got))
	}
	all, err := r.Watch(ctx, WatchOptions{ResourceVersion: fmt.Sprint(from)})
	if err != nil {
		t.Fatal(err)
	}
	defer all.Stop()
	backlog := slices.Collect(all.Backlog())
	n := len(backlog)
	if n != hotSize+12 || backlog[n-2].Type != watch.Modified || backlog[n-1].Type != watch.Deleted {
		t.Fatalf("resumed watch got %d events ending %s, want %d ending Modified, Deleted", n, describe(backlog[max(n-2, 0):]), hotSize+12)
	}
	if del := backlog[n-1].Prev; resourceVersion(t, del) != rev {
		t.Fatalf("the deleted object reads resourceVersion %d, want the deletion's %d", resourceVersion(t, del), rev)
	}

	got, ok := r.Peek("ns", "a")
	if !ok || got.(*corev1.ConfigMap).Data["v"] != "1" || resourceVersion(t, got) != resourceVersion(t, updated) {
		t.Fatalf("Peek(a) = %v, %v; want the update", got, ok)
	}
	objs, _, _, err := r.List(ctx, ListOptions{Namespace: "ns", ResourceVersion: "0"})
	if err != nil || len(objs) != hotSize+10 {
		t.Fatalf("list: %d objects, %v; want %d", len(objs), err, hotSize+10)
	}
	// A filtered encoded list keeps the bytes of what passed, not the objects
	// decoded to filter them (a cold one is decoded again on demand).
	cold := func(obj runtime.Object) bool { return obj.(*corev1.ConfigMap).Name == "b1" }
	enc, _, _, err := r.ListEncoded(ctx, ListOptions{Namespace: "ns", ResourceVersion: "0", Filter: cold})
	if err != nil || len(enc) != 1 || enc[0].obj != nil {
		t.Fatalf("filtered encoded list: %+v, %v; want b1's bytes alone", enc, err)
	}
	if obj, err := r.Decode(enc[0]); err != nil || obj.(*corev1.ConfigMap).Name != "b1" {
		t.Fatalf("Decode of the listed bytes = %v, %v; want b1", obj, err)
	}
}

func resourceVersion(t *testing.T, obj runtime.Object) int64 {
	t.Helper()
	var rv int64
	if _, err := fmt.Sscan(obj.(metav1.Object).GetResourceVersion(), &rv); err != nil {
		t.Fatal(err)
	}
	return rv
}

func describe(evs []Event) string {
	out := ""
	for _, ev := range evs {
		out += fmt.Sprintf("%s@%d ", ev.Type, ev.Rev)
	}
	return out
}

// TestCustomObjectsStayDecoded: custom objects, JSON that is costly to decode
// and decoded by every list anyway, stay decoded beyond the hot set (loaded or
// written), while a built-in object written before the last hotSize writes is
// decoded afresh from its bytes.
func TestCustomObjectsStayDecoded(t *testing.T) {
	e := startTestEtcd(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s := New(e.Client, clientscheme.Scheme)
	cms := s.Register(schema.GroupResource{Resource: "configmaps"}, corev1.SchemeGroupVersion)
	go s.Run(ctx)
	<-s.Ready()
	thing := func(name string) *unstructured.Unstructured {
		u := &unstructured.Unstructured{}
		u.SetAPIVersion("example.com/v1")
		u.SetKind("Thing")
		u.SetNamespace("ns")
		u.SetName(name)
		return u
	}
	gr := schema.GroupResource{Group: "example.com", Resource: "things"}
	early, err := s.RegisterUnstructured(ctx, gr)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := early.Create(ctx, thing("loaded"), 0); err != nil {
		t.Fatal(err)
	}
	for i := range hotSize + 5 {
		name := fmt.Sprintf("x%04d", i)
		if _, err := early.Create(ctx, thing(name), 0); err != nil {
			t.Fatal(err)
		}
		if _, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns"}}, 0); err != nil {
			t.Fatal(err)
		}
	}
	// A second store loads the custom objects from etcd.
	s2 := New(e.Client, clientscheme.Scheme)
	go s2.Run(ctx)
	<-s2.Ready()
	loaded, err := s2.RegisterUnstructured(ctx, gr)
	if err != nil {
		t.Fatal(err)
	}
	same := func(r *Resource, name string) bool {
		a, ok1 := r.Peek("ns", name)
		b, ok2 := r.Peek("ns", name)
		return ok1 && ok2 && a == b
	}
	rev, err := s.currentRevision(ctx)
	if err == nil {
		err = s.waitFor(ctx, rev)
	}
	if err != nil {
		t.Fatal(err)
	}
	if !same(early, "x0000") || !same(loaded, "loaded") || !same(loaded, "x0000") {
		t.Fatal("a custom object was decoded afresh")
	}
	if same(cms, "x0000") {
		t.Fatal("a built-in object written before the last hotSize writes is still kept decoded")
	}
}

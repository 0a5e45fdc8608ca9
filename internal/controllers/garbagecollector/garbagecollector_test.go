package garbagecollector

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	fakediscovery "k8s.io/client-go/discovery/fake"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	metadatafake "k8s.io/client-go/metadata/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/record"

	"skiff/internal/controllers/controller"
)

var (
	rsGVR  = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "replicasets"}
	podGVR = schema.GroupVersionResource{Version: "v1", Resource: "pods"}
	yes    = true
)

func owned(kind, name string, uid types.UID, blocking bool) metav1.OwnerReference {
	r := metav1.OwnerReference{APIVersion: "apps/v1", Kind: kind, Name: name, UID: uid}
	if blocking {
		r.BlockOwnerDeletion = &yes
	}
	return r
}

func object(kind, name string, uid types.UID, refs ...metav1.OwnerReference) *metav1.PartialObjectMetadata {
	av := "v1"
	if kind == "ReplicaSet" {
		av = "apps/v1"
	}
	return &metav1.PartialObjectMetadata{TypeMeta: metav1.TypeMeta{APIVersion: av, Kind: kind},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", UID: uid, OwnerReferences: refs, ResourceVersion: "5"}}
}

func seen(o *metav1.PartialObjectMetadata) observed {
	gvr := podGVR
	if o.Kind == "ReplicaSet" {
		gvr = rsGVR
	}
	return observed{gvr: gvr, apiVersion: o.APIVersion, kind: o.Kind, obj: o}
}

func TestGraph(t *testing.T) {
	g := newGraph()
	pod := object("Pod", "p", "pod", owned("ReplicaSet", "rs", "rs", true))
	// An owner not seen yet becomes a virtual node to be checked.
	if diff := cmp.Diff([]types.UID{"rs"}, g.upsert(seen(pod)).attemptDelete); diff != "" {
		t.Errorf("dependent first (-want +got):\n%s", diff)
	}
	if n, _ := g.get("rs"); !n.virtual || len(n.blocking) != 1 {
		t.Errorf("owner node %+v: want virtual with one blocking dependent", n)
	}
	rs := object("ReplicaSet", "rs", "rs")
	if w := g.upsert(seen(rs)); len(w.attemptDelete)+len(w.orphan) != 0 {
		t.Errorf("plain owner observed: work %+v", w)
	}
	// Foreground deletion starts: the dependents and the owner are looked at.
	rs = rs.DeepCopy()
	rs.DeletionTimestamp = &metav1.Time{}
	rs.Finalizers = []string{metav1.FinalizerDeleteDependents}
	if diff := cmp.Diff([]types.UID{"pod", "rs"}, g.upsert(seen(rs)).attemptDelete); diff != "" {
		t.Errorf("foreground start (-want +got):\n%s", diff)
	}
	// The dependent stops blocking: the waiting owner is woken.
	unblocked := object("Pod", "p", "pod", owned("ReplicaSet", "rs", "rs", false))
	if diff := cmp.Diff([]types.UID{"rs"}, g.upsert(seen(unblocked)).attemptDelete); diff != "" {
		t.Errorf("unblock (-want +got):\n%s", diff)
	}
	// The owner goes: its dependents are judged.
	if diff := cmp.Diff([]types.UID{"pod"}, g.remove("rs").attemptDelete); diff != "" {
		t.Errorf("owner removed (-want +got):\n%s", diff)
	}
	orphaning := object("ReplicaSet", "rs2", "rs2")
	orphaning.DeletionTimestamp = &metav1.Time{}
	orphaning.Finalizers = []string{metav1.FinalizerOrphanDependents}
	if diff := cmp.Diff([]types.UID{"rs2"}, g.upsert(seen(orphaning)).orphan); diff != "" {
		t.Errorf("orphan (-want +got):\n%s", diff)
	}
}

func newCollector(t *testing.T, objs map[schema.GroupVersionResource][]*metav1.PartialObjectMetadata) (*Collector, *metadatafake.FakeMetadataClient) {
	t.Helper()
	c, md := fakeClients()
	gc := New(c, md, Options{})
	for gvr, list := range objs {
		for _, o := range list {
			if err := md.Tracker().Create(gvr, o, "ns"); err != nil {
				t.Fatal(err)
			}
			gc.graph.upsert(seen(o))
		}
	}
	md.ClearActions()
	return gc, md
}

// fakeClients serve pods and replicasets, from objs.
func fakeClients(objs ...runtime.Object) (*controller.Context, *metadatafake.FakeMetadataClient) {
	client := fake.NewClientset(objs...)
	client.Discovery().(*fakediscovery.FakeDiscovery).Resources = []*metav1.APIResourceList{
		{GroupVersion: "v1", APIResources: []metav1.APIResource{{Name: "pods", Namespaced: true, Kind: "Pod", Verbs: []string{"list", "watch", "delete"}}}},
		{GroupVersion: "apps/v1", APIResources: []metav1.APIResource{{Name: "replicasets", Namespaced: true, Kind: "ReplicaSet", Verbs: []string{"list", "watch", "delete"}}}},
	}
	scheme := runtime.NewScheme()
	metav1.AddMetaToScheme(scheme)
	md := metadatafake.NewSimpleMetadataClient(scheme)
	return &controller.Context{Client: client, Informers: informers.NewSharedInformerFactory(client, 0),
		Recorder: func(string) record.EventRecorder { return record.NewFakeRecorder(10) }}, md
}

func verbs(md *metadatafake.FakeMetadataClient) []string {
	var out []string
	for _, a := range md.Actions() {
		if a.GetVerb() != "get" {
			out = append(out, a.GetVerb()+" "+a.GetResource().Resource)
		}
	}
	return out
}

func TestAttemptToDeleteDangling(t *testing.T) {
	pod := object("Pod", "p", "pod", owned("ReplicaSet", "gone", "gone-uid", true))
	gc, md := newCollector(t, map[schema.GroupVersionResource][]*metav1.PartialObjectMetadata{podGVR: {pod}})
	if err := gc.attemptToDelete(context.Background(), "pod"); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"delete pods"}, verbs(md)); diff != "" {
		t.Fatalf("writes (-want +got):\n%s", diff)
	}
	d := md.Actions()[len(md.Actions())-1].(k8stesting.DeleteActionImpl).DeleteOptions
	if d.Preconditions == nil || *d.Preconditions.UID != "pod" || *d.PropagationPolicy != metav1.DeletePropagationBackground {
		t.Errorf("delete options %+v: want UID precondition and background", d)
	}
}

func TestAttemptToDeleteKeepsOwnedAndDropsDanglingRef(t *testing.T) {
	rs := object("ReplicaSet", "rs", "rs")
	pod := object("Pod", "p", "pod", owned("ReplicaSet", "rs", "rs", true), owned("ReplicaSet", "gone", "gone-uid", false))
	gc, md := newCollector(t, map[schema.GroupVersionResource][]*metav1.PartialObjectMetadata{rsGVR: {rs}, podGVR: {pod}})
	if err := gc.attemptToDelete(context.Background(), "pod"); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"patch pods"}, verbs(md)); diff != "" {
		t.Errorf("writes (-want +got):\n%s", diff)
	}
}

func TestForegroundOwnerWaitsForBlockingDependents(t *testing.T) {
	rs := object("ReplicaSet", "rs", "rs")
	rs.DeletionTimestamp = &metav1.Time{}
	rs.Finalizers = []string{metav1.FinalizerDeleteDependents}
	pod := object("Pod", "p", "pod", owned("ReplicaSet", "rs", "rs", true))
	gc, md := newCollector(t, map[schema.GroupVersionResource][]*metav1.PartialObjectMetadata{rsGVR: {rs}, podGVR: {pod}})
	if err := gc.attemptToDelete(context.Background(), "rs"); err != nil {
		t.Fatal(err)
	}
	if w := verbs(md); len(w) != 0 {
		t.Errorf("owner with a blocking dependent was written: %v", w)
	}
	// The dependent is deleted because its only owner waits on it.
	if err := gc.attemptToDelete(context.Background(), "pod"); err != nil {
		t.Fatal(err)
	}
	gc.enqueue(gc.graph.remove("pod"))
	if err := gc.attemptToDelete(context.Background(), "rs"); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"delete pods", "patch replicasets"}, verbs(md)); diff != "" {
		t.Errorf("writes (-want +got):\n%s", diff)
	}
}

func TestOrphanStripsReferencesThenFinalizer(t *testing.T) {
	rs := object("ReplicaSet", "rs", "rs")
	rs.DeletionTimestamp = &metav1.Time{}
	rs.Finalizers = []string{metav1.FinalizerOrphanDependents}
	pod := object("Pod", "p", "pod", owned("ReplicaSet", "rs", "rs", true))
	gc, md := newCollector(t, map[schema.GroupVersionResource][]*metav1.PartialObjectMetadata{rsGVR: {rs}, podGVR: {pod}})
	if err := gc.attemptToOrphan(context.Background(), "rs"); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"patch pods", "patch replicasets"}, verbs(md)); diff != "" {
		t.Errorf("writes (-want +got):\n%s", diff)
	}
	i := slices.IndexFunc(md.Actions(), func(a k8stesting.Action) bool { return a.GetVerb() == "patch" })
	if p := string(md.Actions()[i].(k8stesting.PatchActionImpl).Patch); p != `{"metadata":{"ownerReferences":[],"resourceVersion":"5"}}` {
		t.Errorf("dependent patch %s", p)
	}
}

// A kind that another controller's typed informer already watches reaches the
// graph from that informer; other kinds get metadata informers of their own.
func TestSharesRunningTypedInformers(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", UID: "pod",
		OwnerReferences: []metav1.OwnerReference{owned("ReplicaSet", "gone", "gone-uid", true)}}}
	c, md := fakeClients(pod)
	c.Informers.Core().V1().Pods().Informer() // another controller's
	c.Informers.Start(ctx.Done())
	gc := New(c, md, Options{})
	gc.resync(ctx)
	if n, ok := gc.graph.get("pod"); !ok || n.ref.Kind != "Pod" || n.gvr != podGVR {
		t.Fatalf("pod in the graph: %+v, %v", n, ok)
	}
	if owner, ok := gc.graph.get("gone-uid"); !ok || !owner.virtual {
		t.Errorf("the pod's owner in the graph: %+v, %v; want a virtual node to check", owner, ok)
	}
	var resources []string
	for _, a := range md.Actions() {
		resources = append(resources, a.GetVerb()+" "+a.GetResource().Resource)
	}
	if slices.ContainsFunc(resources, func(r string) bool { return strings.HasSuffix(r, " pods") }) {
		t.Errorf("pods were read through metadata too: %v", resources)
	}
	if !slices.ContainsFunc(resources, func(r string) bool { return strings.HasSuffix(r, " replicasets") }) {
		t.Errorf("replicasets were not watched through metadata: %v", resources)
	}
}

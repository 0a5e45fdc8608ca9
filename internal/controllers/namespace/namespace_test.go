package namespace

import (
	"context"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	fakediscovery "k8s.io/client-go/discovery/fake"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	metadatafake "k8s.io/client-go/metadata/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/record"

	"skiff/internal/controllers/controller"
)

var (
	configmaps = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
	secrets    = schema.GroupVersionResource{Version: "v1", Resource: "secrets"}
	pods       = schema.GroupVersionResource{Version: "v1", Resource: "pods"}
)

func object(kind, name string, finalizers ...string) *metav1.PartialObjectMetadata {
	return &metav1.PartialObjectMetadata{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: kind},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "doomed", Finalizers: finalizers}}
}

func newSyncer(t *testing.T) (*syncer, *fake.Clientset, *metadatafake.FakeMetadataClient) {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "doomed", DeletionTimestamp: &metav1.Time{Time: time.Now()}},
		Spec: corev1.NamespaceSpec{Finalizers: []corev1.FinalizerName{corev1.FinalizerKubernetes}}}
	client := fake.NewClientset(ns)
	client.Discovery().(*fakediscovery.FakeDiscovery).Resources = []*metav1.APIResourceList{{GroupVersion: "v1", APIResources: []metav1.APIResource{
		{Name: "configmaps", Namespaced: true, Kind: "ConfigMap", Verbs: []string{"list", "delete", "get"}},
		{Name: "secrets", Namespaced: true, Kind: "Secret", Verbs: []string{"list", "delete", "get"}},
		{Name: "pods", Namespaced: true, Kind: "Pod", Verbs: []string{"list", "delete", "get"}},
		{Name: "nodes", Namespaced: false, Kind: "Node", Verbs: []string{"list", "delete"}},
	}}}
	scheme := runtime.NewScheme()
	metav1.AddMetaToScheme(scheme)
	md := metadatafake.NewSimpleMetadataClient(scheme)
	for _, o := range []struct {
		gvr schema.GroupVersionResource
		obj *metav1.PartialObjectMetadata
	}{{configmaps, object("ConfigMap", "cfg")}, {secrets, object("Secret", "tls")}, {pods, object("Pod", "web")}} {
		if err := md.Tracker().Create(o.gvr, o.obj, "doomed"); err != nil {
			t.Fatal(err)
		}
	}
	c := &controller.Context{Client: client, Informers: informers.NewSharedInformerFactory(client, 0),
		Recorder: func(string) record.EventRecorder { return record.NewFakeRecorder(10) }}
	New(c, md)
	s := &syncer{c: c, md: md, disc: client.Discovery(), namespaces: c.Informers.Core().V1().Namespaces().Lister(), now: time.Now}
	s.ctl = controller.New("namespace-test", s.sync, 1)
	t.Cleanup(s.ctl.Queue.ShutDown)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	c.Informers.Start(ctx.Done())
	c.Informers.WaitForCacheSync(ctx.Done())
	client.ClearActions()
	return s, client, md
}

func finalized(client *fake.Clientset) bool {
	return slices.ContainsFunc(client.Actions(), func(a k8stesting.Action) bool {
		return a.GetSubresource() == "finalize" // the fake records the PUT as a create
	})
}

func TestSyncEmptiesThenFinalizes(t *testing.T) {
	s, client, md := newSyncer(t)
	if err := s.sync(context.Background(), "doomed"); err != nil {
		t.Fatal(err)
	}
	for _, gvr := range []schema.GroupVersionResource{configmaps, secrets, pods} {
		if list, _ := md.Tracker().List(gvr, schema.GroupVersionKind{Version: "v1", Kind: "List"}, "doomed"); list != nil {
			if items, _ := metaItems(list); items > 0 {
				t.Errorf("%s left: %d", gvr.Resource, items)
			}
		}
	}
	if !finalized(client) {
		t.Fatalf("namespace not finalized; actions %v", client.Actions())
	}
}

func TestSyncWaitsForContentAndReportsIt(t *testing.T) {
	s, client, md := newSyncer(t)
	// A secret held by a finalizer does not go.
	md.PrependReactor("delete", "secrets", func(k8stesting.Action) (bool, runtime.Object, error) { return true, nil, nil })
	_ = md.Tracker().Update(secrets, object("Secret", "tls", "example.com/hold"), "doomed")
	if err := s.sync(context.Background(), "doomed"); err != nil {
		t.Fatal(err)
	}
	if finalized(client) {
		t.Fatal("finalized a namespace with content left")
	}
	ns, _ := client.CoreV1().Namespaces().Get(context.Background(), "doomed", metav1.GetOptions{})
	want := map[corev1.NamespaceConditionType]string{
		corev1.NamespaceDeletionDiscoveryFailure: "ResourcesDiscovered",
		corev1.NamespaceDeletionContentFailure:   "ContentDeleted",
		corev1.NamespaceContentRemaining:         "SomeResourcesRemain",
		corev1.NamespaceFinalizersRemaining:      "SomeFinalizersRemain",
	}
	for _, c := range ns.Status.Conditions {
		if r, ok := want[c.Type]; ok && r != c.Reason {
			t.Errorf("%s: reason %s, want %s (%s)", c.Type, c.Reason, r, c.Message)
		}
		delete(want, c.Type)
	}
	if len(want) > 0 {
		t.Errorf("conditions missing: %v", want)
	}
	if s.ctl.Queue.Len() != 0 {
		t.Error("requeued at once; want a delayed recheck")
	}
}

// TestPodsGoFirst: while a pod is still there (terminating, or held by a
// finalizer), nothing else in the namespace is deleted.
func TestPodsGoFirst(t *testing.T) {
	s, client, md := newSyncer(t)
	md.PrependReactor("delete", "pods", func(k8stesting.Action) (bool, runtime.Object, error) { return true, nil, nil })
	if err := s.sync(context.Background(), "doomed"); err != nil {
		t.Fatal(err)
	}
	for _, a := range md.Actions() {
		if a.GetVerb() == "delete" && a.GetResource() != pods {
			t.Errorf("deleted %s while a pod remains", a.GetResource().Resource)
		}
	}
	if finalized(client) {
		t.Fatal("finalized a namespace with a pod left")
	}
	// The pod gone, the rest goes.
	md.ReactionChain = md.ReactionChain[1:]
	if err := md.Tracker().Delete(pods, "doomed", "web"); err != nil {
		t.Fatal(err)
	}
	if err := s.sync(context.Background(), "doomed"); err != nil {
		t.Fatal(err)
	}
	if !finalized(client) {
		t.Fatal("namespace not finalized once the pod was gone")
	}
}

func metaItems(obj runtime.Object) (int, error) {
	switch l := obj.(type) {
	case *metav1.PartialObjectMetadataList:
		return len(l.Items), nil
	case *metav1.List:
		return len(l.Items), nil
	}
	return 0, nil
}

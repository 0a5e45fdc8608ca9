package serviceaccount

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/record"

	"skiff/internal/controllers/controller"
)

// newSyncer builds the controller over a fake client holding objs, with its informer
// caches filled from them.
func newSyncer(t *testing.T, ca string, objs ...runtime.Object) (*syncer, *fake.Clientset) {
	t.Helper()
	client := fake.NewClientset(objs...)
	c := &controller.Context{Client: client, Informers: informers.NewSharedInformerFactory(client, 0),
		Recorder: func(string) record.EventRecorder { return record.NewFakeRecorder(10) }}
	New(c, []byte(ca))
	s := &syncer{c: c, caData: []byte(ca), namespaces: c.Informers.Core().V1().Namespaces().Lister(),
		accounts: c.Informers.Core().V1().ServiceAccounts().Lister(), configMaps: c.Informers.Core().V1().ConfigMaps().Lister()}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	c.Informers.Start(ctx.Done())
	c.Informers.WaitForCacheSync(ctx.Done())
	return s, client
}

func ns(name string, terminating bool) *corev1.Namespace {
	n := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if terminating {
		n.Status.Phase = corev1.NamespaceTerminating
	}
	return n
}

func TestSyncCreatesAccountAndRootCA(t *testing.T) {
	s, client := newSyncer(t, "PEM", ns("app", false))
	if err := s.sync(context.Background(), "app"); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := client.CoreV1().ServiceAccounts("app").Get(ctx, "default", metav1.GetOptions{}); err != nil {
		t.Errorf("default service account: %v", err)
	}
	cm, err := client.CoreV1().ConfigMaps("app").Get(ctx, RootCAName, metav1.GetOptions{})
	if err != nil || cm.Data[RootCAKey] != "PEM" {
		t.Errorf("root CA config map: %v %v", cm, err)
	}
}

func TestSyncRepairsEditedRootCA(t *testing.T) {
	edited := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: RootCAName, Namespace: "app"}, Data: map[string]string{RootCAKey: "old", "x": "y"}}
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: "app"}}
	s, client := newSyncer(t, "PEM", ns("app", false), edited, sa)
	if err := s.sync(context.Background(), "app"); err != nil {
		t.Fatal(err)
	}
	cm, _ := client.CoreV1().ConfigMaps("app").Get(context.Background(), RootCAName, metav1.GetOptions{})
	if cm.Data[RootCAKey] != "PEM" || len(cm.Data) != 1 {
		t.Errorf("data %v, want only the CA", cm.Data)
	}
	for _, a := range client.Actions() {
		if a.GetVerb() == "create" {
			t.Errorf("unexpected %s %s", a.GetVerb(), a.GetResource().Resource)
		}
	}
}

func TestSyncSkipsTerminatingNamespace(t *testing.T) {
	s, client := newSyncer(t, "PEM", ns("going", true))
	client.ClearActions()
	if err := s.sync(context.Background(), "going"); err != nil {
		t.Fatal(err)
	}
	for _, a := range client.Actions() {
		if a.GetVerb() == "create" {
			t.Errorf("created %s in a terminating namespace", a.GetResource().Resource)
		}
	}
}

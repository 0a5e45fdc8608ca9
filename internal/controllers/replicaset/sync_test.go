package replicaset

import (
	"context"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	utilrand "k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/record"

	"skiff/internal/controllers/controller"
)

// fakeContext builds a controller.Context over a fake clientset holding objs.
func fakeContext(objs ...runtime.Object) (*controller.Context, *fake.Clientset, *record.FakeRecorder) {
	client := fake.NewSimpleClientset(objs...)
	// The fake does not generate names; the API server would.
	client.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if p := a.(k8stesting.CreateAction).GetObject().(*corev1.Pod); p.Name == "" {
			p.Name = p.GenerateName + utilrand.String(5)
		}
		return false, nil, nil
	})
	rec := record.NewFakeRecorder(100)
	return &controller.Context{Client: client, Informers: informers.NewSharedInformerFactory(client, 0),
		Recorder: func(string) record.EventRecorder { return rec }}, client, rec
}

func startInformers(t *testing.T, c *controller.Context) context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	c.Informers.Start(ctx.Done())
	c.Informers.WaitForCacheSync(ctx.Done())
	return ctx
}

func TestSyncCreatesMissingPods(t *testing.T) {
	n := int32(3)
	rs := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns", UID: "rs-uid", Generation: 2},
		Spec: appsv1.ReplicaSetSpec{Replicas: &n, Template: template("web"),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}}}
	c, client, rec := fakeContext(rs)
	ctrl := New(c)
	ctx := startInformers(t, c)
	if err := ctrl.Sync(ctx, "ns/web"); err != nil {
		t.Fatal(err)
	}
	creates := 0
	for _, a := range client.Actions() {
		if a.GetVerb() == "create" && a.GetResource().Resource == "pods" {
			creates++
		}
	}
	if creates != 3 {
		t.Errorf("%d pods created, want 3", creates)
	}
	if ev := <-rec.Events; !strings.HasPrefix(ev, "Normal SuccessfulCreate Created pod: ") {
		t.Errorf("event %q", ev)
	}
	got, _ := client.AppsV1().ReplicaSets("ns").Get(ctx, "web", metav1.GetOptions{})
	if got.Status.ObservedGeneration != 2 {
		t.Errorf("observedGeneration %d", got.Status.ObservedGeneration)
	}
	// Until the informer shows the new pods, another sync must not create more.
	if err := ctrl.Sync(ctx, "ns/web"); err != nil {
		t.Fatal(err)
	}
	n2 := 0
	for _, a := range client.Actions() {
		if a.GetVerb() == "create" && a.GetResource().Resource == "pods" {
			n2++
		}
	}
	if n2 != 3 {
		t.Errorf("second sync created %d more pods", n2-3)
	}
}

func TestSyncDeletesLeastValuablePods(t *testing.T) {
	one := int32(1)
	rs := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns", UID: "rs-uid"},
		Spec: appsv1.ReplicaSetSpec{Replicas: &one, Template: template("web"),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}}}
	owned := func(name string, ready bool) *corev1.Pod {
		t := true
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", UID: types.UID("uid-" + name),
			Labels: map[string]string{"app": "web"}, CreationTimestamp: metav1.NewTime(time.Unix(1e9, 0)),
			OwnerReferences: []metav1.OwnerReference{{Kind: "ReplicaSet", Name: "web", UID: "rs-uid", Controller: &t}}}}
		p.Spec.NodeName = "n"
		p.Status.Phase = corev1.PodRunning
		if ready {
			p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
		}
		return p
	}
	c, client, _ := fakeContext(rs, owned("keep", true), owned("unready", false))
	ctrl := New(c)
	ctx := startInformers(t, c)
	if err := ctrl.Sync(ctx, "ns/web"); err != nil {
		t.Fatal(err)
	}
	pods, _ := client.CoreV1().Pods("ns").List(ctx, metav1.ListOptions{})
	if len(pods.Items) != 1 || pods.Items[0].Name != "keep" {
		t.Errorf("left %v, want only the ready pod", pods.Items)
	}
}

package podgc

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/record"

	"skiff/internal/controllers/controller"
)

func newGC(t *testing.T, opts Options, objs ...runtime.Object) (*GC, *fake.Clientset) {
	t.Helper()
	client := fake.NewClientset(objs...)
	c := &controller.Context{Client: client, Informers: informers.NewSharedInformerFactory(client, 0),
		Recorder: func(string) record.EventRecorder { return record.NewFakeRecorder(10) }}
	g := New(c, opts)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	c.Informers.Start(ctx.Done())
	c.Informers.WaitForCacheSync(ctx.Done())
	client.ClearActions()
	return g, client
}

func pod(name, node string, phase corev1.PodPhase, age time.Duration) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", CreationTimestamp: metav1.NewTime(time.Now().Add(-age))},
		Spec:       corev1.PodSpec{NodeName: node},
		Status:     corev1.PodStatus{Phase: phase},
	}
}

// deleted lists the pods deleted, with whether the delete skipped the grace period.
func deleted(client *fake.Clientset) map[string]bool {
	out := map[string]bool{}
	for _, a := range client.Actions() {
		if d, ok := a.(k8stesting.DeleteActionImpl); ok && d.GetResource().Resource == "pods" {
			g := d.GetDeleteOptions().GracePeriodSeconds
			out[d.GetName()] = g != nil && *g == 0
		}
	}
	return out
}

func TestCollectTerminatedOverThreshold(t *testing.T) {
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}}
	g, client := newGC(t, Options{TerminatedPodThreshold: 2}, node,
		pod("old", "n1", corev1.PodSucceeded, 3*time.Hour), pod("older", "n1", corev1.PodFailed, 4*time.Hour),
		pod("new", "n1", corev1.PodSucceeded, time.Hour), pod("newest", "n1", corev1.PodFailed, time.Minute),
		pod("running", "n1", corev1.PodRunning, 5*time.Hour))
	g.Collect(context.Background())
	if diff := cmp.Diff(map[string]bool{"older": false, "old": false}, deleted(client)); diff != "" {
		t.Errorf("deleted (-want +got):\n%s", diff)
	}
}

func TestCollectOrphanedAfterQuarantine(t *testing.T) {
	g, client := newGC(t, Options{Quarantine: 40 * time.Second}, pod("lost", "gone", corev1.PodRunning, time.Hour))
	now := time.Now()
	g.now = func() time.Time { return now }
	g.Collect(context.Background())
	if len(deleted(client)) != 0 {
		t.Fatal("deleted pods of a node missing for less than the quarantine")
	}
	now = now.Add(41 * time.Second)
	g.Collect(context.Background())
	if diff := cmp.Diff(map[string]bool{"lost": true}, deleted(client)); diff != "" {
		t.Errorf("deleted (-want +got):\n%s", diff)
	}
	var marked bool
	for _, a := range client.Actions() {
		if u, ok := a.(k8stesting.UpdateActionImpl); ok && u.GetSubresource() == "status" {
			p := u.GetObject().(*corev1.Pod)
			marked = p.Status.Phase == corev1.PodFailed && slices.ContainsFunc(p.Status.Conditions, func(c corev1.PodCondition) bool {
				return c.Type == corev1.DisruptionTarget && c.Reason == "DeletionByPodGC"
			})
		}
	}
	if !marked {
		t.Error("pod not marked Failed with a DisruptionTarget condition before deletion")
	}
}

func TestCollectUnscheduledTerminating(t *testing.T) {
	p := pod("pending", "", corev1.PodPending, time.Minute)
	p.DeletionTimestamp = &metav1.Time{Time: time.Now()}
	g, client := newGC(t, Options{}, p)
	g.Collect(context.Background())
	if diff := cmp.Diff(map[string]bool{"pending": true}, deleted(client)); diff != "" {
		t.Errorf("deleted (-want +got):\n%s", diff)
	}
	// It is marked Failed first: a finalizer may keep it, and its owner must see how it ended.
	failed := false
	for _, a := range client.Actions() {
		if u, ok := a.(k8stesting.UpdateAction); ok && a.GetSubresource() == "status" {
			failed = failed || u.GetObject().(*corev1.Pod).Status.Phase == corev1.PodFailed
		}
	}
	if !failed {
		t.Error("the unscheduled pod was not marked Failed before its deletion")
	}
}

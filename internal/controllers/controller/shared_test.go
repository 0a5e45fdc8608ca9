package controller

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/cache"
)

// TestSharedOutlivesItsUsers: a component that starts the shared informers with
// its own stop channel and then stops (a lost Lease) leaves them running for the
// others; only the process's stop ends them.
func TestSharedOutlivesItsUsers(t *testing.T) {
	client := fake.NewClientset()
	process := make(chan struct{})
	defer close(process)
	f := Shared(client, 0, process)
	pods := f.Core().V1().Pods().Informer()
	leader := make(chan struct{})
	f.Start(leader)
	if !cache.WaitForCacheSync(process, pods.HasSynced) {
		t.Fatal("the shared pod informer did not sync")
	}
	close(leader)
	f.Shutdown()
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns",
		ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "m"}}}}
	if _, err := client.CoreV1().Pods("ns").Create(context.Background(), pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		obj, ok, _ := pods.GetStore().GetByKey("ns/p")
		if ok {
			if got := obj.(*corev1.Pod); got.ManagedFields != nil {
				t.Fatalf("the shared informer kept managedFields: %v", got.ManagedFields)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("a pod created after the first user stopped never reached the shared informer")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

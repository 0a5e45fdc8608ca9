package scheduler

import (
	"context"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
)

// TestDetachStopsEvents: a scheduler detached from informers it shared (it lost
// its Lease) no longer takes their events, while one still attached does.
func TestDetachStopsEvents(t *testing.T) {
	client := fake.NewClientset()
	inf := informers.NewSharedInformerFactory(client, 0)
	old, err := New(client, inf, record.NewFakeRecorder(10), Config{})
	if err != nil {
		t.Fatal(err)
	}
	cur, err := New(client, inf, record.NewFakeRecorder(10), Config{})
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	defer close(stop)
	inf.Start(stop)
	if !cache.WaitForCacheSync(stop, cur.synced...) {
		t.Fatal("informers did not sync")
	}
	old.Detach()
	pod := &v1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns"}, Spec: v1.PodSpec{NodeName: "n"}}
	if _, err := client.CoreV1().Pods("ns").Create(context.Background(), pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for cur.cache.PodCount() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the attached scheduler never cached the bound pod")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n := old.cache.PodCount(); n != 0 {
		t.Fatalf("the detached scheduler cached %d pods, want 0", n)
	}
}

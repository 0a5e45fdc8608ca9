package apiserver_test

import (
	"context"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"skiff/internal/testserver"
)

// TestUnconditionalUpdatesSurviveStatusWrites: an update that names no
// resourceVersion (the conformance suite's ResourceQuota update does this right
// after the create, while the quota controller writes status) applies to
// whatever is current and never fails with a conflict; one pinned to an old
// version still does.
func TestUnconditionalUpdatesSurviveStatusWrites(t *testing.T) {
	srv := testserver.Start(t)
	ctx := context.Background()
	quotas := srv.Client.CoreV1().ResourceQuotas("default")
	rq := func(cpu string) *corev1.ResourceQuota {
		return &corev1.ResourceQuota{ObjectMeta: metav1.ObjectMeta{Name: "q"},
			Spec: corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu)}}}
	}
	old, err := quotas.Create(ctx, rq("1"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // a controller that keeps writing status
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			cur, err := quotas.Get(ctx, "q", metav1.GetOptions{})
			if err != nil {
				continue
			}
			cur.Status.Used = corev1.ResourceList{corev1.ResourceCPU: *resource.NewMilliQuantity(int64(i%100), resource.DecimalSI)}
			_, _ = quotas.UpdateStatus(ctx, cur, metav1.UpdateOptions{})
		}
	}()
	for i := range 40 {
		cpu := []string{"2", "3"}[i%2]
		got, err := quotas.Update(ctx, rq(cpu), metav1.UpdateOptions{})
		if err != nil {
			t.Errorf("update %d without a resourceVersion: %v", i, err)
			continue
		}
		if q := got.Spec.Hard[corev1.ResourceCPU]; q.String() != cpu {
			t.Errorf("update %d: hard cpu %s, want %s", i, q.String(), cpu)
		}
	}
	close(stop)
	wg.Wait()
	old.Spec.Hard[corev1.ResourceCPU] = resource.MustParse("5")
	if _, err := quotas.Update(ctx, old, metav1.UpdateOptions{}); err == nil {
		t.Error("an update at an old resourceVersion succeeded")
	}
}

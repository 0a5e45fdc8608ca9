package apiserver_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"skiff/internal/testserver"
)

// TestUnconditionalScaleWritesSurviveStatusWrites: a scale patch names no
// resourceVersion, so a controller writing the object's status at the same time
// must not make it fail with a conflict.
func TestUnconditionalScaleWritesSurviveStatusWrites(t *testing.T) {
	srv := testserver.Start(t)
	ctx := context.Background()
	rs := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "web"}, Spec: appsv1.ReplicaSetSpec{
		Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
		Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "x"}}}}}}
	rss := srv.Client.AppsV1().ReplicaSets("default")
	if _, err := rss.Create(ctx, rs, metav1.CreateOptions{}); err != nil {
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
			cur, err := rss.Get(ctx, "web", metav1.GetOptions{})
			if err != nil {
				continue
			}
			cur.Status.ObservedGeneration = int64(i)
			_, _ = rss.UpdateStatus(ctx, cur, metav1.UpdateOptions{})
		}
	}()
	for i := range 40 {
		patch := fmt.Sprintf(`{"spec":{"replicas":%d}}`, i%5)
		if _, err := rss.Patch(ctx, "web", types.StrategicMergePatchType, []byte(patch), metav1.PatchOptions{}, "scale"); err != nil {
			t.Errorf("scale patch %d: %v", i, err)
		}
	}
	close(stop)
	wg.Wait()
	// A write pinned to an old version still conflicts.
	scale, err := rss.GetScale(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rss.Patch(ctx, "web", types.MergePatchType, []byte(`{"spec":{"replicas":3}}`), metav1.PatchOptions{}, "scale"); err != nil {
		t.Fatal(err)
	}
	scale.Spec.Replicas = 1
	if _, err := rss.UpdateScale(ctx, "web", scale, metav1.UpdateOptions{}); err == nil {
		t.Error("an update of the scale at an old resourceVersion succeeded")
	}
}

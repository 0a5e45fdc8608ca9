package podautoscaler

import (
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

var t0 = time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)

// runningPod is a pod started long ago, ready since then, requesting cpu millicores.
func runningPod(name string, cpu int64) *corev1.Pod {
	start := metav1.NewTime(t0.Add(-time.Hour))
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Resources: corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceCPU: *resource.NewMilliQuantity(cpu, resource.DecimalSI)}}}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, StartTime: &start,
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: start}}},
	}
}

func pods(n int, cpu int64) []*corev1.Pod {
	var out []*corev1.Pod
	for i := range n {
		out = append(out, runningPod(fmt.Sprintf("p%d", i), cpu))
	}
	return out
}

func usage(values ...int64) map[string]podMetric {
	out := map[string]podMetric{}
	for i, v := range values {
		out[fmt.Sprintf("p%d", i)] = podMetric{value: v, timestamp: t0, window: 30 * time.Second}
	}
	return out
}

func TestUtilizationReplicas(t *testing.T) {
	pending := pods(3, 1000)
	pending[2].Status.Phase = corev1.PodPending
	deleted := pods(3, 1000)
	deleted[2].DeletionTimestamp = &metav1.Time{Time: t0}
	starting := pods(3, 1000)
	starting[2].Status.StartTime = &metav1.Time{Time: t0.Add(-time.Minute)}
	starting[2].Status.Conditions[0].Status = corev1.ConditionFalse
	tests := []struct {
		name    string
		current int32
		target  int32
		pods    []*corev1.Pod
		metrics map[string]podMetric
		want    int32
		wantPct int32
	}{
		// The documented formula: ceil(current * currentMetric / desiredMetric).
		{"double the target doubles the pods", 2, 50, pods(2, 1000), usage(1000, 1000), 4, 100},
		{"half the target halves the pods", 4, 50, pods(4, 1000), usage(250, 250, 250, 250), 2, 25},
		{"within the 10% tolerance nothing moves", 3, 50, pods(3, 1000), usage(540, 540, 540), 3, 54},
		{"just outside the tolerance moves", 3, 50, pods(3, 1000), usage(560, 560, 560), 4, 56},
		{"a pending pod counts as idle when scaling up", 3, 50, pending, usage(1000, 1000), 4, 100},
		{"a deleted pod is ignored", 3, 50, deleted, usage(1000, 1000, 1000), 4, 100},
		{"a starting pod that is not ready yet counts as idle", 3, 50, starting, usage(1000, 1000, 1000), 4, 100},
		// p2 has no metrics: scaling down assumes it uses its full request, which
		// lifts the average to 550/1000 against 500: within the tolerance.
		{"a pod without metrics damps a scale-down", 3, 50, pods(3, 1000), usage(300, 300), 3, 30},
		{"a pod without metrics counts as idle when scaling up", 3, 50, pods(3, 1000), usage(1000, 1000), 4, 100},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := utilizationReplicas(tc.current, tc.target, corev1.ResourceCPU, "", tc.pods, tc.metrics, t0)
			if err != nil {
				t.Fatal(err)
			}
			if got.replicas != tc.want || got.percent != tc.wantPct {
				t.Errorf("got %d replicas at %d%%, want %d at %d%%", got.replicas, got.percent, tc.want, tc.wantPct)
			}
		})
	}
}

func TestUtilizationNeedsRequests(t *testing.T) {
	ps := pods(1, 0)
	ps[0].Spec.Containers[0].Resources.Requests = nil
	_, err := utilizationReplicas(1, 50, corev1.ResourceCPU, "", ps, usage(100), t0)
	if err == nil || err.Error() != "missing request for cpu in container app of Pod p0" {
		t.Errorf("err = %v, want the missing request named", err)
	}
}

func TestAverageValueReplicas(t *testing.T) {
	// 3 pods averaging 300m against a 100m target need 9.
	got, err := averageValueReplicas(3, 100, corev1.ResourceCPU, pods(3, 1000), usage(300, 300, 300), t0)
	if err != nil {
		t.Fatal(err)
	}
	if got.replicas != 9 || got.average != 300 {
		t.Errorf("got %d replicas averaging %d, want 9 averaging 300", got.replicas, got.average)
	}
}

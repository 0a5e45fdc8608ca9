package workloads

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestSlowStartBatch(t *testing.T) {
	tests := []struct {
		name      string
		count     int
		failAt    int32 // the call number that fails; 0 never
		wantDone  int
		wantCalls int32
	}{
		{"all succeed", 10, 0, 10, 10},
		{"first call fails: one request only", 10, 1, 0, 1},
		{"failure in batch of 4 stops there", 20, 5, 6, 7},
		{"nothing to do", 0, 0, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var calls atomic.Int32
			done, err := SlowStartBatch(tt.count, 1, func(int) error {
				if calls.Add(1) == tt.failAt {
					return errors.New("boom")
				}
				return nil
			})
			if done != tt.wantDone || calls.Load() != tt.wantCalls || (err != nil) != (tt.failAt != 0) {
				t.Errorf("done %d calls %d err %v; want %d %d", done, calls.Load(), err, tt.wantDone, tt.wantCalls)
			}
		})
	}
}

func pod(name, node string, phase corev1.PodPhase, ready bool, age time.Duration) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: metav1.NewTime(time.Unix(1e9, 0).Add(-age))}}
	p.Spec.NodeName = node
	p.Status.Phase = phase
	s := corev1.ConditionFalse
	if ready {
		s = corev1.ConditionTrue
	}
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: s}}
	return p
}

func TestSortForDeletion(t *testing.T) {
	pods := []*corev1.Pod{
		pod("ready-old", "n", corev1.PodRunning, true, time.Hour),
		pod("unscheduled", "", corev1.PodPending, false, time.Hour),
		pod("ready-new", "n", corev1.PodRunning, true, time.Minute),
		pod("pending", "n", corev1.PodPending, false, time.Hour),
		pod("running-unready", "n", corev1.PodRunning, false, time.Hour),
	}
	SortForDeletion(pods)
	want := []string{"unscheduled", "pending", "running-unready", "ready-new", "ready-old"}
	for i, p := range pods {
		if p.Name != want[i] {
			t.Fatalf("position %d: %s, want order %v", i, p.Name, want)
		}
	}
}

func TestExpectations(t *testing.T) {
	e := NewExpectations()
	now := time.Unix(1e9, 0)
	e.now = func() time.Time { return now }
	if !e.Satisfied("k") {
		t.Fatal("fresh key not satisfied")
	}
	e.ExpectCreations("k", 2)
	e.ExpectDeletions("k", "uid-1")
	e.CreationObserved("k")
	e.CreationObserved("k")
	if e.Satisfied("k") {
		t.Fatal("satisfied with a deletion pending")
	}
	e.DeletionObserved("k", "uid-1")
	if !e.Satisfied("k") {
		t.Fatal("not satisfied after everything was seen")
	}
	e.ExpectCreations("k", 1)
	now = now.Add(expectationsTTL + time.Second)
	if !e.Satisfied("k") {
		t.Fatal("expired expectations still block")
	}
}

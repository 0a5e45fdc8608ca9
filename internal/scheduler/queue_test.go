package scheduler

import (
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
)

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

func qpod(name string, prio int32) *v1.Pod {
	return &v1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID(name), ResourceVersion: "1"},
		Spec: v1.PodSpec{Priority: ptr.To(prio)}}
}

func popNames(q *Queue, n int) []string {
	var out []string
	for range n {
		qp, _ := q.Pop()
		out = append(out, qp.Pod.Name)
	}
	return out
}

func TestQueueOrdersByPriorityThenAge(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1000, 0)}
	q := NewQueue(clk.now)
	for _, p := range []struct {
		name string
		prio int32
	}{{"old-low", 0}, {"high", 100}, {"young-low", 0}, {"higher", 1000}} {
		q.Add(qpod(p.name, p.prio))
		clk.t = clk.t.Add(time.Second)
	}
	diff := popNames(q, 4)
	want := []string{"higher", "high", "old-low", "young-low"}
	for i := range want {
		if diff[i] != want[i] {
			t.Fatalf("order %v, want %v", diff, want)
		}
	}
}

func TestQueueUnschedulableWaitsForEvent(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1000, 0)}
	q := NewQueue(clk.now)
	q.Add(qpod("p", 0))
	qp, cycle := q.Pop()
	q.AddUnschedulable(qp, cycle, map[string]bool{"NodeResourcesFit": true})
	clk.t = clk.t.Add(time.Minute)
	q.flush()
	if a, b, u := q.Len(); a != 0 || b != 0 || u != 1 {
		t.Fatalf("before event: active=%d backoff=%d unschedulable=%d, want parked", a, b, u)
	}
	// An event that cannot help (a pod added, for a pod short of cpu) leaves it.
	q.MoveUnschedulable(rejectedBy("InterPodAffinity"))
	if _, _, u := q.Len(); u != 1 {
		t.Fatalf("unrelated event moved the pod")
	}
	q.MoveUnschedulable(nil)
	if a, _, _ := q.Len(); a != 1 {
		t.Fatalf("node event did not move the pod to active")
	}
}

func TestQueueBackoff(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1000, 0)}
	q := NewQueue(clk.now)
	q.Add(qpod("p", 0))
	for attempt, wait := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second} {
		qp, _ := q.Pop()
		q.AddBackoff(qp)
		clk.t = clk.t.Add(wait - time.Millisecond)
		q.flush()
		if a, _, _ := q.Len(); a != 0 {
			t.Fatalf("attempt %d: active before %v backoff expired", attempt+1, wait)
		}
		clk.t = clk.t.Add(time.Millisecond)
		q.flush()
		if a, _, _ := q.Len(); a != 1 {
			t.Fatalf("attempt %d: not active after %v backoff", attempt+1, wait)
		}
	}
}

func TestQueueMoveDuringCycleGoesToBackoff(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1000, 0)}
	q := NewQueue(clk.now)
	q.Add(qpod("p", 0))
	qp, cycle := q.Pop()
	q.MoveUnschedulable(nil) // a node was added while p was being scheduled
	q.AddUnschedulable(qp, cycle, nil)
	if _, b, u := q.Len(); b != 1 || u != 0 {
		t.Fatalf("backoff=%d unschedulable=%d: want the pod in backoff, not parked", b, u)
	}
}

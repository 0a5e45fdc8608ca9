package scheduler

import (
	"container/heap"
	"context"
	"sync"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/types"

	fw "skiff/internal/scheduler/framework"
)

// Backoff bounds for pods that failed a scheduling attempt.
const (
	initialBackoff = 1 * time.Second
	maxBackoff     = 10 * time.Second
	// unschedulableFlush is how long a pod may wait for a helpful event before it is
	// retried anyway, in case an event was missed or did not look helpful.
	unschedulableFlush = 5 * time.Minute
)

// QueuedPod is a pending pod with its scheduling history.
type QueuedPod struct {
	*fw.PodInfo
	Attempts     int
	Added        time.Time // first time the pod was queued; orders equal priorities
	backoffUntil time.Time
	// Rejectors names the plugins that rejected the pod last time, so events that
	// cannot help it (an added pod, for a pod short of memory) leave it alone.
	Rejectors map[string]bool
	where     location
	index     int
}

type location int

const (
	nowhere location = iota
	inActive
	inBackoff
	inUnschedulable
	inFlight
)

// Queue orders pending pods by priority then age (activeQ), holds failed pods until
// their backoff expires (backoffQ) and parks unschedulable pods until a cluster
// event could help them. It also remembers nominated nodes.
type Queue struct {
	mu            sync.Mutex
	cond          *sync.Cond
	pods          map[types.UID]*QueuedPod
	unschedulable map[types.UID]*QueuedPod // parked pods, kept apart so events scan only them
	active        podHeap
	backoff       podHeap
	now           func() time.Time
	cycle         int64 // incremented by every Pop
	moveCycle     int64 // cycle during which the last move request happened
	closed        bool
	nominated     map[string][]*fw.PodInfo // node -> pods nominated to it
	nominatedNode map[types.UID]string
}

// NewQueue returns an empty queue.
func NewQueue(now func() time.Time) *Queue {
	q := &Queue{pods: map[types.UID]*QueuedPod{}, unschedulable: map[types.UID]*QueuedPod{}, now: now,
		nominated: map[string][]*fw.PodInfo{}, nominatedNode: map[types.UID]string{}}
	q.cond = sync.NewCond(&q.mu)
	q.active.less = activeLess
	q.backoff.less = func(a, b *QueuedPod) bool { return a.backoffUntil.Before(b.backoffUntil) }
	return q
}

// activeLess puts higher priority first, then the pod that has waited longest.
func activeLess(a, b *QueuedPod) bool {
	pa, pb := fw.Priority(a.Pod), fw.Priority(b.Pod)
	if pa != pb {
		return pa > pb
	}
	return a.Added.Before(b.Added)
}

// Add queues a new pending pod, or refreshes it if already known.
func (q *Queue) Add(pod *v1.Pod) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.addLocked(pod)
}

func (q *Queue) addLocked(pod *v1.Pod) {
	if qp, ok := q.pods[pod.UID]; ok {
		q.updateLocked(qp, pod)
		return
	}
	qp := &QueuedPod{PodInfo: fw.NewPodInfo(pod), Added: q.now()}
	q.pods[pod.UID] = qp
	q.pushActive(qp)
	q.syncNominationLocked(qp.PodInfo)
}

// Update refreshes a pending pod. A change to its spec or labels may make it
// schedulable, so an unschedulable pod goes back to be retried; a status-only
// change (such as our own PodScheduled condition) does not.
func (q *Queue) Update(_, pod *v1.Pod) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.addLocked(pod)
}

func (q *Queue) updateLocked(qp *QueuedPod, pod *v1.Pod) {
	changed := !specAndLabelsEqual(qp.Pod, pod)
	if changed {
		qp.PodInfo = fw.NewPodInfo(pod)
	} else {
		qp.Pod = pod
	}
	q.syncNominationLocked(qp.PodInfo)
	switch qp.where {
	case inActive:
		heap.Fix(&q.active, qp.index)
	case inUnschedulable:
		if changed {
			q.moveLocked(qp)
			q.cond.Broadcast()
		}
	}
}

// Delete forgets a pod that was deleted or got bound by someone else.
func (q *Queue) Delete(pod *v1.Pod) {
	q.mu.Lock()
	defer q.mu.Unlock()
	qp, ok := q.pods[pod.UID]
	if !ok {
		return
	}
	q.removeLocked(qp)
	delete(q.pods, pod.UID)
	q.deleteNominationLocked(pod.UID)
}

func (q *Queue) removeLocked(qp *QueuedPod) {
	switch qp.where {
	case inActive:
		heap.Remove(&q.active, qp.index)
	case inBackoff:
		heap.Remove(&q.backoff, qp.index)
	case inUnschedulable:
		delete(q.unschedulable, qp.Pod.UID)
	}
	qp.where = nowhere
}

func (q *Queue) pushActive(qp *QueuedPod) {
	qp.where = inActive
	heap.Push(&q.active, qp)
	q.cond.Signal()
}

// Pop blocks until a pod is ready and returns it with the cycle number of this
// attempt; it returns nil once Run's context has ended.
func (q *Queue) Pop() (*QueuedPod, int64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for q.active.Len() == 0 && !q.closed {
		q.cond.Wait()
	}
	if q.closed {
		return nil, 0
	}
	qp := heap.Pop(&q.active).(*QueuedPod)
	qp.where = inFlight
	qp.Attempts++
	q.cycle++
	return qp, q.cycle
}

// Done forgets a pod whose attempt succeeded (it is now assumed on a node).
func (q *Queue) Done(uid types.UID) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if qp, ok := q.pods[uid]; ok && qp.where == inFlight {
		delete(q.pods, uid)
	}
}

// AddUnschedulable parks a pod that fit nowhere. If a move request arrived while it
// was being scheduled, that event may already have helped, so it only backs off.
func (q *Queue) AddUnschedulable(qp *QueuedPod, cycle int64, rejectors map[string]bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if cur, ok := q.pods[qp.Pod.UID]; !ok || cur != qp || qp.where != inFlight {
		return // deleted or replaced meanwhile
	}
	qp.Rejectors = rejectors
	qp.backoffUntil = q.now().Add(backoffFor(qp.Attempts))
	if q.moveCycle >= cycle {
		q.pushBackoff(qp)
		return
	}
	qp.where = inUnschedulable
	q.unschedulable[qp.Pod.UID] = qp
}

// AddBackoff requeues a pod after an error (or a failed binding) with backoff.
func (q *Queue) AddBackoff(qp *QueuedPod) {
	q.mu.Lock()
	defer q.mu.Unlock()
	cur, ok := q.pods[qp.Pod.UID]
	if !ok {
		q.pods[qp.Pod.UID] = qp
	} else if cur != qp || qp.where != inFlight {
		return
	}
	qp.backoffUntil = q.now().Add(backoffFor(qp.Attempts))
	q.pushBackoff(qp)
}

func (q *Queue) pushBackoff(qp *QueuedPod) {
	qp.where = inBackoff
	heap.Push(&q.backoff, qp)
}

func backoffFor(attempts int) time.Duration {
	d := initialBackoff
	for i := 1; i < attempts && d < maxBackoff; i++ {
		d *= 2
	}
	return min(d, maxBackoff)
}

// MoveUnschedulable sends parked pods that the event could help (match returns
// true for them) back to be retried: to activeQ, or to backoffQ if their backoff has
// not expired yet.
func (q *Queue) MoveUnschedulable(match func(*QueuedPod) bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.moveCycle = q.cycle
	for _, qp := range q.unschedulable {
		if match == nil || match(qp) {
			q.moveLocked(qp)
		}
	}
}

func (q *Queue) moveLocked(qp *QueuedPod) {
	delete(q.unschedulable, qp.Pod.UID)
	if q.now().Before(qp.backoffUntil) {
		q.pushBackoff(qp)
		return
	}
	q.pushActive(qp)
}

// flush moves expired backoffs to activeQ and long-parked pods back for a retry.
func (q *Queue) flush() {
	q.mu.Lock()
	defer q.mu.Unlock()
	now := q.now()
	for q.backoff.Len() > 0 && !now.Before(q.backoff.items[0].backoffUntil) {
		qp := heap.Pop(&q.backoff).(*QueuedPod)
		q.pushActive(qp)
	}
	for _, qp := range q.unschedulable {
		if now.Sub(qp.backoffUntil) > unschedulableFlush {
			q.moveLocked(qp)
		}
	}
}

// Run flushes the queue every second until ctx ends, then wakes Pop.
func (q *Queue) Run(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			q.mu.Lock()
			q.closed = true
			q.cond.Broadcast()
			q.mu.Unlock()
			return
		case <-t.C:
			q.flush()
		}
	}
}

// Len returns the number of pods per place, for metrics and tests.
func (q *Queue) Len() (active, backoff, parked int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.active.Len(), q.backoff.Len(), len(q.unschedulable)
}

func specAndLabelsEqual(a, b *v1.Pod) bool {
	if a.ResourceVersion == b.ResourceVersion {
		return true
	}
	return labelsEqual(a.Labels, b.Labels) && podSpecEqual(&a.Spec, &b.Spec)
}

func labelsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// podHeap is a binary heap of queued pods that tracks each pod's index so a pod
// can be removed or re-sorted in place.
type podHeap struct {
	items []*QueuedPod
	less  func(a, b *QueuedPod) bool
}

func (h *podHeap) Len() int           { return len(h.items) }
func (h *podHeap) Less(i, j int) bool { return h.less(h.items[i], h.items[j]) }
func (h *podHeap) Swap(i, j int) {
	h.items[i], h.items[j] = h.items[j], h.items[i]
	h.items[i].index, h.items[j].index = i, j
}
func (h *podHeap) Push(x any) {
	qp := x.(*QueuedPod)
	qp.index = len(h.items)
	h.items = append(h.items, qp)
}
func (h *podHeap) Pop() any {
	n := len(h.items) - 1
	qp := h.items[n]
	h.items[n] = nil
	h.items = h.items[:n]
	return qp
}

func podSpecEqual(a, b *v1.PodSpec) bool { return equality.Semantic.DeepEqual(a, b) }

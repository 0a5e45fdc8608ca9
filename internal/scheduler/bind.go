package scheduler

import (
	"context"
	"encoding/json"
	"log/slog"

	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
)

// bindAsync binds in the background so the next cycle can start while the API
// server writes; the pod is already assumed, so the next cycle sees it placed.
func (s *Scheduler) bindAsync(ctx context.Context, qp *QueuedPod, node string) {
	select {
	case s.bindSem <- struct{}{}:
	case <-ctx.Done():
		s.cache.Forget(qp.Pod.UID)
		return
	}
	go func() {
		defer func() { <-s.bindSem }()
		s.bind(ctx, qp, node)
	}()
}

func (s *Scheduler) bind(ctx context.Context, qp *QueuedPod, node string) {
	pod := qp.Pod
	b := &v1.Binding{
		ObjectMeta: metav1.ObjectMeta{Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID},
		Target:     v1.ObjectReference{Kind: "Node", Name: node},
	}
	if err := s.prof.volumes.SelectNode(ctx, s.annotateClaim, pod, node); err != nil {
		s.cache.Forget(pod.UID)
		s.recorder.Eventf(pod, v1.EventTypeWarning, "FailedScheduling", "selecting node %s for the pod's volumes: %v", node, err)
		s.queue.AddBackoff(qp)
		return
	}
	err := s.client.CoreV1().Pods(pod.Namespace).Bind(ctx, b, metav1.CreateOptions{})
	if err != nil {
		s.cache.Forget(pod.UID)
		s.metrics.bindErrors.Inc()
		if apierrors.IsNotFound(err) || apierrors.IsConflict(err) || ctx.Err() != nil {
			// Deleted, or bound by someone else: the informer brings the truth.
			return
		}
		slog.Warn("binding failed", "pod", klogKey(pod), "node", node, "err", err)
		s.recorder.Eventf(pod, v1.EventTypeWarning, "FailedScheduling", "Binding rejected: %v", err)
		s.queue.AddBackoff(qp)
		return
	}
	s.cache.FinishBinding(pod.UID, s.now())
	s.metrics.observeBound(qp)
	s.recorder.Eventf(pod, v1.EventTypeNormal, "Scheduled", "Successfully assigned %s/%s to %s", pod.Namespace, pod.Name, node)
}

// annotateClaim merge-patches one annotation, so the controllers' concurrent
// writes to the claim cannot make it conflict.
func (s *Scheduler) annotateClaim(ctx context.Context, ns, name, key, value string) error {
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{key: value}}})
	if err != nil {
		return err
	}
	_, err = s.client.CoreV1().PersistentVolumeClaims(ns).Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{})
	return err
}

// setUnschedulable records PodScheduled=False with the explanation, and the
// nominated node if preemption chose one. It writes only when something changed,
// so retrying an unschedulable pod does not churn the API server.
func (s *Scheduler) setUnschedulable(ctx context.Context, pod *v1.Pod, msg, nominated string) error {
	pods := s.client.CoreV1().Pods(pod.Namespace)
	cur := pod
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if cur == nil {
			var err error
			if cur, err = pods.Get(ctx, pod.Name, metav1.GetOptions{}); err != nil {
				return ignoreNotFound(err)
			}
		}
		if cur.UID != pod.UID || cur.Spec.NodeName != "" {
			return nil
		}
		next := cur.DeepCopy()
		changed := setCondition(&next.Status, v1.PodCondition{Type: v1.PodScheduled, Status: v1.ConditionFalse,
			Reason: v1.PodReasonUnschedulable, Message: msg, LastTransitionTime: metav1.NewTime(s.now())})
		if nominated != "" && next.Status.NominatedNodeName != nominated {
			next.Status.NominatedNodeName, changed = nominated, true
		}
		if !changed {
			return nil
		}
		_, err := pods.UpdateStatus(ctx, next, metav1.UpdateOptions{})
		if apierrors.IsConflict(err) {
			cur = nil
		}
		return ignoreNotFound(err)
	})
}

// setCondition sets c in st, keeping the transition time when the status did not
// flip; it reports whether anything changed.
func setCondition(st *v1.PodStatus, c v1.PodCondition) bool {
	for i := range st.Conditions {
		old := &st.Conditions[i]
		if old.Type != c.Type {
			continue
		}
		if old.Status == c.Status && old.Reason == c.Reason && old.Message == c.Message {
			return false
		}
		if old.Status == c.Status {
			c.LastTransitionTime = old.LastTransitionTime
		}
		*old = c
		return true
	}
	st.Conditions = append(st.Conditions, c)
	return true
}

func ignoreNotFound(err error) error {
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// evict deletes the victims gracefully; the preemptor is retried when the deletions
// arrive through the informer.
func (s *Scheduler) evict(ctx context.Context, preemptor *v1.Pod, p *preemption) {
	for _, v := range p.victims {
		s.recorder.Eventf(v, v1.EventTypeNormal, "Preempted", "Preempted by pod %s/%s on node %s",
			preemptor.Namespace, preemptor.Name, p.node)
		// The UID precondition keeps a same-named replacement pod safe.
		err := s.client.CoreV1().Pods(v.Namespace).Delete(ctx, v.Name, metav1.DeleteOptions{
			Preconditions: &metav1.Preconditions{UID: &v.UID}})
		if ignoreNotFound(err) != nil {
			slog.Warn("evicting preemption victim", "victim", klogKey(v), "err", err)
		}
	}
	s.metrics.preemptions.Add(float64(len(p.victims)))
}

package replicaset

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"

	"skiff/internal/controllers/workloads"
)

func (rc *rsController) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	rs, orig, err := rc.kind.get(ns, name)
	if apierrors.IsNotFound(err) {
		rc.exp.Forget(key)
		return nil
	}
	if err != nil {
		return err
	}
	sel, err := metav1.LabelSelectorAsSelector(rs.Spec.Selector)
	if err != nil || sel.Empty() {
		return nil // validation forbids this; nothing sensible to do
	}
	// Read before the pods: a creation seen after listing them must still hold us back.
	satisfied := rc.exp.Satisfied(key)
	all, err := rc.pods.Pods(ns).List(labels.Everything())
	if err != nil {
		return err
	}
	var active []*corev1.Pod
	for _, p := range all {
		if workloads.IsPodActive(p) {
			active = append(active, p)
		}
	}
	pods, claimErr := workloads.Claim(ctx, rc.claimer(rs, sel), active)
	var manageErr error
	if satisfied && rs.DeletionTimestamp == nil {
		manageErr = rc.manage(ctx, key, rs, orig, pods)
	}
	st := computeStatus(rs, pods, manageErr, rc.now())
	if !equality.Semantic.DeepEqual(st, rs.Status) {
		if err := rc.kind.updateStatus(ctx, orig, st); err != nil {
			return err
		}
	}
	if manageErr == nil && rs.Spec.MinReadySeconds > 0 && st.ReadyReplicas != st.AvailableReplicas {
		// Nothing will change when the pods' minReadySeconds elapse; look again then.
		rc.ctrl.Queue.AddAfter(key, time.Duration(rs.Spec.MinReadySeconds)*time.Second)
	}
	return errors.Join(claimErr, manageErr)
}

func (rc *rsController) claimer(rs *appsv1.ReplicaSet, sel labels.Selector) *workloads.Claimer {
	return workloads.PodClaimer(rc.client, metav1.Object(rs), rc.kind.gvk, sel,
		func(ctx context.Context, name string, _ metav1.GetOptions) (metav1.Object, error) {
			return rc.kind.getLive(ctx, rs.Namespace, name)
		})
}

// manage creates or deletes pods until there are spec.replicas of them.
func (rc *rsController) manage(ctx context.Context, key string, rs *appsv1.ReplicaSet, orig runtime.Object, pods []*corev1.Pod) error {
	want := int(replicas(rs))
	diff := len(pods) - want
	switch {
	case diff < 0:
		return rc.createPods(ctx, key, rs, orig, min(-diff, burstReplicas))
	case diff > 0:
		return rc.deletePods(ctx, key, orig, pods, min(diff, burstReplicas))
	}
	return nil
}

func (rc *rsController) createPods(ctx context.Context, key string, rs *appsv1.ReplicaSet, orig runtime.Object, n int) error {
	slog.Debug("creating pods", "controller", rc.kind.component, "owner", key, "count", n)
	rc.exp.ExpectCreations(key, n)
	var attempted atomic.Int32
	_, err := workloads.SlowStartBatch(n, 1, func(int) error {
		attempted.Add(1)
		pod := workloads.PodFromTemplate(rs.Spec.Template.DeepCopy(), rs, rc.kind.gvk)
		created, err := rc.client.CoreV1().Pods(rs.Namespace).Create(ctx, pod, metav1.CreateOptions{})
		if err != nil {
			rc.exp.CreationObserved(key)
			if !apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
				rc.rec.Eventf(orig, corev1.EventTypeWarning, "FailedCreate", "Error creating: %v", err)
			}
			return err
		}
		rc.rec.Eventf(orig, corev1.EventTypeNormal, "SuccessfulCreate", "Created pod: %s", created.Name)
		return nil
	})
	// Creations never attempted will never be observed.
	for i := int(attempted.Load()); i < n; i++ {
		rc.exp.CreationObserved(key)
	}
	return err
}

func (rc *rsController) deletePods(ctx context.Context, key string, orig runtime.Object, pods []*corev1.Pod, n int) error {
	victims := append([]*corev1.Pod(nil), pods...)
	workloads.SortForDeletion(victims)
	victims = victims[:n]
	uids := make([]types.UID, len(victims))
	for i, p := range victims {
		uids[i] = p.UID
	}
	rc.exp.ExpectDeletions(key, uids...)
	errs := make(chan error, len(victims))
	for _, p := range victims {
		go func() {
			err := rc.client.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name,
				metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &p.UID}})
			switch {
			case err == nil:
				rc.rec.Eventf(orig, corev1.EventTypeNormal, "SuccessfulDelete", "Deleted pod: %s", p.Name)
			case apierrors.IsNotFound(err) || apierrors.IsConflict(err):
				rc.exp.DeletionObserved(key, p.UID)
				err = nil
			default:
				rc.exp.DeletionObserved(key, p.UID)
				rc.rec.Eventf(orig, corev1.EventTypeWarning, "FailedDelete", "Error deleting: %v", err)
			}
			errs <- err
		}()
	}
	var all []error
	for range victims {
		all = append(all, <-errs)
	}
	return errors.Join(all...)
}

func replicas(rs *appsv1.ReplicaSet) int32 {
	if rs.Spec.Replicas == nil {
		return 1
	}
	return *rs.Spec.Replicas
}

// computeStatus is rs's status given the pods it owns.
func computeStatus(rs *appsv1.ReplicaSet, pods []*corev1.Pod, manageErr error, now time.Time) appsv1.ReplicaSetStatus {
	st := appsv1.ReplicaSetStatus{ObservedGeneration: rs.Generation, Replicas: int32(len(pods))}
	template := labels.SelectorFromSet(rs.Spec.Template.Labels)
	for _, p := range pods {
		if template.Matches(labels.Set(p.Labels)) {
			st.FullyLabeledReplicas++
		}
		if workloads.IsPodReady(p) {
			st.ReadyReplicas++
			if workloads.IsPodAvailable(p, rs.Spec.MinReadySeconds, now) {
				st.AvailableReplicas++
			}
		}
	}
	st.Conditions = failureCondition(rs.Status.Conditions, manageErr, len(pods) < int(replicas(rs)), now)
	return st
}

// failureCondition keeps ReplicaFailure while creating or deleting fails.
func failureCondition(conds []appsv1.ReplicaSetCondition, err error, creating bool, now time.Time) []appsv1.ReplicaSetCondition {
	var out []appsv1.ReplicaSetCondition
	var prev *appsv1.ReplicaSetCondition
	for i := range conds {
		if conds[i].Type == appsv1.ReplicaSetReplicaFailure {
			prev = &conds[i]
			continue
		}
		out = append(out, conds[i])
	}
	if err == nil {
		return out
	}
	reason := "FailedDelete"
	if creating {
		reason = "FailedCreate"
	}
	c := appsv1.ReplicaSetCondition{Type: appsv1.ReplicaSetReplicaFailure, Status: corev1.ConditionTrue,
		Reason: reason, Message: fmt.Sprint(err), LastTransitionTime: metav1.NewTime(now)}
	if prev != nil && prev.Reason == c.Reason && prev.Message == c.Message {
		c.LastTransitionTime = prev.LastTransitionTime
	}
	return append(out, c)
}

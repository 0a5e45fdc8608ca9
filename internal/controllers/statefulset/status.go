package statefulset

import (
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"skiff/internal/controllers/workloads"
)

// computeStatus counts the set's pods; once every pod runs the update revision and is
// ready, the update revision becomes the current one and the rollout is done.
func computeStatus(set *appsv1.StatefulSet, current, update *appsv1.ControllerRevision, pods []*corev1.Pod, now time.Time) appsv1.StatefulSetStatus {
	st := appsv1.StatefulSetStatus{
		ObservedGeneration: set.Generation,
		CurrentRevision:    current.Name,
		UpdateRevision:     update.Name,
		CollisionCount:     set.Status.CollisionCount,
		Conditions:         set.Status.Conditions,
	}
	for _, p := range pods {
		if isFinished(p) {
			continue
		}
		st.Replicas++
		if workloads.IsPodRunningAndReady(p) && p.DeletionTimestamp == nil {
			st.ReadyReplicas++
			if workloads.IsPodAvailable(p, set.Spec.MinReadySeconds, now) {
				st.AvailableReplicas++
			}
		}
		switch p.Labels[revisionLabel] {
		case current.Name:
			st.CurrentReplicas++
			if current.Name == update.Name {
				st.UpdatedReplicas++
			}
		case update.Name:
			st.UpdatedReplicas++
		}
	}
	n := int32(replicas(set))
	if set.Spec.UpdateStrategy.Type != appsv1.OnDeleteStatefulSetStrategyType &&
		st.UpdatedReplicas == n && st.Replicas == n && st.ReadyReplicas == n {
		st.CurrentReplicas, st.CurrentRevision = st.UpdatedReplicas, st.UpdateRevision
	}
	return st
}

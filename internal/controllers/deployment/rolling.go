package deployment

import (
	"context"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

func replicas(d *appsv1.Deployment) int32 {
	if d.Spec.Replicas == nil {
		return 1
	}
	return *d.Spec.Replicas
}

func rsReplicas(rs *appsv1.ReplicaSet) int32 {
	if rs == nil || rs.Spec.Replicas == nil {
		return 0
	}
	return *rs.Spec.Replicas
}

func fenceposts(d *appsv1.Deployment) (surge, unavailable int32, err error) {
	if d.Spec.Strategy.Type == appsv1.RecreateDeploymentStrategyType {
		return 0, 0, nil
	}
	ru := d.Spec.Strategy.RollingUpdate
	if ru == nil {
		ru = &appsv1.RollingUpdateDeployment{}
	}
	return Fenceposts(ru.MaxSurge, ru.MaxUnavailable, replicas(d))
}

func count(rs *appsv1.ReplicaSet) RSCount {
	n := rsReplicas(rs)
	if rs == nil {
		return RSCount{}
	}
	return RSCount{Replicas: n, Available: min(rs.Status.AvailableReplicas, n)}
}

func (dc *dController) rolloutRolling(ctx context.Context, d *appsv1.Deployment, rsList []*appsv1.ReplicaSet) error {
	newRS, old, err := dc.getReplicaSets(ctx, d, rsList, true)
	if err != nil {
		return err
	}
	surge, unavailable, err := fenceposts(d)
	if err != nil {
		return err
	}
	desired := replicas(d)
	total := rsReplicas(newRS)
	for _, rs := range old {
		total += rsReplicas(rs)
	}
	if target := NewReplicaSetTarget(desired, surge, total, rsReplicas(newRS)); target != rsReplicas(newRS) {
		if newRS, err = dc.scaleRS(ctx, d, newRS, target); err != nil {
			return err
		}
		return dc.syncRolloutStatus(ctx, d, newRS, old)
	}
	counts := make([]RSCount, len(old))
	for i, rs := range old {
		counts[i] = count(rs)
	}
	scaled := false
	for i, target := range OldReplicaSetTargets(desired, unavailable, count(newRS), counts) {
		if target == rsReplicas(old[i]) {
			continue
		}
		if old[i], err = dc.scaleRS(ctx, d, old[i], target); err != nil {
			return err
		}
		scaled = true
	}
	if !scaled && complete(d, newRS, old) {
		if err := dc.cleanup(ctx, d, old); err != nil {
			return err
		}
	}
	return dc.syncRolloutStatus(ctx, d, newRS, old)
}

// complete reports whether every pod is new and available.
func complete(d *appsv1.Deployment, newRS *appsv1.ReplicaSet, old []*appsv1.ReplicaSet) bool {
	st := calculateStatus(d, newRS, old)
	n := replicas(d)
	return st.UpdatedReplicas == n && st.Replicas == n && st.AvailableReplicas == n
}

func (dc *dController) rolloutRecreate(ctx context.Context, d *appsv1.Deployment, rsList []*appsv1.ReplicaSet, sel labels.Selector) error {
	newRS, old, err := dc.getReplicaSets(ctx, d, rsList, false)
	if err != nil {
		return err
	}
	scaled := false
	for i, rs := range old {
		if rsReplicas(rs) == 0 {
			continue
		}
		if old[i], err = dc.scaleRS(ctx, d, rs, 0); err != nil {
			return err
		}
		scaled = true
	}
	if scaled {
		return dc.syncRolloutStatus(ctx, d, newRS, old)
	}
	// Recreate promises the old pods are gone before any new one starts.
	pods, err := dc.podsByReplicaSet(d, sel)
	if err != nil {
		return err
	}
	for _, rs := range old {
		for _, p := range pods[rs.UID] {
			if p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed {
				return dc.syncRolloutStatus(ctx, d, newRS, old)
			}
		}
	}
	if newRS == nil {
		if newRS, old, err = dc.getReplicaSets(ctx, d, rsList, true); err != nil {
			return err
		}
	}
	if rsReplicas(newRS) != replicas(d) {
		if newRS, err = dc.scaleRS(ctx, d, newRS, replicas(d)); err != nil {
			return err
		}
	} else if complete(d, newRS, old) {
		if err := dc.cleanup(ctx, d, old); err != nil {
			return err
		}
	}
	return dc.syncRolloutStatus(ctx, d, newRS, old)
}

// isScalingEvent reports whether d was resized since its active ReplicaSets were last
// scaled for it.
func (dc *dController) isScalingEvent(d *appsv1.Deployment, rsList []*appsv1.ReplicaSet) bool {
	want := strconv.Itoa(int(replicas(d)))
	for _, rs := range rsList {
		if rsReplicas(rs) == 0 {
			continue
		}
		if v, ok := rs.Annotations[DesiredReplicasAnnotation]; ok && v != want {
			return true
		}
	}
	return false
}

// syncScale resizes a paused Deployment, or one scaled mid-rollout, without rolling
// it: the change is spread over the active ReplicaSets.
func (dc *dController) syncScale(ctx context.Context, d *appsv1.Deployment, rsList []*appsv1.ReplicaSet) error {
	newRS, old, err := dc.getReplicaSets(ctx, d, rsList, false)
	if err != nil {
		return err
	}
	if err := dc.scale(ctx, d, newRS, old); err != nil {
		return err
	}
	if d.Spec.Paused {
		if err := dc.cleanup(ctx, d, old); err != nil {
			return err
		}
	}
	return dc.syncStatusOnly(ctx, d, rsList)
}

func (dc *dController) scale(ctx context.Context, d *appsv1.Deployment, newRS *appsv1.ReplicaSet, old []*appsv1.ReplicaSet) error {
	var active []*appsv1.ReplicaSet
	all := old
	if newRS != nil {
		all = append([]*appsv1.ReplicaSet{newRS}, old...)
	}
	for _, rs := range all {
		if rsReplicas(rs) > 0 {
			active = append(active, rs)
		}
	}
	desired := replicas(d)
	if len(active) <= 1 {
		// One ReplicaSet (or none running): it simply becomes the Deployment's size.
		target := newRS
		if len(active) == 1 {
			target = active[0]
		}
		if target != nil && (rsReplicas(target) != desired || !hasReplicasAnnotations(target, d)) {
			_, err := dc.scaleRS(ctx, d, target, desired)
			return err
		}
		return nil
	}
	surge, _, err := fenceposts(d)
	if err != nil {
		return err
	}
	sizes := make([]int32, len(active))
	var before int32
	for i, rs := range active {
		sizes[i] = rsReplicas(rs)
		if v, err := strconv.Atoi(rs.Annotations[MaxReplicasAnnotation]); err == nil {
			before = max(before, int32(v))
		}
	}
	for i, target := range ProportionalTargets(sizes, before, desired+surge) {
		if _, err := dc.scaleRS(ctx, d, active[i], target); err != nil {
			return err
		}
	}
	return nil
}

func hasReplicasAnnotations(rs *appsv1.ReplicaSet, d *appsv1.Deployment) bool {
	return !setReplicasAnnotations(rs.DeepCopy(), d)
}

// scaleRS sets rs's size (and the size annotations) and says so in an Event.
func (dc *dController) scaleRS(ctx context.Context, d *appsv1.Deployment, rs *appsv1.ReplicaSet, n int32) (*appsv1.ReplicaSet, error) {
	from := rsReplicas(rs)
	rs = rs.DeepCopy()
	changedAnn := setReplicasAnnotations(rs, d)
	if from == n && !changedAnn {
		return rs, nil
	}
	rs.Spec.Replicas = &n
	updated, err := dc.client.AppsV1().ReplicaSets(rs.Namespace).Update(ctx, rs, metav1.UpdateOptions{})
	if err != nil {
		return nil, err
	}
	if from != n {
		dir := "up"
		if n < from {
			dir = "down"
		}
		dc.rec.Eventf(d, corev1.EventTypeNormal, "ScalingReplicaSet", "Scaled %s replica set %s from %d to %d", dir, rs.Name, from, n)
	}
	return updated, nil
}

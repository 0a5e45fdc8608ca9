package deployment

import (
	"context"
	"fmt"
	"math"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Condition reasons, as kubectl rollout status and describe expect them.
const (
	reasonNewRSAvailable   = "NewReplicaSetAvailable"
	reasonRSUpdated        = "ReplicaSetUpdated"
	reasonFoundNewRS       = "FoundNewReplicaSet"
	reasonTimedOut         = "ProgressDeadlineExceeded"
	reasonPaused           = "DeploymentPaused"
	reasonResumed          = "DeploymentResumed"
	reasonMinAvailable     = "MinimumReplicasAvailable"
	reasonMinUnavailable   = "MinimumReplicasUnavailable"
	noProgressDeadlineSecs = math.MaxInt32
)

func newCondition(t appsv1.DeploymentConditionType, s corev1.ConditionStatus, reason, msg string, now time.Time) appsv1.DeploymentCondition {
	return appsv1.DeploymentCondition{Type: t, Status: s, Reason: reason, Message: msg,
		LastUpdateTime: metav1.NewTime(now), LastTransitionTime: metav1.NewTime(now)}
}

func getCondition(st *appsv1.DeploymentStatus, t appsv1.DeploymentConditionType) *appsv1.DeploymentCondition {
	for i := range st.Conditions {
		if st.Conditions[i].Type == t {
			return &st.Conditions[i]
		}
	}
	return nil
}

// setCondition replaces the condition of c's type; an unchanged status keeps its
// transition time, and an unchanged reason and status keep the condition as it was.
func setCondition(st *appsv1.DeploymentStatus, c appsv1.DeploymentCondition) {
	if cur := getCondition(st, c.Type); cur != nil {
		if cur.Status == c.Status && cur.Reason == c.Reason {
			return
		}
		if cur.Status == c.Status {
			c.LastTransitionTime = cur.LastTransitionTime
		}
		*cur = c
		return
	}
	st.Conditions = append(st.Conditions, c)
}

// calculateStatus sums the ReplicaSets' counts into d's status.
func calculateStatus(d *appsv1.Deployment, newRS *appsv1.ReplicaSet, old []*appsv1.ReplicaSet) appsv1.DeploymentStatus {
	st := appsv1.DeploymentStatus{
		ObservedGeneration: d.Generation,
		CollisionCount:     d.Status.CollisionCount,
		Conditions:         append([]appsv1.DeploymentCondition(nil), d.Status.Conditions...),
	}
	all := old
	if newRS != nil {
		all = append([]*appsv1.ReplicaSet{newRS}, old...)
		st.UpdatedReplicas = newRS.Status.Replicas
	}
	for _, rs := range all {
		st.Replicas += rs.Status.Replicas
		st.ReadyReplicas += rs.Status.ReadyReplicas
		st.AvailableReplicas += rs.Status.AvailableReplicas
	}
	st.UnavailableReplicas = max(0, replicas(d)-st.AvailableReplicas)
	return st
}

func (dc *dController) setAvailable(d *appsv1.Deployment, st *appsv1.DeploymentStatus) {
	_, unavailable, _ := fenceposts(d)
	if st.AvailableReplicas >= replicas(d)-unavailable {
		setCondition(st, newCondition(appsv1.DeploymentAvailable, corev1.ConditionTrue, reasonMinAvailable,
			"Deployment has minimum availability.", dc.now()))
	} else {
		setCondition(st, newCondition(appsv1.DeploymentAvailable, corev1.ConditionFalse, reasonMinUnavailable,
			"Deployment does not have minimum availability.", dc.now()))
	}
}

func (dc *dController) writeStatus(ctx context.Context, d *appsv1.Deployment, st appsv1.DeploymentStatus) error {
	if equality.Semantic.DeepEqual(st, d.Status) {
		return nil
	}
	d.Status = st
	updated, err := dc.client.AppsV1().Deployments(d.Namespace).UpdateStatus(ctx, d, metav1.UpdateOptions{})
	if err != nil {
		return err
	}
	*d = *updated // later writes in this sync need the new resourceVersion
	return nil
}

// syncStatusOnly writes the counts and Available, leaving Progressing alone: used while
// paused or being deleted, when no progress is expected.
func (dc *dController) syncStatusOnly(ctx context.Context, d *appsv1.Deployment, rsList []*appsv1.ReplicaSet) error {
	newRS, old := splitReplicaSets(d, rsList)
	st := calculateStatus(d, newRS, old)
	dc.setAvailable(d, &st)
	return dc.writeStatus(ctx, d, st)
}

// checkPaused records a pause or resume in Progressing, so the progress deadline is
// not counted across a pause.
func (dc *dController) checkPaused(ctx context.Context, d *appsv1.Deployment) error {
	cur := getCondition(&d.Status, appsv1.DeploymentProgressing)
	var c appsv1.DeploymentCondition
	switch {
	case d.Spec.Paused && (cur == nil || cur.Reason != reasonPaused):
		c = newCondition(appsv1.DeploymentProgressing, corev1.ConditionUnknown, reasonPaused, "Deployment is paused", dc.now())
	case !d.Spec.Paused && cur != nil && cur.Reason == reasonPaused:
		c = newCondition(appsv1.DeploymentProgressing, corev1.ConditionUnknown, reasonResumed, "Deployment is resumed", dc.now())
	default:
		return nil
	}
	st := *d.Status.DeepCopy()
	setCondition(&st, c)
	return dc.writeStatus(ctx, d, st)
}

// syncRolloutStatus writes status with Progressing estimated against the deadline, and
// looks again when the deadline would pass.
func (dc *dController) syncRolloutStatus(ctx context.Context, d *appsv1.Deployment, newRS *appsv1.ReplicaSet, old []*appsv1.ReplicaSet) error {
	st := calculateStatus(d, newRS, old)
	dc.setAvailable(d, &st)
	deadline := d.Spec.ProgressDeadlineSeconds
	if deadline != nil && *deadline != noProgressDeadlineSecs && newRS != nil {
		dc.estimateProgress(d, newRS, &st)
	}
	if err := dc.writeStatus(ctx, d, st); err != nil {
		return err
	}
	if deadline != nil && *deadline != noProgressDeadlineSecs {
		if c := getCondition(&st, appsv1.DeploymentProgressing); c != nil && c.Status == corev1.ConditionTrue && c.Reason != reasonNewRSAvailable {
			left := c.LastUpdateTime.Add(time.Duration(*deadline) * time.Second).Sub(dc.now())
			dc.ctrl.Queue.AddAfter(d.Namespace+"/"+d.Name, max(left, 0)+time.Second)
		}
	}
	return nil
}

func (dc *dController) estimateProgress(d *appsv1.Deployment, newRS *appsv1.ReplicaSet, st *appsv1.DeploymentStatus) {
	n := replicas(d)
	cur := getCondition(st, appsv1.DeploymentProgressing)
	switch {
	case st.UpdatedReplicas == n && st.Replicas == n && st.AvailableReplicas == n:
		setCondition(st, newCondition(appsv1.DeploymentProgressing, corev1.ConditionTrue, reasonNewRSAvailable,
			fmt.Sprintf("ReplicaSet %q has successfully progressed.", newRS.Name), dc.now()))
	case progressed(&d.Status, st) || cur == nil || cur.Reason == reasonResumed:
		c := newCondition(appsv1.DeploymentProgressing, corev1.ConditionTrue, reasonRSUpdated,
			fmt.Sprintf("ReplicaSet %q is progressing.", newRS.Name), dc.now())
		if cur != nil && cur.Status == corev1.ConditionTrue {
			c.LastTransitionTime = cur.LastTransitionTime
		}
		// Progress renews the deadline even when the reason stays the same.
		if cur != nil {
			*cur = c
		} else {
			st.Conditions = append(st.Conditions, c)
		}
	case cur.Reason == "NewReplicaSetCreated" || cur.Reason == reasonFoundNewRS || cur.Reason == reasonRSUpdated:
		limit := time.Duration(*d.Spec.ProgressDeadlineSeconds) * time.Second
		if !cur.LastUpdateTime.Add(limit).After(dc.now()) {
			setCondition(st, newCondition(appsv1.DeploymentProgressing, corev1.ConditionFalse, reasonTimedOut,
				fmt.Sprintf("ReplicaSet %q has timed out progressing.", newRS.Name), dc.now()))
		}
	}
}

// progressed reports whether the rollout moved since old: more new, ready or available
// pods, or fewer old ones.
func progressed(old, cur *appsv1.DeploymentStatus) bool {
	return cur.UpdatedReplicas != old.UpdatedReplicas ||
		cur.Replicas-cur.UpdatedReplicas < old.Replicas-old.UpdatedReplicas ||
		cur.ReadyReplicas > old.ReadyReplicas || cur.AvailableReplicas > old.AvailableReplicas
}

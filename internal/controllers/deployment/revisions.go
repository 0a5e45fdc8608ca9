package deployment

import (
	"context"
	"fmt"
	"sort"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"skiff/internal/controllers/workloads"
)

// Annotations and labels that kubectl and users read.
const (
	RevisionAnnotation        = "deployment.kubernetes.io/revision"
	RevisionHistoryAnnotation = "deployment.kubernetes.io/revision-history"
	DesiredReplicasAnnotation = "deployment.kubernetes.io/desired-replicas"
	MaxReplicasAnnotation     = "deployment.kubernetes.io/max-replicas"
	lastAppliedAnnotation     = "kubectl.kubernetes.io/last-applied-configuration"
	rollbackToAnnotation      = "deprecated.deployment.rollback.to"
)

// notCopied are the Deployment annotations that describe the Deployment itself and so
// are not copied to its ReplicaSets (kubectl rollout undo skips the same ones back).
var notCopied = map[string]bool{
	lastAppliedAnnotation: true, RevisionAnnotation: true, RevisionHistoryAnnotation: true,
	DesiredReplicasAnnotation: true, MaxReplicasAnnotation: true, rollbackToAnnotation: true,
}

// equalIgnoreHash compares templates as the Deployment wrote them: the pod-template-hash
// label is the ReplicaSet's, not the Deployment's.
func equalIgnoreHash(a, b *corev1.PodTemplateSpec) bool {
	a, b = a.DeepCopy(), b.DeepCopy()
	delete(a.Labels, appsv1.DefaultDeploymentUniqueLabelKey)
	delete(b.Labels, appsv1.DefaultDeploymentUniqueLabelKey)
	return equality.Semantic.DeepEqual(a, b)
}

func revision(obj metav1.Object) int64 {
	v, _ := strconv.ParseInt(obj.GetAnnotations()[RevisionAnnotation], 10, 64)
	return v
}

// splitReplicaSets finds the ReplicaSet running d's template (the oldest, if several)
// and the others.
func splitReplicaSets(d *appsv1.Deployment, rsList []*appsv1.ReplicaSet) (*appsv1.ReplicaSet, []*appsv1.ReplicaSet) {
	sorted := append([]*appsv1.ReplicaSet(nil), rsList...)
	sort.SliceStable(sorted, func(i, j int) bool {
		a, b := sorted[i].CreationTimestamp, sorted[j].CreationTimestamp
		if !a.Equal(&b) {
			return a.Before(&b)
		}
		return sorted[i].Name < sorted[j].Name
	})
	var newRS *appsv1.ReplicaSet
	var old []*appsv1.ReplicaSet
	for _, rs := range sorted {
		if newRS == nil && equalIgnoreHash(&rs.Spec.Template, &d.Spec.Template) {
			newRS = rs
			continue
		}
		old = append(old, rs)
	}
	return newRS, old
}

// getReplicaSets returns the new and old ReplicaSets, creating the new one if create is
// set, and brings revision numbers up to date: the new ReplicaSet always has the
// highest, so a rollback to an old template makes it the newest revision.
func (dc *dController) getReplicaSets(ctx context.Context, d *appsv1.Deployment, rsList []*appsv1.ReplicaSet,
	create bool) (*appsv1.ReplicaSet, []*appsv1.ReplicaSet, error) {
	newRS, old := splitReplicaSets(d, rsList)
	var maxOld int64
	for _, rs := range old {
		maxOld = max(maxOld, revision(rs))
	}
	want := strconv.FormatInt(maxOld+1, 10)
	var err error
	switch {
	case newRS != nil:
		newRS, err = dc.updateNewRSAnnotations(ctx, d, newRS, maxOld+1)
	case create:
		newRS, err = dc.createNewRS(ctx, d, old, want)
	default:
		return nil, old, nil
	}
	if err != nil {
		return nil, nil, err
	}
	if d.Annotations[RevisionAnnotation] != newRS.Annotations[RevisionAnnotation] {
		if d.Annotations == nil {
			d.Annotations = map[string]string{}
		}
		d.Annotations[RevisionAnnotation] = newRS.Annotations[RevisionAnnotation]
		updated, err := dc.client.AppsV1().Deployments(d.Namespace).Update(ctx, d, metav1.UpdateOptions{})
		if err != nil {
			return nil, nil, err
		}
		// Keep the status we are about to compute against what the server has.
		d.ObjectMeta = updated.ObjectMeta
	}
	return newRS, old, nil
}

// setRSAnnotations copies d's annotations to rs and sets its revision; it reports
// whether anything changed.
func setRSAnnotations(d *appsv1.Deployment, rs *appsv1.ReplicaSet, rev int64) bool {
	changed := false
	if rs.Annotations == nil {
		rs.Annotations = map[string]string{}
	}
	for k, v := range d.Annotations {
		if !notCopied[k] && rs.Annotations[k] != v {
			rs.Annotations[k] = v
			changed = true
		}
	}
	if revision(rs) < rev {
		old := rs.Annotations[RevisionAnnotation]
		rs.Annotations[RevisionAnnotation] = strconv.FormatInt(rev, 10)
		if old != "" {
			// The revisions this ReplicaSet used to be, for kubectl rollout history.
			h := rs.Annotations[RevisionHistoryAnnotation]
			if h != "" {
				h += ","
			}
			rs.Annotations[RevisionHistoryAnnotation] = h + old
		}
		changed = true
	}
	return changed
}

func (dc *dController) updateNewRSAnnotations(ctx context.Context, d *appsv1.Deployment, rs *appsv1.ReplicaSet, rev int64) (*appsv1.ReplicaSet, error) {
	rs = rs.DeepCopy()
	// The size annotations are left as they are: they record the Deployment size the
	// ReplicaSet was last scaled for, which proportional scaling reads back.
	if !setRSAnnotations(d, rs, rev) {
		return rs, nil
	}
	return dc.client.AppsV1().ReplicaSets(rs.Namespace).Update(ctx, rs, metav1.UpdateOptions{})
}

// setReplicasAnnotations records the Deployment size rs was last scaled for, which
// tells a later sync whether the Deployment was scaled since.
func setReplicasAnnotations(rs *appsv1.ReplicaSet, d *appsv1.Deployment) bool {
	desired := replicas(d)
	surge := int32(0)
	if d.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType && d.Spec.Strategy.RollingUpdate != nil {
		surge, _, _ = Fenceposts(d.Spec.Strategy.RollingUpdate.MaxSurge, d.Spec.Strategy.RollingUpdate.MaxUnavailable, desired)
	}
	want := map[string]string{
		DesiredReplicasAnnotation: strconv.Itoa(int(desired)),
		MaxReplicasAnnotation:     strconv.Itoa(int(desired + surge)),
	}
	changed := false
	if rs.Annotations == nil {
		rs.Annotations = map[string]string{}
	}
	for k, v := range want {
		if rs.Annotations[k] != v {
			rs.Annotations[k] = v
			changed = true
		}
	}
	return changed
}

func (dc *dController) createNewRS(ctx context.Context, d *appsv1.Deployment, old []*appsv1.ReplicaSet, rev string) (*appsv1.ReplicaSet, error) {
	tmpl := d.Spec.Template.DeepCopy()
	hash := workloads.HashObject(tmpl, d.Status.CollisionCount)
	if tmpl.Labels == nil {
		tmpl.Labels = map[string]string{}
	}
	tmpl.Labels[appsv1.DefaultDeploymentUniqueLabelKey] = hash
	sel := d.Spec.Selector.DeepCopy()
	if sel.MatchLabels == nil {
		sel.MatchLabels = map[string]string{}
	}
	sel.MatchLabels[appsv1.DefaultDeploymentUniqueLabelKey] = hash
	size, err := dc.newRSInitialSize(d, old)
	if err != nil {
		return nil, err
	}
	rs := &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{
			Name: d.Name + "-" + hash, Namespace: d.Namespace, Labels: tmpl.Labels,
			OwnerReferences: []metav1.OwnerReference{*workloads.NewControllerRef(d, kindDeployment)},
		},
		Spec: appsv1.ReplicaSetSpec{Replicas: &size, MinReadySeconds: d.Spec.MinReadySeconds, Selector: sel, Template: *tmpl},
	}
	setRSAnnotations(d, rs, 0)
	rs.Annotations[RevisionAnnotation] = rev
	setReplicasAnnotations(rs, d)
	created, err := dc.client.AppsV1().ReplicaSets(d.Namespace).Create(ctx, rs, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return dc.handleCollision(ctx, d, rs)
	}
	if err != nil {
		setCondition(&d.Status, newCondition(appsv1.DeploymentProgressing, corev1.ConditionFalse, "ReplicaSetCreateError",
			fmt.Sprintf("Failed to create new replica set %q: %v", rs.Name, err), dc.now()))
		dc.rec.Eventf(d, corev1.EventTypeWarning, "ReplicaSetCreateError", "Failed to create new replica set %q: %v", rs.Name, err)
		_, _ = dc.client.AppsV1().Deployments(d.Namespace).UpdateStatus(ctx, d, metav1.UpdateOptions{})
		return nil, err
	}
	if size > 0 {
		dc.rec.Eventf(d, corev1.EventTypeNormal, "ScalingReplicaSet", "Scaled up replica set %s from 0 to %d", created.Name, size)
	}
	setCondition(&d.Status, newCondition(appsv1.DeploymentProgressing, corev1.ConditionTrue, "NewReplicaSetCreated",
		fmt.Sprintf("Created new replica set %q", created.Name), dc.now()))
	return created, nil
}

// handleCollision: a ReplicaSet of our name exists. If it is ours with our template,
// the cache was behind; otherwise bump collisionCount so the next hash differs.
func (dc *dController) handleCollision(ctx context.Context, d *appsv1.Deployment, rs *appsv1.ReplicaSet) (*appsv1.ReplicaSet, error) {
	live, err := dc.client.AppsV1().ReplicaSets(d.Namespace).Get(ctx, rs.Name, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	if ref := metav1.GetControllerOf(live); ref != nil && ref.UID == d.UID && equalIgnoreHash(&live.Spec.Template, &d.Spec.Template) {
		return live, nil
	}
	n := int32(1)
	if d.Status.CollisionCount != nil {
		n = *d.Status.CollisionCount + 1
	}
	d.Status.CollisionCount = &n
	if _, err := dc.client.AppsV1().Deployments(d.Namespace).UpdateStatus(ctx, d, metav1.UpdateOptions{}); err != nil {
		return nil, err
	}
	return nil, fmt.Errorf("replica set %s exists with another template; collisionCount is now %d", rs.Name, n)
}

// newRSInitialSize is how big a new ReplicaSet starts: all of it for Recreate (the old
// pods are gone by then), or as much as the surge allows.
func (dc *dController) newRSInitialSize(d *appsv1.Deployment, old []*appsv1.ReplicaSet) (int32, error) {
	desired := replicas(d)
	if d.Spec.Strategy.Type == appsv1.RecreateDeploymentStrategyType {
		return desired, nil
	}
	surge, _, err := fenceposts(d)
	if err != nil {
		return 0, err
	}
	var total int32
	for _, rs := range old {
		total += rsReplicas(rs)
	}
	return NewReplicaSetTarget(desired, surge, total, 0), nil
}

// cleanup deletes the oldest idle ReplicaSets beyond revisionHistoryLimit.
func (dc *dController) cleanup(ctx context.Context, d *appsv1.Deployment, old []*appsv1.ReplicaSet) error {
	if d.Spec.RevisionHistoryLimit == nil {
		return nil
	}
	var idle []*appsv1.ReplicaSet
	for _, rs := range old {
		if rsReplicas(rs) == 0 && rs.Status.Replicas == 0 && rs.DeletionTimestamp == nil &&
			rs.Generation <= rs.Status.ObservedGeneration {
			idle = append(idle, rs)
		}
	}
	excess := len(idle) - int(*d.Spec.RevisionHistoryLimit)
	if excess <= 0 {
		return nil
	}
	sort.SliceStable(idle, func(i, j int) bool { return revision(idle[i]) < revision(idle[j]) })
	for _, rs := range idle[:excess] {
		err := dc.client.AppsV1().ReplicaSets(rs.Namespace).Delete(ctx, rs.Name, metav1.DeleteOptions{
			Preconditions: &metav1.Preconditions{UID: &rs.UID}})
		if err != nil && !apierrors.IsNotFound(err) {
			return err
		}
	}
	return nil
}

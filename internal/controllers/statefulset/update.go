package statefulset

import (
	"context"
	"encoding/json"
	"slices"
	"sort"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"skiff/internal/controllers/workloads"
)

// slots splits pods into the ordinals the set should have (index i holds ordinal
// start+i, nil if missing) and the condemned rest, highest ordinal first.
func slots(set *appsv1.StatefulSet, pods []*corev1.Pod) ([]*corev1.Pod, []*corev1.Pod) {
	start, n := startOrdinal(set), replicas(set)
	want := make([]*corev1.Pod, n)
	var condemned []*corev1.Pod
	for _, p := range pods {
		o := ordinalOf(set, p.Name)
		if o >= start && o < start+n {
			want[o-start] = p
		} else {
			condemned = append(condemned, p)
		}
	}
	sort.Slice(condemned, func(i, j int) bool { return ordinalOf(set, condemned[i].Name) > ordinalOf(set, condemned[j].Name) })
	return want, condemned
}

func isFinished(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodFailed || p.Status.Phase == corev1.PodSucceeded
}

func isHealthy(p *corev1.Pod) bool {
	return p != nil && p.DeletionTimestamp == nil && workloads.IsPodRunningAndReady(p)
}

// update makes one ordered step towards the set's spec. With OrderedReady it stops at
// the first pod that is not yet Running and Ready, so pod N+1 never starts before pod
// N is up, and pods go in reverse only when all others are healthy. Parallel acts on
// every ordinal at once.
func (sc *ssController) update(ctx context.Context, set *appsv1.StatefulSet, current, update *appsv1.ControllerRevision, pods []*corev1.Pod) error {
	ordered := set.Spec.PodManagementPolicy != appsv1.ParallelPodManagement
	want, condemned := slots(set, pods)
	start := startOrdinal(set)
	for i, pod := range want {
		ordinal := start + i
		wait, err := sc.syncSlot(ctx, set, current, update, pod, ordinal)
		if err != nil {
			return err
		}
		if wait && ordered {
			return nil
		}
	}
	for _, pod := range condemned {
		if pod.DeletionTimestamp != nil {
			if ordered {
				return nil
			}
			continue
		}
		if ordered && !allHealthyBut(want, condemned, pod) {
			return nil
		}
		if err := sc.condemn(ctx, set, pod); err != nil {
			return err
		}
		if ordered {
			return nil
		}
	}
	return sc.rollingUpdate(ctx, set, update, want)
}

func allHealthyBut(want, condemned []*corev1.Pod, except *corev1.Pod) bool {
	for _, list := range [][]*corev1.Pod{want, condemned} {
		for _, p := range list {
			if p != except && !isHealthy(p) {
				return false
			}
		}
	}
	return true
}

// syncSlot brings one ordinal's pod into being; it reports whether an ordered set
// must wait for this pod before going on.
func (sc *ssController) syncSlot(ctx context.Context, set *appsv1.StatefulSet, current, update *appsv1.ControllerRevision,
	pod *corev1.Pod, ordinal int) (bool, error) {
	switch {
	case pod == nil:
		rev := update
		if useCurrent(set, ordinal) {
			rev = current
		}
		return true, sc.createPod(ctx, set, rev, ordinal)
	case pod.DeletionTimestamp != nil:
		return true, nil
	case isFinished(pod):
		// A failed (or exited) pod is replaced under the same name.
		return true, sc.deletePod(ctx, set, pod)
	}
	if err := sc.ensureClaims(ctx, set, pod, ordinal); err != nil {
		return true, err
	}
	if !identityMatches(pod, ordinal) {
		if err := sc.fixIdentity(ctx, set, pod, ordinal); err != nil {
			return true, err
		}
	}
	ready := workloads.IsPodRunningAndReady(pod) && workloads.IsPodAvailable(pod, set.Spec.MinReadySeconds, sc.now())
	return !ready, nil
}

// useCurrent: during a partitioned rolling update, ordinals under the partition are
// recreated at the current revision; everything else gets the update revision.
func useCurrent(set *appsv1.StatefulSet, ordinal int) bool {
	s := set.Spec.UpdateStrategy
	if s.Type == appsv1.OnDeleteStatefulSetStrategyType {
		return false
	}
	if s.RollingUpdate != nil && s.RollingUpdate.Partition != nil {
		return ordinal < startOrdinal(set)+int(*s.RollingUpdate.Partition)
	}
	return ordinal < startOrdinal(set)+int(set.Status.CurrentReplicas) && set.Status.CurrentRevision != set.Status.UpdateRevision
}

func (sc *ssController) createPod(ctx context.Context, set *appsv1.StatefulSet, rev *appsv1.ControllerRevision, ordinal int) error {
	tmpl, err := templateOf(rev)
	if err != nil {
		return err
	}
	pod := newPod(set, tmpl, rev.Name, ordinal)
	if err := sc.ensureClaims(ctx, set, pod, ordinal); err != nil {
		return err
	}
	_, err = sc.client.CoreV1().Pods(set.Namespace).Create(ctx, pod, metav1.CreateOptions{})
	switch {
	case apierrors.IsAlreadyExists(err):
		return nil // the cache is behind; the pod will show up
	case err != nil:
		sc.rec.Eventf(set, corev1.EventTypeWarning, "FailedCreate", "create Pod %s in StatefulSet %s failed error: %v", pod.Name, set.Name, err)
		return err
	}
	sc.rec.Eventf(set, corev1.EventTypeNormal, "SuccessfulCreate", "create Pod %s in StatefulSet %s successful", pod.Name, set.Name)
	return nil
}

// ensureClaims creates the PVCs the pod with ordinal needs; existing ones are kept,
// which is how a pod's storage survives the pod, and follow the set's current
// whenDeleted policy.
func (sc *ssController) ensureClaims(ctx context.Context, set *appsv1.StatefulSet, pod *corev1.Pod, ordinal int) error {
	for _, c := range newClaims(set, ordinal) {
		if old, err := sc.claims.PersistentVolumeClaims(set.Namespace).Get(c.Name); err == nil {
			if err := sc.followRetention(ctx, set, old); err != nil {
				return err
			}
			continue
		}
		_, err := sc.client.CoreV1().PersistentVolumeClaims(set.Namespace).Create(ctx, c, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			continue
		}
		if err != nil {
			sc.rec.Eventf(set, corev1.EventTypeWarning, "FailedCreate", "create Claim %s for Pod %s in StatefulSet %s failed error: %v", c.Name, pod.Name, set.Name, err)
			return err
		}
		sc.rec.Eventf(set, corev1.EventTypeNormal, "SuccessfulCreate", "create Claim %s Pod %s in StatefulSet %s success", c.Name, pod.Name, set.Name)
	}
	return nil
}

// followRetention adds or removes the set's owner reference on an existing claim
// when whenDeleted changed since the claim was made.
func (sc *ssController) followRetention(ctx context.Context, set *appsv1.StatefulSet, claim *corev1.PersistentVolumeClaim) error {
	i := slices.IndexFunc(claim.OwnerReferences, func(r metav1.OwnerReference) bool { return r.UID == set.UID })
	if deleteWithSet(set) == (i >= 0) {
		return nil
	}
	next := claim.DeepCopy()
	if i >= 0 {
		next.OwnerReferences = slices.Delete(next.OwnerReferences, i, i+1)
	} else {
		next.OwnerReferences = append(next.OwnerReferences, setClaimRef(set))
	}
	_, err := sc.client.CoreV1().PersistentVolumeClaims(set.Namespace).Update(ctx, next, metav1.UpdateOptions{})
	return err
}

// fixIdentity puts back the pod's identity labels with a patch (conditional on
// the version read): the informer's pods are not whole (controller.SlimPods).
func (sc *ssController) fixIdentity(ctx context.Context, set *appsv1.StatefulSet, pod *corev1.Pod, ordinal int) error {
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"resourceVersion": pod.ResourceVersion,
		"labels": map[string]string{podNameLabel: pod.Name, podIndexLabel: strconv.Itoa(ordinal)}}})
	if err != nil {
		return err
	}
	_, err = sc.client.CoreV1().Pods(set.Namespace).Patch(ctx, pod.Name, types.MergePatchType, patch, metav1.PatchOptions{})
	if err == nil {
		sc.rec.Eventf(set, corev1.EventTypeNormal, "SuccessfulUpdate", "update Pod %s in StatefulSet %s successful", pod.Name, set.Name)
	}
	return err
}

func (sc *ssController) deletePod(ctx context.Context, set *appsv1.StatefulSet, pod *corev1.Pod) error {
	// The uid keeps a stale cache from deleting the pod's successor of the same name.
	err := sc.client.CoreV1().Pods(set.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{
		Preconditions: &metav1.Preconditions{UID: &pod.UID}})
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return nil
	}
	if err != nil {
		sc.rec.Eventf(set, corev1.EventTypeWarning, "FailedDelete", "delete Pod %s in StatefulSet %s failed error: %v", pod.Name, set.Name, err)
		return err
	}
	sc.rec.Eventf(set, corev1.EventTypeNormal, "SuccessfulDelete", "delete Pod %s in StatefulSet %s successful", pod.Name, set.Name)
	return nil
}

// condemn deletes a pod beyond the replica count; with whenScaled=Delete its claims
// are handed to the pod first, so the garbage collector removes them with it.
func (sc *ssController) condemn(ctx context.Context, set *appsv1.StatefulSet, pod *corev1.Pod) error {
	if p := set.Spec.PersistentVolumeClaimRetentionPolicy; p != nil && p.WhenScaled == appsv1.DeletePersistentVolumeClaimRetentionPolicyType {
		ordinal := ordinalOf(set, pod.Name)
		for _, c := range set.Spec.VolumeClaimTemplates {
			if err := sc.ownClaimByPod(ctx, set, claimName(set, c.Name, ordinal), pod); err != nil {
				return err
			}
		}
	}
	return sc.deletePod(ctx, set, pod)
}

func (sc *ssController) ownClaimByPod(ctx context.Context, set *appsv1.StatefulSet, name string, pod *corev1.Pod) error {
	f, t := false, true
	ref := metav1.OwnerReference{APIVersion: "v1", Kind: "Pod", Name: pod.Name, UID: pod.UID, Controller: &f, BlockOwnerDeletion: &t}
	patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{"ownerReferences": []any{ref}}})
	_, err := sc.client.CoreV1().PersistentVolumeClaims(set.Namespace).Patch(ctx, name, types.StrategicMergePatchType, patch, metav1.PatchOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// rollingUpdate replaces one out-of-date pod at a time, highest ordinal first, down to
// the partition, and only while every pod is healthy.
func (sc *ssController) rollingUpdate(ctx context.Context, set *appsv1.StatefulSet, update *appsv1.ControllerRevision, want []*corev1.Pod) error {
	s := set.Spec.UpdateStrategy
	if s.Type == appsv1.OnDeleteStatefulSetStrategyType {
		return nil
	}
	partition := 0
	if s.RollingUpdate != nil && s.RollingUpdate.Partition != nil {
		partition = int(*s.RollingUpdate.Partition)
	}
	for _, p := range want {
		if !isHealthy(p) {
			return nil
		}
	}
	for i := len(want) - 1; i >= max(partition, 0); i-- {
		if want[i].Labels[revisionLabel] != update.Name {
			return sc.deletePod(ctx, set, want[i])
		}
	}
	return nil
}

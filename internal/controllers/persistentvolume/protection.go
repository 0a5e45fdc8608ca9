package persistentvolume

import (
	"context"
	"slices"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	vb "skiff/internal/volumebinding"
)

// protectClaim puts the pvc-protection finalizer on a live claim, so deleting a
// claim a pod still mounts waits for the pod.
func (pc *Controller) protectClaim(ctx context.Context, pvc *corev1.PersistentVolumeClaim) (*corev1.PersistentVolumeClaim, error) {
	if slices.Contains(pvc.Finalizers, vb.PVCProtectionFinalizer) {
		return pvc, nil
	}
	next := pvc.DeepCopy()
	next.Finalizers = append(next.Finalizers, vb.PVCProtectionFinalizer)
	return pc.client.CoreV1().PersistentVolumeClaims(pvc.Namespace).Update(ctx, next, metav1.UpdateOptions{})
}

// releaseClaim lets a deleted claim go once no pod that has not finished uses it.
// The pod cache may not yet hold a pod created a moment ago, so "unused" is
// confirmed with a live list.
func (pc *Controller) releaseClaim(ctx context.Context, pvc *corev1.PersistentVolumeClaim) error {
	if !slices.Contains(pvc.Finalizers, vb.PVCProtectionFinalizer) {
		return nil
	}
	cached, err := pc.pods.Pods(pvc.Namespace).List(everything)
	if err != nil {
		return err
	}
	if usedBy(pvc.Name, cached) != nil {
		return nil // the pod's own events requeue the claim
	}
	live, err := pc.client.CoreV1().Pods(pvc.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	pods := make([]*corev1.Pod, len(live.Items))
	for i := range live.Items {
		pods[i] = &live.Items[i]
	}
	if usedBy(pvc.Name, pods) != nil {
		return nil
	}
	next := pvc.DeepCopy()
	next.Finalizers = slices.DeleteFunc(next.Finalizers, func(f string) bool { return f == vb.PVCProtectionFinalizer })
	_, err = pc.client.CoreV1().PersistentVolumeClaims(pvc.Namespace).Update(ctx, next, metav1.UpdateOptions{})
	return err
}

// usedBy returns a pod among pods that uses the claim and has not finished.
func usedBy(claim string, pods []*corev1.Pod) *corev1.Pod {
	for _, p := range pods {
		if p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			continue
		}
		if slices.Contains(vb.PodClaims(p), claim) {
			return p
		}
	}
	return nil
}

// protectVolume puts the pv-protection finalizer on a volume, so deleting a bound
// volume waits for its claim.
func (pc *Controller) protectVolume(ctx context.Context, pv *corev1.PersistentVolume) (*corev1.PersistentVolume, error) {
	if slices.Contains(pv.Finalizers, vb.PVProtectionFinalizer) {
		return pv, nil
	}
	next := pv.DeepCopy()
	next.Finalizers = append(next.Finalizers, vb.PVProtectionFinalizer)
	return pc.client.CoreV1().PersistentVolumes().Update(ctx, next, metav1.UpdateOptions{})
}

// releaseVolume lets a deleted volume go once no claim is bound to it.
func (pc *Controller) releaseVolume(ctx context.Context, pv *corev1.PersistentVolume) error {
	if !slices.Contains(pv.Finalizers, vb.PVProtectionFinalizer) {
		return nil
	}
	if ref := pv.Spec.ClaimRef; ref != nil && ref.UID != "" {
		gone, err := pc.claimGone(ctx, ref)
		if err != nil || !gone {
			return err
		}
	}
	next := pv.DeepCopy()
	next.Finalizers = slices.DeleteFunc(next.Finalizers, func(f string) bool { return f == vb.PVProtectionFinalizer })
	_, err := pc.client.CoreV1().PersistentVolumes().Update(ctx, next, metav1.UpdateOptions{})
	return err
}

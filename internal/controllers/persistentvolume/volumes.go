package persistentvolume

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	vb "skiff/internal/volumebinding"
)

// Events on volumes.
const (
	reasonFailedDelete  = "VolumeFailedDelete"
	reasonFailedRecycle = "VolumeFailedRecycle"
)

func (pc *Controller) syncVolume(ctx context.Context, key string) error {
	cached, err := pc.volumes.Get(key)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if cached.DeletionTimestamp != nil {
		return pc.releaseVolume(ctx, cached)
	}
	pv, err := pc.protectVolume(ctx, cached)
	if err != nil {
		return err
	}
	ref := pv.Spec.ClaimRef
	if ref == nil || ref.UID == "" {
		// Free (an admin may free a Released volume by removing its claimRef), or
		// reserved by a user for a claim that has not been bound yet.
		_, err = pc.setVolumePhase(ctx, pv, corev1.VolumeAvailable, "")
		return err
	}
	gone, err := pc.claimGone(ctx, ref)
	if err != nil || !gone {
		return err
	}
	return pc.reclaim(ctx, pv)
}

// claimGone reports whether the claim a volume was bound to no longer exists. The
// cache can lag behind a claim made a moment ago, so "missing" is confirmed live.
func (pc *Controller) claimGone(ctx context.Context, ref *corev1.ObjectReference) (bool, error) {
	if c, err := pc.claims.PersistentVolumeClaims(ref.Namespace).Get(ref.Name); err == nil && c.UID == ref.UID {
		return false, nil
	}
	c, err := pc.client.CoreV1().PersistentVolumeClaims(ref.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	return c.UID != ref.UID, nil
}

// reclaim applies the volume's reclaim policy once its claim is gone: Retain keeps
// it Released for an admin; Delete leaves it to the provisioner that made it, and
// fails a hand-made volume, whose data nothing here may remove.
func (pc *Controller) reclaim(ctx context.Context, pv *corev1.PersistentVolume) error {
	if pv.Status.Phase == corev1.VolumeFailed {
		return nil
	}
	pv, err := pc.setVolumePhase(ctx, pv, corev1.VolumeReleased, "")
	if err != nil {
		return err
	}
	switch pv.Spec.PersistentVolumeReclaimPolicy {
	case corev1.PersistentVolumeReclaimDelete:
		if pv.Annotations[vb.AnnProvisionedBy] != "" {
			return nil
		}
		msg := "error getting deleter volume plugin for volume " + pv.Name + ": no provisioner made this volume, so none can delete it"
		pc.rec.Event(pv, corev1.EventTypeWarning, reasonFailedDelete, msg)
		_, err = pc.setVolumePhase(ctx, pv, corev1.VolumeFailed, msg)
	case corev1.PersistentVolumeReclaimRecycle:
		msg := "the Recycle reclaim policy is not supported; use Delete with a provisioner, or Retain"
		pc.rec.Event(pv, corev1.EventTypeWarning, reasonFailedRecycle, msg)
		_, err = pc.setVolumePhase(ctx, pv, corev1.VolumeFailed, msg)
	}
	return err
}

func (pc *Controller) setVolumePhase(ctx context.Context, pv *corev1.PersistentVolume, phase corev1.PersistentVolumePhase, msg string) (*corev1.PersistentVolume, error) {
	if pv.Status.Phase == phase && pv.Status.Message == msg {
		return pv, nil
	}
	next := pv.DeepCopy()
	next.Status.Phase, next.Status.Message = phase, msg
	return pc.client.CoreV1().PersistentVolumes().UpdateStatus(ctx, next, metav1.UpdateOptions{})
}

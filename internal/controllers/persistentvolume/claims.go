package persistentvolume

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"skiff/internal/controllers/controller"
	vb "skiff/internal/volumebinding"
)

// Events on claims, with Kubernetes' reasons.
const (
	reasonWaitForConsumer  = "WaitForFirstConsumer"
	reasonFailedBinding    = "FailedBinding"
	reasonExternal         = "ExternalProvisioning"
	reasonProvisionFailed  = "ProvisioningFailed"
	reasonClaimLost        = "ClaimLost"
	msgWaitForConsumer     = "waiting for first consumer to be created before binding"
	msgNoClassNoVolume     = "no persistent volumes available for this claim and no storage class is set"
	msgExternalProvisioner = "Waiting for a volume to be created either by the external provisioner %q or manually by the system administrator. If volume creation is delayed, please verify that the provisioner is running and correctly registered."
)

func (pc *Controller) syncClaim(ctx context.Context, key string) error {
	cached, found, err := controller.Get(key, pc.claims.PersistentVolumeClaims)
	if !found {
		return err
	}
	if cached.DeletionTimestamp != nil {
		return pc.releaseClaim(ctx, cached)
	}
	pvc, err := pc.protectClaim(ctx, cached)
	if err != nil {
		return err
	}
	if pvc.Spec.VolumeName != "" {
		return pc.syncBoundClaim(ctx, pvc)
	}
	return pc.syncUnboundClaim(ctx, pvc)
}

// syncUnboundClaim finds the claim a volume, or says what it waits for.
func (pc *Controller) syncUnboundClaim(ctx context.Context, pvc *corev1.PersistentVolumeClaim) error {
	class := vb.ClaimClass(pvc)
	var sc *storagev1.StorageClass
	if class != "" {
		sc, _ = pc.classes.Get(class)
	}
	var node *corev1.Node
	if sc != nil && waitsForConsumer(sc) {
		name := pvc.Annotations[vb.AnnSelectedNode]
		if name == "" {
			pc.rec.Event(pvc, corev1.EventTypeNormal, reasonWaitForConsumer, msgWaitForConsumer)
			return nil
		}
		var err error
		if node, err = pc.nodes.Get(name); err != nil {
			pc.rec.Eventf(pvc, corev1.EventTypeWarning, reasonFailedBinding, "selected node %q: %v", name, err)
			return nil
		}
	}
	pvs, err := pc.volumes.List(everything)
	if err != nil {
		return err
	}
	if pv := vb.BestMatch(pvc, pvs, node); pv != nil {
		return pc.bind(ctx, pvc, pv)
	}
	return pc.awaitProvisioning(ctx, pvc, class, sc)
}

func waitsForConsumer(sc *storagev1.StorageClass) bool {
	return sc.VolumeBindingMode != nil && *sc.VolumeBindingMode == storagev1.VolumeBindingWaitForFirstConsumer
}

// awaitProvisioning hands a claim no existing volume fits to its class's
// provisioner, by annotation, and tells the user who that is.
func (pc *Controller) awaitProvisioning(ctx context.Context, pvc *corev1.PersistentVolumeClaim, class string, sc *storagev1.StorageClass) error {
	switch {
	case class == "":
		pc.rec.Event(pvc, corev1.EventTypeNormal, reasonFailedBinding, msgNoClassNoVolume)
		return nil
	case sc == nil:
		pc.rec.Eventf(pvc, corev1.EventTypeWarning, reasonProvisionFailed, "storageclass.storage.k8s.io %q not found", class)
		return nil
	case sc.Provisioner == vb.NoProvisioner:
		pc.rec.Eventf(pvc, corev1.EventTypeNormal, reasonFailedBinding,
			"no persistent volumes available for this claim, and storage class %q makes none (provisioner %s)", class, vb.NoProvisioner)
		return nil
	}
	if pvc.Annotations[vb.AnnStorageProvisioner] != sc.Provisioner {
		next := pvc.DeepCopy()
		setAnnotation(&next.ObjectMeta, vb.AnnStorageProvisioner, sc.Provisioner)
		setAnnotation(&next.ObjectMeta, vb.AnnBetaStorageProvisioner, sc.Provisioner)
		if _, err := pc.client.CoreV1().PersistentVolumeClaims(pvc.Namespace).Update(ctx, next, metav1.UpdateOptions{}); err != nil {
			return err
		}
	}
	switch {
	case sc.Provisioner != vb.LocalPathProvisioner:
		pc.rec.Eventf(pvc, corev1.EventTypeNormal, reasonExternal, msgExternalProvisioner, sc.Provisioner)
	case !waitsForConsumer(sc):
		// A directory lives on one node, and only the first pod says which.
		pc.rec.Eventf(pvc, corev1.EventTypeWarning, reasonProvisionFailed,
			"storage class %q: the %s provisioner needs volumeBindingMode WaitForFirstConsumer", class, vb.LocalPathProvisioner)
	}
	return nil
}

// syncBoundClaim completes a binding whose claim names its volume (the controller
// started it, or the user pre-bound the claim), or marks the claim Lost.
func (pc *Controller) syncBoundClaim(ctx context.Context, pvc *corev1.PersistentVolumeClaim) error {
	pv, err := pc.volumes.Get(pvc.Spec.VolumeName)
	if apierrors.IsNotFound(err) {
		if pvc.Status.Phase == corev1.ClaimBound {
			pc.rec.Event(pvc, corev1.EventTypeWarning, reasonClaimLost, "Bound claim has lost reference to PersistentVolume. Data on the volume is lost!")
			return pc.setClaimPhase(ctx, pvc, corev1.ClaimLost)
		}
		return nil // pre-bound to a volume not made yet
	}
	if err != nil {
		return err
	}
	if pv.Spec.ClaimRef == nil {
		if why := vb.Mismatch(pvc, pv, nil); why != "" {
			pc.rec.Eventf(pvc, corev1.EventTypeWarning, reasonFailedBinding, "Cannot bind to requested volume %q: %s", pv.Name, why)
			return nil
		}
	} else if !vb.PreBound(pv, pvc) {
		if pvc.Status.Phase == corev1.ClaimBound {
			pc.rec.Eventf(pvc, corev1.EventTypeWarning, reasonClaimLost, "volume %q is now bound to another claim", pv.Name)
			return pc.setClaimPhase(ctx, pvc, corev1.ClaimLost)
		}
		pc.rec.Eventf(pvc, corev1.EventTypeWarning, reasonFailedBinding, "volume %q already bound to a different claim", pv.Name)
		return nil
	}
	return pc.bind(ctx, pvc, pv)
}

// bind writes a binding in Kubernetes' order: the volume's claimRef first (with a
// resourceVersion, so two claims racing for one volume cannot both win), then the
// claim's volumeName, then both phases. Every step is skipped when already done,
// so a retry after any failure finishes the job.
func (pc *Controller) bind(ctx context.Context, pvc *corev1.PersistentVolumeClaim, pv *corev1.PersistentVolume) error {
	pv, err := pc.bindVolume(ctx, pvc, pv)
	if err != nil {
		return err
	}
	if pv, err = pc.setVolumePhase(ctx, pv, corev1.VolumeBound, ""); err != nil {
		return err
	}
	next := pvc.DeepCopy()
	if next.Spec.VolumeName == "" {
		next.Spec.VolumeName = pv.Name
		setAnnotation(&next.ObjectMeta, vb.AnnBoundByController, "yes")
	}
	setAnnotation(&next.ObjectMeta, vb.AnnBindCompleted, "yes")
	claims := pc.client.CoreV1().PersistentVolumeClaims(pvc.Namespace)
	if !equality.Semantic.DeepEqual(next.ObjectMeta, pvc.ObjectMeta) || next.Spec.VolumeName != pvc.Spec.VolumeName {
		if next, err = claims.Update(ctx, next, metav1.UpdateOptions{}); err != nil {
			return err
		}
	}
	want := next.DeepCopy()
	if want.Status.Phase != corev1.ClaimBound {
		// The volume's size becomes the claim's only as it binds: later, a volume
		// grown by a resizer reaches the claim when the resizer says the expansion is
		// done (filesystem included), as in Kubernetes.
		want.Status.Capacity = pv.Spec.Capacity
		// Likewise the volume's attributes class: a statically provisioned volume
		// comes with one; afterwards only a modifier changes it.
		want.Status.CurrentVolumeAttributesClassName = pv.Spec.VolumeAttributesClassName
	}
	want.Status.Phase = corev1.ClaimBound
	want.Status.AccessModes = pv.Spec.AccessModes
	if equality.Semantic.DeepEqual(want.Status, next.Status) {
		return nil
	}
	_, err = claims.UpdateStatus(ctx, want, metav1.UpdateOptions{})
	return err
}

func (pc *Controller) bindVolume(ctx context.Context, pvc *corev1.PersistentVolumeClaim, pv *corev1.PersistentVolume) (*corev1.PersistentVolume, error) {
	if ref := pv.Spec.ClaimRef; ref != nil && ref.UID == pvc.UID {
		return pv, nil
	}
	next := pv.DeepCopy()
	if next.Spec.ClaimRef == nil {
		setAnnotation(&next.ObjectMeta, vb.AnnBoundByController, "yes")
	}
	next.Spec.ClaimRef = &corev1.ObjectReference{Kind: "PersistentVolumeClaim", APIVersion: "v1",
		Namespace: pvc.Namespace, Name: pvc.Name, UID: pvc.UID, ResourceVersion: pvc.ResourceVersion}
	out, err := pc.client.CoreV1().PersistentVolumes().Update(ctx, next, metav1.UpdateOptions{})
	if err != nil {
		return nil, fmt.Errorf("bind volume %s to claim %s/%s: %w", pv.Name, pvc.Namespace, pvc.Name, err)
	}
	return out, nil
}

func (pc *Controller) setClaimPhase(ctx context.Context, pvc *corev1.PersistentVolumeClaim, phase corev1.PersistentVolumeClaimPhase) error {
	if pvc.Status.Phase == phase {
		return nil
	}
	next := pvc.DeepCopy()
	next.Status.Phase = phase
	_, err := pc.client.CoreV1().PersistentVolumeClaims(pvc.Namespace).UpdateStatus(ctx, next, metav1.UpdateOptions{})
	return err
}

func setAnnotation(m *metav1.ObjectMeta, k, v string) {
	if m.Annotations == nil {
		m.Annotations = map[string]string{}
	}
	m.Annotations[k] = v
}

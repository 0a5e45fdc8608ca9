package apiserver

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// storageRequestField is the field a claim's expansion changes.
const storageRequestField = "spec.resources.requests.storage"

// claimResize lets a claim ask for more storage only when its class allows volume
// expansion, as the PersistentVolumeClaimResize admission plugin does: the volume's
// driver must then be able to grow it. Shrinking is judged by the claim's own
// validation (never below status.capacity).
func (ad *admission) claimResize(pvc, old *corev1.PersistentVolumeClaim) error {
	newSize, oldSize := pvc.Spec.Resources.Requests[corev1.ResourceStorage], old.Spec.Resources.Requests[corev1.ResourceStorage]
	if newSize.Cmp(oldSize) <= 0 {
		return nil
	}
	forbid := func(msg string, args ...any) error {
		err := apierrors.NewForbidden(schema.GroupResource{Resource: "persistentvolumeclaims"}, pvc.Name,
			fmt.Errorf("%s: %s", storageRequestField, fmt.Sprintf(msg, args...)))
		err.ErrStatus.Details.Causes = append(err.ErrStatus.Details.Causes, metav1.StatusCause{
			Type: metav1.CauseType(field.ErrorTypeForbidden), Message: fmt.Sprintf(msg, args...), Field: storageRequestField})
		return err
	}
	if old.Status.Phase != corev1.ClaimBound || old.Spec.VolumeName == "" {
		return forbid("only bound persistent volume claims can be resized")
	}
	class := ""
	if old.Spec.StorageClassName != nil {
		class = *old.Spec.StorageClassName
	}
	if class == "" {
		return forbid("only dynamically provisioned pvc can be resized and the storageclass that provisions the pvc must support resize (the claim has no storageClassName)")
	}
	o, ok := ad.api.endpoints[storageClassesGVR].store.Peek("", class)
	if !ok {
		return forbid("only dynamically provisioned pvc can be resized and the storageclass that provisions the pvc must support resize (StorageClass %q not found)", class)
	}
	if sc := o.(*storagev1.StorageClass); sc.AllowVolumeExpansion == nil || !*sc.AllowVolumeExpansion {
		return forbid("only dynamically provisioned pvc can be resized and the storageclass that provisions the pvc must support resize (StorageClass %q does not set allowVolumeExpansion)", class)
	}
	return nil
}

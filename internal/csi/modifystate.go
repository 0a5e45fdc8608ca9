package csi

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// The state of a claim's modification, as pure functions over its status (the
// Modifier writes what they return).

// Condition messages, as external-resizer words them.
const msgModifying = "ModifyVolume operation in progress."

// modifyPending: the claim's new class does not exist yet (what an earlier
// target left goes).
func modifyPending(pvc *corev1.PersistentVolumeClaim, target string) *corev1.PersistentVolumeClaim {
	pvc = modifyDropped(pvc)
	pvc.Status.ModifyVolumeStatus = &corev1.ModifyVolumeStatus{TargetVolumeAttributesClassName: target,
		Status: corev1.PersistentVolumeClaimModifyVolumePending}
	return pvc
}

// modifyInProgress: the driver is being asked to apply target.
func modifyInProgress(pvc *corev1.PersistentVolumeClaim, target string) *corev1.PersistentVolumeClaim {
	pvc = pvc.DeepCopy()
	pvc.Status.ModifyVolumeStatus = &corev1.ModifyVolumeStatus{TargetVolumeAttributesClassName: target,
		Status: corev1.PersistentVolumeClaimModifyVolumeInProgress}
	setModifyCondition(pvc, corev1.PersistentVolumeClaimVolumeModifyingVolume, msgModifying)
	return pvc
}

// modifyFailed: the driver failed in a way a retry may mend; still in progress.
func modifyFailed(pvc *corev1.PersistentVolumeClaim, msg string) *corev1.PersistentVolumeClaim {
	pvc = pvc.DeepCopy()
	setModifyCondition(pvc, corev1.PersistentVolumeClaimVolumeModifyVolumeError, msg+". Waiting for retry.")
	return pvc
}

// modifyInfeasible: target cannot be applied; nothing is tried until the claim
// names another class.
func modifyInfeasible(pvc *corev1.PersistentVolumeClaim, target, msg string) *corev1.PersistentVolumeClaim {
	pvc = pvc.DeepCopy()
	pvc.Status.ModifyVolumeStatus = &corev1.ModifyVolumeStatus{TargetVolumeAttributesClassName: target,
		Status: corev1.PersistentVolumeClaimModifyVolumeInfeasible}
	setModifyCondition(pvc, corev1.PersistentVolumeClaimVolumeModifyVolumeError, msg)
	return pvc
}

// modifyDone: the volume has target's attributes.
func modifyDone(pvc *corev1.PersistentVolumeClaim, target string) *corev1.PersistentVolumeClaim {
	pvc = modifyDropped(pvc)
	pvc.Status.CurrentVolumeAttributesClassName = ptr.To(target)
	return pvc
}

// modifyDropped: no modification is asked for (any more).
func modifyDropped(pvc *corev1.PersistentVolumeClaim) *corev1.PersistentVolumeClaim {
	pvc = pvc.DeepCopy()
	pvc.Status.ModifyVolumeStatus = nil
	var kept []corev1.PersistentVolumeClaimCondition
	for _, c := range pvc.Status.Conditions {
		if !modifyCondition(c.Type) {
			kept = append(kept, c)
		}
	}
	pvc.Status.Conditions = kept
	return pvc
}

func modifyCondition(t corev1.PersistentVolumeClaimConditionType) bool {
	return t == corev1.PersistentVolumeClaimVolumeModifyingVolume || t == corev1.PersistentVolumeClaimVolumeModifyVolumeError
}

// setModifyCondition makes t the one modify condition of the claim (True, with
// msg); the same condition with the same message is left as it was, so that
// writing the same state again is no change.
func setModifyCondition(pvc *corev1.PersistentVolumeClaim, t corev1.PersistentVolumeClaimConditionType, msg string) {
	var kept []corev1.PersistentVolumeClaimCondition
	found := false
	for _, c := range pvc.Status.Conditions {
		switch {
		case c.Type == t && c.Message == msg:
			found = true
		case modifyCondition(c.Type):
			continue
		}
		kept = append(kept, c)
	}
	if !found {
		now := metav1.Now()
		kept = append(kept, corev1.PersistentVolumeClaimCondition{Type: t, Status: corev1.ConditionTrue,
			Message: msg, LastProbeTime: now, LastTransitionTime: now})
	}
	pvc.Status.Conditions = kept
}

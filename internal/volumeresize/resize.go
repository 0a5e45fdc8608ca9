// Package volumeresize is the state of a claim's expansion, as pure functions over
// the claim's status, shared by the resizers (CSI ControllerExpandVolume, local-path)
// and the node side (NodeExpandVolume). It follows Kubernetes 1.37, where a claim
// records what it asked the driver for in status.allocatedResources and where the
// expansion is in status.allocatedResourceStatuses:
//
//	spec.resources.requests.storage > status.capacity
//	  -> ControllerResizeInProgress (condition Resizing)
//	  -> NodeResizePending (condition FileSystemResizePending), when the node must grow the filesystem
//	  -> done: status.capacity is the new size, the status key and conditions go
//
// A final controller error leaves ControllerResizeInfeasible until the request changes.
package volumeresize

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Condition messages, as Kubernetes words them.
const (
	MsgResizing      = "External resizer is resizing volume"
	MsgNodeExpansion = "Waiting for user to (re-)start a pod to finish file system resize of volume on node."
)

// Requested is the size a claim asks for.
func Requested(pvc *corev1.PersistentVolumeClaim) resource.Quantity {
	return pvc.Spec.Resources.Requests[corev1.ResourceStorage]
}

func status(pvc *corev1.PersistentVolumeClaim) corev1.ClaimResourceStatus {
	return pvc.Status.AllocatedResourceStatuses[corev1.ResourceStorage]
}

// ControllerPending says whether the volume of a bound claim must be grown by its
// controller (driver or provisioner), and to what size.
func ControllerPending(pvc *corev1.PersistentVolumeClaim) (resource.Quantity, bool) {
	want := Requested(pvc)
	if pvc.Status.Phase != corev1.ClaimBound || pvc.DeletionTimestamp != nil {
		return want, false
	}
	have := pvc.Status.Capacity[corev1.ResourceStorage]
	if want.Cmp(have) <= 0 {
		return want, false
	}
	allocated, asked := pvc.Status.AllocatedResources[corev1.ResourceStorage]
	sameAsk := asked && allocated.Cmp(want) == 0
	switch status(pvc) {
	case corev1.PersistentVolumeClaimNodeResizePending, corev1.PersistentVolumeClaimNodeResizeInProgress,
		corev1.PersistentVolumeClaimNodeResizeInfeasible, corev1.PersistentVolumeClaimControllerResizeInfeasible:
		// The controller's part is done (or failed for good) for this size; a new
		// size starts over.
		return want, !sameAsk
	}
	return want, true
}

// NodePending says whether the node must still grow the filesystem of the claim's
// volume.
func NodePending(pvc *corev1.PersistentVolumeClaim) bool {
	s := status(pvc)
	return s == corev1.PersistentVolumeClaimNodeResizePending || s == corev1.PersistentVolumeClaimNodeResizeInProgress
}

// StartController records that the controller is growing the volume to want.
func StartController(pvc *corev1.PersistentVolumeClaim, want resource.Quantity) *corev1.PersistentVolumeClaim {
	pvc = pvc.DeepCopy()
	setStatus(pvc, corev1.PersistentVolumeClaimControllerResizeInProgress)
	if pvc.Status.AllocatedResources == nil {
		pvc.Status.AllocatedResources = corev1.ResourceList{}
	}
	pvc.Status.AllocatedResources[corev1.ResourceStorage] = want
	setCondition(pvc, corev1.PersistentVolumeClaimResizing, MsgResizing)
	return pvc
}

// ControllerDone records the controller's success: the claim is done with size, or
// waits for the node when nodeExpansion is set.
func ControllerDone(pvc *corev1.PersistentVolumeClaim, size resource.Quantity, nodeExpansion bool) *corev1.PersistentVolumeClaim {
	if !nodeExpansion {
		return Finish(pvc, size)
	}
	pvc = pvc.DeepCopy()
	setStatus(pvc, corev1.PersistentVolumeClaimNodeResizePending)
	setCondition(pvc, corev1.PersistentVolumeClaimFileSystemResizePending, MsgNodeExpansion)
	return pvc
}

// ControllerFailed records a controller error; final ones stop the retries until
// the claim asks for another size.
func ControllerFailed(pvc *corev1.PersistentVolumeClaim, msg string, final bool) *corev1.PersistentVolumeClaim {
	pvc = pvc.DeepCopy()
	if final {
		setStatus(pvc, corev1.PersistentVolumeClaimControllerResizeInfeasible)
	}
	setCondition(pvc, corev1.PersistentVolumeClaimControllerResizeError, msg)
	return pvc
}

// StartNode records that the node is growing the filesystem.
func StartNode(pvc *corev1.PersistentVolumeClaim) *corev1.PersistentVolumeClaim {
	pvc = pvc.DeepCopy()
	setStatus(pvc, corev1.PersistentVolumeClaimNodeResizeInProgress)
	return pvc
}

// NodeFailed records a node error; the node tries again on its next sync.
func NodeFailed(pvc *corev1.PersistentVolumeClaim, msg string) *corev1.PersistentVolumeClaim {
	pvc = pvc.DeepCopy()
	setStatus(pvc, corev1.PersistentVolumeClaimNodeResizePending)
	setCondition(pvc, corev1.PersistentVolumeClaimNodeResizeError, msg)
	return pvc
}

// Finish records a completed expansion to size.
func Finish(pvc *corev1.PersistentVolumeClaim, size resource.Quantity) *corev1.PersistentVolumeClaim {
	pvc = pvc.DeepCopy()
	if pvc.Status.Capacity == nil {
		pvc.Status.Capacity = corev1.ResourceList{}
	}
	pvc.Status.Capacity[corev1.ResourceStorage] = size
	delete(pvc.Status.AllocatedResourceStatuses, corev1.ResourceStorage)
	if len(pvc.Status.AllocatedResourceStatuses) == 0 {
		pvc.Status.AllocatedResourceStatuses = nil
	}
	var kept []corev1.PersistentVolumeClaimCondition
	for _, c := range pvc.Status.Conditions {
		if !resizeCondition(c.Type) {
			kept = append(kept, c)
		}
	}
	pvc.Status.Conditions = kept
	return pvc
}

func resizeCondition(t corev1.PersistentVolumeClaimConditionType) bool {
	switch t {
	case corev1.PersistentVolumeClaimResizing, corev1.PersistentVolumeClaimFileSystemResizePending,
		corev1.PersistentVolumeClaimControllerResizeError, corev1.PersistentVolumeClaimNodeResizeError:
		return true
	}
	return false
}

func setStatus(pvc *corev1.PersistentVolumeClaim, s corev1.ClaimResourceStatus) {
	if pvc.Status.AllocatedResourceStatuses == nil {
		pvc.Status.AllocatedResourceStatuses = map[corev1.ResourceName]corev1.ClaimResourceStatus{}
	}
	pvc.Status.AllocatedResourceStatuses[corev1.ResourceStorage] = s
}

// setCondition makes t the one resize condition of the claim (True, with msg); a
// condition that is already there keeps its transition time, and its probe time
// unless the message changed, so that writing the same state again is no change (and
// wakes no informer).
func setCondition(pvc *corev1.PersistentVolumeClaim, t corev1.PersistentVolumeClaimConditionType, msg string) {
	now := metav1.Now()
	var kept []corev1.PersistentVolumeClaimCondition
	found := false
	for _, c := range pvc.Status.Conditions {
		switch {
		case c.Type == t:
			if c.Message != msg {
				c.Message, c.LastProbeTime = msg, now
			}
			found = true
		case resizeCondition(c.Type):
			continue
		}
		kept = append(kept, c)
	}
	if !found {
		kept = append(kept, corev1.PersistentVolumeClaimCondition{Type: t, Status: corev1.ConditionTrue,
			Message: msg, LastProbeTime: now, LastTransitionTime: now})
	}
	pvc.Status.Conditions = kept
}

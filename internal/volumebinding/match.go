// Package volumebinding holds the rules that pair PersistentVolumeClaims with
// PersistentVolumes, shared by the PV controller (which binds), the scheduler
// (which checks that a node can still satisfy a pod's claims) and the local-path
// provisioner. Every function here is pure: objects in, a decision out.
package volumebinding

import (
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	corev1helpers "k8s.io/component-helpers/scheduling/corev1"
	"k8s.io/utils/ptr"
)

// Annotations and finalizers, with the names Kubernetes gives them so tools that
// know Kubernetes read them unchanged.
const (
	// AnnSelectedNode is put on a WaitForFirstConsumer claim by the scheduler once
	// its first pod has a node: the volume must be found or made there.
	AnnSelectedNode = "volume.kubernetes.io/selected-node"
	// AnnStorageProvisioner (and its beta twin) tell a provisioner a claim is its to fill.
	AnnStorageProvisioner     = "volume.kubernetes.io/storage-provisioner"
	AnnBetaStorageProvisioner = "volume.beta.kubernetes.io/storage-provisioner"
	// AnnProvisionedBy names the provisioner that made a PV, which deletes it.
	AnnProvisionedBy = "pv.kubernetes.io/provisioned-by"
	// AnnBindCompleted marks a claim whose binding the controller finished.
	AnnBindCompleted = "pv.kubernetes.io/bind-completed"
	// AnnBoundByController marks a binding the controller made (not a user's pre-binding).
	AnnBoundByController = "pv.kubernetes.io/bound-by-controller"

	PVCProtectionFinalizer = "kubernetes.io/pvc-protection"
	PVProtectionFinalizer  = "kubernetes.io/pv-protection"

	// NoProvisioner marks a class of hand-made volumes only (local PVs, typically).
	NoProvisioner = "kubernetes.io/no-provisioner"
	// LocalPathProvisioner is skiff's built-in provisioner: a directory on the node
	// the claim's first pod runs on. LocalPathClass is the default class using it.
	LocalPathProvisioner = "skiff.io/local-path"
	LocalPathClass       = "local-path"
)

// ClaimClass is the class a claim asks for; "" means no class (only volumes without
// a class fit it).
func ClaimClass(pvc *corev1.PersistentVolumeClaim) string {
	if pvc.Spec.StorageClassName == nil {
		return ""
	}
	return *pvc.Spec.StorageClassName
}

func volumeMode(m *corev1.PersistentVolumeMode) corev1.PersistentVolumeMode {
	if m == nil {
		return corev1.PersistentVolumeFilesystem
	}
	return *m
}

// Mismatch says why pv cannot serve pvc, or "" if it can. node, when not nil, is
// where the claim's pod runs: the volume must be reachable from it.
func Mismatch(pvc *corev1.PersistentVolumeClaim, pv *corev1.PersistentVolume, node *corev1.Node) string {
	if pv.Spec.StorageClassName != ClaimClass(pvc) {
		return fmt.Sprintf("storageClassName %q does not match the claim's %q", pv.Spec.StorageClassName, ClaimClass(pvc))
	}
	for _, m := range pvc.Spec.AccessModes {
		if !slices.Contains(pv.Spec.AccessModes, m) {
			return fmt.Sprintf("access mode %s is not offered", m)
		}
	}
	want := pvc.Spec.Resources.Requests[corev1.ResourceStorage]
	have := pv.Spec.Capacity[corev1.ResourceStorage]
	if have.Cmp(want) < 0 {
		return fmt.Sprintf("capacity %s is less than the requested %s", have.String(), want.String())
	}
	// A claim's class of attributes is part of what it asks for: a volume made with
	// other attributes does not serve it (the modifier changes bound volumes only).
	if want, have := ptr.Deref(pvc.Spec.VolumeAttributesClassName, ""), ptr.Deref(pv.Spec.VolumeAttributesClassName, ""); want != have {
		return fmt.Sprintf("volumeAttributesClassName %q does not match the claim's %q", have, want)
	}
	if volumeMode(pv.Spec.VolumeMode) != volumeMode(pvc.Spec.VolumeMode) {
		return fmt.Sprintf("volumeMode %s does not match the claim's %s", volumeMode(pv.Spec.VolumeMode), volumeMode(pvc.Spec.VolumeMode))
	}
	if pvc.Spec.Selector != nil {
		sel, err := metav1.LabelSelectorAsSelector(pvc.Spec.Selector)
		if err != nil || !sel.Matches(labels.Set(pv.Labels)) {
			return "labels do not match the claim's selector"
		}
	}
	if node != nil && !Reachable(pv, node) {
		return fmt.Sprintf("node affinity does not allow node %s", node.Name)
	}
	return ""
}

// Reachable reports whether a pod on node can use pv (its node affinity allows the node).
func Reachable(pv *corev1.PersistentVolume, node *corev1.Node) bool {
	na := pv.Spec.NodeAffinity
	if na == nil || na.Required == nil {
		return true
	}
	ok, err := corev1helpers.MatchNodeSelectorTerms(node, na.Required)
	return err == nil && ok
}

// PreBound reports whether a user pointed pv at pvc (claimRef set by name, with the
// claim's UID or none yet).
func PreBound(pv *corev1.PersistentVolume, pvc *corev1.PersistentVolumeClaim) bool {
	ref := pv.Spec.ClaimRef
	return ref != nil && ref.Name == pvc.Name && ref.Namespace == pvc.Namespace && (ref.UID == "" || ref.UID == pvc.UID)
}

// Available reports whether pv may be taken by any claim: not reserved for one,
// not being deleted, and not left over from an earlier claim.
func Available(pv *corev1.PersistentVolume) bool {
	if pv.Spec.ClaimRef != nil || pv.DeletionTimestamp != nil {
		return false
	}
	return pv.Status.Phase != corev1.VolumeReleased && pv.Status.Phase != corev1.VolumeFailed
}

// BestMatch picks the volume for pvc from pvs: a volume pre-bound to the claim
// if one fits, otherwise the smallest available one that fits, so large volumes
// stay free for large claims. nil when none fits.
func BestMatch(pvc *corev1.PersistentVolumeClaim, pvs []*corev1.PersistentVolume, node *corev1.Node) *corev1.PersistentVolume {
	var best *corev1.PersistentVolume
	for _, pv := range pvs {
		if pv.DeletionTimestamp != nil || Mismatch(pvc, pv, node) != "" {
			continue
		}
		if PreBound(pv, pvc) {
			return pv
		}
		if !Available(pv) {
			continue
		}
		if best == nil || smaller(pv, best) {
			best = pv
		}
	}
	return best
}

// smaller orders by capacity, then name, so the choice is the same on every run.
func smaller(a, b *corev1.PersistentVolume) bool {
	ca, cb := a.Spec.Capacity[corev1.ResourceStorage], b.Spec.Capacity[corev1.ResourceStorage]
	if c := ca.Cmp(cb); c != 0 {
		return c < 0
	}
	return a.Name < b.Name
}

// PodClaims lists the claims a pod uses, generic ephemeral volumes included (their
// claim is named <pod>-<volume>).
func PodClaims(pod *corev1.Pod) []string {
	var out []string
	for _, v := range pod.Spec.Volumes {
		switch {
		case v.PersistentVolumeClaim != nil:
			out = append(out, v.PersistentVolumeClaim.ClaimName)
		case v.Ephemeral != nil:
			out = append(out, pod.Name+"-"+v.Name)
		}
	}
	return out
}

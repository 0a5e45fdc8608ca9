package apiserver

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	admissionapi "k8s.io/apiserver/pkg/admission"
	"k8s.io/utils/ptr"
)

func updateOf(obj, old runtime.Object, resource, subresource string) admissionapi.Attributes {
	gvr := corev1.SchemeGroupVersion.WithResource(resource)
	return admissionapi.NewAttributesRecord(obj, old, gvr.GroupVersion().WithKind(""), "", "x", gvr, subresource,
		admissionapi.Update, &metav1.UpdateOptions{}, false, nil)
}

// TestNodeGrowsOnlyItsVolumes: a node's update of its own volume may only make
// spec.capacity larger; its update of a claim's status only touches the fields
// expansion records.
func TestNodeGrowsOnlyItsVolumes(t *testing.T) {
	pv := &corev1.PersistentVolume{Spec: corev1.PersistentVolumeSpec{
		Capacity:               corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")},
		PersistentVolumeSource: corev1.PersistentVolumeSource{Local: &corev1.LocalVolumeSource{Path: "/x"}},
		NodeAffinity:           affinity(corev1.LabelHostname, "n1"), VolumeAttributesClassName: ptr.To("silver")}}
	sized := func(pv *corev1.PersistentVolume, size string) *corev1.PersistentVolume {
		pv = pv.DeepCopy()
		pv.Spec.Capacity[corev1.ResourceStorage] = resource.MustParse(size)
		return pv
	}
	otherPolicy := sized(pv, "2Gi")
	otherPolicy.Spec.PersistentVolumeReclaimPolicy = corev1.PersistentVolumeReclaimRetain
	classed := func(pv *corev1.PersistentVolume, class *string) *corev1.PersistentVolume {
		pv = pv.DeepCopy()
		pv.Spec.VolumeAttributesClassName = class
		return pv
	}
	gold := "gold"
	for _, tc := range []struct {
		name string
		node string
		pv   *corev1.PersistentVolume
		ok   bool
	}{
		{"grow", "n1", sized(pv, "2Gi"), true},
		{"shrink", "n1", sized(pv, "512Mi"), false},
		{"grow and change the policy", "n1", otherPolicy, false},
		{"another node's volume", "n2", sized(pv, "2Gi"), false},
		{"modified to another class", "n1", classed(pv, &gold), true},
		{"class dropped", "n1", classed(pv, nil), false},
	} {
		if err := admitVolume(tc.node, updateOf(tc.pv, pv, "persistentvolumes", "")); (err == nil) != tc.ok {
			t.Errorf("%s: err = %v, want ok %v", tc.name, err, tc.ok)
		}
	}

	pvc := &corev1.PersistentVolumeClaim{Status: corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimBound,
		Capacity: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}}
	grown := pvc.DeepCopy()
	grown.Status.Capacity[corev1.ResourceStorage] = resource.MustParse("2Gi")
	grown.Status.Conditions = []corev1.PersistentVolumeClaimCondition{{Type: corev1.PersistentVolumeClaimFileSystemResizePending, Status: corev1.ConditionTrue}}
	lost := pvc.DeepCopy()
	lost.Status.Phase = corev1.ClaimLost
	if err := admitClaimStatus("n1", updateOf(grown, pvc, "persistentvolumeclaims", "status")); err != nil {
		t.Errorf("recording an expansion: %v", err)
	}
	modified := pvc.DeepCopy()
	modified.Status.CurrentVolumeAttributesClassName = &gold
	modified.Status.ModifyVolumeStatus = &corev1.ModifyVolumeStatus{TargetVolumeAttributesClassName: "gold", Status: corev1.PersistentVolumeClaimModifyVolumeInProgress}
	if err := admitClaimStatus("n1", updateOf(modified, pvc, "persistentvolumeclaims", "status")); err != nil {
		t.Errorf("recording a modification: %v", err)
	}
	if err := admitClaimStatus("n1", updateOf(lost, pvc, "persistentvolumeclaims", "status")); err == nil {
		t.Error("a node changed a claim's phase")
	}
	if err := admitClaimStatus("n1", updateOf(grown, pvc, "persistentvolumeclaims", "")); err == nil {
		t.Error("a node updated a claim's spec")
	}
}
